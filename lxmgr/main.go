// Command lxmgr is the command-line client of lxmgrd, the lxmgr system
// container daemon. It speaks to the daemon only through the REST API (package
// client) over the daemon's unix socket.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/client"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code. Errors
// are printed here and only here, as exactly one line, so that scripts can
// rely on "Error: <msg>" on stderr and exit code 1.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	// Notes that are not errors (changes waiting for a restart) go to
	// cmd.ErrOrStderr(); cobra itself prints no errors (SilenceErrors).
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ec *exitCodeError
	if errors.As(err, &ec) {
		return ec.code
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(stderr, "Error: interrupted (a started operation keeps running in the daemon)")
		return 130
	}
	fmt.Fprintf(stderr, "Error: %s\n", oneLine(err.Error()))
	return 1
}

// oneLine folds a multi-line message (cobra's "Did you mean this?" hints,
// daemon errors with newlines) into a single line.
func oneLine(msg string) string {
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

// globals are the flags shared by every command.
type globals struct {
	socket string
}

// client returns a client for the daemon at the --socket path.
func (g *globals) client() *client.Client {
	return client.Connect(g.socket)
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "lxmgr",
		Short: "Manage lxmgr system containers",
		Long: "lxmgr manages long-lived system containers through the lxmgrd daemon.\n" +
			"It talks to the daemon over its unix socket (--socket, default $LXMGR_DIR/unix.socket).",
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().StringVar(&g.socket, "socket", client.DefaultSocket(), "path of the daemon's unix socket")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{cmd: cmd, msg: err.Error()}
	})
	root.AddCommand(
		newLaunchCmd(g, true), newLaunchCmd(g, false),
		newStartCmd(g), newStopCmd(g), newRestartCmd(g), newPauseCmd(g), newResumeCmd(g),
		newDeleteCmd(g), newRenameCmd(g),
		newListCmd(g), newInfoCmd(g), newExecCmd(g), newFileCmd(g),
		newImageCmd(g), newProfileCmd(g), newOperationCmd(g), newVersionCmd(g),
		newNetworkCmd(g), newConfigCmd(g),
		newStorageCmd(g), newSnapshotCmd(g), newCopyCmd(g), newAdminCmd(g),
		newDoctorCmd(g),
	)
	return root
}

// newGroupCmd returns a command that only holds subcommands: run bare it
// shows its help, with an unknown subcommand it fails with one line.
func newGroupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(subs...)
	return cmd
}
