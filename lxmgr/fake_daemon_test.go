package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// fakeDaemon answers the instance config and network endpoints the way
// lxmgrd does (ETags, If-Match, PATCH merges) and records every request, so
// the CLI's requests can be checked without a real daemon.
type fakeDaemon struct {
	mu       sync.Mutex
	socket   string
	inst     api.Instance
	net      api.Network
	version  int  // ETag of both objects
	raceNext bool // bump the version right after the next GET (a concurrent writer)
	reqs     []fakeRequest
	pool     api.StoragePool
	snaps    []api.InstanceSnapshot
	profiles map[string]api.Profile
	// restartRequired is what a PATCH of the instance, and the operation
	// of a PUT, report as waiting for the next restart.
	restartRequired []string
}

type fakeRequest struct {
	method, path, ifMatch string
	body                  map[string]json.RawMessage
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	f := &fakeDaemon{
		inst:     fixtureInstance(),
		net:      api.Network{NetworkPut: api.NetworkPut{Config: map[string]string{"ipv4.address": "10.5.0.1/24", "ipv4.nat": "true"}, Description: "lab"}, Name: "lxm0", Type: "bridge", Managed: true, Status: "Created"},
		version:  1,
		pool:     fixturePool(),
		snaps:    fixtureSnapshots(),
		profiles: fixtureProfiles(),
	}
	f.socket = filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", f.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func (f *fakeDaemon) etag() string { return fmt.Sprintf(`"v%d"`, f.version) }

func (f *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req := fakeRequest{method: r.Method, path: r.URL.RequestURI(), ifMatch: r.Header.Get("If-Match")}
	if r.Body != nil {
		json.NewDecoder(r.Body).Decode(&req.body)
	}
	f.reqs = append(f.reqs, req)
	reply := func(code int, meta any) {
		b, _ := json.Marshal(meta)
		env := api.Response{Type: api.SyncResponse, Status: "Success", StatusCode: 200, Metadata: b}
		if code >= 400 {
			env = api.Response{Type: api.ErrorResponse, ErrorCode: code, Error: fmt.Sprint(meta)}
		}
		w.Header().Set("ETag", f.etag())
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(env)
	}
	if r.Method != http.MethodGet && req.ifMatch != "" && req.ifMatch != f.etag() {
		reply(http.StatusPreconditionFailed, "precondition failed: changed since it was read")
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /1.0/instances/web1":
		reply(200, f.inst)
	case "GET /1.0/networks/lxm0":
		reply(200, f.net)
	case "GET /1.0/networks":
		reply(200, []api.Network{f.net})
	case "GET /1.0/networks/lxm0/state":
		reply(200, api.NetworkState{State: "up", Mtu: 1500})
	case "GET /1.0/networks/lxm0/leases":
		reply(200, []api.NetworkLease{{Hostname: "web1", Hwaddr: "00:16:3e:00:00:01", Address: "10.5.0.10", Type: "dynamic"}})
	case "PATCH /1.0/instances/web1":
		var p api.InstancePut
		remarshalRaw(req.body, &p)
		for k, v := range p.Config {
			if v == "" {
				delete(f.inst.Config, k)
			} else {
				f.inst.Config[k] = v
			}
		}
		for k, d := range p.Devices {
			if d == nil {
				delete(f.inst.Devices, k)
			} else {
				f.inst.Devices[k] = d
			}
		}
		if _, ok := req.body["profiles"]; ok {
			f.inst.Profiles = p.Profiles
		}
		f.version++
		reply(200, f.appliedMeta())
	case "PATCH /1.0/networks/lxm0", "PUT /1.0/networks/lxm0":
		var p api.NetworkPut
		remarshalRaw(req.body, &p)
		if r.Method == http.MethodPut {
			f.net.NetworkPut = p
		}
		for k, v := range p.Config {
			if r.Method == http.MethodPatch && v == "" {
				delete(f.net.Config, k)
			} else if r.Method == http.MethodPatch {
				f.net.Config[k] = v
			}
		}
		f.version++
		reply(200, nil)
	case "POST /1.0/networks", "POST /1.0/networks/lxm0", "DELETE /1.0/networks/lxm0":
		reply(200, nil)
	default:
		if !f.serveStorage(w, r, req, reply) && !f.serveProfiles(r, req, reply) {
			reply(404, "not found")
			return
		}
	}
	if r.Method == http.MethodGet && f.raceNext {
		f.raceNext = false
		f.version++
	}
}

func remarshalRaw(in map[string]json.RawMessage, out any) {
	b, _ := json.Marshal(in)
	json.Unmarshal(b, out)
}

// runCLI runs one command line against the fake with stdin given, and
// returns the exit code, stdout and stderr.
func runCLI(t *testing.T, f *fakeDaemon, stdin string, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	in, err := os.Create(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString(stdin)
	in.Seek(0, io.SeekStart)
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	oldIn, oldOut := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = in, out
	var stderr bytes.Buffer
	code := run(context.Background(), append([]string{"--socket", f.socket}, args...), &stderr)
	os.Stdin, os.Stdout = oldIn, oldOut
	in.Close()
	out.Close()
	stdout, _ := os.ReadFile(out.Name())
	return code, string(stdout), stderr.String()
}

// lastWrite returns the last request that was not a GET.
func (f *fakeDaemon) lastWrite(t *testing.T) fakeRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if f.reqs[i].method != http.MethodGet {
			return f.reqs[i]
		}
	}
	t.Fatal("no write request")
	return fakeRequest{}
}

