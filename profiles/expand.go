package profiles

import (
	"maps"

	"github.com/lxmgr/lxmgr/api"
)

// Expand computes an instance's effective config and devices: the profiles
// are applied in order (a later profile overrides an earlier one), then the
// instance's own config and devices win. Config merges key by key; devices
// replace whole by name, as in LXD (a local "root" device replaces the
// profile's "root" entirely, it is not merged key by key). The returned maps
// are new, never nil, and share nothing with the inputs.
func Expand(profiles []api.Profile, config map[string]string, devices api.Devices) (map[string]string, api.Devices) {
	outCfg := map[string]string{}
	outDevs := api.Devices{}
	apply := func(cfg map[string]string, devs api.Devices) {
		maps.Copy(outCfg, cfg)
		for name, dev := range devs {
			outDevs[name] = maps.Clone(dev)
			if outDevs[name] == nil {
				outDevs[name] = map[string]string{}
			}
		}
	}
	for _, p := range profiles {
		apply(p.Config, p.Devices)
	}
	apply(config, devices)
	return outCfg, outDevs
}

// DefaultName is the name of the built-in profile every instance gets unless
// it asks for other profiles.
const DefaultName = "default"

// DefaultPool is the storage pool the default profile's root disk uses.
const DefaultPool = "default"

// Default returns the built-in default profile: a root disk on the "default"
// pool and no config. Each call returns fresh maps.
func Default() api.Profile {
	return api.Profile{
		Name: DefaultName,
		ProfilePut: api.ProfilePut{
			Description: "Default lxmgr profile",
			Config:      map[string]string{},
			Devices: api.Devices{
				"root": {"type": "disk", "path": "/", "pool": DefaultPool},
			},
		},
	}
}
