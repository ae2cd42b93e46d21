package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// execFlags are the flags of exec.
type execFlags struct {
	env              []string
	cwd              string
	user, group      uint32
	forceInteractive bool
	forceNonInteract bool
	noStdin          bool
}

// interactive decides whether the session gets a pty: by default when both
// stdin and stdout are terminals (a human typing), -t/-T override.
func (f *execFlags) interactive(stdinTTY, stdoutTTY bool) (bool, error) {
	switch {
	case f.forceInteractive && f.forceNonInteract:
		return false, fmt.Errorf("-t/--force-interactive and -T/--force-noninteractive exclude each other")
	case f.forceInteractive:
		return true, nil
	case f.forceNonInteract:
		return false, nil
	}
	return stdinTTY && stdoutTTY, nil
}

func newExecCmd(g *globals) *cobra.Command {
	f := &execFlags{}
	cmd := &cobra.Command{
		Use:   "exec NAME [flags] -- CMD [ARGS...]",
		Short: "Run a command in a running instance",
		Long: "Run a command in a running instance. With a terminal on stdin and stdout the command\n" +
			"gets a pty (interactive); otherwise stdout and stderr stay apart. lxmgr exits with the\n" +
			"command's exit code. Put the command after -- so that its own flags are not read as lxmgr's.",
		Example: "  lxmgr exec web1 -- bash\n  lxmgr exec web1 --env FOO=bar --cwd /tmp -- sh -c 'echo $FOO'",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExec(cmd.Context(), g.client(), f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.env, "env", nil, "environment variable KEY=VALUE (repeatable)")
	fl.StringVar(&f.cwd, "cwd", "", "working directory of the command")
	fl.Uint32Var(&f.user, "user", 0, "uid to run the command as")
	fl.Uint32Var(&f.group, "group", 0, "gid to run the command as")
	fl.BoolVarP(&f.forceInteractive, "force-interactive", "t", false, "allocate a pty even without a local terminal")
	fl.BoolVarP(&f.forceNonInteract, "force-noninteractive", "T", false, "no pty even on a terminal")
	fl.BoolVarP(&f.noStdin, "disable-stdin", "n", false, "give the command an empty stdin")
	return cmd
}

// runExec runs command in instance name and turns its exit code into an
// exitCodeError (non-zero) so that main exits with it after deferred
// terminal restores have run.
func runExec(ctx context.Context, c *client.Client, f *execFlags, name string, command []string) error {
	if err := validateNames(name); err != nil {
		return err
	}
	env, err := parseKeyValues("env", f.env)
	if err != nil {
		return err
	}
	stdinFd, stdoutFd := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	interactive, err := f.interactive(isTerminal(stdinFd), isTerminal(stdoutFd))
	if err != nil {
		return err
	}
	req := api.InstanceExecPost{
		Command: command, Interactive: interactive, Environment: env,
		User: f.user, Group: f.group, Cwd: f.cwd,
	}
	var stdin io.Reader = os.Stdin
	if f.noStdin {
		stdin = strings.NewReader("")
	}
	args := client.ExecArgs{Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr}

	restore := func() {}
	if interactive {
		if _, ok := env["TERM"]; !ok {
			if t := os.Getenv("TERM"); t != "" {
				env["TERM"] = t
			}
		}
		req.Width, req.Height = 80, 24
		if w, h, err := terminalSize(stdoutFd); err == nil && w > 0 && h > 0 {
			req.Width, req.Height = w, h
		}
		// Raw mode on the local terminal: keys go to the remote pty as
		// typed, and output is not post-processed twice (the remote pty
		// already turns \n into \r\n).
		for _, fd := range []int{stdinFd, stdoutFd} {
			if isTerminal(fd) {
				r, err := makeRaw(fd)
				if err != nil {
					return err
				}
				restore = r
				break
			}
		}
		args.Control = func(ctx context.Context, send func(api.InstanceExecControl) error) {
			forwardResize(ctx, stdoutFd, send)
		}
	}
	defer restore()

	// Ctrl-C reaches a non-interactive lxmgr as SIGINT (in raw mode it goes
	// to the remote pty instead). SIGINT, SIGTERM and SIGHUP are forwarded
	// to the remote command, which then ends the session with its own exit
	// code; a third one gives up at once (the terminal is restored first).
	if !interactive {
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(sigs)
		ctx = context.WithoutCancel(ctx)
		args.Control = func(cctx context.Context, send func(api.InstanceExecControl) error) {
			for n := 1; ; n++ {
				select {
				case <-cctx.Done():
					return
				case s := <-sigs:
					if n >= 3 {
						restore()
						fmt.Fprintln(os.Stderr, "Error: interrupted; the command may still run in the instance")
						os.Exit(130)
					}
					send(api.InstanceExecControl{Command: "signal", Signal: int(s.(syscall.Signal))})
				}
			}
		}
	}

	code, err := c.Exec(ctx, name, req, args)
	if err != nil {
		return fmt.Errorf("exec in %s: %w", name, err)
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}

// forwardResize sends the current terminal size at once and after every
// SIGWINCH until ctx ends.
func forwardResize(ctx context.Context, fd int, send func(api.InstanceExecControl) error) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	defer signal.Stop(ch)
	sendSize := func() {
		w, h, err := terminalSize(fd)
		if err != nil || w <= 0 || h <= 0 {
			return
		}
		send(api.InstanceExecControl{
			Command: "window-resize",
			Args:    map[string]string{"width": strconv.Itoa(w), "height": strconv.Itoa(h)},
		})
	}
	sendSize()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			sendSize()
		}
	}
}
