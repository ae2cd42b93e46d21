package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/client"
)

// env is the suite's shared world: binaries, state directory, namespace and
// the running daemon.
type env struct {
	bin     string // directory with lxmgr and lxmgrd
	dir     string // LXMGR_DIR of the daemon under test
	netns   string // network namespace name
	logPath string
	// daemonEnv is extra environment for the next daemon start.
	daemonEnv []string
	daemon    *exec.Cmd
	exited    chan struct{}
}

var suite *env

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Println("end-to-end suite skipped: needs root")
		os.Exit(0)
	}
	if _, err := exec.LookPath("lxc-start"); err != nil {
		fmt.Println("end-to-end suite skipped: liblxc (lxc-start) is not installed")
		os.Exit(0)
	}
	code := 1
	func() {
		e, err := setup()
		if e != nil {
			defer e.teardown()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e setup:", err)
			return
		}
		suite = e
		// Clean up on interrupt too, not only on a normal return.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			<-sig
			e.teardown()
			os.Exit(1)
		}()
		code = m.Run()
		// The suite's guests and networks go, then nothing of the
		// daemon's may stay in its namespace (teardown still runs).
		if e.daemon == nil {
			return
		}
		if problems := e.emptyAndCheckNetns(); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "e2e: the namespace is not clean after the suite:\n  "+strings.Join(problems, "\n  "))
			code = 1
		}
	}()
	os.Exit(code)
}

func setup() (*env, error) {
	id := fmt.Sprintf("%d", os.Getpid())
	e := &env{netns: "lxmgr-e2e-" + id, dir: "/var/lib/lxmgr-e2e-" + id}
	var err error
	if e.bin, err = os.MkdirTemp("", "lxmgr-e2e-bin-"); err != nil {
		return nil, err
	}
	for _, b := range []string{"lxmgr", "lxmgrd"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(e.bin, b), "../"+b).CombinedOutput()
		if err != nil {
			return e, fmt.Errorf("build %s: %v\n%s", b, err, out)
		}
	}
	if err := os.MkdirAll(e.dir, 0o711); err != nil {
		return e, err
	}
	e.logPath = filepath.Join(e.bin, "lxmgrd.log")
	if out, err := exec.Command("ip", "netns", "add", e.netns).CombinedOutput(); err != nil {
		return e, fmt.Errorf("create netns: %v: %s", err, out)
	}
	exec.Command("ip", "-n", e.netns, "link", "set", "lo", "up").Run()
	return e, e.startDaemon()
}

