package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startBusybox creates and starts a busybox guest and waits until ready.
func startBusybox(t *testing.T, name string, edit func(*Spec)) (*Driver, Spec) {
	t.Helper()
	needLXC(t)
	dir := testDir(t)
	d := New(filepath.Join(dir, "lxc"))
	spec := Spec{
		Name: name, Rootfs: busyboxRootfs(t, dir), HaltSignal: "SIGUSR2",
		IDMap: IDMap{HostUID: testHostID, HostGID: testHostID, Size: testIDSize},
	}
	if edit != nil {
		edit(&spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cleanupContainer(t, d, name)
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitReady(ctx, name, "busybox"); err != nil {
		t.Fatal(err)
	}
	return d, spec
}

func TestPrivileged(t *testing.T) {
	d, _ := startBusybox(t, "lxmgr-t2", func(s *Spec) { s.Privileged = true })
	st, err := d.State("lxmgr-t2")
	if err != nil {
		t.Fatal(err)
	}
	if uid := procUID(t, st.Pid); uid != 0 {
		t.Errorf("privileged init host uid = %d, want 0", uid)
	}
	if code, out := execOut(t, d, "lxmgr-t2", "id", "-u"); code != 0 || out != "0" {
		t.Errorf("id -u = %d %q", code, out)
	}
	// The dangerous capabilities are gone from the bounding set.
	_, capb := execOut(t, d, "lxmgr-t2", "sh", "-c", "grep CapBnd /proc/self/status")
	var bnd uint64
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(capb, "CapBnd:")), "%x", &bnd); err != nil {
		t.Fatalf("CapBnd %q: %v", capb, err)
	}
	for name, bit := range map[string]uint{"sys_module": 16, "sys_rawio": 17, "sys_time": 25, "mac_override": 32, "mac_admin": 33} {
		if bnd&(1<<bit) != 0 {
			t.Errorf("privileged guest keeps %s (CapBnd %x)", name, bnd)
		}
	}
	if bnd&(1<<21) == 0 { // sys_admin stays: a system container needs it
		t.Errorf("CapBnd %x lacks sys_admin", bnd)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if clean, err := d.Stop(ctx, "lxmgr-t2", 10*time.Second, false); err != nil || !clean {
		t.Errorf("Stop = %v, %v", clean, err)
	}
}

// TestStopTimeoutKills: a halt signal init ignores makes Stop wait out the
// timeout and then kill, reporting clean=false.
func TestStopTimeoutKills(t *testing.T) {
	d, _ := startBusybox(t, "lxmgr-t3", func(s *Spec) { s.HaltSignal = "SIGWINCH" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t0 := time.Now()
	clean, err := d.Stop(ctx, "lxmgr-t3", time.Second, false)
	if err != nil || clean {
		t.Fatalf("Stop = %v, %v; want clean=false", clean, err)
	}
	if el := time.Since(t0); el < time.Second || el > 10*time.Second {
		t.Errorf("Stop took %v", el)
	}
	if st, _ := d.State("lxmgr-t3"); st.Status != StatusStopped {
		t.Errorf("after Stop: %s", st.Status)
	}
}

// TestStateNotBlocked: long execs and a pending shutdown must not block
// State, which the daemon calls for every list.
func TestStateNotBlocked(t *testing.T) {
	name := "lxmgr-t4"
	d, _ := startBusybox(t, name, func(s *Spec) { s.HaltSignal = "SIGWINCH" })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	execDone := make(chan error, 1)
	go func() {
		_, err := d.Exec(ctx, name, ExecSpec{Args: []string{"sleep", "2"}})
		execDone <- err
	}()
	stopDone := make(chan error, 1)
	go func() {
		_, err := d.Stop(ctx, name, 2*time.Second, false)
		stopDone <- err
	}()
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	if st, err := d.State(name); err != nil || st.Status != StatusRunning {
		t.Errorf("State = %+v, %v", st, err)
	}
	if el := time.Since(t0); el > 500*time.Millisecond {
		t.Errorf("State blocked for %v", el)
	}
	if err := <-execDone; err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("exec: %v", err)
	}
	if err := <-stopDone; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestExecOptions(t *testing.T) {
	name := "lxmgr-t5"
	d, _ := startBusybox(t, name, func(s *Spec) {
		// Also proves a nesting config and CPU limits are accepted by liblxc.
		s.Nesting = true
		s.Limits = Limits{CPUs: "0", CPUCount: 1}
	})
	st, err := d.State(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, cgroupFile(t, st.Pid, "cpuset", "cpuset.cpus")); got != "0" {
		t.Errorf("cpuset.cpus = %q", got)
	}
	if got := readTrim(t, cgroupFile(t, st.Pid, "cpu", "cpu.cfs_quota_us")); got != "100000" {
		t.Errorf("cpu.cfs_quota_us = %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := os.CreateTemp(t.TempDir(), "in")
	if err != nil {
		t.Fatal(err)
	}
	in.WriteString("hello from stdin\n")
	in.Seek(0, 0)
	out, _ := os.CreateTemp(t.TempDir(), "out")
	code, err := d.Exec(ctx, name, ExecSpec{
		Args: []string{"sh", "-c", "id -u; id -g; pwd; echo $FOO $HOME; cat"},
		Env:  map[string]string{"FOO": "bar baz"}, Cwd: "/tmp", UID: 1000, GID: 1001,
		Stdin: in, Stdout: out,
	})
	if err != nil || code != 0 {
		t.Fatalf("exec = %d, %v", code, err)
	}
	got, _ := os.ReadFile(out.Name())
	want := "1000\n1001\n/tmp\nbar baz /\nhello from stdin\n"
	if string(got) != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if code, _ := execOut(t, d, name, "/no/such/binary"); code != 127 {
		t.Errorf("missing binary -> %d, want 127", code)
	}
	if _, err := d.Exec(ctx, name, ExecSpec{}); !errors.Is(err, ErrInvalidSpec) {
		t.Errorf("empty args = %v", err)
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	needLXC(t)
	dir := testDir(t)
	d := New(filepath.Join(dir, "lxc"))
	name := "lxmgr-t6"
	cleanupContainer(t, d, name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spec := Spec{Name: name, Rootfs: filepath.Join(dir, "missing"),
		IDMap: IDMap{HostUID: testHostID, HostGID: testHostID, Size: testIDSize}}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	err := d.Start(ctx, name)
	t.Logf("start error: %v", err)
	if err == nil || !strings.Contains(err.Error(), "lxc.log") || !strings.Contains(err.Error(), "ERROR") {
		t.Fatalf("Start = %v; want an error quoting lxc.log", err)
	}
	if st, _ := d.State(name); st.Status != StatusStopped {
		t.Errorf("after failed start: %s", st.Status)
	}
	for _, base := range cgroupBases() {
		for _, kind := range []string{"lxc.monitor.", "lxc.payload."} {
			if _, err := os.Stat(filepath.Join(base, kind+name)); err == nil {
				t.Errorf("failed start left cgroup %s", filepath.Join(base, kind+name))
			}
		}
	}
}

// debianRootfs finds a Debian systemd rootfs built by the image tooling,
// if one is on this machine.
func debianRootfs() string {
	for _, p := range []string{os.Getenv("LXMGR_TEST_DEBIAN_ROOTFS"), "/var/lib/lxmgr-dev/debian-rootfs", "/var/lib/lxmgr-instance-dev/debian"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(p, "lib/systemd/systemd")); err == nil {
			return p
		}
	}
	return ""
}

// TestSystemdGuest boots an unprivileged Debian systemd guest (a copy of a
// locally built rootfs) to "running", then halts it cleanly.
func TestSystemdGuest(t *testing.T) {
	needLXC(t)
	src := debianRootfs()
	if src == "" {
		t.Skip("no Debian rootfs on this machine (set LXMGR_TEST_DEBIAN_ROOTFS)")
	}
	dir := testDir(t)
	root := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("cp", "-a", src, root).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	d := New(filepath.Join(dir, "lxc"))
	name := "lxmgr-t7"
	cleanupContainer(t, d, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := Spec{Name: name, Rootfs: root, HaltSignal: "SIGRTMIN+3",
		IDMap:  IDMap{HostUID: testHostID, HostGID: testHostID, Size: testIDSize},
		Limits: Limits{MemoryBytes: 512 << 20, Processes: 1000, CPUCount: 1}}
	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := d.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	if err := d.WaitReady(rctx, name, "systemd"); err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd guest ready after %v", time.Since(t0))
	if code, out := execOut(t, d, name, "systemctl", "is-system-running"); out != "running" {
		_, failed := execOut(t, d, name, "systemctl", "--failed", "--no-legend")
		t.Errorf("is-system-running = %q (%d); failed units:\n%s", out, code, failed)
	}
	t0 = time.Now()
	if clean, err := d.Stop(ctx, name, 30*time.Second, false); err != nil || !clean {
		t.Fatalf("Stop = %v, %v", clean, err)
	}
	t.Logf("systemd guest halted in %v", time.Since(t0))
}
