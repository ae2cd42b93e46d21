package hostlimits

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readBack(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(sysctlPath(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestRaise(t *testing.T) {
	// A stock kernel's values, except max_user_watches and pid_max set
	// higher than lxmgr wants by the admin; no IPv6 on this host.
	stock := map[string]string{
		"proc/sys/fs/inotify/max_user_instances":     "128\n",
		"proc/sys/fs/inotify/max_user_watches":       "2000000\n",
		"proc/sys/fs/inotify/max_queued_events":      "16384\n",
		"proc/sys/kernel/keys/maxkeys":               "200\n",
		"proc/sys/kernel/keys/maxbytes":              "20000\n",
		"proc/sys/net/ipv4/neigh/default/gc_thresh1": "128\n",
		"proc/sys/net/ipv4/neigh/default/gc_thresh2": "512\n",
		"proc/sys/net/ipv4/neigh/default/gc_thresh3": "1024\n",
		"proc/sys/vm/max_map_count":                  "65530\n",
		"proc/sys/kernel/pid_max":                    "4194304\n",
	}
	root := fakeHost(t, stock, nil)
	changed, err := Raise(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"fs.inotify.max_user_instances 128 -> 65536",
		"fs.inotify.max_queued_events 16384 -> 1048576",
		"kernel.keys.maxkeys 200 -> 5000",
		"kernel.keys.maxbytes 20000 -> 5000000",
		"net.ipv4.neigh.default.gc_thresh3 1024 -> 8192",
		"vm.max_map_count 65530 -> 262144",
		"net.ipv4.neigh.default.gc_thresh2 512 -> 4096",
		"net.ipv4.neigh.default.gc_thresh1 128 -> 1024",
	}
	if !slices.Equal(changed, want) {
		t.Errorf("changed\n %q\nwant\n %q", changed, want)
	}
	for name, v := range map[string]string{
		"fs.inotify.max_user_instances": "65536",
		"fs.inotify.max_user_watches":   "2000000", // never lowered
		"kernel.pid_max":                "4194304",
		"kernel.keys.maxbytes":          "5000000",
	} {
		if got := readBack(t, root, name); got != v {
			t.Errorf("%s = %s, want %s", name, got, v)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "proc/sys/net/ipv6")); !os.IsNotExist(err) {
		t.Errorf("Raise created missing IPv6 sysctls: %v", err)
	}
	// Idempotent: nothing left to raise.
	changed, err = Raise(root)
	if err != nil || len(changed) != 0 {
		t.Errorf("second Raise: %q, %v", changed, err)
	}
	// The report agrees: every raisable check is OK now.
	rep, _ := Inspect(root, 100)
	for _, c := range rep.Checks {
		if c.Raisable && c.Current != Unknown && !c.OK {
			t.Errorf("after Raise: %+v", c)
		}
	}
}

func TestRaiseKeepsGoingOnError(t *testing.T) {
	root := fakeHost(t, map[string]string{
		"proc/sys/kernel/keys/maxkeys": "200\n",
		"proc/sys/kernel/pid_max":      "junk\n",
	}, nil)
	// A directory where a sysctl should be: it cannot be read.
	if err := os.MkdirAll(sysctlPath(root, "fs.inotify.max_user_instances"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed, err := Raise(root)
	if !slices.Equal(changed, []string{"kernel.keys.maxkeys 200 -> 5000"}) {
		t.Errorf("changed %q", changed)
	}
	if err == nil || !strings.Contains(err.Error(), "fs.inotify.max_user_instances") || !strings.Contains(err.Error(), "kernel.pid_max") {
		t.Errorf("err = %v, want both failures", err)
	}
	if _, err := Raise(filepath.Join(root, "nope")); err == nil {
		t.Error("missing root: no error")
	}
}
