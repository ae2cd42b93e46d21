package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileCLIAgainstDaemon drives the profile and device commands that
// the CLI's unit tests only run against a fake daemon: profile edit (YAML
// on stdin), unset, device add/remove, profile add, config device override
// and config show --expanded, with a nic and a port forward that come from
// a profile, checked on the real guest.
func TestProfileCLIAgainstDaemon(t *testing.T) {
	t.Cleanup(func() {
		lxmgr(t, "profile", "delete", "pcli")
		lxmgr(t, "profile", "delete", "plim")
		lxmgr(t, "network", "delete", "e2epnet")
	})
	cleanupInstance(t, "pcg1")
	must(t, "network", "create", "e2epnet", "ipv4.address=10.231.16.1/24", "ipv4.nat=false")
	must(t, "profile", "create", "pcli")
	yaml := `description: CLI test
config:
  limits.processes: "150"
  user.tier: gold
devices:
  eth0:
    type: nic
    network: e2epnet
    name: eth0
`
	if r := lxmgrIn(t, []byte(yaml), "profile", "edit", "pcli"); r.code != 0 {
		t.Fatalf("profile edit from stdin: exit %d: %s", r.code, r.stderr)
	}
	show := must(t, "profile", "show", "pcli")
	for _, want := range []string{"limits.processes: \"150\"", "user.tier: gold", "network: e2epnet", "description: CLI test"} {
		if !strings.Contains(show, want) {
			t.Errorf("profile show after edit lacks %q:\n%s", want, show)
		}
	}
	must(t, "profile", "unset", "pcli", "user.tier")
	if show := must(t, "profile", "show", "pcli"); strings.Contains(show, "user.tier") {
		t.Errorf("profile unset left the key:\n%s", show)
	}
	must(t, "profile", "device", "add", "pcli", "web", "proxy", "listen=tcp:0.0.0.0:18090", "connect=tcp:127.0.0.1:80")

	// The guest gets its nic and its forward from the profile.
	must(t, "launch", "busybox", "pcg1", "-p", "default", "-p", "pcli", "--wait")
	if ip := ipv4Of(t, "pcg1"); !strings.HasPrefix(ip, "10.231.16.") {
		t.Fatalf("address of a guest with a nic from a profile: %q", ip)
	}
	if got := readCgroup(t, "pids", "pcg1", "pids.max"); got != 150 {
		t.Errorf("pids.max = %d, want the profile's 150", got)
	}
	must(t, "exec", "pcg1", "--", "sh", "-c", "mkdir -p /www && echo via-profile > /www/index.html && httpd -p 127.0.0.1:80 -h /www")
	if got := fetchInNetns(t, "http://127.0.0.1:18090/"); got != "via-profile\n" {
		t.Fatalf("through the profile's proxy: %q", got)
	}
	must(t, "profile", "device", "remove", "pcli", "web")
	if got := fetchInNetns(t, "http://127.0.0.1:18090/"); !strings.HasPrefix(got, "dial:") {
		t.Errorf("the forward outlived its removal from the profile: %q", got)
	}

	// profile add: a later profile wins, live.
	must(t, "profile", "create", "plim")
	must(t, "profile", "set", "plim", "limits.processes=80")
	must(t, "profile", "add", "pcg1", "plim")
	if got := readCgroup(t, "pids", "pcg1", "pids.max"); got != 80 {
		t.Errorf("pids.max after profile add = %d, want 80", got)
	}

	// config device override copies the profile's nic into the instance.
	must(t, "config", "device", "override", "pcg1", "eth0", "ipv4.address=10.231.16.50")
	own, expanded := must(t, "config", "show", "pcg1"), must(t, "config", "show", "pcg1", "--expanded")
	if !strings.Contains(own, "ipv4.address: 10.231.16.50") || !strings.Contains(own, "network: e2epnet") || strings.Contains(own, "limits.processes") {
		t.Errorf("config show after override (own config only):\n%s", own)
	}
	if !strings.Contains(expanded, "limits.processes: \"80\"") || !strings.Contains(expanded, "ipv4.address: 10.231.16.50") || !strings.Contains(expanded, "plim") {
		t.Errorf("config show --expanded:\n%s", expanded)
	}
	must(t, "restart", "pcg1")
	waitIP(t, "pcg1", "10.231.16.50")
}

