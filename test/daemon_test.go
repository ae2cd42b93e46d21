package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParallelLaunches(t *testing.T) {
	const n = 10
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("par%d", i))
	}
	cleanupInstance(t, names...)
	var wg sync.WaitGroup
	errs := make([]string, n)
	start := time.Now()
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := lxmgr(t, "launch", "busybox", name, "--wait"); r.code != 0 {
				errs[i] = r.stderr
			}
		}()
	}
	wg.Wait()
	t.Logf("%d parallel launches: %s", n, time.Since(start))
	for i, e := range errs {
		if e != "" {
			t.Errorf("launch %s: %s", names[i], e)
		}
	}
	list := listJSON(t)
	pids := map[int64]bool{}
	for _, name := range names {
		inst := find(list, name)
		if inst == nil || inst.Status != "Running" {
			t.Fatalf("%s not running: %+v", name, inst)
		}
		pids[inst.State.Pid] = true
	}
	if len(pids) != n {
		t.Errorf("want %d distinct init pids, got %d", n, len(pids))
	}
	// Each guest has its own id range.
	uids := map[int]bool{}
	for _, name := range names {
		uids[hostUIDOf(t, int(stateOf(t, name).Pid))] = true
	}
	if len(uids) != n {
		t.Errorf("guests share id ranges: %d distinct host uids for %d guests", len(uids), n)
	}
}

