package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/revert"
)

func snapshotToAPI(s db.Snapshot, size int64) api.InstanceSnapshot {
	return api.InstanceSnapshot{Name: s.Name, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt, Config: s.Config,
		Devices: s.Devices, Profiles: s.Profiles, Architecture: s.Architecture, Size: size}
}

func (d *daemon) snapshotsGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	if _, _, err := d.loadInstance(ctx, name); err != nil {
		errorResponse(w, err)
		return
	}
	var snaps []db.Snapshot
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		snaps, err = tx.SnapshotList(ctx, name)
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(snaps))
		for _, s := range snaps {
			urls = append(urls, "/1.0/instances/"+name+"/snapshots/"+s.Name)
		}
		syncResponse(w, urls)
		return
	}
	out := make([]api.InstanceSnapshot, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, snapshotToAPI(s, 0))
	}
	syncResponse(w, out)
}

func (d *daemon) snapshotGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var s db.Snapshot
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		s, err = tx.SnapshotGet(ctx, r.PathValue("name"), r.PathValue("snap"))
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponse(w, snapshotToAPI(s, 0))
}

// snapshotsPost takes a snapshot: the root volume (read-only on btrfs) and
// the instance's own config, devices and profiles of this moment.
func (d *daemon) snapshotsPost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.InstanceSnapshotsPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if req.Stateful {
		errorResponse(w, fmt.Errorf("%w: stateful snapshots are not supported", api.ErrInvalid))
		return
	}
	if err := api.ValidateName("snapshot", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	if _, _, err := d.loadInstance(r.Context(), name); err != nil {
		errorResponse(w, err)
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Snapshotting instance", res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error { return d.createSnapshot(ctx, name, req.Name) })
	})
	asyncResponse(w, op)
}

func (d *daemon) createSnapshot(ctx context.Context, name, snap string) error {
	inst, profs, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	cfg, _ := expand(inst, profs)
	var expires time.Time
	if v := cfg["snapshots.expiry"]; v != "" {
		ttl, err := profiles.ParseExpiry(v)
		if err != nil {
			return fmt.Errorf("%w: snapshots.expiry: %w", api.ErrInvalid, err)
		}
		expires = time.Now().UTC().Add(ttl)
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	rev := revert.New()
	defer rev.Fail()
	s := db.Snapshot{Instance: name, Name: snap, Architecture: inst.Architecture, Config: inst.Config,
		Devices: inst.Devices, Profiles: inst.Profiles, CreatedAt: time.Now().UTC(), ExpiresAt: expires}
	// The row first: a duplicate name fails before any data is copied.
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.SnapshotCreate(ctx, s) }); err != nil {
		return err
	}
	rev.Add(func() {
		d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.SnapshotDelete(context.Background(), name, snap) })
	})
	if err := pool.CreateSnapshot(ctx, name, snap); err != nil {
		return fmt.Errorf("snapshot %s/%s: %w", name, snap, err)
	}
	rev.Success()
	slog.Info("snapshot taken", "instance", name, "snapshot", snap, "pool", inst.Pool)
	return nil
}

func (d *daemon) snapshotDelete(w http.ResponseWriter, r *http.Request) {
	name, snap := r.PathValue("name"), r.PathValue("snap")
	if err := d.db.Transaction(r.Context(), func(tx *db.Tx) error { _, err := tx.SnapshotGet(r.Context(), name, snap); return err }); err != nil {
		errorResponse(w, err)
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Deleting snapshot", res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error { return d.deleteSnapshot(ctx, name, snap) })
	})
	asyncResponse(w, op)
}

// deleteSnapshot removes a snapshot's data, then its row. Caller holds the
// instance lock.
func (d *daemon) deleteSnapshot(ctx context.Context, name, snap string) error {
	inst, _, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	if err := pool.DeleteSnapshot(ctx, name, snap); err != nil {
		return fmt.Errorf("delete snapshot %s/%s: %w", name, snap, err)
	}
	return d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.SnapshotDelete(ctx, name, snap) })
}

// restoreSnapshot brings back the files and the instance's own config of a
// snapshot. A running guest is stopped first and started again after.
// MACs and the idmap stay the instance's current ones (they are identity,
// not state), so DHCP and file ownership keep working.
func (d *daemon) restoreSnapshot(ctx context.Context, op *operation, name, snap string) error {
	inst, profs, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	var s db.Snapshot
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		s, err = tx.SnapshotGet(ctx, name, snap)
		return err
	}); err != nil {
		return err
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	wasRunning := d.cache.refresh(name).Status != instance.StatusStopped
	if wasRunning {
		if err := d.stopInstance(ctx, name, defaultStopTimeout, false); err != nil {
			return err
		}
	}
	if err := pool.RestoreSnapshot(ctx, name, snap); err != nil {
		return fmt.Errorf("restore %s/%s: %w", name, snap, err)
	}
	cfg := maps.Clone(s.Config)
	for k, v := range inst.Config {
		if strings.HasPrefix(k, "volatile.") {
			cfg[k] = v
		}
	}
	inst.Config, inst.Devices, inst.Profiles = cfg, s.Devices, slices.Clone(s.Profiles)
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		if profs, err = profilesFor(ctx, tx, inst.Profiles); err != nil {
			return err
		}
		_, devs := expand(inst, profs)
		// Leases are not asked: the snapshot's files are already back,
		// and its reservations were checked when they were made.
		if err := prepareNICs(ctx, tx, &inst, devs, nil); err != nil {
			return err
		}
		return tx.InstanceUpdate(ctx, inst)
	})
	if err != nil {
		return err
	}
	spec, err := d.spec(inst, profs)
	if err != nil {
		return err
	}
	_, devs := expand(inst, profs)
	// The guest is stopped: nics the snapshot does not have give their
	// leases back before the config they ran with is rewritten.
	d.releaseDropped(ctx, inst, devs)
	if err := d.lxc.Create(ctx, spec); err != nil {
		return err
	}
	d.reloadNetworks(ctx, networksOf(inst, devs)...)
	slog.Info("snapshot restored", "instance", name, "snapshot", snap)
	if wasRunning {
		return d.startInstance(ctx, op, name, false)
	}
	return nil
}
