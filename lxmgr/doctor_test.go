package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// fixtureDoctor is a report with inotify instances too low for the target.
func fixtureDoctor(guests int) api.DoctorReport {
	return api.DoctorReport{
		Guests: guests,
		Checks: []api.DoctorCheck{
			{Name: "fs.inotify.max_user_instances", Current: "128", Needed: "516", PerGuest: 10, MaxGuests: 11, Raisable: true,
				Advice: "per user, but every guest's instances are also charged to root"},
			{Name: "kernel.pid_max", Current: "4194304", Needed: "2524", PerGuest: 30, MaxGuests: 139776, OK: true, Raisable: true,
				Advice: "every task of every guest also takes a pid of the host"},
			{Name: "cgroup controllers", Current: "v1: cpu,cpuset,memory,pids", Needed: "cpu,cpuset,memory,pids", MaxGuests: api.DoctorUnlimited, OK: true,
				Advice: "fine"},
			{Name: "vm.max_map_count", Current: "unknown", Needed: "unknown", MaxGuests: api.DoctorUnlimited,
				Advice: "could not read it (no such file): check it by hand"},
		},
		FirstLimit: "fs.inotify.max_user_instances", FirstLimitGuests: 11,
	}
}

// newDoctorFake serves GET /1.0/doctor like lxmgrd (guests from the query,
// else 3, the "current count"), behind the fakeDaemon's socket so that
// runCLI works unchanged; it records the request URIs.
func newDoctorFake(t *testing.T) (*fakeDaemon, *[]string) {
	t.Helper()
	f := &fakeDaemon{socket: filepath.Join(t.TempDir(), "s.sock")}
	var mu sync.Mutex
	var uris []string
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uris = append(uris, r.URL.RequestURI())
		mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/1.0/doctor" {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(api.Response{Type: api.ErrorResponse, ErrorCode: 404, Error: "not found"})
			return
		}
		guests := 3
		if q := r.URL.Query().Get("guests"); q != "" {
			json.Unmarshal([]byte(q), &guests)
		}
		b, _ := json.Marshal(fixtureDoctor(guests))
		json.NewEncoder(w).Encode(api.Response{Type: api.SyncResponse, Status: "Success", StatusCode: 200, Metadata: b})
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f, &uris
}

func TestDoctorCLI(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		uri      string // "" = no request expected
		exitCode int
		stdout   []string // substrings, in order
		stderr   string
	}{
		{name: "table for a target", args: []string{"doctor", "--guests", "50"}, uri: "/1.0/doctor?guests=50",
			stdout: []string{
				"CHECK                          CURRENT                     NEEDED                  MAX GUESTS  STATUS\n",
				"fs.inotify.max_user_instances  128                         516                     11          WARN\n",
				"kernel.pid_max                 4194304                     2524                    139776      OK\n",
				"cgroup controllers             v1: cpu,cpuset,memory,pids  cpu,cpuset,memory,pids  -           OK\n",
				"vm.max_map_count               unknown                     unknown                 -           UNKNOWN\n",
				"\nChecked for 50 guests (target).\n",
				"First limit: fs.inotify.max_user_instances at 11 guests\n",
				"\nAdvice:\n  fs.inotify.max_user_instances: per user, but every guest's instances are also charged to root\n",
				"  vm.max_map_count: could not read it",
			}},
		{name: "current count", args: []string{"doctor"}, uri: "/1.0/doctor",
			stdout: []string{"Checked for 3 guests (the daemon's current count)."}},
		{name: "json", args: []string{"doctor", "--guests", "7", "-f", "json"}, uri: "/1.0/doctor?guests=7",
			stdout: []string{`"guests": 7`, `"max_guests": -1`, `"first_limit": "fs.inotify.max_user_instances"`}},
		{name: "yaml", args: []string{"doctor", "--format", "yaml"}, uri: "/1.0/doctor",
			stdout: []string{"guests: 3\n", "- name: kernel.pid_max\n", "first_limit_guests: 11\n"}},
		{name: "negative guests", args: []string{"doctor", "--guests", "-1"}, exitCode: 1, stderr: "--guests must be 0 or more"},
		{name: "bad format", args: []string{"doctor", "-f", "csv"}, exitCode: 1, stderr: `unknown format "csv"`},
		{name: "extra argument", args: []string{"doctor", "now"}, exitCode: 1, stderr: "takes no arguments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, uris := newDoctorFake(t)
			code, stdout, stderr := runCLI(t, f, "", c.args...)
			if code != c.exitCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.exitCode, stderr)
			}
			if c.stderr != "" && (!strings.Contains(stderr, c.stderr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.stderr)
			}
			rest := stdout
			for _, want := range c.stdout {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stdout\n%s\nwant (in order) %q", stdout, want)
				}
				rest = rest[i+len(want):]
			}
			if c.uri == "" && len(*uris) != 0 || c.uri != "" && (len(*uris) != 1 || (*uris)[0] != c.uri) {
				t.Errorf("requests %q, want %q", *uris, c.uri)
			}
		})
	}
}
