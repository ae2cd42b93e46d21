package instance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	testHostID = 1000000
	testIDSize = 65536
)

// needLXC skips unless the test can really run containers: root, lxc-start
// and a static busybox to build a guest from.
func needLXC(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath(lxcStart); err != nil {
		t.Skip("needs lxc-start")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (busybox-static)")
	}
	ensureSubIDs(t)
}

// ensureSubIDs makes sure root owns the id range the test maps, as the
// daemon's setup does.
func ensureSubIDs(t *testing.T) {
	t.Helper()
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte("root:1000000:1000000000")) {
			continue
		}
		fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			fh.WriteString("\n")
		}
		fh.WriteString("root:1000000:1000000000\n")
		fh.Close()
	}
}

// testDir returns a host directory that an unprivileged guest's root can
// traverse (t.TempDir is 0700 under /tmp), removed when the test ends.
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/lib", "lxmgr-instance-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// busyboxRootfs builds a minimal busybox guest whose init marks itself
// ready in /run/lxmgr-ready and powers off on SIGUSR2.
func busyboxRootfs(t *testing.T, dir string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "sbin", "proc", "sys", "dev", "run", "tmp", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"bin/sh", "bin/id", "bin/touch", "bin/mkdir", "bin/sync", "bin/stat", "bin/sleep", "bin/cat", "sbin/init"} {
		if err := os.Symlink("/bin/busybox", filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	inittab := "::sysinit:/bin/sh -c \"mkdir -p /run; touch /run/lxmgr-ready\"\n::shutdown:/bin/sync\n"
	if err := os.WriteFile(filepath.Join(root, "etc/inittab"), []byte(inittab), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/owned-by-root"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// cleanupContainer force-stops and deletes name when the test ends, so no
// test leaves a guest running.
func cleanupContainer(t *testing.T, d *Driver, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if st, err := d.State(name); err == nil && st.Status != StatusStopped {
			if _, err := d.Stop(ctx, name, 0, true); err != nil {
				t.Errorf("cleanup stop: %v", err)
			}
		}
		if err := d.Delete(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
			t.Errorf("cleanup delete: %v", err)
		}
	})
}

// execOut runs args in the guest and returns exit code and stdout.
func execOut(t *testing.T, d *Driver, name string, args ...string) (int, string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := d.Exec(ctx, name, ExecSpec{Args: args, Stdout: f, Stderr: f})
	if err != nil {
		t.Fatalf("exec %v: %v", args, err)
	}
	out, _ := os.ReadFile(f.Name())
	return code, strings.TrimSpace(string(out))
}

// cgroupFile returns the path of file in the v1 controller's cgroup of pid.
func cgroupFile(t *testing.T, pid int, controller, file string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) == 3 && strings.Contains(","+parts[1]+",", ","+controller+",") {
			return filepath.Join("/sys/fs/cgroup", controller, parts[2], file)
		}
	}
	t.Fatalf("no %s cgroup for pid %d", controller, pid)
	return ""
}

