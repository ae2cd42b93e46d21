package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

func newProfileDeviceCmd(g *globals) *cobra.Command {
	return newGroupCmd("device", "Add, remove, show and change a profile's devices",
		newProfileDeviceAddCmd(g), newProfileDeviceRemoveCmd(g), newProfileDeviceShowCmd(g), newProfileDeviceSetCmd(g))
}

// profileDevice returns a device of a profile.
func profileDevice(p api.Profile, dev string) (map[string]string, error) {
	if d, ok := p.Devices[dev]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: profile %s has no device %q", api.ErrNotFound, p.Name, dev)
}

func newProfileDeviceAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add PROFILE DEVICE TYPE [KEY=VALUE...]",
		Short: "Add a device to a profile",
		Example: "  lxmgr profile device add web eth1 nic network=lxm0 name=eth1\n" +
			"  lxmgr profile device add web data disk source=/srv/shared path=/srv readonly=true",
		Args: minArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, dev := args[0], args[1]
			if err := validateProfileNames(name); err != nil {
				return err
			}
			device, err := parseDevice(dev, args[2], args[3:])
			if err != nil {
				return err
			}
			err = modifyProfile(cmd, g.client(), name, func(p api.Profile) (client.ProfilePatch, error) {
				if _, ok := p.Devices[dev]; ok {
					return client.ProfilePatch{}, fmt.Errorf("%w: profile %s already has a device %q (see 'profile device set')", api.ErrConflict, name, dev)
				}
				return client.ProfilePatch{Devices: api.Devices{dev: device}}, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Device %s added to profile %s\n", dev, name)
			return nil
		},
	}
}

func newProfileDeviceRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove PROFILE DEVICE...",
		Aliases: []string{"rm"},
		Short:   "Remove devices from a profile",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, devs := args[0], args[1:]
			if err := validateProfileNames(name); err != nil {
				return err
			}
			for _, d := range devs {
				if err := validateDeviceName(d); err != nil {
					return err
				}
			}
			err := modifyProfile(cmd, g.client(), name, func(p api.Profile) (client.ProfilePatch, error) {
				patch := client.ProfilePatch{Devices: api.Devices{}}
				for _, d := range devs {
					if _, err := profileDevice(p, d); err != nil {
						return client.ProfilePatch{}, err
					}
					patch.Devices[d] = nil
				}
				return patch, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Device %s removed from profile %s\n", strings.Join(devs, ", "), name)
			return nil
		},
	}
}

func newProfileDeviceShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show PROFILE",
		Short: "Show a profile's devices as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateProfileNames(args[0]); err != nil {
				return err
			}
			p, _, err := g.client().GetProfile(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("profile device show %s: %w", args[0], err)
			}
			normalizeProfile(&p)
			return writeYAML(os.Stdout, p.Devices)
		},
	}
}

func newProfileDeviceSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "set PROFILE DEVICE KEY=VALUE...",
		Short:   "Change keys of a profile's device (KEY= removes a key)",
		Example: "  lxmgr profile device set default root size=2GiB",
		Args:    minArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, dev := args[0], args[1]
			if err := validateProfileNames(name); err != nil {
				return err
			}
			if err := validateDeviceName(dev); err != nil {
				return err
			}
			kv, err := parseKeyValues("device", args[2:])
			if err != nil {
				return err
			}
			return modifyProfile(cmd, g.client(), name, func(p api.Profile) (client.ProfilePatch, error) {
				cur, err := profileDevice(p, dev)
				if err != nil {
					return client.ProfilePatch{}, err
				}
				merged, err := mergeDevice(cur, dev, kv)
				return client.ProfilePatch{Devices: api.Devices{dev: merged}}, err
			})
		},
	}
}
