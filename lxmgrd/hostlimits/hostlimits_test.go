package hostlimits

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodHost is a host set up by scripts/setup.sh, with 64GiB of memory.
var goodHost = map[string]string{
	"proc/sys/fs/inotify/max_user_instances":     "8192",
	"proc/sys/fs/inotify/max_user_watches":       "1048576",
	"proc/sys/fs/inotify/max_queued_events":      "1048576",
	"proc/sys/kernel/keys/maxkeys":               "5000",
	"proc/sys/kernel/keys/maxbytes":              "5000000",
	"proc/sys/net/ipv4/neigh/default/gc_thresh1": "1024",
	"proc/sys/net/ipv4/neigh/default/gc_thresh2": "4096",
	"proc/sys/net/ipv4/neigh/default/gc_thresh3": "8192",
	"proc/sys/net/ipv6/neigh/default/gc_thresh1": "1024",
	"proc/sys/net/ipv6/neigh/default/gc_thresh2": "4096",
	"proc/sys/net/ipv6/neigh/default/gc_thresh3": "8192",
	"proc/sys/kernel/pid_max":                    "4194304",
	"proc/sys/kernel/threads-max":                "192730",
	"proc/sys/fs/file-max":                       "2466186",
	"proc/sys/fs/nr_open":                        "1048576",
	"proc/sys/vm/max_map_count":                  "262144",
	"proc/self/limits":                           limitsFile("1048576"),
	"etc/subuid":                                 "root:1000000:1000000000\n",
	"etc/subgid":                                 "root:1000000:1000000000\n",
	"proc/cgroups":                               "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t3\t7\t1\ncpu\t1\t7\t1\nmemory\t4\t317\t1\npids\t8\t18\t1\nhugetlb\t0\t20\t1\n",
	"sys/fs/cgroup/unified/cgroup.controllers":   "hugetlb\n",
	"proc/meminfo":                               "MemTotal:       67108864 kB\nMemFree:        60000000 kB\nMemAvailable:   62914560 kB\n",
}

func limitsFile(nofile string) string {
	return "Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max processes             96365                96365                processes \n" +
		"Max open files            " + nofile + "              " + nofile + "              files     \n"
}