// startDaemon runs lxmgrd in the suite's namespaces (inNamespaces) and
// waits until it answers.
func (e *env) startDaemon() error {
	cmd, cleanup, err := e.inNamespaces(filepath.Join(e.bin, "lxmgrd"))
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		cleanup()
		return err
	}
	cmd.Env = append(cmd.Env, e.daemonEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		cleanup()
		return fmt.Errorf("start lxmgrd: %w", err)
	}
	logf.Close()
	e.daemon = cmd
	e.exited = make(chan struct{})
	go func() { cmd.Wait(); close(e.exited); cleanup() }()
	deadline := time.Now().Add(30 * time.Second)
	c := e.client()
	for time.Now().Before(deadline) {
		if _, err := c.GetServer(context.Background()); err == nil {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("lxmgrd exited at start; log:\n%s", e.logTail(30))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("lxmgrd did not answer within 30s; log:\n%s", e.logTail(30))
}

// inNamespaces returns a command running argv as the daemon runs: in the
// suite's network namespace, in a private mount namespace with a fresh sysfs
// (so liblxc sees the namespace's interfaces) and the host's cgroup tree
// bound back on top (so liblxc can still set up cgroups). See DESIGN.md
// "Tests". cleanup removes the temporary mount point after the command.
func (e *env) inNamespaces(argv ...string) (*exec.Cmd, func(), error) {
	cg, err := os.MkdirTemp("", "lxmgr-e2e-cg-")
	if err != nil {
		return nil, nil, err
	}
	script := fmt.Sprintf(`mount --rbind /sys/fs/cgroup %[1]s && mount -t sysfs sysfs /sys && mount --rbind %[1]s /sys/fs/cgroup && umount -l %[1]s && exec "$@"`, cg)
	args := append([]string{"--net=/run/netns/" + e.netns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"}, argv...)
	cmd := exec.Command("nsenter", args...)
	cmd.Env = append(os.Environ(), "LXMGR_DIR="+e.dir)
	return cmd, func() { os.Remove(cg) }, nil
}

// stopDaemon sends sig to lxmgrd and waits for it to exit.
func (e *env) stopDaemon(sig syscall.Signal) error {
	if e.daemon == nil {
		return nil
	}
	e.daemon.Process.Signal(sig)
	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		e.daemon.Process.Kill()
		<-e.exited
		return fmt.Errorf("lxmgrd did not exit on %v", sig)
	}
	e.daemon = nil
	return nil
}

func (e *env) client() *client.Client { return client.Connect(filepath.Join(e.dir, "unix.socket")) }

func (e *env) logTail(n int) string {
	b, _ := os.ReadFile(e.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// teardown removes everything the suite made: guests (killed through their
// monitors, which listen in the suite's namespace), the daemon, leftover
// monitor processes, mounts, the namespace and the directories.
func (e *env) teardown() {
	e.stopDaemon(syscall.SIGTERM)
	lxcPath := filepath.Join(e.dir, "containers")
	if ents, err := os.ReadDir(lxcPath); err == nil {
		for _, ent := range ents {
			exec.Command("nsenter", "--net=/run/netns/"+e.netns, "lxc-stop", "-k", "-P", lxcPath, "-n", ent.Name()).Run()
		}
	}
	// Anything still holding the directory (a monitor that lost its guest).
	exec.Command("pkill", "-9", "-f", e.dir).Run()
	umountBelow(e.dir)
	detachLoops(e.dir)
	if e.netns != "" {
		exec.Command("ip", "netns", "del", e.netns).Run()
	}
	os.RemoveAll(e.dir)
	if os.Getenv("LXMGR_E2E_KEEP_LOG") == "" {
		os.RemoveAll(e.bin)
	} else {
		fmt.Println("daemon log kept at", e.logPath)
	}
}

// umountBelow lazily unmounts every mount under dir, deepest first.
func umountBelow(dir string) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	var targets []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir) {
			targets = append(targets, f[1])
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		syscall.Unmount(targets[i], syscall.MNT_DETACH)
	}
}

// result is the outcome of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// lxmgr runs the CLI against the daemon under test.
func lxmgr(t *testing.T, args ...string) result {
	t.Helper()
	return lxmgrIn(t, nil, args...)
}

func lxmgrIn(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(suite.bin, "lxmgr"), args...)
	cmd.Env = append(os.Environ(), "LXMGR_DIR="+suite.dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run lxmgr %v: %v", args, err)
	}
	return r
}

// must runs the CLI and fails the test unless it exits 0.
func must(t *testing.T, args ...string) string {
	t.Helper()
	r := lxmgr(t, args...)
	if r.code != 0 {
		t.Fatalf("lxmgr %s: exit %d\nstdout: %s\nstderr: %s\ndaemon log:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr, suite.logTail(20))
	}
	return r.stdout
}

// mustFail runs the CLI and expects what every failing command promises:
// exit code 1 and the error as one line, "Error: ...", last on stderr and
// containing want. Lines before it can only be an operation's progress
// (shown line by line when stderr is not a terminal), never more error.
func mustFail(t *testing.T, want string, args ...string) result {
	t.Helper()
	r := lxmgr(t, args...)
	cmdline := strings.Join(args, " ")
	if r.code == 0 {
		t.Fatalf("lxmgr %s: succeeded, want failure containing %q\nstdout: %s", cmdline, want, r.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if r.code != 1 || !strings.HasSuffix(r.stderr, "\n") || !strings.HasPrefix(last, "Error: ") || strings.Count(r.stderr, "Error") != strings.Count(last, "Error") {
		t.Fatalf("lxmgr %s: exit %d, stderr %q: want exit 1 and the error as one last \"Error: \" line", cmdline, r.code, r.stderr)
	}
	if !strings.Contains(last, want) {
		t.Fatalf("lxmgr %s: error %q does not contain %q", cmdline, last, want)
	}
	return r
}

// cleanupInstance force-deletes an instance at the end of a test. Call it
// after registering the cleanups of the networks and profiles the instance
// uses: cleanups run last first, and those are refused while in use.
func cleanupInstance(t *testing.T, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			lxmgr(t, "delete", "--force", n)
		}
	})
}

// detachLoops detaches loop devices whose backing file lies under dir (the
// loop-backed pools of the daemon under test).
func detachLoops(dir string) {
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !strings.HasPrefix(strings.TrimSpace(string(b)), dir+"/") {
			continue
		}
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(f)))
		exec.Command("losetup", "-d", dev).Run()
	}
}
