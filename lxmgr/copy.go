package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

// splitCopySource splits the SRC of copy, "NAME" or "NAME/SNAP", into the
// instance and snapshot names (snap "" for the instance itself), validated.
func splitCopySource(arg string) (inst, snap string, err error) {
	inst, snap, hasSnap := strings.Cut(arg, "/")
	if err := validateNames(inst); err != nil {
		return "", "", err
	}
	if hasSnap {
		if err := api.ValidateName("snapshot", snap); err != nil {
			return "", "", err
		}
	}
	return inst, snap, nil
}

// copyRequest builds the create request of copy. Profiles nil keeps the
// source's profiles; -p given replaces them.
func copyRequest(src, dst string, profiles []string, start bool) (api.InstancesPost, error) {
	inst, snap, err := splitCopySource(src)
	if err != nil {
		return api.InstancesPost{}, err
	}
	if err := validateNames(dst); err != nil {
		return api.InstancesPost{}, err
	}
	for _, p := range profiles {
		if err := api.ValidateName("profile", p); err != nil {
			return api.InstancesPost{}, err
		}
	}
	source := inst
	if snap != "" {
		source += "/" + snap
	}
	return api.InstancesPost{
		InstancePut: api.InstancePut{Profiles: profiles},
		Name:        dst,
		Source:      api.InstanceSource{Type: "copy", Source: source},
		Type:        "container",
		Start:       start,
	}, nil
}

func newCopyCmd(g *globals) *cobra.Command {
	var (
		profiles []string
		start    bool
	)
	cmd := &cobra.Command{
		Use:     "copy SRC[/SNAP] DST",
		Aliases: []string{"cp"},
		Short:   "Copy an instance, or one of its snapshots, to a new instance",
		Long: "Create the instance DST as a copy of the instance SRC, or of its snapshot SNAP.\n" +
			"The copy keeps the source's profiles, config and devices; with -p, the given\n" +
			"profiles replace the source's. It is left stopped unless --start is given.",
		Example: "  lxmgr copy web1 web2 --start\n  lxmgr copy web1/snap0 web1-old -p default",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := copyRequest(args[0], args[1], profiles, start)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			op, err := g.client().CreateInstance(ctx, req)
			if err == nil {
				err = waitOp(ctx, op, false)
			}
			if err != nil {
				return fmt.Errorf("copy %s to %s: %w", req.Source.Source, req.Name, err)
			}
			if start {
				fmt.Fprintf(os.Stdout, "Copied %s to %s and started it\n", req.Source.Source, req.Name)
			} else {
				fmt.Fprintf(os.Stdout, "Copied %s to %s\n", req.Source.Source, req.Name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&start, "start", false, "start the copy once it is made")
	cmd.Flags().StringArrayVarP(&profiles, "profile", "p", nil, "profile to apply (repeatable; replaces the source's profiles)")
	return cmd
}