// TestBadConfigThroughCLIChangesNothing: bad keys and values through
// profile import, profile set, config set and launch are refused with the
// key named, and nothing is created or changed.
func TestBadConfigThroughCLIChangesNothing(t *testing.T) {
	cleanupInstance(t, "bc1", "bc2")
	t.Cleanup(func() {
		for _, p := range []string{"bcp", "bad-import"} {
			lxmgr(t, "profile", "delete", p)
		}
	})
	must(t, "profile", "create", "bcp")
	must(t, "profile", "set", "bcp", "limits.processes=100")
	must(t, "create", "busybox", "bc1", "-p", "default", "-p", "bcp")
	profiles := must(t, "profile", "list")
	dir := t.TempDir()
	for i, c := range []struct{ key, body string }{
		{"limits.bogus", "limits.bogus: \"1\""},
		{"limits.processes", "limits.processes: \"-5\""},
		{"limits.memory", "limits.memory: 150%"},
		{"limits.cpu.allowance", "limits.cpu.allowance: 0%"},
		{"boot.autostart", "boot.autostart: \"yes\""},
	} {
		f := filepath.Join(dir, "p"+itoa(i)+".yaml")
		os.WriteFile(f, []byte("name: bad-import\nconfig:\n  "+c.body+"\ndevices: {}\n"), 0o644)
		mustFail(t, `"`+c.key+`"`, "profile", "import", f)
	}
	if got := must(t, "profile", "list"); got != profiles {
		t.Fatalf("refused imports changed the profiles:\n%s", got)
	}
	profile, inst := must(t, "profile", "show", "bcp"), must(t, "config", "show", "bc1")
	for _, c := range []struct{ key, arg string }{
		{"limits.bogus", "limits.bogus=1"},
		{"limits.processes", "limits.processes=-1"},
		{"limits.processes", "limits.processes=12x"},
		{"limits.memory", "limits.memory=150%"},
		{"limits.memory", "limits.memory=abc%"},
		{"limits.memory", "limits.memory=-10%"},
		{"limits.cpu.allowance", "limits.cpu.allowance=101%"},
		{"limits.disk.priority", "limits.disk.priority=-1"},
	} {
		mustFail(t, `"`+c.key+`"`, "profile", "set", "bcp", c.arg)
		mustFail(t, `"`+c.key+`"`, "config", "set", "bc1", c.arg)
	}
	// A newline in a value (either CLI form) is refused naming the key.
	for _, args := range [][]string{{"user.x", "a\nb"}, {"user.x=a\nb"}} {
		mustFail(t, `"user.x"`, append([]string{"profile", "set", "bcp"}, args...)...)
		mustFail(t, `"user.x"`, append([]string{"config", "set", "bc1"}, args...)...)
	}
	if got := must(t, "profile", "show", "bcp"); got != profile {
		t.Errorf("refused profile sets changed it:\n%s", got)
	}
	if got := must(t, "config", "show", "bc1"); got != inst {
		t.Errorf("refused config sets changed the instance:\n%s", got)
	}
	before, vols := len(instanceNames(t)), len(volumes(t))
	mustFail(t, `"limits.processes"`, "launch", "busybox", "bc2", "-c", "limits.processes=-3")
	mustFail(t, `"limits.memory"`, "launch", "busybox", "bc2", "-c", "limits.memory=0%")
	if len(instanceNames(t)) != before || len(volumes(t)) != vols {
		t.Fatal("a refused launch left something behind")
	}
}
