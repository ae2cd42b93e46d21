package main

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// readOnlyKeyPrefixes are the config keys lxmgrd manages itself (the base
// image, MACs, idmaps, the last state): it refuses changes to them, so
// config edit shows them but puts back what it read.
var readOnlyKeyPrefixes = []string{"volatile.", "image."}

func isReadOnlyKey(k string) bool {
	for _, p := range readOnlyKeyPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// instanceDoc is an instance as config show prints it and config edit
// reads it: the fields a PUT replaces, in LXD's "config show" layout. The
// read-only fields of the API's instance object are accepted and ignored,
// so that such output can be fed back; any other key is an error.
type instanceDoc struct {
	Architecture string            `yaml:"architecture,omitempty"`
	Config       map[string]string `yaml:"config"`
	Devices      api.Devices       `yaml:"devices"`
	Ephemeral    bool              `yaml:"ephemeral"`
	Profiles     []string          `yaml:"profiles"`
	Description  string            `yaml:"description"`

	Name            any `yaml:"name,omitempty"`
	Type            any `yaml:"type,omitempty"`
	Status          any `yaml:"status,omitempty"`
	StatusCode      any `yaml:"status_code,omitempty"`
	CreatedAt       any `yaml:"created_at,omitempty"`
	LastUsedAt      any `yaml:"last_used_at,omitempty"`
	Location        any `yaml:"location,omitempty"`
	ExpandedConfig  any `yaml:"expanded_config,omitempty"`
	ExpandedDevices any `yaml:"expanded_devices,omitempty"`
	Project         any `yaml:"project,omitempty"`
	Stateful        any `yaml:"stateful,omitempty"`
}

// instanceEditable lists the keys of an instance document that change it.
const instanceEditable = "architecture, config, devices, ephemeral, profiles, description"

// instanceDocOf is what config show prints: the instance's own config and
// devices, or with expanded the effective ones.
func instanceDocOf(inst api.Instance, expanded bool) instanceDoc {
	v := viewOf(inst, expanded)
	d := instanceDoc{
		Architecture: inst.Architecture, Config: v.Config, Devices: v.Devices,
		Ephemeral: inst.Ephemeral, Profiles: inst.Profiles, Description: inst.Description,
	}
	if d.Profiles == nil {
		d.Profiles = []string{}
	}
	return d
}

// instanceEdit is an edited instance document turned into a PUT, with the
// read-only keys whose change was dropped.
type instanceEdit struct {
	put     api.InstancePut
	ignored []string
}

// parseInstanceYAML reads an edited instance document and builds the PUT
// that replaces orig with it. The document replaces the instance: a
// section left out is emptied. The architecture, when left out, and the
// volatile.* and image.* keys stay as they were read.
func parseInstanceYAML(orig api.Instance, data []byte) (instanceEdit, error) {
	var doc instanceDoc
	if err := decodeStrictYAML(data, &doc, "instance", instanceEditable); err != nil {
		return instanceEdit{}, err
	}
	put := api.InstancePut{
		Architecture: doc.Architecture, Config: map[string]string{}, Devices: api.Devices{},
		Ephemeral: doc.Ephemeral, Profiles: doc.Profiles, Stateful: orig.Stateful, Description: doc.Description,
	}
	if put.Architecture == "" {
		put.Architecture = orig.Architecture
	}
	if put.Profiles == nil {
		put.Profiles = []string{}
	}
	for _, p := range put.Profiles {
		if err := api.ValidateName("profile", p); err != nil {
			return instanceEdit{}, err
		}
	}
	if err := checkConfigKeys(doc.Config); err != nil {
		return instanceEdit{}, err
	}
	devs, err := checkDevices(doc.Devices)
	if err != nil {
		return instanceEdit{}, err
	}
	put.Devices = devs
	var ignored []string
	for k, v := range doc.Config {
		if !isReadOnlyKey(k) {
			put.Config[k] = v
		} else if ov, ok := orig.Config[k]; !ok || ov != v {
			ignored = append(ignored, k)
		}
	}
	for k, v := range orig.Config {
		if isReadOnlyKey(k) {
			put.Config[k] = v
			if _, ok := doc.Config[k]; !ok {
				ignored = append(ignored, k)
			}
		}
	}
	sort.Strings(ignored)
	return instanceEdit{put: put, ignored: ignored}, nil
}

// checkConfigKeys refuses keys that cannot be config keys.
func checkConfigKeys(cfg map[string]string) error {
	for k := range cfg {
		if k == "" || strings.ContainsAny(k, "= \t\r\n") {
			return fmt.Errorf("%w: config key %q: want a key such as limits.memory", api.ErrInvalid, k)
		}
	}
	return nil
}

// checkDevices validates the devices of an edited document: valid names,
// each with a type. A nil map gives an empty one.
func checkDevices(devs api.Devices) (api.Devices, error) {
	out := make(api.Devices, len(devs))
	for _, name := range sortedKeys(devs) {
		if err := validateDeviceName(name); err != nil {
			return nil, err
		}
		d := devs[name]
		if d["type"] == "" {
			return nil, fmt.Errorf("%w: device %q has no type", api.ErrInvalid, name)
		}
		out[name] = maps.Clone(d)
	}
	return out, nil
}

// instanceEditTemplate is the text an editor session starts from.
func instanceEditTemplate(inst api.Instance) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("### Edit the instance " + inst.Name + ". This document replaces its config, devices, profiles,\n" +
		"### description and ephemeral flag: a section left out is emptied. volatile.* and image.* keys\n" +
		"### are managed by lxmgrd and stay as they are. Lines starting with # are comments.\n" +
		"### Save and quit to apply, or empty the file to abort.\n")
	if err := writeYAML(&b, instanceDocOf(inst, false)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newConfigEditCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "edit NAME",
		Short: "Edit an instance's config, devices and profiles as YAML",
		Long: "Edit an instance as YAML (the layout of 'config show'). When stdin is not a terminal\n" +
			"the new document is read from stdin; otherwise $VISUAL or $EDITOR (default vi) opens it.\n" +
			"The document replaces the instance's config, devices, profiles, description and\n" +
			"ephemeral flag: a section left out is emptied. volatile.* and image.* keys are managed\n" +
			"by lxmgrd: they are shown, and kept as they were. The change is sent with the ETag read\n" +
			"before editing, so if the instance changed meanwhile nothing is saved and edit fails.",
		Example: "  lxmgr config edit web1\n  lxmgr config show web1 | sed 's/64MiB/128MiB/' | lxmgr config edit web1",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateNames(name); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			inst, etag, err := c.GetInstance(ctx, name)
			if err != nil {
				return fmt.Errorf("edit instance %s: %w", name, err)
			}
			stderr := cmd.ErrOrStderr()
			return editFlow[instanceEdit]{
				kind: "instance", name: name,
				template: func() ([]byte, error) { return instanceEditTemplate(inst) },
				parse:    func(data []byte) (instanceEdit, error) { return parseInstanceYAML(inst, data) },
				save: func(e instanceEdit) error {
					applied, err := c.ReplaceInstance(ctx, name, e.put, etag)
					if err != nil {
						return err
					}
					if len(e.ignored) > 0 {
						fmt.Fprintf(stderr, "Kept as they were (managed by lxmgrd): %s\n", strings.Join(e.ignored, ", "))
					}
					reportRestart(stderr, applied)
					return nil
				},
			}.run(ctx)
		},
	}
}

