package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/revert"
)

// copySource is a validated copy request: what to copy and the new row.
type copySource struct {
	name, snap string
	inst       db.Instance // the new instance's row
}

// validateCopy checks a copy request ("source": {"type": "copy", "source":
// "web1" or "web1/snap0"}) and builds the new row: the source's config,
// devices and profiles (unless given), without its MACs and id range, on
// the same pool.
func (d *daemon) validateCopy(ctx context.Context, req *api.InstancesPost) (*copySource, error) {
	if err := api.ValidateName("instance", req.Name); err != nil {
		return nil, err
	}
	src, snap, _ := strings.Cut(req.Source.Source, "/")
	if err := api.ValidateName("instance", src); err != nil {
		return nil, fmt.Errorf("copy source: %w", err)
	}
	if snap != "" {
		if err := api.ValidateName("snapshot", snap); err != nil {
			return nil, fmt.Errorf("copy source: %w", err)
		}
	}
	if err := profiles.ValidateUserConfig(req.Config); err != nil {
		return nil, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	cs := &copySource{name: src, snap: snap}
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		if _, err := tx.InstanceGet(ctx, req.Name); err == nil {
			return fmt.Errorf("%w: instance %q already exists", api.ErrConflict, req.Name)
		}
		from, err := tx.InstanceGet(ctx, src)
		if err != nil {
			return err
		}
		cfg, devs, profs := from.Config, from.Devices, from.Profiles
		if snap != "" {
			s, err := tx.SnapshotGet(ctx, src, snap)
			if err != nil {
				return err
			}
			cfg, devs, profs = s.Config, s.Devices, s.Profiles
		}
		newCfg := map[string]string{}
		for k, v := range cfg {
			if !strings.HasPrefix(k, "volatile.") || k == "volatile.base_image" {
				newCfg[k] = v
			}
		}
		maps.Copy(newCfg, req.Config)
		if req.Profiles != nil {
			profs = req.Profiles
		}
		cs.inst = db.Instance{Name: req.Name, Description: req.Description, Type: "container", Architecture: from.Architecture,
			Config: newCfg, Devices: maps.Clone(orEmptyDevs(devs)), Profiles: slices.Clone(profs), Ephemeral: from.Ephemeral,
			Pool: from.Pool, ImageFingerprint: from.ImageFingerprint, CreationState: "creating", CreatedAt: time.Now().UTC()}
		maps.Copy(cs.inst.Devices, req.Devices)
		if err := profiles.ValidateDevices(cs.inst.Devices); err != nil {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		ps, err := profilesFor(ctx, tx, cs.inst.Profiles)
		if err != nil {
			return err
		}
		ecfg, edevs := expand(cs.inst, ps)
		if err := d.checkExpanded(ctx, tx, cs.inst, ecfg, edevs); err != nil {
			return err
		}
		if pool, _ := rootPool(edevs); pool != from.Pool {
			return fmt.Errorf("%w: copies stay on the source's pool %q (asked for %q)", api.ErrInvalid, from.Pool, pool)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// copyInstance makes the new instance's volume from the source (CoW on
// btrfs, a full copy on dir) and writes its liblxc config. On failure the
// name is free again and nothing is left on the pool.
func (d *daemon) copyInstance(ctx context.Context, op *operation, inst db.Instance, cs *copySource) error {
	rev := revert.New()
	defer rev.Fail()
	rev.Add(func() { d.deleteRow(inst.Name) })
	unlock, err := d.locks.lock(ctx, "instance/"+inst.Name)
	if err != nil {
		return err
	}
	defer unlock()
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	op.progress("copying root filesystem")
	if cs.snap != "" {
		err = pool.CopyFromSnapshot(ctx, cs.name, cs.snap, inst.Name)
	} else {
		err = pool.CopyVolume(ctx, cs.name, inst.Name)
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", strings.TrimSuffix(cs.name+"/"+cs.snap, "/"), err)
	}
	rev.Add(func() {
		if err := pool.DeleteVolume(context.Background(), inst.Name); err != nil && !errors.Is(err, context.Canceled) {
			slog.Error("revert: delete volume", "instance", inst.Name, "err", err)
		}
	})
	profs, err := d.profilesOf(ctx, inst.Profiles)
	if err != nil {
		return err
	}
	if err := d.applyQuota(ctx, inst, profs); err != nil {
		return err
	}
	if err := d.finishCreate(ctx, rev, inst, profs); err != nil {
		return err
	}
	slog.Info("instance copied", "instance", inst.Name, "from", cs.name, "snapshot", cs.snap)
	return nil
}

// applyQuota sets the root volume's quota from the root disk's "size"
// (removing it when unset). A pool without quota support refuses a size.
func (d *daemon) applyQuota(ctx context.Context, inst db.Instance, profs []api.Profile) error {
	_, devs := expand(inst, profs)
	_, root, ok := profiles.RootDisk(devs)
	if !ok {
		return nil
	}
	var size int64
	if v := root["size"]; v != "" {
		var err error
		if size, err = profiles.ParseBytes(v); err != nil {
			return fmt.Errorf("%w: root disk size: %w", api.ErrInvalid, err)
		}
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	if size == 0 && !pool.Capabilities().Quotas {
		return nil
	}
	if err := pool.SetQuota(ctx, inst.Name, size); err != nil {
		return fmt.Errorf("root disk size of %q: %w", inst.Name, err)
	}
	return nil
}

// checkQuotaSupport refuses a root disk size on a pool that cannot enforce
// it, before anything is written: a size is never silently ignored.
func (d *daemon) checkQuotaSupport(devs api.Devices) error {
	_, root, ok := profiles.RootDisk(devs)
	if !ok || root["size"] == "" {
		return nil
	}
	pool, err := d.pool(root["pool"])
	if err != nil {
		return err
	}
	if !pool.Capabilities().Quotas {
		return fmt.Errorf("%w: root disk size: quotas are not supported by storage pool %q (driver %s)", api.ErrInvalid, pool.Name(), pool.Driver())
	}
	return nil
}
