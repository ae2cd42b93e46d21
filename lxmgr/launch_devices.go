package main

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// defaultPool is the pool of a root disk when neither -s nor a profile
// names one.
const defaultPool = "default"

// deviceOverride is one -d DEVICE,KEY=VALUE[,KEY=VALUE...] option: keys to
// set on a device of the new instance (an empty value removes the key).
type deviceOverride struct {
	device string
	keys   map[string]string
}

// parseDeviceOverride reads one -d option. Values cannot contain ','.
func parseDeviceOverride(s string) (deviceOverride, error) {
	parts := strings.Split(s, ",")
	if len(parts) < 2 {
		return deviceOverride{}, fmt.Errorf("%w: device %q: want DEVICE,KEY=VALUE[,KEY=VALUE...], e.g. root,size=2GiB", api.ErrInvalid, s)
	}
	if err := validateDeviceName(parts[0]); err != nil {
		return deviceOverride{}, err
	}
	keys, err := parseKeyValues("device "+parts[0], parts[1:])
	if err != nil {
		return deviceOverride{}, err
	}
	return deviceOverride{device: parts[0], keys: keys}, nil
}

// parseDeviceOverrides reads every -d option, merging the keys of repeated
// devices in order (a later value wins).
func parseDeviceOverrides(items []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, it := range items {
		o, err := parseDeviceOverride(it)
		if err != nil {
			return nil, err
		}
		if out[o.device] == nil {
			out[o.device] = map[string]string{}
		}
		maps.Copy(out[o.device], o.keys)
	}
	return out, nil
}

// needsDevices reports whether -s or -d were given, which means the
// request carries devices of its own.
func (f *createFlags) needsDevices() bool {
	return f.storage != "" || len(f.devices) > 0
}

// checkDevices validates -s and -d before any request is sent.
func (f *createFlags) checkDevices() error {
	if f.storage != "" {
		if err := validatePoolName(f.storage); err != nil {
			return err
		}
	}
	ov, err := parseDeviceOverrides(f.devices)
	if err != nil {
		return err
	}
	if p, ok := ov["root"]["pool"]; ok && f.storage != "" && p != f.storage {
		return fmt.Errorf("%w: -s %s and -d root,pool=%s disagree", api.ErrInvalid, f.storage, p)
	}
	return nil
}

// instanceDevices computes the devices of the create request from -s and
// -d. base holds the devices the instance's profiles give it: an override
// of one of them starts from its keys, since the instance's own device
// replaces the profile's whole. The root disk gets type=disk, path=/ and a
// pool (-s, else the profile's, else "default"); any other new device must
// name its type.
func (f *createFlags) instanceDevices(base api.Devices) (api.Devices, error) {
	ov, err := parseDeviceOverrides(f.devices)
	if err != nil {
		return nil, err
	}
	if f.storage != "" && ov["root"] == nil {
		ov["root"] = map[string]string{}
	}
	return overrideDevices(base, ov, func(name string, d map[string]string) {
		if name == "root" {
			setDefault(d, "type", "disk")
			setDefault(d, "path", "/")
			setDefault(d, "pool", defaultPool)
			if f.storage != "" {
				d["pool"] = f.storage
			}
		}
	})
}

// overrideDevices builds the devices a request carries from -d overrides:
// each starts from base's device of that name (the whole device replaces
// the inherited one, so it must carry all its keys), gets prepare's
// defaults, then the given keys (an empty value removes one).
func overrideDevices(base api.Devices, ov map[string]map[string]string, prepare func(name string, d map[string]string)) (api.Devices, error) {
	out := make(api.Devices, len(ov))
	for name, keys := range ov {
		d := maps.Clone(base[name])
		if d == nil {
			d = map[string]string{}
		}
		if prepare != nil {
			prepare(name, d)
		}
		for k, v := range keys {
			if v == "" {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		if d["type"] == "" {
			return nil, fmt.Errorf("%w: device %q is not in the instance's profiles: give its type, e.g. -d %s,type=disk,...", api.ErrInvalid, name, name)
		}
		if name == "root" && (d["type"] != "disk" || d["path"] != "/" || d["pool"] == "") {
			return nil, fmt.Errorf("%w: the root device must be a disk with path=/ and a pool", api.ErrInvalid)
		}
		out[name] = d
	}
	return out, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// profileDevices returns the devices the given profiles give an instance
// (a later profile's device replaces an earlier one of the same name).
// profiles nil means the daemon's default list, "default".
func profileDevices(ctx context.Context, c *client.Client, profiles []string) (api.Devices, error) {
	if profiles == nil {
		profiles = []string{"default"}
	}
	out := api.Devices{}
	for _, name := range profiles {
		p, _, err := c.GetProfile(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		maps.Copy(out, p.Devices)
	}
	return out, nil
}
