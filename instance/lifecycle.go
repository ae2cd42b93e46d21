package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	lxc "github.com/lxc/go-lxc"
)

// Status is a container's run state as liblxc reports it.
type Status string

// The statuses a container can be in.
const (
	StatusRunning  Status = "Running"
	StatusStopped  Status = "Stopped"
	StatusFrozen   Status = "Frozen"
	StatusStarting Status = "Starting"
	StatusStopping Status = "Stopping"
	StatusFreezing Status = "Freezing"
	StatusAborting Status = "Aborting"
)

// State is a container's status and, while it runs, its init's host pid.
type State struct {
	Status Status
	Pid    int
}

// lxcStart is the lxc-start binary; a variable for tests.
var lxcStart = "lxc-start"

// lxcStartPath is lxc-start's PATH (see Start). With a merged /usr,
// /bin and /sbin are /usr/bin and /usr/sbin.
const lxcStartPath = "/usr/local/sbin:/usr/sbin:/sbin"

// maxLogSize is the size above which lxc.log is truncated before a start,
// so a guest restarted often cannot fill the disk with it.
const maxLogSize = 1 << 20

func statusOf(s lxc.State) Status {
	switch s {
	case lxc.RUNNING, lxc.THAWED:
		return StatusRunning
	case lxc.FROZEN:
		return StatusFrozen
	case lxc.STARTING:
		return StatusStarting
	case lxc.STOPPING:
		return StatusStopping
	case lxc.FREEZING:
		return StatusFreezing
	case lxc.ABORTING:
		return StatusAborting
	default:
		return StatusStopped
	}
}

// State returns the status and init pid of name. It is cheap: go-lxc asks
// the container's monitor over its command socket (an abstract unix socket,
// so the caller must share the monitor's network namespace, as the daemon
// does); no process is spawned. A container without a monitor is Stopped.
func (d *Driver) State(name string) (State, error) {
	var st State
	err := d.use(name, func(c *lxc.Container) error {
		st.Status = statusOf(c.State())
		if st.Status != StatusStopped {
			if pid := c.InitPid(); pid > 0 {
				st.Pid = pid
			}
		}
		return nil
	})
	return st, err
}

// Start starts name and returns once liblxc reports it RUNNING.
//
// It runs the lxc-start tool (daemon mode) rather than go-lxc's Start: the
// per-guest monitor is then liblxc's small C process (about 1.4 MiB PSS)
// instead of a fork of this Go daemon (LXD's forkstart costs about
// 11.6 MiB per guest), and no fork happens inside our multithreaded
// process. The monitor outlives the daemon, so guests survive its restart.
//
// If ctx ends while lxc-start runs, lxc-start is killed but the guest may
// still come up: the caller's reverter should force-stop it.
func (d *Driver) Start(ctx context.Context, name string) error {
	st, err := d.State(name)
	if err != nil {
		return err
	}
	if st.Status != StatusStopped {
		return fmt.Errorf("start %q: %w", name, ErrRunning)
	}
	logPath := d.logPath(name)
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLogSize {
		_ = os.Truncate(logPath, 0)
	}
	var logStart int64
	if fi, err := os.Stat(logPath); err == nil {
		logStart = fi.Size()
	}

	cmd := exec.CommandContext(ctx, lxcStart, "-n", name, "-P", d.LXCPath, "-o", logPath, "-l", "INFO")
	// A clean environment: nothing of the daemon's leaks into the monitor
	// or the guest. Stdin and stdout are /dev/null (exec's default for nil).
	// The PATH leaves out the directories of newuidmap/newgidmap: liblxc
	// finding them runs each through a shell even as root (4 processes,
	// ~15 ms per start), where writing the maps itself is allowed and
	// the same; the ranges come from /etc/subuid either way.
	cmd.Env = []string{"PATH=" + lxcStartPath, "LANG=C"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// Should a daemonised child keep the stderr pipe open, do not hang.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("start %q: %w", name, ctx.Err())
		}
		if st, serr := d.State(name); serr == nil && st.Status == StatusStopped {
			removeStaleCgroups(name)
		}
		return fmt.Errorf("start %q: lxc-start: %w: %s%s", name, err,
			strings.TrimSpace(stderr.String()), logTail(logPath, logStart))
	}
	// lxc-start in daemon mode returns once the guest is running; check it,
	// allowing a short grace for a monitor that is still reporting.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := d.State(name)
		if err != nil {
			return err
		}
		switch st.Status {
		case StatusRunning:
			return nil
		case StatusStopped:
			removeStaleCgroups(name)
			return fmt.Errorf("start %q: container is %s after lxc-start%s", name, st.Status, logTail(logPath, logStart))
		case StatusAborting:
			return fmt.Errorf("start %q: container is %s after lxc-start%s", name, st.Status, logTail(logPath, logStart))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %q: container is %s after lxc-start%s", name, st.Status, logTail(logPath, logStart))
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// logTail returns the last lines liblxc logged since offset, formatted to
// end an error message.
func logTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > 8192 {
		offset = fi.Size() - 8192
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, 8192))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// INFO lines are noise in an error; keep what went wrong, the errors
	// first: a failed start can end in a dozen warnings (one per cgroup
	// hierarchy liblxc could not remove) that would push them out.
	var errs, warns []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, " ERROR "):
			errs = append(errs, l)
		case strings.Contains(l, " WARN "):
			warns = append(warns, l)
		}
	}
	keep := errs
	if len(keep) == 0 {
		keep = warns
	}
	if len(keep) == 0 {
		keep = lines
	}
	if len(keep) > 10 {
		keep = keep[len(keep)-10:]
	}
	if len(keep) == 0 || keep[0] == "" {
		return ""
	}
	return "; lxc.log:\n" + strings.Join(keep, "\n")
}

