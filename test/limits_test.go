package test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// memTotalMiB reads the "Mem:" total of free -m in a guest.
func memTotalMiB(t *testing.T, name string) int {
	t.Helper()
	out := must(t, "exec", name, "--", "free", "-m")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Mem:" {
			return atoi(f[1])
		}
	}
	t.Fatalf("no Mem: line in free output:\n%s", out)
	return 0
}

func TestMemoryLimitOOMAndLiveChange(t *testing.T) {
	ensureDebian(t)
	cleanupInstance(t, "lm1")
	must(t, "launch", "debian/12", "lm1", "-c", "limits.memory=64MiB", "--wait")
	if got := memTotalMiB(t, "lm1"); got != 64 {
		t.Fatalf("free in the guest says %d MiB, want 64 (lxcfs)", got)
	}
	pid := stateOf(t, "lm1").Pid
	// A process allocating 200 MiB is OOM-killed; the guest stays up.
	r := lxmgr(t, "exec", "lm1", "--", "dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1")
	if r.code != 137 {
		t.Fatalf("allocating 200 MiB in a 64 MiB guest: exit %d, want 137 (killed)\n%s", r.code, r.stderr)
	}
	if st := stateOf(t, "lm1"); st.Status != "Running" || st.Pid != pid {
		t.Fatalf("the guest did not survive the OOM kill: %+v", st)
	}
	must(t, "exec", "lm1", "--", "true")
	// A live change applies without a restart.
	r = lxmgr(t, "config", "set", "lm1", "limits.memory=128MiB")
	if r.code != 0 || strings.Contains(r.stderr, "restart") {
		t.Fatalf("config set limits.memory: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := memTotalMiB(t, "lm1"); got != 128 {
		t.Fatalf("after the live change free says %d MiB, want 128", got)
	}
	if st := stateOf(t, "lm1"); st.Pid != pid {
		t.Fatal("the live change restarted the guest")
	}
	// A change that needs a restart says so.
	r = lxmgr(t, "config", "set", "lm1", "security.nesting=true")
	if r.code != 0 || !strings.Contains(r.stderr, "security.nesting") {
		t.Fatalf("config set security.nesting: exit %d, stderr %q (want a restart notice)", r.code, r.stderr)
	}
}

func TestProcessAndCPULimits(t *testing.T) {
	cleanupInstance(t, "lp1")
	must(t, "launch", "busybox", "lp1", "-c", "limits.processes=50", "-c", "limits.cpu=1", "--wait")
	if out := must(t, "exec", "lp1", "--", "nproc"); strings.TrimSpace(out) != "1" {
		t.Errorf("nproc in a limits.cpu=1 guest: %q", out)
	}
	if out := must(t, "exec", "lp1", "--", "grep", "-c", "^processor", "/proc/cpuinfo"); strings.TrimSpace(out) != "1" {
		t.Errorf("/proc/cpuinfo processors in a limits.cpu=1 guest: %q", out)
	}
	// A real fork bomb (every copy starts copies of itself, forever) is
	// contained: the guest's task count stops at the limit. "command"
	// keeps busybox ash alive when a fork fails (it would exit), so the
	// bomb stays at the limit instead of dying out.
	bomb := lxmgrAsync(t, "exec", "lp1", "-n", "--", "sh", "-c", `b() { while :; do command eval "b &"; done; }; b >/dev/null 2>&1`)
	bombDone := make(chan error, 1)
	go func() { bombDone <- bomb.Wait() }()
	t.Cleanup(func() { bomb.Process.Kill(); <-bombDone })
	deadline := time.Now().Add(20 * time.Second)
	for readCgroup(t, "pids", "lp1", "pids.current") < 45 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for range 20 {
		if pids := readCgroup(t, "pids", "lp1", "pids.current"); pids > 50 {
			t.Fatalf("%d tasks in a guest limited to 50", pids)
		} else if pids < 45 {
			t.Fatalf("the fork bomb did not fill the guest (%d tasks): not a test of the limit", pids)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if events, _ := os.ReadFile(cgroupFile("pids", "lp1", "pids.events")); !strings.Contains(string(events), "max") || strings.Contains(string(events), "max 0") {
		t.Errorf("pids.events shows no refused fork: %q", events)
	}
	// The host and the daemon are fine.
	must(t, "list")
	if out, err := exec.Command("sh", "-c", "echo host ok").CombinedOutput(); err != nil {
		t.Fatalf("the host cannot fork: %v %s", err, out)
	}
	// Kill the bomb without restarting the guest: freeze it, kill every
	// task but init, thaw (frozen tasks cannot fork while being killed).
	init := int(stateOf(t, "lp1").Pid)
	must(t, "pause", "lp1")
	procs, err := os.ReadFile(cgroupFile("pids", "lp1", "cgroup.procs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(procs)) {
		if pid := atoi(f); pid != init {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	must(t, "resume", "lp1")
	deadline = time.Now().Add(10 * time.Second)
	for readCgroup(t, "pids", "lp1", "pids.current") > 10 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if out := must(t, "exec", "lp1", "--", "echo", "alive"); strings.TrimSpace(out) != "alive" {
		t.Fatalf("exec after the bomb: %q", out)
	}
	if st := stateOf(t, "lp1"); int(st.Pid) != init || st.Status != "Running" {
		t.Fatalf("the guest did not survive its fork bomb: %+v", st)
	}
	must(t, "stop", "lp1", "--force")
}

func cgroupFile(ctrl, inst, file string) string {
	return filepath.Join("/sys/fs/cgroup", ctrl, "lxc.payload."+inst, file)
}

func readCgroup(t *testing.T, ctrl, inst, file string) int {
	t.Helper()
	b, err := os.ReadFile(cgroupFile(ctrl, inst, file))
	if err != nil {
		t.Fatalf("read cgroup: %v", err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// TestAutostartOrderAfterRestart: autostart goes by boot.autostart.priority,
// highest first. The names sort opposite to the priorities (the daemon lists
// guests by name), so a missing priority sort fails here.
func TestAutostartOrderAfterRestart(t *testing.T) {
	cleanupInstance(t, "as-a", "as-b", "as-c", "as-off")
	for _, g := range []struct{ name, prio string }{{"as-a", "10"}, {"as-b", "20"}, {"as-c", "30"}} {
		must(t, "create", "busybox", g.name, "-c", "boot.autostart=true", "-c", "boot.autostart.priority="+g.prio)
	}
	must(t, "create", "busybox", "as-off")
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	order := []string{"as-c", "as-b", "as-a"}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allRunning(t, order...) {
		time.Sleep(100 * time.Millisecond)
	}
	if !allRunning(t, order...) {
		t.Fatal("autostart guests are not running after the daemon restart")
	}
	if stateOf(t, "as-off").Status != "Stopped" {
		t.Fatal("a guest without boot.autostart was started")
	}
	log := suite.logTail(60)
	checkLogOrder(t, log, "msg=autostarted instance=", order)
}

// allRunning reports whether every named guest is running.
func allRunning(t *testing.T, names ...string) bool {
	t.Helper()
	for _, n := range names {
		if stateOf(t, n).Status != "Running" {
			return false
		}
	}
	return true
}

// checkLogOrder fails unless prefix+name appears in log for every name, in
// the given order.
func checkLogOrder(t *testing.T, log, prefix string, names []string) {
	t.Helper()
	prev := -1
	for _, n := range names {
		i := strings.Index(log, prefix+n)
		if i < 0 || i < prev {
			t.Fatalf("want %q in the order %v; %s at %d (previous at %d):\n%s", prefix, names, n, i, prev, log)
		}
		prev = i
	}
}

func TestPrivilegedPolicyThroughProfile(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	cleanupInstance(t, "pv1", "pv2")
	t.Cleanup(func() {
		c.SetServerConfig(context.Background(), map[string]string{"instances.privileged": ""})
		c.DeleteProfile(context.Background(), "priv")
	})
	if err := c.CreateProfile(ctx, api.ProfilesPost{Name: "priv", ProfilePut: api.ProfilePut{Config: map[string]string{"security.privileged": "true"}}}); err != nil {
		t.Fatal(err)
	}
	must(t, "admin", "config", "set", "instances.privileged=deny")
	before := len(instanceNames(t))
	mustFail(t, "instances.privileged=deny", "launch", "busybox", "pv1", "-p", "default", "-p", "priv")
	if len(instanceNames(t)) != before {
		t.Fatal("a denied create left an instance")
	}
	mustFail(t, "not allow, warn or deny", "admin", "config", "set", "instances.privileged=maybe")
	// Allowed (warn, the default): it works and is flagged.
	must(t, "admin", "config", "unset", "instances.privileged")
	must(t, "launch", "busybox", "pv2", "-p", "default", "-p", "priv", "--wait")
	if out := must(t, "list", "pv2"); !strings.Contains(out, "PRIVILEGED") {
		t.Errorf("list does not flag the privileged guest:\n%s", out)
	}
	if out := must(t, "info", "pv2"); !strings.Contains(out, "yes (guest root is host root)") {
		t.Errorf("info does not flag the privileged guest:\n%s", out)
	}
	if uid := hostUIDOf(t, int(stateOf(t, "pv2").Pid)); uid != 0 {
		t.Errorf("privileged guest init runs as host uid %d", uid)
	}
	// Logged at create and at every start: a warning under warn, info
	// under allow.
	log := suite.logTail(80)
	for _, want := range []string{`level=WARN msg="privileged instance created`, `level=WARN msg="privileged instance starting`} {
		if !strings.Contains(log, want) || !strings.Contains(log, "instance=pv2 policy=warn") {
			t.Errorf("daemon log lacks %q for pv2:\n%s", want, log)
		}
	}
	must(t, "admin", "config", "set", "instances.privileged=allow")
	must(t, "restart", "pv2", "--force")
	if log := suite.logTail(20); !strings.Contains(log, `level=INFO msg="privileged instance starting: its root is the host's root" instance=pv2 policy=allow`) {
		t.Errorf("start under allow not logged at info:\n%s", log)
	}
}

func TestConfigBadValuesNameTheKey(t *testing.T) {
	cleanupInstance(t, "cb1")
	must(t, "create", "busybox", "cb1")
	before := must(t, "config", "show", "cb1")
	for _, kv := range []struct{ arg, key string }{
		{"limits.bogus=1", "limits.bogus"},
		{"limits.processes=many", "limits.processes"},
		{"limits.memory=-5MiB", "limits.memory"},
		{"limits.cpu=0", "limits.cpu"},
		{"limits.cpu=7-9", "limits.cpu"},
		{"boot.autostart=maybe", "boot.autostart"},
		{"limits.cpu.allowance=150", "limits.cpu.allowance"},
		{"raw.lxc=lxc.bogus.key = 1", "raw.lxc"},
		{"security.idmap.isolated=false", "security.idmap.isolated"},
	} {
		mustFail(t, kv.key, "config", "set", "cb1", kv.arg)
	}
	if after := must(t, "config", "show", "cb1"); after != before {
		t.Fatalf("refused changes altered the config:\n%s", after)
	}
	// A valid raw.lxc line is accepted (checked by liblxc when set).
	must(t, "config", "set", "cb1", "raw.lxc=lxc.apparmor.profile = unconfined")
}

func TestProfilesCommands(t *testing.T) {
	cleanupInstance(t, "pc1")
	t.Cleanup(func() {
		for _, p := range []string{"small-site", "web", "web2"} {
			lxmgr(t, "profile", "delete", p)
		}
	})
	must(t, "profile", "import", "../profiles/ready/small-site.yaml")
	must(t, "profile", "create", "web")
	must(t, "profile", "set", "web", "limits.processes=300", "user.role=web")
	must(t, "profile", "copy", "web", "web2")
	must(t, "profile", "rename", "web2", "web3")
	must(t, "profile", "delete", "web3")
	// Later profiles win over earlier ones, the instance's own config over both.
	must(t, "launch", "busybox", "pc1", "-p", "default", "-p", "small-site", "-p", "web", "-c", "user.role=own", "--wait")
	exp := find(listJSON(t), "pc1").ExpandedConfig
	if exp["limits.processes"] != "300" || exp["limits.memory"] != "256MiB" || exp["user.role"] != "own" {
		t.Fatalf("expanded config: %v", exp)
	}
	if got := readCgroup(t, "pids", "pc1", "pids.max"); got != 300 {
		t.Errorf("pids.max = %d, want 300 from the later profile", got)
	}
	// A profile change applies live to its running instances.
	must(t, "profile", "set", "web", "limits.processes=120")
	if got := readCgroup(t, "pids", "pc1", "pids.max"); got != 120 {
		t.Errorf("pids.max after the profile change = %d, want 120", got)
	}
	must(t, "profile", "remove", "pc1", "web")
	if got := readCgroup(t, "pids", "pc1", "pids.max"); got != 200 {
		t.Errorf("pids.max after removing the profile = %d, want small-site's 200", got)
	}
	mustFail(t, "default", "profile", "delete", "default")
	mustFail(t, "in use", "profile", "delete", "small-site")
}

// TestAdminShutdownStopsInPriorityOrder: a host power-off stops every guest
// cleanly, highest boot.stop.priority first, then the daemon; at the next
// start the guests that were running come back.
func TestAdminShutdownStopsInPriorityOrder(t *testing.T) {
	checkPowerOff(t, "sd", func() {
		if out := must(t, "admin", "shutdown", "--timeout", "20"); !strings.Contains(out, "shutting down") {
			t.Fatalf("admin shutdown: %q", out)
		}
	})
}

// TestSIGPWRStopsInPriorityOrder: SIGPWR to lxmgrd (the documented signal
// for a host power-off) does what admin shutdown does.
func TestSIGPWRStopsInPriorityOrder(t *testing.T) {
	checkPowerOff(t, "pw", func() {
		if err := suite.daemon.Process.Signal(syscall.SIGPWR); err != nil {
			t.Fatal(err)
		}
	})
}

// checkPowerOff launches three guests, prefix-z, prefix-m and prefix-a
// (boot.stop.priority 9, 5 and 1: names sort opposite to the priorities),
// runs powerOff and checks that all stop cleanly in priority order, the
// daemon exits, and all come back when the daemon starts again.
func checkPowerOff(t *testing.T, prefix string, powerOff func()) {
	t.Helper()
	order := []string{prefix + "-z", prefix + "-m", prefix + "-a"}
	cleanupInstance(t, order...)
	var pids []int
	for i, prio := range []string{"9", "5", "1"} {
		must(t, "launch", "busybox", order[i], "-c", "boot.stop.priority="+prio, "--wait")
		pids = append(pids, int(stateOf(t, order[i]).Pid))
	}
	powerOff()
	select {
	case <-suite.exited:
		suite.daemon = nil
	case <-time.After(60 * time.Second):
		t.Fatal("lxmgrd did not exit after the power-off request")
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("guest init %d still runs after the shutdown", pid)
		}
	}
	log := suite.logTail(40)
	prev := -1
	for _, n := range order {
		i := strings.Index(log, "instance stopped\" instance="+n+" clean=true")
		if i < 0 || i < prev {
			t.Errorf("stop order or cleanliness wrong: want clean stops in the order %v, %s at %d:\n%s", order, n, i, log)
		}
		prev = i
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !allRunning(t, order...) {
		time.Sleep(100 * time.Millisecond)
	}
	if !allRunning(t, order...) {
		t.Fatal("guests running at the host shutdown did not come back at the next start")
	}
}

// TestPrivilegedDenyThroughProfileChanges: under instances.privileged=deny
// no profile change can make a guest privileged (profile set, profile edit,
// profile add), and each refusal leaves profiles, instance and guest as
// they were.
func TestPrivilegedDenyThroughProfileChanges(t *testing.T) {
	cleanupInstance(t, "pd1")
	t.Cleanup(func() {
		lxmgr(t, "admin", "config", "unset", "instances.privileged")
		lxmgr(t, "profile", "delete", "pd-web")
		lxmgr(t, "profile", "delete", "pd-priv")
	})
	must(t, "profile", "create", "pd-web")
	must(t, "profile", "set", "pd-web", "limits.processes=100")
	must(t, "profile", "create", "pd-priv")
	must(t, "profile", "set", "pd-priv", "security.privileged=true")
	must(t, "launch", "busybox", "pd1", "-p", "default", "-p", "pd-web", "--wait")
	must(t, "admin", "config", "set", "instances.privileged=deny")
	pid := int(stateOf(t, "pd1").Pid)
	web, inst := must(t, "profile", "show", "pd-web"), must(t, "config", "show", "pd1", "--expanded")

	mustFail(t, "instances.privileged=deny", "profile", "set", "pd-web", "security.privileged=true")
	yaml := "config:\n  limits.processes: \"100\"\n  security.privileged: \"true\"\ndevices: {}\n"
	if r := lxmgrIn(t, []byte(yaml), "profile", "edit", "pd-web"); r.code == 0 || !strings.Contains(r.stderr, "instances.privileged=deny") {
		t.Errorf("profile edit making pd-web privileged: exit %d, stderr %q", r.code, r.stderr)
	}
	mustFail(t, "instances.privileged=deny", "profile", "add", "pd1", "pd-priv")

	if got := must(t, "profile", "show", "pd-web"); got != web {
		t.Errorf("refused changes altered the profile:\n%s\nwas:\n%s", got, web)
	}
	if got := must(t, "config", "show", "pd1", "--expanded"); got != inst {
		t.Errorf("refused changes altered the instance:\n%s\nwas:\n%s", got, inst)
	}
	if st := stateOf(t, "pd1"); int(st.Pid) != pid || hostUIDOf(t, pid) == 0 {
		t.Errorf("the guest changed or runs as host root: %+v", st)
	}
}