func TestLifecycleUnprivileged(t *testing.T) {
	needLXC(t)
	dir := testDir(t)
	root := busyboxRootfs(t, dir)
	d := New(filepath.Join(dir, "lxc"))
	name := "lxmgr-t1"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	spec := Spec{
		Name: name, Rootfs: root, HaltSignal: "SIGUSR2",
		IDMap:  IDMap{HostUID: testHostID, HostGID: testHostID, Size: testIDSize},
		Limits: Limits{MemoryBytes: 256 << 20, Processes: 100},
	}
	cleanupContainer(t, d, name)
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if !d.Exists(name) {
		t.Fatal("Exists after Create = false")
	}
	if names, err := d.Defined(); err != nil || len(names) != 1 || names[0] != name {
		t.Fatalf("Defined = %v, %v", names, err)
	}
	if fi, err := os.Stat(d.dir(name)); err != nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("container dir mode: %v %v", fi.Mode(), err)
	}
	if st, err := d.State(name); err != nil || st.Status != StatusStopped {
		t.Fatalf("State before start = %+v, %v", st, err)
	}
	if _, err := d.Exec(ctx, name, ExecSpec{Args: []string{"true"}}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Exec on stopped = %v, want ErrNotRunning", err)
	}

	t0 := time.Now()
	if err := d.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Logf("start took %v", time.Since(t0))
	if err := d.Start(ctx, name); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Start = %v, want ErrRunning", err)
	}
	st, err := d.State(name)
	if err != nil || st.Status != StatusRunning || st.Pid <= 0 {
		t.Fatalf("State = %+v, %v", st, err)
	}
	if err := d.WaitReady(ctx, name, "busybox"); err != nil {
		t.Fatal(err)
	}
	t.Logf("ready after %v", time.Since(t0))
	if err := d.Delete(ctx, name); !errors.Is(err, ErrRunning) {
		t.Fatalf("Delete running = %v, want ErrRunning", err)
	}
	if err := d.Create(ctx, spec); !errors.Is(err, ErrRunning) {
		t.Fatalf("Create over running = %v, want ErrRunning", err)
	}

	// The guest's init runs as host uid HostUID: a user namespace is in use.
	if uid := procUID(t, st.Pid); uid != testHostID {
		t.Errorf("init host uid = %d, want %d", uid, testHostID)
	}
	if code, out := execOut(t, d, name, "id", "-u"); code != 0 || out != "0" {
		t.Errorf("id -u = %d %q", code, out)
	}
	if code, _ := execOut(t, d, name, "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit 7 -> %d", code)
	}
	if code, _ := execOut(t, d, name, "sh", "-c", "kill -9 $$"); code != 128+9 {
		t.Errorf("killed -> %d, want 137", code)
	}
	if code, out := execOut(t, d, name, "sh", "-c", "echo $PATH $HOME $FOO"); code != 0 || !strings.HasPrefix(out, "/usr/local/sbin") || !strings.Contains(out, "/root") {
		t.Errorf("env: %d %q", code, out)
	}
	// Idmapped rootfs: 0 on disk is 0 in the guest and the other way round.
	if code, out := execOut(t, d, name, "stat", "-c", "%u:%g", "/etc/owned-by-root"); code != 0 || out != "0:0" {
		t.Errorf("guest sees owner %q (%d), want 0:0", out, code)
	}
	if code, out := execOut(t, d, name, "touch", "/root/made-in-guest"); code != 0 {
		t.Fatalf("touch in guest: %d %s", code, out)
	}
	var sys syscall.Stat_t
	if err := syscall.Stat(filepath.Join(root, "root/made-in-guest"), &sys); err != nil || sys.Uid != 0 || sys.Gid != 0 {
		t.Errorf("file made in guest: owner %d:%d on disk (%v), want 0:0", sys.Uid, sys.Gid, err)
	}
	// Exec honours ctx: a long command is killed.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	code, err := d.Exec(short, name, ExecSpec{Args: []string{"sleep", "30"}})
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) || code != 128+9 {
		t.Errorf("cancelled exec = %d, %v", code, err)
	}

	// Limits reach the cgroups.
	if got := readTrim(t, cgroupFile(t, st.Pid, "memory", "memory.limit_in_bytes")); got != fmt.Sprint(256<<20) {
		t.Errorf("memory.limit_in_bytes = %s", got)
	}
	if got := readTrim(t, cgroupFile(t, st.Pid, "pids", "pids.max")); got != "100" {
		t.Errorf("pids.max = %s", got)
	}
	u, err := d.Usage(name)
	if err != nil || u.MemoryBytes <= 0 || u.Processes <= 0 || u.CPUNanos <= 0 {
		t.Errorf("Usage = %+v, %v", u, err)
	}

	if err := d.Freeze(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.State(name); st.Status != StatusFrozen {
		t.Errorf("after Freeze: %s", st.Status)
	}
	if err := d.Unfreeze(ctx, name); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.State(name); st.Status != StatusRunning {
		t.Errorf("after Unfreeze: %s", st.Status)
	}

	t0 = time.Now()
	clean, err := d.Stop(ctx, name, 20*time.Second, false)
	if err != nil || !clean {
		t.Fatalf("clean Stop = %v, %v", clean, err)
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Errorf("clean stop took %v", el)
	}
	t.Logf("clean stop took %v", time.Since(t0))
	if st, _ := d.State(name); st.Status != StatusStopped {
		t.Errorf("after Stop: %s", st.Status)
	}
	if _, err := d.Stop(ctx, name, time.Second, false); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Stop stopped = %v", err)
	}

	// Re-render a stopped container, start again, force stop.
	spec.Limits.MemoryBytes = 128 << 20
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	st, _ = d.State(name)
	if got := readTrim(t, cgroupFile(t, st.Pid, "memory", "memory.limit_in_bytes")); got != fmt.Sprint(128<<20) {
		t.Errorf("re-rendered memory.limit_in_bytes = %s", got)
	}
	if err := d.Freeze(ctx, name); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	if clean, err := d.Stop(ctx, name, time.Minute, true); err != nil || clean {
		t.Fatalf("force Stop of frozen = %v, %v", clean, err)
	}
	t.Logf("force stop took %v", time.Since(t0))
	if err := d.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if d.Exists(name) {
		t.Error("Exists after Delete")
	}
	if _, err := os.Stat(d.dir(name)); !os.IsNotExist(err) {
		t.Errorf("dir left after Delete: %v", err)
	}
	if _, err := d.State(name); !errors.Is(err, ErrNotFound) {
		t.Errorf("State after Delete = %v", err)
	}
}

func procUID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			var uid int
			fmt.Sscan(f[1], &uid)
			return uid
		}
	}
	return -1
}

func readTrim(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}