// Stop stops name. Unless force, it sends init the halt signal (go-lxc
// Shutdown, which uses lxc.signal.halt) and waits up to timeout for init to
// exit, then kills it (go-lxc Stop); force kills at once. liblxc counts
// the timeout in whole seconds: it is rounded up, to at least one. clean is
// true if init exited by itself. A frozen guest is thawed first. If ctx ends during the wait, Stop returns its
// error without killing: the halt signal has been sent and may still work.
func (d *Driver) Stop(ctx context.Context, name string, timeout time.Duration, force bool) (clean bool, err error) {
	st, err := d.State(name)
	if err != nil {
		return false, err
	}
	if st.Status == StatusStopped {
		return false, fmt.Errorf("stop %q: %w", name, ErrNotRunning)
	}
	if st.Status == StatusFrozen || st.Status == StatusFreezing {
		// A frozen init cannot act on a signal.
		_ = d.use(name, func(c *lxc.Container) error { return c.Unfreeze() })
	}
	if !force {
		clean, err = d.shutdown(ctx, name, timeout)
		if err != nil || clean {
			return clean, err
		}
	}
	err = d.use(name, func(c *lxc.Container) error {
		if err := c.Stop(); err != nil && c.State() != lxc.STOPPED {
			return fmt.Errorf("stop %q: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return false, d.waitStopped(ctx, name, 10*time.Second)
}

// haltRound is how long one halt signal is given before it is sent again:
// an init that is still booting may miss the first one (seen with systemd
// right after start), and a repeated halt request is harmless.
const haltRound = 3 * time.Second

// shutdown sends the halt signal and waits up to timeout, resending it every
// haltRound. It uses a fresh handle because go-lxc holds the handle's lock
// for the whole wait.
func (d *Driver) shutdown(ctx context.Context, name string, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		round := min(time.Until(deadline), haltRound)
		clean, err := d.shutdownOnce(ctx, name, round)
		if err != nil || clean || time.Until(deadline) <= 0 {
			return clean, err
		}
	}
}

func (d *Driver) shutdownOnce(ctx context.Context, name string, wait time.Duration) (bool, error) {
	c, err := d.fresh(name)
	if err != nil {
		return false, err
	}
	secs := int((wait + time.Second - 1) / time.Second) // liblxc counts whole seconds; 0 would not wait
	if secs < 1 {
		secs = 1
	}
	done := make(chan error, 1)
	go func() {
		defer c.Release()
		done <- c.Shutdown(time.Duration(secs) * time.Second)
	}()
	select {
	case err := <-done:
		if err == nil {
			return true, nil
		}
		// Shutdown fails on timeout, or when init went away under it.
		st, serr := d.State(name)
		if serr == nil && st.Status == StatusStopped {
			return true, nil
		}
		return false, nil
	case <-ctx.Done():
		return false, fmt.Errorf("stop %q: %w", name, ctx.Err())
	}
}

func (d *Driver) waitStopped(ctx context.Context, name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := d.State(name)
		if err != nil {
			return err
		}
		if st.Status == StatusStopped {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("stop %q: still %s after kill", name, st.Status)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// Freeze freezes every process of a running container; freezing a frozen
// one is a no-op.
func (d *Driver) Freeze(ctx context.Context, name string) error {
	return d.use(name, func(c *lxc.Container) error {
		switch c.State() {
		case lxc.FROZEN:
			return nil
		case lxc.STOPPED:
			return fmt.Errorf("freeze %q: %w", name, ErrNotRunning)
		}
		if err := c.Freeze(); err != nil && !errors.Is(err, lxc.ErrAlreadyFrozen) {
			return fmt.Errorf("freeze %q: %w", name, err)
		}
		return nil
	})
}

// Unfreeze thaws a frozen container; thawing a running one is a no-op.
func (d *Driver) Unfreeze(ctx context.Context, name string) error {
	return d.use(name, func(c *lxc.Container) error {
		switch c.State() {
		case lxc.STOPPED:
			return fmt.Errorf("unfreeze %q: %w", name, ErrNotRunning)
		case lxc.RUNNING, lxc.THAWED:
			return nil
		}
		if err := c.Unfreeze(); err != nil && !errors.Is(err, lxc.ErrNotFrozen) {
			return fmt.Errorf("unfreeze %q: %w", name, err)
		}
		return nil
	})
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
