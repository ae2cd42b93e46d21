package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/revert"
)

// instancePut replaces an instance's user-editable fields.
func (d *daemon) instancePut(w http.ResponseWriter, r *http.Request) {
	var put api.InstancePut
	if err := decodeBody(r, &put); err != nil {
		errorResponse(w, err)
		return
	}
	name := r.PathValue("name")
	if put.Restore != "" {
		d.instanceRestore(w, r, name, put.Restore)
		return
	}
	later, err := d.updateInstance(r, name, func(inst *db.Instance) {
		// volatile.* and image.* are the daemon's: a PUT cannot drop them.
		keep := map[string]string{}
		for k, v := range inst.Config {
			if isDaemonKey(k) {
				keep[k] = v
			}
		}
		inst.Config = orEmpty(put.Config)
		maps.Copy(inst.Config, keep)
		inst.Devices = orEmptyDevs(put.Devices)
		inst.Profiles = put.Profiles
		inst.Description = put.Description
		inst.Ephemeral = put.Ephemeral
	}, put.Config)
	if err != nil {
		errorResponse(w, err)
		return
	}
	// LXD answers PUT with an operation; the change itself is already
	// stored (and validated) above, so the operation is done at once.
	op := d.ops.start(d.bg, api.OperationClassTask, "Updating instance", map[string][]string{"instances": {"/1.0/instances/" + name}}, false,
		func(ctx context.Context, op *operation) error {
			if len(later) > 0 {
				op.setMeta("restart_required", later)
			}
			return nil
		})
	asyncResponse(w, op)
}

// instancePatch merges fields into an instance (config keys with an empty
// value are removed, devices replaced by name).
func (d *daemon) instancePatch(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		errorResponse(w, err)
		return
	}
	var patch api.InstancePut
	if err := remarshal(raw, &patch); err != nil {
		errorResponse(w, err)
		return
	}
	later, err := d.updateInstance(r, r.PathValue("name"), func(inst *db.Instance) {
		inst.Config, inst.Devices = mergePatch(inst.Config, inst.Devices, patch)
		if _, ok := raw["profiles"]; ok {
			inst.Profiles = patch.Profiles
		}
		if _, ok := raw["description"]; ok {
			inst.Description = patch.Description
		}
		if _, ok := raw["ephemeral"]; ok {
			inst.Ephemeral = patch.Ephemeral
		}
	}, patch.Config)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if later == nil {
		later = []string{}
	}
	syncResponse(w, map[string]any{"restart_required": later})
}

// mergePatch applies a PATCH's config and devices the LXD way: a config key
// with an empty value is removed, a device set to null is removed, other
// devices replace the one of the same name whole.
func mergePatch(cfg map[string]string, devs api.Devices, patch api.InstancePut) (map[string]string, api.Devices) {
	cfg, devs = orEmpty(cfg), orEmptyDevs(devs)
	for k, v := range patch.Config {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	for k, dev := range patch.Devices {
		if dev == nil {
			delete(devs, k)
		} else {
			devs[k] = dev
		}
	}
	return cfg, devs
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: invalid request body: %v", api.ErrInvalid, err)
	}
	return nil
}

func isDaemonKey(k string) bool {
	return strings.HasPrefix(k, "volatile.") || strings.HasPrefix(k, "image.")
}

