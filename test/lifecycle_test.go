package test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// listJSON returns `lxmgr list --format json` decoded.
func listJSON(t *testing.T) []api.InstanceFull {
	t.Helper()
	var out []api.InstanceFull
	if err := json.Unmarshal([]byte(must(t, "list", "--format", "json")), &out); err != nil {
		t.Fatalf("decode list json: %v", err)
	}
	return out
}

func find(list []api.InstanceFull, name string) *api.InstanceFull {
	for i := range list {
		if list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func stateOf(t *testing.T, name string) api.InstanceState {
	t.Helper()
	st, err := suite.client().GetInstanceState(context.Background(), name)
	if err != nil {
		t.Fatalf("state of %s: %v", name, err)
	}
	return st
}

func TestBusyboxLifecycle(t *testing.T) {
	cleanupInstance(t, "bb1", "bb1-renamed")
	start := time.Now()
	must(t, "launch", "busybox", "bb1", "--wait")
	t.Logf("launch --wait busybox (image possibly built): %s", time.Since(start))

	inst := find(listJSON(t), "bb1")
	if inst == nil || inst.Status != "Running" || inst.State == nil || !inst.State.Ready {
		t.Fatalf("bb1 after launch --wait: %+v", inst)
	}
	if inst.ExpandedConfig["image.init"] != "busybox" {
		t.Errorf("image.init = %q, want busybox", inst.ExpandedConfig["image.init"])
	}
	table := must(t, "list")
	if !strings.Contains(table, "bb1") || !strings.Contains(table, "RUNNING") {
		t.Errorf("list table lacks bb1 RUNNING:\n%s", table)
	}
	if out := must(t, "info", "bb1"); !strings.Contains(out, "bb1") {
		t.Errorf("info output lacks the name:\n%s", out)
	}

	// exec: stdout and stderr apart, exit code propagated, env/cwd honoured.
	r := lxmgr(t, "exec", "bb1", "--env", "FOO=bar", "--cwd", "/tmp", "--", "sh", "-c", `echo out $FOO $(pwd); echo err >&2; exit 7`)
	if r.code != 7 || strings.TrimSpace(r.stdout) != "out bar /tmp" || strings.TrimSpace(r.stderr) != "err" {
		t.Fatalf("exec: code=%d stdout=%q stderr=%q", r.code, r.stdout, r.stderr)
	}
	if out := must(t, "exec", "bb1", "--", "hostname"); strings.TrimSpace(out) != "bb1" {
		t.Errorf("hostname in guest = %q, want bb1", out)
	}
	if out := must(t, "exec", "bb1", "--", "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("id -u in guest = %q", out)
	}
	// stdin reaches the command and EOF ends it.
	r = lxmgrIn(t, []byte("hello stdin\n"), "exec", "bb1", "--", "cat")
	if r.code != 0 || r.stdout != "hello stdin\n" {
		t.Errorf("exec cat: code=%d stdout=%q", r.code, r.stdout)
	}

	// Interactive exec (stdin is a terminal: script(1) provides one): the
	// command gets a pty of the guest's own devpts.
	tty := exec.Command("script", "-q", "-e", "-c", filepath.Join(suite.bin, "lxmgr")+" exec bb1 -- sh -c 'tty; exit 5'", "/dev/null")
	tty.Env = append(os.Environ(), "LXMGR_DIR="+suite.dir)
	ttyOut, err := tty.CombinedOutput()
	if code := tty.ProcessState.ExitCode(); code != 5 || !strings.Contains(string(ttyOut), "/dev/pts/") {
		t.Errorf("interactive exec: exit %d (%v), output %q; want 5 and a /dev/pts/N", code, err, ttyOut)
	}

	// Ctrl-C of a non-interactive exec reaches the remote command.
	sig := exec.Command(filepath.Join(suite.bin, "lxmgr"), "exec", "bb1", "--", "sh", "-c", `trap 'echo got-int; exit 9' INT; echo ready; while :; do sleep 0.1; done`)
	sig.Env = append(os.Environ(), "LXMGR_DIR="+suite.dir)
	stdout, _ := sig.StdoutPipe()
	if err := sig.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("exec did not start: %q", buf[:n])
	}
	sig.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(stdout)
	sig.Wait()
	if code := sig.ProcessState.ExitCode(); code != 9 || !strings.Contains(string(rest), "got-int") {
		t.Errorf("SIGINT to exec: exit %d, output %q; want 9 and got-int", code, rest)
	}

	// The guest is unprivileged: its root is an unprivileged host uid.
	st := stateOf(t, "bb1")
	if uid := hostUIDOf(t, int(st.Pid)); uid < 100000 {
		t.Errorf("guest init runs as host uid %d, want a mapped (isolated) uid", uid)
	}

	// Files: push, pull, ownership.
	local := filepath.Join(t.TempDir(), "f.txt")
	os.WriteFile(local, []byte("payload\n"), 0o640)
	must(t, "file", "push", local, "bb1/root/f.txt", "--uid", "12", "--gid", "34", "--mode", "0600")
	if out := must(t, "exec", "bb1", "--", "stat", "-c", "%u %g %a", "/root/f.txt"); strings.TrimSpace(out) != "12 34 600" {
		t.Errorf("pushed file in guest: %q, want '12 34 600'", out)
	}
	if out := must(t, "file", "pull", "bb1/root/f.txt", "-"); out != "payload\n" {
		t.Errorf("pulled %q", out)
	}
	must(t, "exec", "bb1", "--", "sh", "-c", "echo made-inside > /root/inside")
	if out := must(t, "file", "pull", "bb1/root/inside", "-"); out != "made-inside\n" {
		t.Errorf("pulled file made in the guest: %q", out)
	}

	// pause/resume.
	must(t, "pause", "bb1")
	if s := stateOf(t, "bb1"); s.Status != "Frozen" {
		t.Errorf("after pause: %s", s.Status)
	}
	must(t, "resume", "bb1")
	if s := stateOf(t, "bb1"); s.Status != "Running" {
		t.Errorf("after resume: %s", s.Status)
	}

	// delete of a running guest needs --force; it stays untouched.
	mustFail(t, "running", "delete", "bb1")
	if s := stateOf(t, "bb1"); s.Status != "Running" || s.Pid != st.Pid {
		t.Fatalf("refused delete changed the guest: %+v", s)
	}

	// clean stop (busybox init halts on its own signal), restart, stop.
	t0 := time.Now()
	must(t, "stop", "bb1", "--timeout", "20")
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("clean stop took %s: the halt signal was not handled", d)
	}
	if !strings.Contains(suite.logTail(200), `instance=bb1 clean=true`) {
		t.Errorf("stop of bb1 was not clean; log:\n%s", suite.logTail(20))
	}
	mustFail(t, "not running", "exec", "bb1", "--", "true")
	must(t, "start", "bb1")
	must(t, "restart", "bb1")
	if s := stateOf(t, "bb1"); s.Status != "Running" {
		t.Fatalf("after restart: %s", s.Status)
	}
	must(t, "stop", "bb1", "--force")

	// rename a stopped guest; the old name is free, the new one starts.
	must(t, "rename", "bb1", "bb1-renamed")
	if find(listJSON(t), "bb1") != nil {
		t.Fatal("old name still listed after rename")
	}
	must(t, "start", "bb1-renamed")
	if out := must(t, "exec", "bb1-renamed", "--", "cat", "/root/inside"); out != "made-inside\n" {
		t.Errorf("file lost across rename: %q", out)
	}
	must(t, "delete", "--force", "bb1-renamed")
	if find(listJSON(t), "bb1-renamed") != nil {
		t.Fatal("instance still listed after delete")
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "storage-pools/default/containers/bb1-renamed")); !os.IsNotExist(err) {
		t.Errorf("volume left after delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "containers/bb1-renamed")); !os.IsNotExist(err) {
		t.Errorf("liblxc config left after delete: %v", err)
	}
}

