package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// errDirectory is returned when a file command meets a directory and was
// not asked to recurse.
var errDirectory = errors.New("is a directory (use -r to copy recursively)")

// usageError is a command line the command cannot take: wrong number of
// arguments, an unknown flag or subcommand. Its message names the usage.
type usageError struct {
	cmd *cobra.Command
	msg string
}

func (e *usageError) Error() string {
	if e.cmd.HasSubCommands() {
		return fmt.Sprintf("%s (see '%s --help')", e.msg, e.cmd.CommandPath())
	}
	return fmt.Sprintf("%s (usage: %s)", e.msg, strings.TrimSuffix(e.cmd.UseLine(), " [flags]"))
}

// exitCodeError makes lxmgr exit with code without printing anything: the
// exit status of a command run with exec.
type exitCodeError struct {
	code int
}

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// noArgs refuses positional arguments; an argument given to a command group
// is most likely a mistyped subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return &usageError{cmd: cmd, msg: fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return &usageError{cmd: cmd, msg: fmt.Sprintf("%s takes no arguments", cmd.CommandPath())}
}

// exactArgs wants exactly n positional arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{cmd: cmd, msg: fmt.Sprintf("%s takes %s, got %d", cmd.CommandPath(), plural(n, "argument"), len(args))}
		}
		return nil
	}
}

// minArgs wants at least n positional arguments.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &usageError{cmd: cmd, msg: fmt.Sprintf("%s takes at least %s, got %d", cmd.CommandPath(), plural(n, "argument"), len(args))}
		}
		return nil
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
