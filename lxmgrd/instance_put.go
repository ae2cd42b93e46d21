package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
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
	var inst db.Instance
	var profs []api.Profile
	var oldCfg map[string]string
	var oldDevs api.Devices
	running := d.cache.refresh(name).Status != instance.StatusStopped
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		if inst, err = tx.InstanceGet(ctx, name); err != nil {
			return err
		}
		oldProfs, err := profilesFor(ctx, tx, inst.Profiles)
		if err != nil {
			return err
		}
		oldCfg, oldDevs = expand(inst, oldProfs)
		if err := checkETag(r, instanceETag(inst)); err != nil {
			return fmt.Errorf("%w: instance %q changed since it was read", err, name)
		}
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
	cfg, devs := expand(inst, profs)
	d.reloadNetworks(ctx, append(networksOf(inst, oldDevs), networksOf(inst, devs)...)...)
	// The root disk's size applies at once, running or not.
	if err := d.applyQuota(ctx, inst, profs); err != nil {
		return nil, err
	}
	if !running {
		spec, err := d.spec(inst, profs)
		if err != nil {
			return nil, err
		}
		return nil, d.lxc.Create(ctx, spec)
	}
	if err := d.applyLive(ctx, inst, cfg, oldDevs, devs); err != nil {
		return nil, err
	}
	later := restartRequired(oldCfg, cfg, oldDevs, devs)
	if len(later) > 0 {
		slog.Info("instance config changed; some of it applies at the next start", "instance", name, "keys", later)
	}
	return later, nil
}

// applyLive gives a running guest what can change without a restart: its
// cgroup limits, port forwards and nic bandwidth limits.
func (d *daemon) applyLive(ctx context.Context, inst db.Instance, cfg map[string]string, oldDevs, devs api.Devices) error {
	limits, err := limitsFrom(cfg, inst)
	if err != nil {
		return err
	}
	if err := d.lxc.SetLimits(ctx, inst.Name, limits); err != nil {
		return err
	}
	d.stopProxies(inst.Name, oldDevs)
	if err := d.startProxies(inst.Name, devs); err != nil {
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
