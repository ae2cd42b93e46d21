package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// stateFlags are the flags of stop and restart.
type stateFlags struct {
	force   bool
	timeout int
}

// newStateCmd returns a command that applies one state action to each named
// instance in turn. It goes on after a failure so that one bad name does not
// leave the rest untouched, and reports every failure in its one error line.
func newStateCmd(g *globals, use, short, action string, f *stateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   use + " NAME...",
		Short: short,
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args...); err != nil {
				return err
			}
			put := api.InstanceStatePut{Action: action, Timeout: -1}
			if f != nil {
				if f.timeout < -1 {
					return fmt.Errorf("--timeout %d: want seconds, 0 (kill at once) or -1 (the daemon's default)", f.timeout)
				}
				// No time for a clean shutdown is a kill; the API's 0
				// means its default (clients that leave the field unset).
				put.Force, put.Timeout = f.force || f.timeout == 0, f.timeout
			}
			c := g.client()
			return forEach(args, func(name string) error {
				return changeState(cmd.Context(), c, name, put)
			})
		},
	}
}

// changeState applies one state change and waits for it.
func changeState(ctx context.Context, c *client.Client, name string, put api.InstanceStatePut) error {
	op, err := c.UpdateInstanceState(ctx, name, put)
	if err == nil {
		err = waitOp(ctx, op, true)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", put.Action, name, err)
	}
	return nil
}

// forEach runs fn for every name and joins the errors into one.
func forEach(names []string, fn func(string) error) error {
	var errs []error
	for _, n := range names {
		if err := fn(n); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return joinErrors(errs)
}

// joinErrors is errors.Join on one line ("a; b"), still matching errors.Is.
func joinErrors(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &multiError{errs: errs}
}

type multiError struct{ errs []error }

func (m *multiError) Error() string {
	s := ""
	for i, e := range m.errs {
		if i > 0 {
			s += "; "
		}
		s += e.Error()
	}
	return s
}

func (m *multiError) Unwrap() []error { return m.errs }

func newStartCmd(g *globals) *cobra.Command {
	return newStateCmd(g, "start", "Start instances", api.ActionStart, nil)
}

func newStopCmd(g *globals) *cobra.Command {
	f := &stateFlags{}
	cmd := newStateCmd(g, "stop", "Stop instances (clean shutdown, killed after the timeout)", api.ActionStop, f)
	addStateFlags(cmd, f)
	return cmd
}

func newRestartCmd(g *globals) *cobra.Command {
	f := &stateFlags{}
	cmd := newStateCmd(g, "restart", "Restart instances", api.ActionRestart, f)
	addStateFlags(cmd, f)
	return cmd
}

func addStateFlags(cmd *cobra.Command, f *stateFlags) {
	cmd.Flags().BoolVarP(&f.force, "force", "f", false, "kill the instance instead of a clean shutdown")
	cmd.Flags().IntVar(&f.timeout, "timeout", -1, "seconds to wait for a clean shutdown before killing; 0: no clean shutdown, kill at once (as --force); -1: the daemon's default, 30")
}

func newPauseCmd(g *globals) *cobra.Command {
	cmd := newStateCmd(g, "pause", "Freeze instances (all their processes stop being scheduled)", api.ActionFreeze, nil)
	cmd.Aliases = []string{"freeze"}
	return cmd
}

func newResumeCmd(g *globals) *cobra.Command {
	cmd := newStateCmd(g, "resume", "Unfreeze paused instances", api.ActionUnfreeze, nil)
	cmd.Aliases = []string{"unfreeze"}
	return cmd
}

func newDeleteCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete instances (running ones only with --force)",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args...); err != nil {
				return err
			}
			c := g.client()
			return forEach(args, func(name string) error {
				op, err := c.DeleteInstance(cmd.Context(), name, force)
				if err == nil {
					err = waitOp(cmd.Context(), op, true)
				}
				if err != nil {
					return fmt.Errorf("delete %s: %w", name, err)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop running instances first")
	return cmd
}

func newRenameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a stopped instance",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args...); err != nil {
				return err
			}
			op, err := g.client().RenameInstance(cmd.Context(), args[0], args[1])
			if err == nil {
				err = waitOp(cmd.Context(), op, true)
			}
			if err != nil {
				return fmt.Errorf("rename %s to %s: %w", args[0], args[1], err)
			}
			return nil
		},
	}
}