func TestDaemonRestartKeepsGuests(t *testing.T) {
	cleanupInstance(t, "keep1", "keep2")
	must(t, "launch", "busybox", "keep1", "--wait")
	must(t, "create", "busybox", "keep2")
	pid := stateOf(t, "keep1").Pid

	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(int(pid), 0); err != nil {
		t.Fatalf("guest init %d died with the daemon: %v", pid, err)
	}
	// As an older daemon left it: a root-owned volume directory, which
	// the guest's root cannot pass to mount its rootfs again on a reboot.
	if err := os.Chown(filepath.Join(suite.dir, "storage-pools/default/containers/keep1"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	list := listJSON(t)
	k1, k2 := find(list, "keep1"), find(list, "keep2")
	if k1 == nil || k1.Status != "Running" || k1.State.Pid != pid {
		t.Fatalf("keep1 after restart: %+v (want running, pid %d)", k1, pid)
	}
	if k2 == nil || k2.Status != "Stopped" {
		t.Fatalf("keep2 after restart: %+v", k2)
	}
	// READY is known again for the reattached guest.
	waitListReady(t, "keep1", pid)
	// A guest that reboots itself gets a new init, whose boot is tracked.
	lxmgr(t, "exec", "keep1", "--", "reboot")
	rebooted := waitNewInit(t, "keep1", pid)
	waitListReady(t, "keep1", rebooted)
	// The reattached guest is fully manageable.
	must(t, "exec", "keep1", "--", "true")
	must(t, "stop", "keep1")
	must(t, "start", "keep2")
}

// waitListReady waits until list shows name running with init pid and
// READY true.
func waitListReady(t *testing.T, name string, pid int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		inst := find(listJSON(t), name)
		if inst != nil && inst.State != nil && inst.State.Pid == pid && inst.State.Ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) not READY in list after 30s: %+v\nlog:\n%s", name, pid, inst, suite.logTail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitNewInit waits until name runs with an init pid other than old and
// returns it.
func waitNewInit(t *testing.T, name string, old int64) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := stateOf(t, name)
		if st.Status == "Running" && st.Pid != 0 && st.Pid != old {
			return st.Pid
		}
		if time.Now().After(deadline) {
			dir := filepath.Join(suite.dir, "containers", name)
			lxcLog, _ := os.ReadFile(filepath.Join(dir, "lxc.log"))
			console, _ := os.ReadFile(filepath.Join(dir, "console.log"))
			t.Fatalf("%s did not come back with a new init after a reboot: %+v\nlxc.log:\n%s\nconsole:\n%s", name, st, lxcLog, console)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	out, err := execOut(filepath.Join(suite.bin, "lxmgrd"), "LXMGR_DIR="+suite.dir)
	if err == nil {
		t.Fatalf("a second lxmgrd started on the same directory:\n%s", out)
	}
	if !contains(out, "already running") {
		t.Fatalf("second daemon's message: %q", out)
	}
	// The first one still answers.
	must(t, "list")
}

func TestKillDuringCreateIsRepaired(t *testing.T) {
	cleanupInstance(t, "crash1", "crashprep")
	// Kill the daemon while a debian create copies the rootfs (cp, a few
	// hundred MB on the dir pool). One create first, so the pool holds the
	// unpacked image and the next one goes straight to the copy.
	ensureDebian(t)
	must(t, "create", "debian/12", "crashprep")
	must(t, "delete", "crashprep")
	r := lxmgrAsync(t, "create", "debian/12", "crash1")
	deadline := time.Now().Add(time.Minute)
	for !slices.ContainsFunc(helpersNow(suite.dir), func(p string) bool { return strings.Contains(p, " cp ") }) {
		if time.Now().After(deadline) {
			t.Fatal("the create never ran its copy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := suite.stopDaemon(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	// The daemon's helpers (cp of the rootfs) die with it; one that kept
	// writing would race the repair below.
	if left := helpersOf(suite.dir); len(left) > 0 {
		t.Errorf("helpers outlived the killed daemon: %v", left)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(suite.logTail(50), `msg="removing instance left half-created by a crash" instance=crash1`) {
		t.Errorf("the kill did not catch the create in the middle (no repair logged):\n%s", suite.logTail(10))
	}
	if find(listJSON(t), "crash1") != nil {
		t.Fatalf("half-created instance survived the restart:\n%s", must(t, "list"))
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "storage-pools/default/containers/crash1")); !os.IsNotExist(err) {
		t.Fatalf("orphan volume after repair: %v", err)
	}
	must(t, "launch", "busybox", "crash1", "--wait")
}

// TestReconcileWhileDown changes guests behind the daemon's back while it is
// stopped: one killed, one started by liblxc's own tool. The next daemon
// shows both as they are and manages them.
func TestReconcileWhileDown(t *testing.T) {
	cleanupInstance(t, "down1", "down2")
	must(t, "launch", "busybox", "down1", "--wait")
	// Started and stopped once, so that its liblxc config is rendered.
	must(t, "launch", "busybox", "down2", "--wait")
	must(t, "stop", "down2")
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	lxcPath := filepath.Join(suite.dir, "containers")
	// The monitors listen in the suite's network namespace.
	if out, err := execCombined("nsenter", "--net=/run/netns/"+suite.netns, "lxc-stop", "-k", "-P", lxcPath, "-n", "down1"); err != nil {
		suite.startDaemon()
		t.Fatalf("kill down1 behind the daemon's back: %v\n%s", err, out)
	}
	cmd, cleanup, err := suite.inNamespaces("lxc-start", "-P", lxcPath, "-n", "down2")
	if err == nil {
		var out []byte
		out, err = cmd.CombinedOutput()
		cleanup()
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
	}
	if serr := suite.startDaemon(); serr != nil {
		t.Fatal(serr)
	}
	if err != nil {
		t.Fatalf("start down2 behind the daemon's back: %v", err)
	}
	list := listJSON(t)
	d1, d2 := find(list, "down1"), find(list, "down2")
	if d1 == nil || d1.Status != "Stopped" {
		t.Fatalf("down1, killed while the daemon was down: %+v", d1)
	}
	if d2 == nil || d2.Status != "Running" || d2.State.Pid == 0 {
		t.Fatalf("down2, started while the daemon was down: %+v", d2)
	}
	waitListReady(t, "down2", d2.State.Pid)
	must(t, "exec", "down2", "--", "true")
	must(t, "stop", "down2")
	must(t, "start", "down1")
}

// helpersOf lists, after a short grace, the non-daemon processes whose
// command line names dir (cp, btrfs or debootstrap working there), as
// "pid cmdline".
func helpersOf(dir string) []string {
	var left []string
	for try := 0; try < 20; try++ {
		if left = helpersNow(dir); len(left) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return left
}

// helpersNow is one scan of helpersOf.
func helpersNow(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		switch filepath.Base(args[0]) {
		case "cp", "btrfs", "debootstrap":
			out = append(out, strings.TrimPrefix(filepath.Dir(p), "/proc/")+" "+strings.Join(args, " "))
		}
	}
	return out
}