func bodyString(r fakeRequest) string {
	var b strings.Builder
	for _, k := range sortedKeys(r.body) {
		fmt.Fprintf(&b, "%s=%s;", k, r.body[k])
	}
	return b.String()
}

func TestCLIAgainstFakeDaemon(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		stdin    string
		race     bool
		method   string
		path     string
		body     string // "" = no write expected
		stdout   string // substring
		exitCode int
		stderr   string // substring
	}{
		{name: "config set", args: []string{"config", "set", "web1", "limits.cpu=2", "user.a=b=c"},
			method: "PATCH", path: "/1.0/instances/web1", body: `config={"limits.cpu":"2","user.a":"b=c"};`},
		{name: "config set key value", args: []string{"config", "set", "web1", "user.note", "x y"},
			method: "PATCH", path: "/1.0/instances/web1", body: `config={"user.note":"x y"};`},
		{name: "config unset", args: []string{"config", "unset", "web1", "limits.memory"},
			method: "PATCH", path: "/1.0/instances/web1", body: `config={"limits.memory":""};`},
		{name: "config unset profile key", args: []string{"config", "unset", "web1", "limits.cpu"},
			exitCode: 1, stderr: "comes from a profile"},
		{name: "config get", args: []string{"config", "get", "web1", "limits.memory"}, stdout: "64MiB\n"},
		{name: "config get expanded", args: []string{"config", "get", "-e", "web1", "limits.cpu"}, stdout: "1\n"},
		{name: "config show", args: []string{"config", "show", "web1"}, stdout: "config:\n  limits.memory: 64MiB\ndevices:\n  http:\n"},
		{name: "config show expanded", args: []string{"config", "show", "web1", "--expanded"}, stdout: "  root:\n"},
		{name: "config set concurrent change", args: []string{"config", "set", "web1", "limits.cpu=2"}, race: true,
			exitCode: 1, stderr: "Error: config set web1: instance web1 was changed by someone else since it was read; nothing was saved"},
		{name: "device add", args: []string{"config", "device", "add", "web1", "ssh", "proxy", "listen=tcp:0.0.0.0:2222", "connect=tcp:127.0.0.1:22"},
			method: "PATCH", path: "/1.0/instances/web1",
			body: `devices={"ssh":{"connect":"tcp:127.0.0.1:22","listen":"tcp:0.0.0.0:2222","type":"proxy"}};`, stdout: "Device ssh added to web1"},
		{name: "device add existing", args: []string{"config", "device", "add", "web1", "http", "proxy"}, exitCode: 1, stderr: "already exists"},
		{name: "device set", args: []string{"config", "device", "set", "web1", "http", "listen=tcp:0.0.0.0:8080", "connect="},
			method: "PATCH", path: "/1.0/instances/web1", body: `devices={"http":{"listen":"tcp:0.0.0.0:8080","type":"proxy"}};`},
		{name: "device remove", args: []string{"config", "device", "remove", "web1", "http"},
			method: "PATCH", path: "/1.0/instances/web1", body: `devices={"http":null};`},
		{name: "device remove profile device", args: []string{"config", "device", "remove", "web1", "root"}, exitCode: 1, stderr: "comes from a profile"},
		{name: "device show", args: []string{"config", "device", "show", "web1"}, stdout: "http:\n  connect: tcp:127.0.0.1:80\n"},
		{name: "network create", args: []string{"network", "create", "lxm1", "ipv4.address=10.6.0.1/24", "ipv4.nat=true"},
			method: "POST", path: "/1.0/networks",
			body: `config={"ipv4.address":"10.6.0.1/24","ipv4.nat":"true"};description="";name="lxm1";type="bridge";`},
		{name: "network set", args: []string{"network", "set", "lxm0", "ipv4.nat=false", "dns.domain=lan"},
			method: "PATCH", path: "/1.0/networks/lxm0", body: `config={"dns.domain":"lan","ipv4.nat":"false"};`},
		{name: "network unset", args: []string{"network", "unset", "lxm0", "ipv4.nat"},
			method: "PATCH", path: "/1.0/networks/lxm0", body: `config={"ipv4.nat":""};`},
		{name: "network set concurrent change", args: []string{"network", "set", "lxm0", "ipv4.nat=false"}, race: true,
			exitCode: 1, stderr: "network lxm0 was changed by someone else"},
		{name: "network edit from stdin", args: []string{"network", "edit", "lxm0"},
			stdin:  "name: lxm0\ntype: bridge\nconfig:\n  ipv4.address: 10.7.0.1/24\ndescription: new\nused_by: []\n",
			method: "PUT", path: "/1.0/networks/lxm0", body: `config={"ipv4.address":"10.7.0.1/24"};description="new";`},
		{name: "network edit bad key", args: []string{"network", "edit", "lxm0"}, stdin: "config: {}\nconfg: {}\n",
			exitCode: 1, stderr: "confg"},
		{name: "network edit concurrent change", args: []string{"network", "edit", "lxm0"}, stdin: "config: {}\n", race: true,
			exitCode: 1, stderr: "network lxm0 was changed by someone else"},
		{name: "network rename", args: []string{"network", "rename", "lxm0", "lxm9"},
			method: "POST", path: "/1.0/networks/lxm0", body: `name="lxm9";`},
		{name: "network delete", args: []string{"network", "delete", "lxm0"}, method: "DELETE", path: "/1.0/networks/lxm0"},
		{name: "network list csv", args: []string{"network", "list", "-f", "csv"}, stdout: "lxm0,bridge,yes,10.5.0.1/24,true,0,Created\n"},
		{name: "network info", args: []string{"network", "info", "lxm0"}, stdout: "web1      00:16:3e:00:00:01  10.5.0.10  dynamic"},
		{name: "network show missing", args: []string{"network", "show", "nope"}, exitCode: 1, stderr: "show network nope: not found"},
		{name: "bad network name", args: []string{"network", "set", "a.b", "x=y"}, exitCode: 1, stderr: "invalid network name"},
		{name: "bad device name", args: []string{"config", "device", "remove", "web1", "../etc"}, exitCode: 1, stderr: "invalid device name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDaemon(t)
			f.raceNext = c.race
			before := f.inst.Config["limits.cpu"]
			code, stdout, stderr := runCLI(t, f, c.stdin, c.args...)
			if code != c.exitCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.exitCode, stderr)
			}
			if c.stderr != "" && (!strings.Contains(stderr, c.stderr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.stderr)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout, c.stdout)
			}
			if c.method == "" {
				for _, r := range f.reqs {
					if r.method != http.MethodGet && r.method != http.MethodPatch && r.method != http.MethodPut {
						t.Errorf("unexpected write %s %s", r.method, r.path)
					}
				}
				if c.race && f.inst.Config["limits.cpu"] != before {
					t.Errorf("concurrent change was overwritten")
				}
				return
			}
			w := f.lastWrite(t)
			if w.method != c.method || w.path != c.path || bodyString(w) != c.body {
				t.Errorf("request %s %s %s, want %s %s %s", w.method, w.path, bodyString(w), c.method, c.path, c.body)
			}
			if (w.method == "PATCH" || w.method == "PUT") && w.ifMatch != `"v1"` {
				t.Errorf("%s sent If-Match %q, want the ETag of the read", w.method, w.ifMatch)
			}
		})
	}
}