// fakeHost writes files below a temporary root: base, then over (an empty
// value removes the file).
func fakeHost(t *testing.T, base, over map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{}
	for k, v := range base {
		files[k] = v
	}
	for k, v := range over {
		files[k] = v
	}
	for p, v := range files {
		if v == "" {
			continue
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func checkNamed(t *testing.T, rep Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return Check{}
}

func TestInspectGoodHost(t *testing.T) {
	rep, err := Inspect(fakeHost(t, goodHost, nil), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Checks) != 16 {
		t.Errorf("%d checks, want 16", len(rep.Checks))
	}
	for _, c := range rep.Checks {
		if !c.OK || c.Current == Unknown || c.Advice == "" {
			t.Errorf("check %+v: want OK with a value and advice", c)
		}
	}
	// (8192-16)/10: inotify instances are still the first limit.
	if rep.FirstLimit != "fs.inotify.max_user_instances" || rep.FirstLimitGuests != 817 || rep.Guests != 100 {
		t.Errorf("first limit %q at %d for %d guests", rep.FirstLimit, rep.FirstLimitGuests, rep.Guests)
	}
}

func TestInspectLowInotify(t *testing.T) {
	root := fakeHost(t, goodHost, map[string]string{"proc/sys/fs/inotify/max_user_instances": "128\n"})
	rep, err := Inspect(root, 50)
	if err != nil {
		t.Fatal(err)
	}
	// (128 - 16 for the host) / 10 per guest.
	if rep.FirstLimit != "fs.inotify.max_user_instances" || rep.FirstLimitGuests != 11 {
		t.Errorf("first limit %q at %d, want fs.inotify.max_user_instances at 11", rep.FirstLimit, rep.FirstLimitGuests)
	}
	c := checkNamed(t, rep, "fs.inotify.max_user_instances")
	if c.OK || c.Current != "128" || c.Needed != "516" || !c.Raisable || !strings.Contains(c.Advice, "root") {
		t.Errorf("check %+v", c)
	}
	// 11 guests fit, 12 do not.
	for guests, ok := range map[int]bool{11: true, 12: false} {
		rep, _ := Inspect(root, guests)
		if c := checkNamed(t, rep, "fs.inotify.max_user_instances"); c.OK != ok {
			t.Errorf("%d guests: OK=%v, want %v", guests, c.OK, ok)
		}
	}
}

func TestInspectMissingFiles(t *testing.T) {
	rep, err := Inspect(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "/etc/sub") {
			// No subid file is a definite answer: no ids for guests.
			if c.Current != "0" || c.MaxGuests != 0 || c.OK {
				t.Errorf("check %+v: want 0 ids", c)
			}
			continue
		}
		if c.Current != Unknown || c.OK || c.MaxGuests != Unlimited || !strings.Contains(c.Advice, "could not read") {
			t.Errorf("check %+v: want a clear unknown", c)
		}
	}
	if rep.FirstLimit != "/etc/subuid root range" || rep.FirstLimitGuests != 0 {
		t.Errorf("first limit %q at %d", rep.FirstLimit, rep.FirstLimitGuests)
	}
}

func TestInspectBadInput(t *testing.T) {
	if _, err := Inspect(t.TempDir(), -1); !errors.Is(err, ErrInvalidGuests) {
		t.Errorf("guests -1: %v", err)
	}
	if _, err := Inspect(filepath.Join(t.TempDir(), "nope"), 1); err == nil {
		t.Error("missing root: no error")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := Inspect(f, 1); !errors.Is(err, ErrNotRoot) {
		t.Errorf("file root: %v", err)
	}
}

func TestInspectChecks(t *testing.T) {
	cases := []struct {
		name      string
		over      map[string]string
		guests    int
		check     string
		current   string
		needed    string
		maxGuests int
		ok        bool
	}{
		{"inotify watches default", map[string]string{"proc/sys/fs/inotify/max_user_watches": "8192"}, 20,
			"fs.inotify.max_user_watches", "8192", "12048", 12, false},
		{"keys maxkeys debian default", map[string]string{"proc/sys/kernel/keys/maxkeys": "200"}, 1000,
			"kernel.keys.maxkeys", "200", "50", Unlimited, true},
		{"keys maxkeys too low for one guest", map[string]string{"proc/sys/kernel/keys/maxkeys": "20"}, 1,
			"kernel.keys.maxkeys", "20", "50", Unlimited, false},
		{"keys maxbytes", map[string]string{"proc/sys/kernel/keys/maxbytes": "20000"}, 1,
			"kernel.keys.maxbytes", "20000", "5000", Unlimited, true},
		{"neigh v4 default", map[string]string{"proc/sys/net/ipv4/neigh/default/gc_thresh3": "1024"}, 1000,
			"net.ipv4.neigh.default.gc_thresh3", "1024", "1128", 896, false},
		{"neigh v6 default", map[string]string{"proc/sys/net/ipv6/neigh/default/gc_thresh3": "1024"}, 400,
			"net.ipv6.neigh.default.gc_thresh3", "1024", "928", 448, true},
		{"pid_max default", map[string]string{"proc/sys/kernel/pid_max": "32768"}, 1000,
			"kernel.pid_max", "32768", "31024", 1058, true},
		{"threads-max small", map[string]string{"proc/sys/kernel/threads-max": "10000"}, 500,
			"kernel.threads-max", "10000", "16024", 299, false},
		{"file-max", map[string]string{"proc/sys/fs/file-max": "100000"}, 200,
			"fs.file-max", "100000", "108192", 183, false},
		{"nr_open", map[string]string{"proc/sys/fs/nr_open": "1024"}, 10,
			"fs.nr_open", "1024", "296", 192, true},
		{"daemon nofile", map[string]string{"proc/self/limits": limitsFile("1024")}, 500,
			"lxmgrd RLIMIT_NOFILE", "1024", "2256", 192, false},
		{"daemon nofile unreadable", map[string]string{"proc/self/limits": "garbage\n"}, 1,
			"lxmgrd RLIMIT_NOFILE", Unknown, Unknown, Unlimited, false},
		{"subuid largest root range", map[string]string{"etc/subuid": "_lxd:1001000000:10000001\nroot:100000:65536\nroot:1000000:655360\nbob:1:99999999\n"}, 10,
			"/etc/subuid root range", "655360", "655360", 10, true},
		{"subgid no root", map[string]string{"etc/subgid": "bob:100000:65536\n"}, 1,
			"/etc/subgid root range", "0", "65536", 0, false},
		{"max_map_count default", map[string]string{"proc/sys/vm/max_map_count": "65530"}, 1,
			"vm.max_map_count", "65530", "262144", Unlimited, false},
		{"memory 4GiB", map[string]string{"proc/meminfo": "MemTotal: 4194304 kB\nMemAvailable: 2097152 kB\n"}, 200,
			"memory", "4.00GiB (2.00GiB available)", "6.75GiB", 112, false},
		{"memory no MemTotal", map[string]string{"proc/meminfo": "MemFree: 1 kB\n"}, 1,
			"memory", Unknown, Unknown, Unlimited, false},
		{"cgroup v1 all", nil, 1, "cgroup controllers", "v1: cpu,cpuset,memory,pids", "cpu,cpuset,memory,pids", Unlimited, true},
		{"cgroup v2 only, cpuset missing", map[string]string{
			"proc/cgroups": "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t0\t1\t1\n",
			"sys/fs/cgroup/unified/cgroup.controllers": "",
			"sys/fs/cgroup/cgroup.controllers":         "cpu io memory pids\n",
		}, 1, "cgroup controllers", "v2: cpu,memory,pids", "cpu,cpuset,memory,pids", Unlimited, false},
		{"cgroup hybrid", map[string]string{
			"proc/cgroups": "cpuset\t3\t7\t1\ncpu\t1\t7\t1\nmemory\t4\t1\t0\npids\t0\t1\t1\n",
			"sys/fs/cgroup/unified/cgroup.controllers": "pids memory\n",
		}, 1, "cgroup controllers", "v1: cpu,cpuset; v2: memory,pids", "cpu,cpuset,memory,pids", Unlimited, true},
		{"cgroup nothing", map[string]string{"proc/cgroups": "", "sys/fs/cgroup/unified/cgroup.controllers": ""}, 1,
			"cgroup controllers", Unknown, Unknown, Unlimited, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := Inspect(fakeHost(t, goodHost, c.over), c.guests)
			if err != nil {
				t.Fatal(err)
			}
			got := checkNamed(t, rep, c.check)
			if got.Current != c.current || got.Needed != c.needed || got.MaxGuests != c.maxGuests || got.OK != c.ok {
				t.Errorf("got current %q needed %q max %d ok %v; want %q %q %d %v (%+v)",
					got.Current, got.Needed, got.MaxGuests, got.OK, c.current, c.needed, c.maxGuests, c.ok, got)
			}
			if got.Advice == "" || strings.Contains(got.Advice, "\n") {
				t.Errorf("advice %q: want one line", got.Advice)
			}
		})
	}
}
