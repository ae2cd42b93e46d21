package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// defaultProfile is the profile every daemon has; it cannot be deleted or
// renamed.
const defaultProfile = "default"

func newProfileCreateCmd(g *globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an empty profile",
		Long: "Create an empty profile. Fill it with 'profile set' and 'profile device add', or\n" +
			"create it whole from YAML with 'profile import'.",
		Example: "  lxmgr profile create web --description \"small web guests\"",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateProfileNames(name); err != nil {
				return err
			}
			req := api.ProfilesPost{Name: name, ProfilePut: api.ProfilePut{
				Config: map[string]string{}, Devices: api.Devices{}, Description: description,
			}}
			if err := g.client().CreateProfile(cmd.Context(), req); err != nil {
				return fmt.Errorf("create profile %s: %w", name, err)
			}
			fmt.Fprintf(os.Stdout, "Profile %s created\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "description of the profile")
	return cmd
}

func newProfileCopyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "copy SRC DST",
		Aliases: []string{"cp"},
		Short:   "Copy a profile (config, devices and description) to a new one",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, dst := args[0], args[1]
			if err := validateProfileNames(src, dst); err != nil {
				return err
			}
			c := g.client()
			p, _, err := c.GetProfile(cmd.Context(), src)
			if err != nil {
				return fmt.Errorf("copy profile %s: %w", src, err)
			}
			normalizeProfile(&p)
			if err := c.CreateProfile(cmd.Context(), api.ProfilesPost{Name: dst, ProfilePut: p.ProfilePut}); err != nil {
				return fmt.Errorf("copy profile %s to %s: %w", src, dst, err)
			}
			fmt.Fprintf(os.Stdout, "Profile %s copied to %s\n", src, dst)
			return nil
		},
	}
}

func newProfileRenameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rename OLD NEW",
		Aliases: []string{"mv"},
		Short:   "Rename a profile (the instances using it follow)",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateProfileNames(args...); err != nil {
				return err
			}
			if args[0] == defaultProfile {
				return fmt.Errorf("rename profile %s: %w: the default profile cannot be renamed", args[0], api.ErrForbidden)
			}
			if err := g.client().RenameProfile(cmd.Context(), args[0], args[1]); err != nil {
				return fmt.Errorf("rename profile %s: %w", args[0], err)
			}
			fmt.Fprintf(os.Stdout, "Profile %s renamed to %s\n", args[0], args[1])
			return nil
		},
	}
}

func newProfileDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete profiles that no instance uses (never the default profile)",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateProfileNames(args...); err != nil {
				return err
			}
			c := g.client()
			return forEach(args, func(name string) error {
				err := c.DeleteProfile(cmd.Context(), name)
				switch {
				case errors.Is(err, api.ErrConflict):
					return fmt.Errorf("delete profile %s: %w (see 'lxmgr profile show %s' for the instances using it)", name, err, name)
				case err != nil:
					return fmt.Errorf("delete profile %s: %w", name, err)
				}
				fmt.Fprintf(os.Stdout, "Profile %s deleted\n", name)
				return nil
			})
		},
	}
}

func newProfileSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME (KEY=VALUE... | KEY VALUE)",
		Short: "Set config keys of a profile (KEY= with an empty value unsets it)",
		Long: "Set config keys of a profile; every instance using it sees the change. The change is\n" +
			"sent with the ETag of a read just before, so a concurrent change makes it fail.",
		Example: "  lxmgr profile set web limits.memory=256MiB limits.cpu=1\n  lxmgr profile set web user.note \"a=b c\"",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateProfileNames(args[0]); err != nil {
				return err
			}
			cfg, err := parseConfigSet(args[1:])
			if err != nil {
				return err
			}
			return modifyProfile(cmd, g.client(), args[0], func(api.Profile) (client.ProfilePatch, error) {
				return client.ProfilePatch{Config: cfg}, nil
			})
		},
	}
}