func TestEditNetworkInEditor(t *testing.T) {
	script := func(t *testing.T, body string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), "editor.sh")
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("VISUAL", "")
		t.Setenv("EDITOR", p)
	}
	ctx := context.Background()

	t.Run("saves the edit with the ETag read", func(t *testing.T) {
		f := newFakeDaemon(t)
		script(t, `sed -i 's/10.5.0.1/10.8.0.1/; s/^description: lab/description: edited/' "$1"`)
		n, etag, err := fakeClient(f).GetNetwork(ctx, "lxm0")
		if err != nil {
			t.Fatal(err)
		}
		if err := editNetworkInEditor(ctx, fakeClient(f), n, etag); err != nil {
			t.Fatal(err)
		}
		w := f.lastWrite(t)
		if w.method != "PUT" || w.ifMatch != `"v1"` || bodyString(w) != `config={"ipv4.address":"10.8.0.1/24","ipv4.nat":"true"};description="edited";` {
			t.Errorf("request %s If-Match %s %s", w.method, w.ifMatch, bodyString(w))
		}
	})

	t.Run("concurrent change keeps the edit", func(t *testing.T) {
		f := newFakeDaemon(t)
		script(t, `sed -i 's/10.5.0.1/10.8.0.1/' "$1"`)
		n, etag, _ := fakeClient(f).GetNetwork(ctx, "lxm0")
		f.version++ // someone else wrote meanwhile
		err := editNetworkInEditor(ctx, fakeClient(f), n, etag)
		if err == nil || !strings.Contains(err.Error(), "changed by someone else") || !strings.Contains(err.Error(), "kept in ") {
			t.Fatalf("err = %v", err)
		}
		kept := err.Error()[strings.LastIndex(err.Error(), "kept in ")+len("kept in ") : len(err.Error())-1]
		defer os.Remove(kept)
		if data, rerr := os.ReadFile(kept); rerr != nil || !strings.Contains(string(data), "10.8.0.1/24") {
			t.Errorf("kept file %q: %v %q", kept, rerr, data)
		}
	})

	t.Run("emptied file aborts", func(t *testing.T) {
		f := newFakeDaemon(t)
		script(t, `: > "$1"`)
		n, etag, _ := fakeClient(f).GetNetwork(ctx, "lxm0")
		if err := editNetworkInEditor(ctx, fakeClient(f), n, etag); err == nil || !strings.Contains(err.Error(), "nothing changed") {
			t.Errorf("err = %v", err)
		}
		for _, r := range f.reqs {
			if r.method != http.MethodGet {
				t.Errorf("unexpected %s", r.method)
			}
		}
	})
}

// fakeClient returns a client of the fake daemon.
func fakeClient(f *fakeDaemon) *client.Client { return client.Connect(f.socket) }
