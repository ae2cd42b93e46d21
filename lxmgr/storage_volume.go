package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

func newStorageVolumeCmd(g *globals) *cobra.Command {
	cmd := newGroupCmd("volume", "Manage custom volumes of a storage pool and attach them to instances",
		newVolumeCreateCmd(g), newVolumeListCmd(g), newVolumeDeleteCmd(g),
		newVolumeAttachCmd(g), newVolumeDetachCmd(g))
	cmd.Aliases = []string{"vol"}
	return cmd
}

// validatePoolVolume checks a pool name and volume names before any request.
func validatePoolVolume(pool string, vols ...string) error {
	if err := validatePoolName(pool); err != nil {
		return err
	}
	for _, v := range vols {
		if err := api.ValidateName("storage volume", v); err != nil {
			return err
		}
	}
	return nil
}

// volumeCreateRequest builds the create request of a custom volume.
func volumeCreateRequest(pool, name, description string, items []string) (api.StorageVolumesPost, error) {
	if err := validatePoolVolume(pool, name); err != nil {
		return api.StorageVolumesPost{}, err
	}
	cfg, err := parseKeyValues("volume config", items)
	if err != nil {
		return api.StorageVolumesPost{}, err
	}
	return api.StorageVolumesPost{Name: name, Type: "custom", Config: cfg, Description: description}, nil
}

func newVolumeCreateCmd(g *globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:     "create POOL NAME [KEY=VALUE...]",
		Short:   "Create a custom volume in a storage pool",
		Long:    "Create a custom (filesystem) volume in POOL. KEY=VALUE arguments set its config, such as size.",
		Example: "  lxmgr storage volume create default data size=2GiB",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool := args[0]
			req, err := volumeCreateRequest(pool, args[1], description, args[2:])
			if err != nil {
				return err
			}
			if err := g.client().CreateStorageVolume(cmd.Context(), pool, req); err != nil {
				return fmt.Errorf("create storage volume %s/%s: %w", pool, req.Name, err)
			}
			fmt.Fprintf(os.Stdout, "Storage volume %s created in pool %s\n", req.Name, pool)
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "description of the volume")
	return cmd
}

// volumeRows renders the volume table.
func volumeRows(vols []api.StorageVolume) (header []string, rows [][]string) {
	header = []string{"TYPE", "NAME", "USED BY"}
	rows = make([][]string, 0, len(vols))
	for _, v := range vols {
		rows = append(rows, []string{v.Type, v.Name, strconv.Itoa(len(v.UsedBy))})
	}
	return header, rows
}

func newVolumeListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list POOL",
		Aliases: []string{"ls"},
		Short:   "List the volumes of a storage pool (all types)",
		Long: "List the volumes of a pool: instance root filesystems (container), images (image)\n" +
			"and custom volumes (custom).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			if err := validatePoolName(args[0]); err != nil {
				return err
			}
			vols, err := g.client().GetStorageVolumes(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("list storage volumes of %s: %w", args[0], err)
			}
			if vols == nil {
				vols = []api.StorageVolume{}
			}
			sort.SliceStable(vols, func(a, b int) bool {
				if vols[a].Type != vols[b].Type {
					return vols[a].Type < vols[b].Type
				}
				return vols[a].Name < vols[b].Name
			})
			header, rows := volumeRows(vols)
			return writeOutput(os.Stdout, format, header, rows, vols)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newVolumeDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete POOL NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete custom volumes that no instance uses",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool := args[0]
			if err := validatePoolVolume(pool, args[1:]...); err != nil {
				return err
			}
			c := g.client()
			return forEach(args[1:], func(name string) error {
				if err := c.DeleteStorageVolume(cmd.Context(), pool, name); err != nil {
					return fmt.Errorf("delete storage volume %s/%s: %w", pool, name, err)
				}
				fmt.Fprintf(os.Stdout, "Storage volume %s deleted from pool %s\n", name, pool)
				return nil
			})
		},
	}
}

