package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/lxmgr/lxmgr/internal/childproc"
	"golang.org/x/sys/unix"
)

// runCommand runs argv to completion, feeding each output line (stdout and
// stderr merged) to onLine. The command gets its own process group and its
// own private mount namespace: cancelling ctx kills the whole group, and
// mounts it made (debootstrap mounts /proc and /sys in the target) vanish with
// it instead of pinning the scratch directory. The error quotes the last
// output lines.
func runCommand(ctx context.Context, onLine func(string), argv ...string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Unshareflags: syscall.CLONE_NEWNS,
	}
	// The leader dies with the daemon (its children finish the step they
	// are in; the next start removes the interrupted build).
	defer childproc.Tie(cmd)()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	tail := newTail(10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if onLine != nil {
				onLine(line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
		// Children that outlived the leader (dpkg, ...) must be gone
		// before the caller removes their working tree.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitGroupGone(cmd.Process.Pid)
	}
	pw.Close()
	<-done
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%s: %w", argv[0], ctxErr)
		}
		return fmt.Errorf("%s: %w: %s", argv[0], err, tail.String())
	}
	return nil
}

// waitGroupGone waits (a few seconds at most) until no process of the
// process group pgid is left.
func waitGroupGone(pgid int) {
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// unmountBelow lazily unmounts every mount point at or below dir in this
// mount namespace, deepest first. It is a safety net: commands run in their
// own mount namespace, so normally there is nothing to do.
func unmountBelow(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = unix.Unmount(points[i], unix.MNT_DETACH)
	}
}

// unescapeMountinfo undoes the octal escapes (\040 for a space, ...) of
// /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// tailBuffer keeps the last n lines of a command's output for error messages.
type tailBuffer struct {
	n     int
	lines []string
}

func newTail(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) add(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

func (t *tailBuffer) String() string { return strings.Join(t.lines, " | ") }
