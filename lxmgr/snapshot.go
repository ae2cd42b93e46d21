package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// newSnapshotCmd returns "snapshot": run with NAME [SNAP] it takes a
// snapshot, and it also holds the create, list, restore and delete
// subcommands. Cobra picks a subcommand when the first argument is one of
// their names, so an instance called "list" (or "create", "restore",
// "delete") can only be snapshotted with "snapshot create list".
func newSnapshotCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot NAME [SNAP]",
		Short: "Take, list, restore and delete snapshots of instances",
		Long: "Take a snapshot of instance NAME called SNAP (default: the first free name of snap0,\n" +
			"snap1, ...). NAME/SNAP is accepted too. The subcommands list, restore and delete\n" +
			"manage existing snapshots. For an instance whose name is also a subcommand (list,\n" +
			"create, restore, delete) use 'lxmgr snapshot create NAME [SNAP]'.",
		Example: "  lxmgr snapshot web1\n  lxmgr snapshot web1 before-upgrade\n  lxmgr snapshot list web1\n" +
			"  lxmgr snapshot restore web1 before-upgrade\n  lxmgr snapshot create list snap0",
		Args: snapshotArgsCheck(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return createSnapshot(cmd.Context(), g.client(), args)
		},
	}
	create := &cobra.Command{
		Use:     "create NAME [SNAP]",
		Short:   "Take a snapshot of an instance (default name: the first free of snap0, snap1, ...)",
		Example: "  lxmgr snapshot create web1\n  lxmgr snapshot create web1 before-upgrade",
		Args:    snapshotArgsCheck(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return createSnapshot(cmd.Context(), g.client(), args)
		},
	}
	cmd.AddCommand(create, newSnapshotListCmd(g), newSnapshotRestoreCmd(g), newSnapshotDeleteCmd(g))
	return cmd
}

// snapshotArgsCheck wants between lo and hi arguments (NAME/SNAP counts
// as two).
func snapshotArgsCheck(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		n := len(args)
		if n > 0 && strings.Contains(args[0], "/") {
			n++
		}
		if n < lo || n > hi {
			want := fmt.Sprintf("%d to %d arguments", lo, hi)
			if lo == hi {
				want = plural(lo, "argument")
			}
			return &usageError{cmd: cmd, msg: fmt.Sprintf("%s takes %s, got %d", cmd.CommandPath(), want, len(args))}
		}
		return nil
	}
}

// splitSnapshotArgs reads "NAME [SNAP...]" or "NAME/SNAP" into the instance
// and snapshot names, all validated. No snapshot name is not an error here:
// each command says how many it wants.
func splitSnapshotArgs(args []string) (inst string, snaps []string, err error) {
	if len(args) == 0 {
		return "", nil, fmt.Errorf("%w: instance name is missing", api.ErrInvalid)
	}
	inst, snaps = args[0], args[1:]
	if name, snap, ok := strings.Cut(args[0], "/"); ok {
		if len(args) > 1 {
			return "", nil, fmt.Errorf("%w: give NAME/SNAP or NAME SNAP, not both", api.ErrInvalid)
		}
		inst, snaps = name, []string{snap}
	}
	if err := validateNames(inst); err != nil {
		return "", nil, err
	}
	for _, s := range snaps {
		if err := api.ValidateName("snapshot", s); err != nil {
			return "", nil, err
		}
	}
	return inst, snaps, nil
}

// snapshotName returns the snapshot's own name: some servers answer with
// "instance/snapshot".
func snapshotName(s api.InstanceSnapshot) string {
	return s.Name[strings.LastIndex(s.Name, "/")+1:]
}

// nextSnapshotName returns the first of snap0, snap1, ... not taken.
func nextSnapshotName(existing []api.InstanceSnapshot) string {
	taken := make(map[string]bool, len(existing))
	for _, s := range existing {
		taken[snapshotName(s)] = true
	}
	for i := 0; ; i++ {
		if n := "snap" + strconv.Itoa(i); !taken[n] {
			return n
		}
	}
}

