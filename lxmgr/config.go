package main

import (
	"fmt"
	"maps"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

func newConfigCmd(g *globals) *cobra.Command {
	return newGroupCmd("config", "Show and change an instance's config keys and devices",
		newConfigShowCmd(g), newConfigGetCmd(g), newConfigSetCmd(g), newConfigUnsetCmd(g), newConfigEditCmd(g),
		newConfigDeviceCmd(g))
}

// configView is what config show prints: the instance's own config and
// devices, or with --expanded the effective ones (profiles applied), under
// the same keys as LXD's "config show --expanded".
type configView struct {
	Config  map[string]string `yaml:"config"`
	Devices api.Devices       `yaml:"devices"`
}

func viewOf(inst api.Instance, expanded bool) configView {
	v := configView{Config: inst.Config, Devices: inst.Devices}
	if expanded {
		v = configView{Config: inst.ExpandedConfig, Devices: inst.ExpandedDevices}
	}
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	if v.Devices == nil {
		v.Devices = api.Devices{}
	}
	return v
}

func newConfigShowCmd(g *globals) *cobra.Command {
	var expanded bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an instance's config, devices and profiles as YAML",
		Long: "Show the config keys and devices set on the instance itself, with its profiles,\n" +
			"description and ephemeral flag, as 'config edit' reads them; with --expanded the\n" +
			"effective config and devices, with its profiles applied.",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			inst, _, err := g.client().GetInstance(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("config show %s: %w", args[0], err)
			}
			return writeYAML(os.Stdout, instanceDocOf(inst, expanded))
		},
	}
	cmd.Flags().BoolVarP(&expanded, "expanded", "e", false, "show the effective config (profiles applied)")
	return cmd
}

func newConfigGetCmd(g *globals) *cobra.Command {
	var expanded bool
	cmd := &cobra.Command{
		Use:   "get NAME KEY",
		Short: "Print one config key of an instance (an empty line when unset)",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			inst, _, err := g.client().GetInstance(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("config get %s: %w", args[0], err)
			}
			fmt.Fprintln(os.Stdout, viewOf(inst, expanded).Config[args[1]])
			return nil
		},
	}
	cmd.Flags().BoolVarP(&expanded, "expanded", "e", false, "read the effective config (profiles applied)")
	return cmd
}

// parseConfigSet reads the arguments of config set after NAME: either
// KEY=VALUE... or a single KEY VALUE pair (the value may then contain '='
// or be empty).
func parseConfigSet(args []string) (map[string]string, error) {
	if len(args) == 2 && !strings.Contains(args[0], "=") {
		return parseKeyValues("config", []string{args[0] + "=" + args[1]})
	}
	if len(args) == 1 && !strings.Contains(args[0], "=") {
		return nil, fmt.Errorf("config %q: want KEY=VALUE, or KEY VALUE", args[0])
	}
	return parseKeyValues("config", args)
}

func newConfigSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "set NAME (KEY=VALUE... | KEY VALUE)",
		Short: "Set config keys of an instance",
		Long: "Set config keys on the instance itself. An empty value (KEY=) removes the key.\n" +
			"The change is sent with the ETag of a read just before, so a concurrent change\n" +
			"makes it fail instead of being overwritten. Changes to a running instance apply\n" +
			"at its next start.",
		Example: "  lxmgr config set web1 limits.memory=256MiB limits.cpu=2\n  lxmgr config set web1 user.note \"a=b c\"",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			cfg, err := parseConfigSet(args[1:])
			if err != nil {
				return err
			}
			return modifyConfig(cmd, g.client(), args[0], func(api.Instance) (client.InstanceConfigPatch, error) {
				return client.InstanceConfigPatch{Config: cfg}, nil
			})
		},
	}
}

// configUnsetPatch removes keys from the instance's own config. A key set
// only by a profile cannot be removed here, and saying so beats a silent
// no-op; a key set nowhere is already unset.
func configUnsetPatch(inst api.Instance, keys []string) (map[string]string, error) {
	cfg := map[string]string{}
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "= \t\r\n") {
			return nil, fmt.Errorf("key %q: want a config key such as limits.memory", k)
		}
		_, local := inst.Config[k]
		_, effective := inst.ExpandedConfig[k]
		switch {
		case local:
			cfg[k] = ""
		case effective:
			return nil, fmt.Errorf("%w: key %q of instance %s comes from a profile (%s); change the profile, or override it with 'config set'",
				api.ErrInvalid, k, inst.Name, strings.Join(inst.Profiles, ", "))
		}
	}
	return cfg, nil
}

func newConfigUnsetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "unset NAME KEY...",
		Short:   "Remove config keys from an instance",
		Example: "  lxmgr config unset web1 limits.memory",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			return modifyConfig(cmd, g.client(), args[0], func(inst api.Instance) (client.InstanceConfigPatch, error) {
				cfg, err := configUnsetPatch(inst, args[1:])
				return client.InstanceConfigPatch{Config: cfg}, err
			})
		},
	}
}

// modifyConfig runs one read-patch cycle (GET, then PATCH with If-Match)
// and says on stderr which changes wait for the instance's next restart.
func modifyConfig(cmd *cobra.Command, c *client.Client, name string, change func(api.Instance) (client.InstanceConfigPatch, error)) error {
	applied, err := c.ModifyInstanceConfig(cmd.Context(), name, change)
	if err != nil {
		return fmt.Errorf("%s %s: %w", strings.TrimPrefix(cmd.CommandPath(), "lxmgr "), name, err)
	}
	reportRestart(cmd.ErrOrStderr(), applied)
	return nil
}

func newConfigDeviceCmd(g *globals) *cobra.Command {
	return newGroupCmd("device", "Add, remove, show and change an instance's devices",
		newDeviceAddCmd(g), newDeviceRemoveCmd(g), newDeviceShowCmd(g), newDeviceSetCmd(g), newDeviceOverrideCmd(g))
}

// validateDeviceName checks a device name: 1 to 64 letters, digits, '-',
// '_' or '.', and not "." or "..", as it can end up in a path.
func validateDeviceName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: invalid device name %q: %s", api.ErrInvalid, name, why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: device name is empty", api.ErrInvalid)
	case len(name) > 64:
		return bad("longer than 64 characters")
	case name == "." || name == "..":
		return bad("not a name")
	case name[0] == '-':
		return bad("must not start with '-'")
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return bad(fmt.Sprintf("character %q is not allowed (only letters, digits, '-', '_' and '.')", r))
		}
	}
	return nil
}

// parseDeviceAdd reads NAME DEVICE TYPE [KEY=VALUE...] into the instance
// name, the device name and the device ("type" set to TYPE).
func parseDeviceAdd(args []string) (inst, dev string, device map[string]string, err error) {
	if len(args) < 3 {
		return "", "", nil, fmt.Errorf("want NAME DEVICE TYPE [KEY=VALUE...], got %d arguments", len(args))
	}
	inst, dev = args[0], args[1]
	if err := validateNames(inst); err != nil {
		return "", "", nil, err
	}
	device, err = parseDevice(dev, args[2], args[3:])
	if err != nil {
		return "", "", nil, err
	}
	return inst, dev, device, nil
}

// parseDevice reads the DEVICE TYPE [KEY=VALUE...] arguments of a device
// add (of an instance or a profile) into the device ("type" set to TYPE).
func parseDevice(dev, typ string, items []string) (map[string]string, error) {
	if err := validateDeviceName(dev); err != nil {
		return nil, err
	}
	if typ == "" || strings.ContainsAny(typ, "= \t\r\n/") {
		return nil, fmt.Errorf("%w: device type %q: want a type such as disk, nic or proxy", api.ErrInvalid, typ)
	}
	device, err := parseKeyValues("device", items)
	if err != nil {
		return nil, err
	}
	if t, ok := device["type"]; ok && t != typ {
		return nil, fmt.Errorf("%w: device %s: type=%s contradicts the type argument %q", api.ErrInvalid, dev, t, typ)
	}
	device["type"] = typ
	return device, nil
}

func newDeviceAddCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "add NAME DEVICE TYPE [KEY=VALUE...]",
		Short: "Add a device to an instance (a device of the same name from a profile is overridden)",
		Example: "  lxmgr config device add web1 http proxy listen=tcp:0.0.0.0:80 connect=tcp:127.0.0.1:80\n" +
			"  lxmgr config device add web1 data disk source=/srv/web1 path=/srv",
		Args: minArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, dev, device, err := parseDeviceAdd(args)
			if err != nil {
				return err
			}
			err = modifyConfig(cmd, g.client(), name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				if _, ok := inst.Devices[dev]; ok {
					return client.InstanceConfigPatch{}, fmt.Errorf("%w: device %q already exists (see 'config device set')", api.ErrConflict, dev)
				}
				return client.InstanceConfigPatch{Devices: api.Devices{dev: device}}, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Device %s added to %s\n", dev, name)
			return nil
		},
	}
}

// localDevice returns a device defined on the instance itself, with an
// error that says where a device not found there comes from.
func localDevice(inst api.Instance, dev string) (map[string]string, error) {
	if d, ok := inst.Devices[dev]; ok {
		return d, nil
	}
	if _, ok := inst.ExpandedDevices[dev]; ok {
		return nil, fmt.Errorf("%w: device %q of instance %s comes from a profile (%s); change the profile, or override the device with 'config device override'",
			api.ErrInvalid, dev, inst.Name, strings.Join(inst.Profiles, ", "))
	}
	return nil, fmt.Errorf("%w: instance %s has no device %q", api.ErrNotFound, inst.Name, dev)
}

func newDeviceRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME DEVICE...",
		Aliases: []string{"rm"},
		Short:   "Remove devices defined on an instance",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, devs := args[0], args[1:]
			if err := validateNames(name); err != nil {
				return err
			}
			for _, d := range devs {
				if err := validateDeviceName(d); err != nil {
					return err
				}
			}
			err := modifyConfig(cmd, g.client(), name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				p := client.InstanceConfigPatch{Devices: api.Devices{}}
				for _, d := range devs {
					if _, err := localDevice(inst, d); err != nil {
						return client.InstanceConfigPatch{}, err
					}
					p.Devices[d] = nil
				}
				return p, nil
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Device %s removed from %s\n", strings.Join(devs, ", "), name)
			return nil
		},
	}
}

func newDeviceShowCmd(g *globals) *cobra.Command {
	var expanded bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an instance's devices as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			inst, _, err := g.client().GetInstance(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("config device show %s: %w", args[0], err)
			}
			return writeYAML(os.Stdout, viewOf(inst, expanded).Devices)
		},
	}
	cmd.Flags().BoolVarP(&expanded, "expanded", "e", false, "show the effective devices (profiles applied)")
	return cmd
}

// deviceSetPatch merges keys into a device defined on the instance: an
// empty value removes a key; the type cannot change. The daemon replaces a
// device whole, so the patch carries the complete merged device.
func deviceSetPatch(inst api.Instance, dev string, kv map[string]string) (map[string]string, error) {
	cur, err := localDevice(inst, dev)
	if err != nil {
		return nil, err
	}
	return mergeDevice(cur, dev, kv)
}

// mergeDevice returns cur with kv merged in: an empty value removes a key;
// the type cannot change. cur is not modified.
func mergeDevice(cur map[string]string, dev string, kv map[string]string) (map[string]string, error) {
	merged := maps.Clone(cur)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range kv {
		if k == "type" && v != cur["type"] {
			return nil, fmt.Errorf("%w: the type of device %q cannot change (remove and add it instead)", api.ErrInvalid, dev)
		}
		if v == "" {
			delete(merged, k)
		} else {
			merged[k] = v
		}
	}
	return merged, nil
}

func newDeviceSetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "set NAME DEVICE KEY=VALUE...",
		Short:   "Change keys of a device defined on an instance (KEY= removes a key)",
		Example: "  lxmgr config device set web1 http listen=tcp:0.0.0.0:8080",
		Args:    minArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, dev := args[0], args[1]
			if err := validateNames(name); err != nil {
				return err
			}
			if err := validateDeviceName(dev); err != nil {
				return err
			}
			kv, err := parseKeyValues("device", args[2:])
			if err != nil {
				return err
			}
			return modifyConfig(cmd, g.client(), name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				merged, err := deviceSetPatch(inst, dev, kv)
				return client.InstanceConfigPatch{Devices: api.Devices{dev: merged}}, err
			})
		},
	}
}