// hostUIDOf returns the host uid a process runs as.
func hostUIDOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "status"))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			return atoi(f[1])
		}
	}
	t.Fatalf("no Uid line for %d", pid)
	return -1
}

// TestStopTimeoutZero: --timeout 0 gives no time for a clean shutdown, the
// guest is killed at once (it used to wait the 30 s default).
func TestStopTimeoutZero(t *testing.T) {
	cleanupInstance(t, "tz1")
	must(t, "launch", "busybox", "tz1", "--wait")
	start := time.Now()
	must(t, "stop", "tz1", "--timeout", "0")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stop --timeout 0 took %s", took)
	}
	if !strings.Contains(suite.logTail(50), `msg="instance stopped" instance=tz1 clean=false force=true`) {
		t.Errorf("stop --timeout 0 was not a kill; log:\n%s", suite.logTail(10))
	}
	mustFail(t, "--timeout -5", "stop", "tz1", "--timeout", "-5")
}

// TestFileFIFORefused: push and pull refuse a FIFO the guest made (they
// used to block on it for good) with a clear error, and leave it a FIFO.
func TestFileFIFORefused(t *testing.T) {
	cleanupInstance(t, "fifo1")
	must(t, "launch", "busybox", "fifo1", "--wait")
	must(t, "exec", "fifo1", "--", "mkfifo", "/root/pipe")
	local := filepath.Join(t.TempDir(), "x")
	os.WriteFile(local, []byte("data\n"), 0o644)
	for _, args := range [][]string{
		{"file", "pull", "fifo1/root/pipe", "-"},
		{"file", "push", local, "fifo1/root/pipe"},
	} {
		done := make(chan result, 1)
		go func() { done <- lxmgr(t, args...) }()
		select {
		case r := <-done:
			if r.code != 1 || !strings.Contains(r.stderr, "not a regular file") {
				t.Errorf("lxmgr %v: exit %d, %q; want a not-a-regular-file error", args, r.code, r.stderr)
			}
		case <-time.After(20 * time.Second):
			// Unblock the handler so the suite can go on.
			must(t, "exec", "fifo1", "--", "sh", "-c", "echo x > /root/pipe & cat /root/pipe > /dev/null")
			t.Fatalf("lxmgr %v blocked on a FIFO", args)
		}
	}
	if out := must(t, "exec", "fifo1", "--", "sh", "-c", "test -p /root/pipe && echo fifo"); strings.TrimSpace(out) != "fifo" {
		t.Errorf("the FIFO changed: %q", out)
	}
}