// createSnapshot takes the snapshot named by args (NAME [SNAP] or
// NAME/SNAP), picking the name when none is given.
func createSnapshot(ctx context.Context, c *client.Client, args []string) error {
	inst, snaps, err := splitSnapshotArgs(args)
	if err != nil {
		return err
	}
	var snap string
	if len(snaps) > 0 {
		snap = snaps[0]
	} else {
		existing, err := c.GetInstanceSnapshots(ctx, inst)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", inst, err)
		}
		snap = nextSnapshotName(existing)
	}
	op, err := c.CreateInstanceSnapshot(ctx, inst, api.InstanceSnapshotsPost{Name: snap})
	if err == nil {
		err = waitOp(ctx, op, true)
	}
	if err != nil {
		return fmt.Errorf("snapshot %s/%s: %w", inst, snap, err)
	}
	fmt.Fprintf(os.Stdout, "Snapshot %s of %s created\n", snap, inst)
	return nil
}

// snapshotRows renders the snapshot table.
func snapshotRows(snaps []api.InstanceSnapshot) (header []string, rows [][]string) {
	header = []string{"NAME", "TAKEN AT", "SIZE"}
	rows = make([][]string, 0, len(snaps))
	for _, s := range snaps {
		size := ""
		if s.Size > 0 {
			size = api.HumanBytes(s.Size)
		}
		rows = append(rows, []string{snapshotName(s), formatTime(s.CreatedAt), size})
	}
	return header, rows
}

// sortSnapshots orders snapshots oldest first (by name when taken at once).
func sortSnapshots(snaps []api.InstanceSnapshot) {
	sort.SliceStable(snaps, func(a, b int) bool {
		if !snaps[a].CreatedAt.Equal(snaps[b].CreatedAt) {
			return snaps[a].CreatedAt.Before(snaps[b].CreatedAt)
		}
		return snaps[a].Name < snaps[b].Name
	})
}

func newSnapshotListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list NAME",
		Short: "List the snapshots of an instance, oldest first",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if err := validateNames(args[0]); err != nil {
				return err
			}
			snaps, err := g.client().GetInstanceSnapshots(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("list snapshots of %s: %w", args[0], err)
			}
			if snaps == nil {
				snaps = []api.InstanceSnapshot{}
			}
			sortSnapshots(snaps)
			header, rows := snapshotRows(snaps)
			return writeOutput(os.Stdout, format, header, rows, snaps)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newSnapshotRestoreCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore NAME SNAP",
		Short: "Put an instance back to the state of one of its snapshots",
		Long: "Restore the instance NAME from its snapshot SNAP: its filesystem and config become\n" +
			"those of the snapshot; changes made since are lost. NAME/SNAP is accepted too.",
		Example: "  lxmgr snapshot restore web1 snap0",
		Args:    snapshotArgsCheck(2, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, snaps, err := splitSnapshotArgs(args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			op, err := g.client().RestoreInstanceSnapshot(ctx, inst, snaps[0])
			if err == nil {
				err = waitOp(ctx, op, false)
			}
			if err != nil {
				return fmt.Errorf("restore %s from snapshot %s: %w", inst, snaps[0], err)
			}
			fmt.Fprintf(os.Stdout, "Instance %s restored from snapshot %s\n", inst, snaps[0])
			return nil
		},
	}
}

func newSnapshotDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME SNAP...",
		Short:   "Delete snapshots of an instance",
		Long:    "Delete the snapshots SNAP... of instance NAME. NAME/SNAP is accepted too.",
		Example: "  lxmgr snapshot delete web1 snap0 snap1",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && strings.Contains(args[0], "/") {
				return nil
			}
			return minArgs(2)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, snaps, err := splitSnapshotArgs(args)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			return forEach(snaps, func(snap string) error {
				op, err := c.DeleteInstanceSnapshot(ctx, inst, snap)
				if err == nil {
					err = waitOp(ctx, op, true)
				}
				if err != nil {
					return fmt.Errorf("delete snapshot %s/%s: %w", inst, snap, err)
				}
				fmt.Fprintf(os.Stdout, "Snapshot %s of %s deleted\n", snap, inst)
				return nil
			})
		},
	}
}
