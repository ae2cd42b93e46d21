package main

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/client"
)

// progress shows an operation's progress text on stderr. On a terminal it
// keeps one line up to date with '\r'; elsewhere (logs, CI) it prints each
// new message on its own line so nothing is lost.
type progress struct {
	f      *os.File
	tty    bool
	quiet  bool // print nothing unless on a terminal
	active bool // a '\r' line is on screen and must be cleared
}

// newProgress returns a progress display on f. With quietUnlessTTY the
// plain-line fallback is off (for quick operations whose steps are noise in
// a log).
func newProgress(f *os.File, quietUnlessTTY bool) *progress {
	return &progress{f: f, tty: isTerminal(int(f.Fd())), quiet: quietUnlessTTY}
}

// update shows msg.
func (p *progress) update(msg string) {
	msg = oneLine(msg)
	if !p.tty {
		if !p.quiet {
			fmt.Fprintln(p.f, msg)
		}
		return
	}
	// A line longer than the terminal would wrap and '\r' would then only
	// rewrite its last part, so cut it to the width.
	if w, _, err := terminalSize(int(p.f.Fd())); err == nil && w > 1 {
		if r := []rune(msg); len(r) > w-1 {
			msg = string(r[:w-1])
		}
	}
	fmt.Fprintf(p.f, "\r\033[K%s", msg)
	p.active = true
}

// done clears the progress line so that the final message stands alone.
func (p *progress) done() {
	if p.active {
		fmt.Fprint(p.f, "\r\033[K")
		p.active = false
	}
}

// waitOp waits for op, showing its progress on stderr.
func waitOp(ctx context.Context, op *client.Operation, quietUnlessTTY bool) error {
	p := newProgress(os.Stderr, quietUnlessTTY)
	defer p.done()
	return op.WaitProgress(ctx, p.update)
}

// isTerminal reports whether fd is a terminal.
func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// terminalSize returns the width and height of the terminal on fd.
func terminalSize(fd int) (int, int, error) {
	ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, fmt.Errorf("get terminal size: %w", err)
	}
	return int(ws.Col), int(ws.Row), nil
}

// makeRaw puts the terminal on fd in raw mode (no echo, no line editing, no
// signals from ^C: they go to the remote pty) and returns a function that
// restores the previous settings.
func makeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("get terminal settings: %w", err)
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("set terminal raw mode: %w", err)
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}