// attachedDevices returns the names of the disk devices in devs that mount
// the custom volume vol of pool, sorted.
func attachedDevices(devs api.Devices, pool, vol string) []string {
	var out []string
	for name, d := range devs {
		if d["type"] == "disk" && d["pool"] == pool && d["source"] == vol {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// validateMountPath checks the PATH of volume attach: an absolute path in
// the guest other than "/" (that is the root disk's place), on one line.
func validateMountPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: path %q: want an absolute path inside the instance, such as /srv/data", api.ErrInvalid, p)
	case strings.Trim(p, "/") == "":
		return fmt.Errorf("%w: path %q: the root filesystem is the root disk device, not a custom volume", api.ErrInvalid, p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: path %q: control characters are not allowed", api.ErrInvalid, p)
	}
	return nil
}

// volumeAttachPatch adds the disk device dev mounting pool/vol at path to
// inst. A device of that name on the instance itself, or the volume already
// attached, is a conflict rather than a silent replacement.
func volumeAttachPatch(inst api.Instance, pool, vol, path, dev string) (client.InstanceConfigPatch, error) {
	if _, ok := inst.Devices[dev]; ok {
		return client.InstanceConfigPatch{}, fmt.Errorf("%w: instance %s already has a device %q (give another DEVICE name)", api.ErrConflict, inst.Name, dev)
	}
	if at := attachedDevices(inst.Devices, pool, vol); len(at) > 0 {
		return client.InstanceConfigPatch{}, fmt.Errorf("%w: volume %s/%s is already attached to %s as device %s", api.ErrConflict, pool, vol, inst.Name, at[0])
	}
	d := map[string]string{"type": "disk", "pool": pool, "source": vol, "path": path}
	return client.InstanceConfigPatch{Devices: api.Devices{dev: d}}, nil
}

func newVolumeAttachCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "attach POOL VOLUME INSTANCE PATH [DEVICE]",
		Short: "Mount a custom volume in an instance (adds a disk device)",
		Long: "Add a disk device named DEVICE (default: the volume's name) to INSTANCE that mounts\n" +
			"the custom volume VOLUME of POOL at PATH. The change is sent with the ETag of a read\n" +
			"just before, so a concurrent change of the instance makes it fail instead of being lost.",
		Example: "  lxmgr storage volume attach default data web1 /srv/data",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 4 || len(args) > 5 {
				return &usageError{cmd: cmd, msg: fmt.Sprintf("%s takes 4 or 5 arguments, got %d", cmd.CommandPath(), len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, vol, name, path := args[0], args[1], args[2], args[3]
			dev := vol
			if len(args) == 5 {
				dev = args[4]
			}
			if err := validatePoolVolume(pool, vol); err != nil {
				return err
			}
			if err := validateNames(name); err != nil {
				return err
			}
			if err := validateDeviceName(dev); err != nil {
				return err
			}
			if err := validateMountPath(path); err != nil {
				return err
			}
			c := g.client()
			// Checked first so that a typo in the volume fails with its own
			// message instead of a device the daemon then refuses.
			if _, _, err := c.GetStorageVolume(cmd.Context(), pool, vol); err != nil {
				return fmt.Errorf("storage volume attach %s/%s: %w", pool, vol, err)
			}
			err := modifyConfig(cmd, c, name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				return volumeAttachPatch(inst, pool, vol, path, dev)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Volume %s/%s attached to %s at %s (device %s)\n", pool, vol, name, path, dev)
			return nil
		},
	}
}

// volumeDetachPatch removes every disk device of inst that mounts pool/vol.
// One coming from a profile cannot be removed here, and saying so beats
// reporting "not attached".
func volumeDetachPatch(inst api.Instance, pool, vol string) (client.InstanceConfigPatch, []string, error) {
	devs := attachedDevices(inst.Devices, pool, vol)
	if len(devs) == 0 {
		if from := attachedDevices(inst.ExpandedDevices, pool, vol); len(from) > 0 {
			return client.InstanceConfigPatch{}, nil, fmt.Errorf("%w: volume %s/%s is attached to %s by a profile (%s), device %s; change the profile",
				api.ErrInvalid, pool, vol, inst.Name, strings.Join(inst.Profiles, ", "), from[0])
		}
		return client.InstanceConfigPatch{}, nil, fmt.Errorf("%w: volume %s/%s is not attached to %s", api.ErrNotFound, pool, vol, inst.Name)
	}
	p := client.InstanceConfigPatch{Devices: api.Devices{}}
	for _, d := range devs {
		p.Devices[d] = nil
	}
	return p, devs, nil
}

func newVolumeDetachCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "detach POOL VOLUME INSTANCE",
		Short:   "Unmount a custom volume from an instance (removes its disk devices)",
		Example: "  lxmgr storage volume detach default data web1",
		Args:    exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			pool, vol, name := args[0], args[1], args[2]
			if err := validatePoolVolume(pool, vol); err != nil {
				return err
			}
			if err := validateNames(name); err != nil {
				return err
			}
			var removed []string
			err := modifyConfig(cmd, g.client(), name, func(inst api.Instance) (client.InstanceConfigPatch, error) {
				p, devs, err := volumeDetachPatch(inst, pool, vol)
				removed = devs
				return p, err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "Volume %s/%s detached from %s (device %s removed)\n", pool, vol, name, strings.Join(removed, ", "))
			return nil
		},
	}
}