// reportRestart says which saved changes a running instance only picks up
// at its next start; nothing when all took effect.
func reportRestart(w io.Writer, a client.Applied) {
	if len(a.RestartRequired) == 0 {
		return
	}
	keys := make([]string, len(a.RestartRequired))
	for i, k := range a.RestartRequired {
		keys[i] = printable(k)
	}
	fmt.Fprintf(w, "Some changes take effect at the next restart: %s\n", strings.Join(keys, ", "))
}

// deviceOverridePatch copies the device dev that a profile gives inst into
// the instance's own devices, with kv merged in (an empty value removes a
// key; the type cannot change).
func deviceOverridePatch(inst api.Instance, dev string, kv map[string]string) (map[string]string, error) {
	if _, ok := inst.Devices[dev]; ok {
		return nil, fmt.Errorf("%w: instance %s already has its own device %q (change it with 'config device set')", api.ErrConflict, inst.Name, dev)
	}
	from, ok := inst.ExpandedDevices[dev]
	if !ok {
		return nil, fmt.Errorf("%w: no profile of instance %s (%s) provides a device %q", api.ErrNotFound, inst.Name, strings.Join(inst.Profiles, ", "), dev)
	}
	return mergeDevice(from, dev, kv)
}

func newDeviceOverrideCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "override NAME DEVICE [KEY=VALUE...]",
		Short: "Copy a device a profile provides into the instance, with keys changed",
		Long: "Copy the device DEVICE that one of the instance's profiles provides into the instance's\n" +
			"own devices, with the given keys changed (KEY= removes a key). The instance's copy then\n" +
			"wins over the profile's. It fails if the instance already has its own DEVICE.",
		Example: "  lxmgr config device override web1 root size=4GiB\n  lxmgr config device override web1 eth0 ipv4.address=10.5.0.20",
		Args:    minArgs(2),
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
			err = modifyConfig(cmd, g.client(), name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				d, err := deviceOverridePatch(inst, dev, kv)
				return client.InstanceConfigPatch{Devices: api.Devices{dev: d}}, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Device %s overridden for %s\n", dev, name)
			return nil
		},
	}
}