// updateInstance validates and stores a change made by mutate, checking the
// ETag, all inside one transaction. A stopped guest's liblxc config is
// re-rendered; a running guest gets limits, port forwards and nic limits at
// once and the rest at its next start, which the returned keys name.
func (d *daemon) updateInstance(r *http.Request, name string, mutate func(*db.Instance), userConfig map[string]string) ([]string, error) {
	ctx := r.Context()
	unlock, err := d.locks.lock(ctx, "instance/"+name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for k := range userConfig {
		if isDaemonKey(k) {
			return nil, fmt.Errorf("%w: config key %q is managed by lxmgr and cannot be set", api.ErrInvalid, k)
		}
	}
	if err := profiles.ValidateUserConfig(userConfig); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	var inst, before db.Instance
	var profs, oldProfs []api.Profile
	var oldCfg map[string]string
	var oldDevs api.Devices
	running := d.cache.refresh(name).Status != instance.StatusStopped
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		if inst, err = tx.InstanceGet(ctx, name); err != nil {
			return err
		}
		if oldProfs, err = profilesFor(ctx, tx, inst.Profiles); err != nil {
			return err
		}
		oldCfg, oldDevs = expand(inst, oldProfs)
		if err := checkETag(r, instanceETag(inst)); err != nil {
			return fmt.Errorf("%w: instance %q changed since it was read", err, name)
		}
		// mutate edits the maps in place; keep the row as it was, to put
		// it back should applying the change fail.
		before = cloneInstance(inst)
		mutate(&inst)
		if inst.Profiles == nil {
			inst.Profiles = []string{}
		}
		if profs, err = profilesFor(ctx, tx, inst.Profiles); err != nil {
			return err
		}
		if err := profiles.ValidateDevices(inst.Devices); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		cfg, devs := expand(inst, profs)
		if err := d.checkExpanded(ctx, tx, inst, cfg, devs); err != nil {
			return err
		}
		if pool, _ := rootPool(devs); pool != inst.Pool {
			return fmt.Errorf("%w: the root disk's pool cannot change (%q to %q)", api.ErrInvalid, inst.Pool, pool)
		}
		if (cfg["security.privileged"] == "true") != (inst.IdmapBase == 0) {
			return fmt.Errorf("%w: security.privileged cannot change after creation", api.ErrInvalid)
		}
		if err := prepareNICs(ctx, tx, &inst, devs, d.leaseHolder); err != nil {
			return err
		}
		if err := checkProxyClash(ctx, tx, inst.Name, devs); err != nil {
			return err
		}
		if running {
			if err := d.checkNewProxies(devs, oldDevs); err != nil {
				return err
			}
		}
		return tx.InstanceUpdate(ctx, inst)
	})
	if err != nil {
		return nil, err
	}
	// The change is stored; should applying it fail, the old row and what
	// was applied from it come back, so the inventory never keeps a change
	// that did not take.
	rev := revert.New()
	defer rev.Fail()
	cfg, devs := expand(inst, profs)
	rev.Add(func() { d.restoreInstance(before, oldProfs, devs, running) })
	applied := func() {
		rev.Success()
		if cfg["security.privileged"] == "true" {
			logPrivileged(d.privilegedPolicy(ctx), name, "changed")
		}
	}
	d.reloadNetworks(ctx, append(networksOf(inst, oldDevs), networksOf(inst, devs)...)...)
	// The root disk's size applies at once, running or not.
	if err := d.applyQuota(ctx, inst, profs); err != nil {
		return nil, err
	}
	if !running {
		spec, err := d.spec(inst, profs)
		if err == nil {
			err = d.lxc.Create(ctx, spec)
		}
		if err != nil {
			return nil, fmt.Errorf("instance %q: change not applied: %w", name, err)
		}
		applied()
		// Stopped: nics that left give their leases back now. A running
		// guest keeps its veths until it stops, and gives them back then.
		_, beforeDevs := expand(before, oldProfs)
		d.releaseLeases(ctx, name, goneNICs(nicsOf(before, beforeDevs), nicsOf(inst, devs)))
		return nil, nil
	}
	if err := d.applyLive(ctx, inst, cfg, devs); err != nil {
		return nil, fmt.Errorf("instance %q: change not applied: %w", name, err)
	}
	applied()
	later := restartRequired(oldCfg, cfg, oldDevs, devs)
	if len(later) > 0 {
		slog.Info("instance config changed; some of it applies at the next start", "instance", name, "keys", later)
	}
	return later, nil
}

// restoreInstance puts back an instance row saved before a change that
// could not be applied, and re-applies what the old row says: quota,
// networks (those of newDevs, the change's devices, too), and the liblxc
// config (stopped) or live limits and forwards (running). Best effort: each
// failure is logged.
func (d *daemon) restoreInstance(old db.Instance, profs []api.Profile, newDevs api.Devices, running bool) {
	ctx := context.Background()
	err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceUpdate(ctx, old) })
	if err != nil {
		slog.Error("revert: restore instance row", "instance", old.Name, "err", err)
		return
	}
	slog.Info("instance change reverted", "instance", old.Name)
	cfg, devs := expand(old, profs)
	d.reloadNetworks(ctx, append(networksOf(old, newDevs), networksOf(old, devs)...)...)
	if err := d.applyQuota(ctx, old, profs); err != nil {
		slog.Error("revert: root disk size", "instance", old.Name, "err", err)
	}
	if running {
		err = d.applyLive(ctx, old, cfg, devs)
	} else {
		var spec instance.Spec
		if spec, err = d.spec(old, profs); err == nil {
			err = d.lxc.Create(ctx, spec)
		}
	}
	if err != nil {
		slog.Error("revert: re-apply the old config", "instance", old.Name, "err", err)
	}
}

// cloneInstance copies an instance row deep enough that editing the copy's
// config, devices or profiles leaves the original alone.
func cloneInstance(inst db.Instance) db.Instance {
	out := inst
	out.Config = maps.Clone(inst.Config)
	out.Devices = make(api.Devices, len(inst.Devices))
	for n, dev := range inst.Devices {
		out.Devices[n] = maps.Clone(dev)
	}
	out.Profiles = slices.Clone(inst.Profiles)
	return out
}

// applyLive gives a running guest what can change without a restart: its
// cgroup limits, port forwards and nic bandwidth limits.
func (d *daemon) applyLive(ctx context.Context, inst db.Instance, cfg map[string]string, devs api.Devices) error {
	limits, err := limitsFrom(cfg, inst, d.lxc.Cgroups())
	if err != nil {
		return err
	}
	if err := d.lxc.SetLimits(ctx, inst.Name, limits); err != nil {
		return err
	}
	// Unchanged forwards keep their process and their connections.
	if err := d.syncProxies(inst.Name, devs, d.cache.get(inst.Name)); err != nil {
		return err
	}
	return applyNICLimits(inst, devs)
}

// instanceRestore answers PUT {"restore": SNAP}.
func (d *daemon) instanceRestore(w http.ResponseWriter, r *http.Request, name, snap string) {
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error { _, err := tx.SnapshotGet(r.Context(), name, snap); return err })
	if err != nil {
		errorResponse(w, err)
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Restoring snapshot", res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error { return d.restoreSnapshot(ctx, op, name, snap) })
	})
	asyncResponse(w, op)
}
