package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
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

// copySourceDevices returns the devices the copy inherits, expanded: the
// instance's, or for a snapshot its own over those of its profiles (as
// they are now, as the daemon expands them). profiles, when given with -p,
// replace the source's.
func copySourceDevices(ctx context.Context, c *client.Client, inst, snap string, profiles []string) (api.Devices, error) {
	var own api.Devices
	var profs []string
	if snap == "" {
		i, _, err := c.GetInstance(ctx, inst)
		if err != nil {
			return nil, err
		}
		own, profs = i.Devices, i.Profiles
	} else {
		s, err := c.GetInstanceSnapshot(ctx, inst, snap)
		if err != nil {
			return nil, err
		}
		own, profs = s.Devices, s.Profiles
	}
	if profiles != nil {
		profs = profiles
	}
	out := api.Devices{}
	for _, name := range profs {
		p, _, err := c.GetProfile(ctx, name)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, p.Devices)
	}
	maps.Copy(out, own)
	return out, nil
}

func newCopyCmd(g *globals) *cobra.Command {
	var (
		profiles, config, devices []string
		start                     bool
	)
	cmd := &cobra.Command{
		Use:     "copy SRC[/SNAP] DST",
		Aliases: []string{"cp"},
		Short:   "Copy an instance, or one of its snapshots, to a new instance",
		Long: "Create the instance DST as a copy of the instance SRC, or of its snapshot SNAP.\n" +
			"The copy keeps the source's profiles, config and devices; with -p, the given\n" +
			"profiles replace the source's; -c sets config keys and -d keys of a device (a\n" +
			"port forward, say, needs another listen address: two cannot share one).\n" +
			"It is left stopped unless --start is given.",
		Example: "  lxmgr copy web1 web2 --start\n  lxmgr copy web1/snap0 web1-old -p default\n" +
			"  lxmgr copy site1 site2 -d web,listen=tcp:0.0.0.0:8081 -c limits.memory=512MiB",
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := copyRequest(args[0], args[1], profiles, start)
			if err != nil {
				return err
			}
			if req.Config, err = parseKeyValues("config", config); err != nil {
				return err
			}
			ov, err := parseDeviceOverrides(devices)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if len(ov) > 0 {
				inst, snap, _ := splitCopySource(args[0])
				base, err := copySourceDevices(ctx, g.client(), inst, snap, profiles)
				if err != nil {
					return fmt.Errorf("copy %s to %s: %w", args[0], args[1], err)
				}
				if req.Devices, err = overrideDevices(base, ov, nil); err != nil {
					return err
				}
			}
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
	cmd.Flags().StringArrayVarP(&config, "config", "c", nil, "config key=value (repeatable)")
	cmd.Flags().StringArrayVarP(&devices, "device", "d", nil, "DEVICE,KEY=VALUE[,KEY=VALUE...]: set keys of a device of the copy (repeatable)")
	return cmd
}
