package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
)

// Defaults for a clean stop: how long init gets to halt before it is killed.
const defaultStopTimeout = 30 * time.Second

// loadInstance reads one instance and the profiles it uses.
func (d *daemon) loadInstance(ctx context.Context, name string) (db.Instance, []api.Profile, error) {
	var inst db.Instance
	var profs []api.Profile
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		inst, err = tx.InstanceGet(ctx, name)
		if err != nil {
			return err
		}
		profs, err = profilesFor(ctx, tx, inst.Profiles)
		return err
	})
	if err != nil {
		return db.Instance{}, nil, err
	}
	return inst, profs, nil
}

// profilesFor returns the named profiles in order.
func profilesFor(ctx context.Context, tx *db.Tx, names []string) ([]api.Profile, error) {
	out := make([]api.Profile, 0, len(names))
	for _, n := range names {
		p, err := tx.ProfileGet(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// expand returns the effective config and devices of an instance.
func expand(inst db.Instance, profs []api.Profile) (map[string]string, api.Devices) {
	return profiles.Expand(profs, inst.Config, inst.Devices)
}

// toAPI renders an instance for the wire, with its cached runtime state.
func (d *daemon) toAPI(inst db.Instance, profs []api.Profile) api.Instance {
	cfg, devs := expand(inst, profs)
	st := d.cache.get(inst.Name)
	status := statusCode(st.Status)
	return api.Instance{
		InstancePut: api.InstancePut{
			Architecture: inst.Architecture, Config: inst.Config, Devices: inst.Devices,
			Ephemeral: inst.Ephemeral, Profiles: inst.Profiles, Description: inst.Description,
		},
		Name: inst.Name, Type: "container", Status: status.String(), StatusCode: status,
		CreatedAt: inst.CreatedAt, LastUsedAt: inst.LastUsedAt, Location: "none",
		ExpandedConfig: cfg, ExpandedDevices: devs, Project: "default",
	}
}

// instanceETag is the ETag of the user-editable part of an instance.
func instanceETag(inst db.Instance) string {
	return etagOf([]any{inst.Architecture, inst.Config, inst.Devices, inst.Ephemeral, inst.Profiles, inst.Description})
}

// stateOf builds the API state from the cache plus cgroup counters (file
// reads only; nothing runs in the guest).
func (d *daemon) stateOf(inst db.Instance, devs api.Devices, withUsage bool) *api.InstanceState {
	st := d.cache.get(inst.Name)
	code := statusCode(st.Status)
	out := &api.InstanceState{
		Status: code.String(), StatusCode: code, Pid: int64(st.Pid), Ready: st.Ready,
		Disk: map[string]api.InstanceStateDisk{}, Network: map[string]api.InstanceStateNetwork{},
	}
	if st.Pid != 0 {
		out.Network = d.networkState(inst, devs, st.Pid, withUsage)
	}
	if withUsage {
		if pool, err := d.pool(inst.Pool); err == nil {
			if used, err := pool.Usage(context.Background(), inst.Name); err == nil {
				out.Disk["root"] = api.InstanceStateDisk{Usage: used}
			}
		}
	}
	if withUsage && st.Pid != 0 {
		if u, err := d.lxc.Usage(inst.Name); err == nil {
			out.Memory = api.InstanceStateMemory{Usage: u.MemoryBytes, UsagePeak: u.MemoryPeakBytes}
			out.CPU = api.InstanceStateCPU{Usage: u.CPUNanos}
			out.Processes = u.Processes
		}
	}
	return out
}

// rootDisk returns the pool of the root disk of expanded devices.
func rootPool(devs api.Devices) (string, error) {
	for _, dev := range devs {
		if dev["type"] == "disk" && dev["path"] == "/" {
			if dev["pool"] == "" {
				return "", fmt.Errorf("%w: root disk has no pool", api.ErrInvalid)
			}
			return dev["pool"], nil
		}
	}
	return "", fmt.Errorf("%w: no root disk device (path \"/\") in the instance or its profiles", api.ErrInvalid)
}

// spec resolves everything the driver needs to render the liblxc config.
func (d *daemon) spec(inst db.Instance, profs []api.Profile) (instance.Spec, error) {
	cfg, devs := expand(inst, profs)
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return instance.Spec{}, err
	}
	s := instance.Spec{
		Name:       inst.Name,
		Rootfs:     filepath.Join(pool.VolumePath(inst.Name), "rootfs"),
		Hostname:   inst.Name,
		Privileged: cfg["security.privileged"] == "true",
		HaltSignal: cfg["image.halt_signal"],
		Nesting:    cfg["security.nesting"] == "true",
		RawLXC:     cfg["raw.lxc"],
	}
	if !s.Privileged {
		if inst.IdmapBase == 0 {
			return instance.Spec{}, fmt.Errorf("instance %q has no idmap allocated", inst.Name)
		}
		s.IDMap = instance.IDMap{HostUID: uint32(inst.IdmapBase), HostGID: uint32(d.ids.gidFor(inst.IdmapBase)), Size: idsPerGuest}
	}
	if s.Limits, err = limitsFrom(cfg, inst, d.lxc.Cgroups()); err != nil {
		return instance.Spec{}, err
	}
	s.NICs = specNICs(inst, devs)
	if s.Mounts, err = d.diskMounts(devs); err != nil {
		return instance.Spec{}, err
	}
	env := map[string]string{}
	for k, v := range cfg {
		if name, ok := strings.CutPrefix(k, "environment."); ok {
			env[name] = v
		}
	}
	s.Environment = env
	return s, nil
}

// memoryLimit turns limits.memory (bytes or a percentage of host RAM) into bytes.
func memoryLimit(v string) (int64, error) {
	total, err := hostMemory()
	if err != nil {
		return 0, err
	}
	return profiles.ParseMemoryLimit(v, total)
}

// expandedInstance is an instance with its effective config and devices.
type expandedInstance struct {
	inst db.Instance
	cfg  map[string]string
	devs api.Devices
}

// instanceList loads every instance expanded (two queries).
func (d *daemon) instanceList(ctx context.Context) ([]expandedInstance, error) {
	var out []expandedInstance
	err := d.db.View(ctx, func(tx *db.Tx) error {
		insts, err := tx.InstanceList(ctx)
		if err != nil {
			return err
		}
		profs, err := tx.ProfileList(ctx)
		if err != nil {
			return err
		}
		byName := map[string]api.Profile{}
		for _, p := range profs {
			byName[p.Name] = p
		}
		for _, inst := range insts {
			ps := make([]api.Profile, 0, len(inst.Profiles))
			for _, n := range inst.Profiles {
				ps = append(ps, byName[n])
			}
			cfg, devs := expand(inst, ps)
			out = append(out, expandedInstance{inst: inst, cfg: cfg, devs: devs})
		}
		return nil
	})
	return out, err
}

// networksOf lists the managed networks an instance's nics are on.
func networksOf(inst db.Instance, devs api.Devices) []string {
	var out []string
	for _, n := range nicsOf(inst, devs) {
		if n.network != "" {
			out = append(out, n.network)
		}
	}
	return out
}