// profileUnsetPatch turns KEY arguments into a patch that removes them.
func profileUnsetPatch(keys []string) (map[string]string, error) {
	cfg := make(map[string]string, len(keys))
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "= \t\r\n") {
			return nil, fmt.Errorf("key %q: want a config key such as limits.memory", k)
		}
		cfg[k] = ""
	}
	return cfg, nil
}

func newProfileUnsetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "unset NAME KEY...",
		Short:   "Remove config keys from a profile",
		Example: "  lxmgr profile unset web limits.cpu",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateProfileNames(args[0]); err != nil {
				return err
			}
			cfg, err := profileUnsetPatch(args[1:])
			if err != nil {
				return err
			}
			return modifyProfile(cmd, g.client(), args[0], func(api.Profile) (client.ProfilePatch, error) {
				return client.ProfilePatch{Config: cfg}, nil
			})
		},
	}
}

// modifyProfile runs one read-patch cycle on a profile (GET, then PATCH
// with If-Match) and says on stderr which changes the running instances
// using it only pick up at their next start.
func modifyProfile(cmd *cobra.Command, c *client.Client, name string, change func(api.Profile) (client.ProfilePatch, error)) error {
	applied, err := c.ModifyProfile(cmd.Context(), name, change)
	if err != nil {
		return fmt.Errorf("%s %s: %w", strings.TrimPrefix(cmd.CommandPath(), "lxmgr "), name, err)
	}
	reportRestart(cmd.ErrOrStderr(), applied)
	return nil
}

// profileAddList appends prof to an instance's profiles; a profile already
// there is an error, since adding it again would not change the order.
func profileAddList(inst api.Instance, prof string) ([]string, error) {
	if slices.Contains(inst.Profiles, prof) {
		return nil, fmt.Errorf("%w: instance %s already has profile %s", api.ErrConflict, inst.Name, prof)
	}
	return append(slices.Clone(inst.Profiles), prof), nil
}

// profileRemoveList removes prof from an instance's profiles.
func profileRemoveList(inst api.Instance, prof string) ([]string, error) {
	if !slices.Contains(inst.Profiles, prof) {
		return nil, fmt.Errorf("%w: instance %s does not have profile %s (it has: %s)", api.ErrNotFound, inst.Name, prof, strings.Join(inst.Profiles, ", "))
	}
	out := []string{}
	for _, p := range inst.Profiles {
		if p != prof {
			out = append(out, p)
		}
	}
	return out, nil
}

func newProfileAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add INSTANCE PROFILE",
		Short: "Apply a profile to an instance (after its other profiles)",
		Long: "Append PROFILE to the instance's list of profiles; a later profile wins over an earlier\n" +
			"one, and the instance's own config and devices win over all.",
		Example: "  lxmgr profile add web1 web",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, prof := args[0], args[1]
			if err := validateNames(inst); err != nil {
				return err
			}
			if err := validateProfileNames(prof); err != nil {
				return err
			}
			err := modifyConfig(cmd, g.client(), inst, func(i api.Instance) (client.InstanceConfigPatch, error) {
				l, err := profileAddList(i, prof)
				return client.InstanceConfigPatch{Profiles: l}, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Profile %s added to %s\n", prof, inst)
			return nil
		},
	}
}

func newProfileRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove INSTANCE PROFILE",
		Short:   "Stop applying a profile to an instance",
		Example: "  lxmgr profile remove web1 web",
		Args:    exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst, prof := args[0], args[1]
			if err := validateNames(inst); err != nil {
				return err
			}
			if err := validateProfileNames(prof); err != nil {
				return err
			}
			err := modifyConfig(cmd, g.client(), inst, func(i api.Instance) (client.InstanceConfigPatch, error) {
				l, err := profileRemoveList(i, prof)
				return client.InstanceConfigPatch{Profiles: l}, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Profile %s removed from %s\n", prof, inst)
			return nil
		},
	}
}
