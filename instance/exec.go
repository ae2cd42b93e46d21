package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	lxc "github.com/lxc/go-lxc"
)

// ExecSpec describes a command to run inside a container.
type ExecSpec struct {
	// Args is the command and its arguments; Args[0] is looked up in PATH.
	Args []string
	// Env is the command's whole environment on top of defaults for PATH,
	// HOME and TERM; nothing of the daemon's environment is passed.
	Env map[string]string
	// Cwd is the working directory in the guest ("" = "/").
	Cwd string
	// UID and GID are the guest ids to run as.
	UID, GID uint32
	// Stdin, Stdout and Stderr are the command's stdio; nil means /dev/null.
	// Their descriptors are passed as they are (File.Fd, which also puts
	// them in blocking mode); keep them open until Exec returns.
	Stdin, Stdout, Stderr *os.File
	// Signals, if set, are delivered to the command while it runs (the
	// client's Ctrl-C of a non-interactive exec).
	Signals <-chan syscall.Signal
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (s *ExecSpec) env() ([]string, error) {
	home := "/root"
	if s.UID != 0 {
		home = "/"
	}
	env := map[string]string{"PATH": defaultPath, "HOME": home, "TERM": "xterm"}
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("%w: environment variable %q", ErrInvalidSpec, k)
		}
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

// Exec runs spec.Args in the running container name (attached to all its
// namespaces and its cgroup, with the container's capabilities) and waits
// for it. It returns the command's exit code, or 128+signal if it was
// killed; an error means it could not be run (ErrNotRunning when the
// container is not running). If ctx ends first the command is killed.
//
// The command is started with go-lxc RunCommandNoWait and waited for here:
// RunCommandStatus would hold the handle's lock for the whole run, blocking
// State, and could not be cancelled. liblxc creates the attached process
// with CLONE_PARENT, so it is our child and we can wait for it.
func (d *Driver) Exec(ctx context.Context, name string, spec ExecSpec) (int, error) {
	if len(spec.Args) == 0 {
		return -1, fmt.Errorf("%w: exec without a command", ErrInvalidSpec)
	}
	for _, a := range append([]string{spec.Cwd}, spec.Args...) {
		if strings.ContainsRune(a, 0) {
			return -1, fmt.Errorf("%w: exec argument with NUL", ErrInvalidSpec)
		}
	}
	env, err := spec.env()
	if err != nil {
		return -1, err
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	var devNull *os.File
	stdio := func(f *os.File) (uintptr, error) {
		if f != nil {
			return f.Fd(), nil
		}
		if devNull == nil {
			var err error
			if devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
				return 0, err
			}
		}
		return devNull.Fd(), nil
	}
	defer func() {
		if devNull != nil {
			devNull.Close()
		}
	}()
	opts := lxc.DefaultAttachOptions
	opts.Cwd = cwd
	opts.UID, opts.GID = int(spec.UID), int(spec.GID)
	opts.ClearEnv = true
	opts.Env = env
	if opts.StdinFd, err = stdio(spec.Stdin); err != nil {
		return -1, err
	}
	if opts.StdoutFd, err = stdio(spec.Stdout); err != nil {
		return -1, err
	}
	if opts.StderrFd, err = stdio(spec.Stderr); err != nil {
		return -1, err
	}

	var pid int
	err = d.use(name, func(c *lxc.Container) error {
		if s := c.State(); s != lxc.RUNNING && s != lxc.THAWED {
			return fmt.Errorf("exec in %q: %w", name, ErrNotRunning)
		}
		var err error
		pid, err = c.RunCommandNoWait(spec.Args, opts)
		if err != nil {
			return fmt.Errorf("exec in %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return -1, err
	}
	// The file objects must stay open until the child has its own copies;
	// it has them once RunCommandNoWait returned.
	return waitChild(ctx, pid, spec.Signals)
}

// waitChild waits for our child pid (through a pidfd, so a kill on cancel
// can never hit a recycled pid) and returns its shell-style exit code.
func waitChild(ctx context.Context, pid int, signals <-chan syscall.Signal) (int, error) {
	p, err := os.FindProcess(pid)
	if err != nil {
		return -1, fmt.Errorf("find attached process %d: %w", pid, err)
	}
	type result struct {
		st  *os.ProcessState
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := p.Wait()
		done <- result{st, err}
	}()
	var r result
	for waiting := true; waiting; {
		select {
		case r = <-done:
			waiting = false
		case sig := <-signals:
			_ = p.Signal(sig)
		case <-ctx.Done():
			_ = p.Kill()
			r = <-done
			if r.err == nil {
				return exitCode(r.st), ctx.Err()
			}
			return -1, ctx.Err()
		}
	}
	if r.err != nil {
		return -1, fmt.Errorf("wait for attached process %d: %w", pid, r.err)
	}
	return exitCode(r.st), nil
}

func exitCode(st *os.ProcessState) int {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// WaitReady waits until the guest's init says boot finished: WaitInitUp,
// then WaitBootFinished.
func (d *Driver) WaitReady(ctx context.Context, name, init string) error {
	if err := d.WaitInitUp(ctx, name, init); err != nil {
		return err
	}
	return d.WaitBootFinished(ctx, name, init)
}

// WaitInitUp waits until the guest's init is far enough to be asked
// whether boot finished, or ctx ends. It costs no attach into the guest:
// for init "systemd" it waits for systemd's private bus socket, for any
// other init (busybox) for the file run/lxmgr-ready its rcS writes last.
// Files are looked for through /proc/<initpid>/root with os.OpenRoot, so a
// guest symlink can never lead the lookup out of the guest. The poll starts
// at 20 ms (a launch waits on it) and slows down to 1 s, so that many
// guests waited on at once (a daemon reattaching to its guests) cost little.
func (d *Driver) WaitInitUp(ctx context.Context, name, init string) error {
	marker := "run/lxmgr-ready"
	if init == "systemd" {
		marker = "run/systemd/private"
	}
	pause := 20 * time.Millisecond
	for {
		st, err := d.State(name)
		if err != nil {
			return err
		}
		if st.Status == StatusStopped || st.Status == StatusAborting {
			return fmt.Errorf("wait ready %q: %w", name, ErrNotRunning)
		}
		if st.Pid > 0 && guestHasFile(fmt.Sprintf("/proc/%d/root", st.Pid), marker) {
			return nil
		}
		if err := sleepCtx(ctx, pause); err != nil {
			return fmt.Errorf("wait ready %q: %w", name, err)
		}
		pause = min(pause*3/2, time.Second)
	}
}

// WaitBootFinished waits, after WaitInitUp, until the guest's init says
// boot finished, or ctx ends. For init "systemd" it runs `systemctl
// is-system-running --wait` in the guest (again, should that find the bus
// not answering yet) until it prints something other than initializing or
// starting (running, degraded, ...). Other inits are done once WaitInitUp
// is: their marker is written at the end of boot.
func (d *Driver) WaitBootFinished(ctx context.Context, name, init string) error {
	if init != "systemd" {
		return nil
	}
	return d.waitSystemd(ctx, name)
}

// guestHasFile reports whether rel exists under the guest root dir,
// resolving every path component inside that root.
func guestHasFile(dir, rel string) bool {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	_, err = root.Stat(rel)
	return err == nil
}

func (d *Driver) waitSystemd(ctx context.Context, name string) error {
	for {
		out, err := d.output(ctx, name, "systemctl", "is-system-running", "--wait")
		if err != nil {
			if errors.Is(err, ErrNotRunning) || ctx.Err() != nil {
				return fmt.Errorf("wait ready %q: %w", name, err)
			}
		}
		switch state := strings.TrimSpace(out); state {
		case "", "initializing", "starting", "offline", "unknown":
			// Not booted far enough, or the bus is not up yet.
		default:
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("wait ready %q: %w", name, err)
		}
	}
}

// output runs a command in the guest and returns its stdout (at most 4 KiB).
func (d *Driver) output(ctx context.Context, name string, args ...string) (string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	var buf bytes.Buffer
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, io.LimitReader(r, 4096))
		_, _ = io.Copy(io.Discard, r)
		close(copied)
	}()
	_, err = d.Exec(ctx, name, ExecSpec{Args: args, Stdout: w})
	w.Close()
	if err != nil {
		// A guest process may still hold the pipe: do not wait for EOF.
		return "", err
	}
	select {
	case <-copied:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return buf.String(), nil
}
