package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/profiles"
)

// runSnapshotSchedules takes the scheduled snapshots (snapshots.schedule)
// and removes expired ones, once a minute on the minute, until ctx ends.
func (d *daemon) runSnapshotSchedules(ctx context.Context) {
	for {
		now := time.Now()
		next := now.Truncate(time.Minute).Add(time.Minute)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		d.snapshotTick(ctx, next)
	}
}

// snapshotTick does one minute's work: due snapshots, then expiry.
func (d *daemon) snapshotTick(ctx context.Context, now time.Time) {
	insts, err := d.instanceList(ctx)
	if err != nil {
		slog.Error("snapshot schedule", "err", err)
		return
	}
	for _, ie := range insts {
		v := ie.cfg["snapshots.schedule"]
		if v == "" || ie.inst.CreationState != "created" {
			continue
		}
		sch, err := profiles.ParseSchedule(v)
		if err != nil || !sch.Match(now) {
			continue
		}
		name := ie.inst.Name
		err = d.withLock(ctx, name, func() error {
			snap, err := d.freeSnapshotName(ctx, name)
			if err != nil {
				return err
			}
			return d.createSnapshot(ctx, name, snap)
		})
		if err != nil {
			slog.Error("scheduled snapshot failed", "instance", name, "err", err)
		}
	}
	var expired []db.Snapshot
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		expired, err = tx.SnapshotsExpired(ctx, now)
		return err
	})
	if err != nil {
		slog.Error("snapshot expiry", "err", err)
		return
	}
	for _, s := range expired {
		err := d.withLock(ctx, s.Instance, func() error { return d.deleteSnapshot(ctx, s.Instance, s.Name) })
		if err != nil {
			slog.Error("expired snapshot could not be deleted", "instance", s.Instance, "snapshot", s.Name, "err", err)
			continue
		}
		slog.Info("expired snapshot deleted", "instance", s.Instance, "snapshot", s.Name)
	}
}

// freeSnapshotName returns the first unused snapN of an instance.
func (d *daemon) freeSnapshotName(ctx context.Context, name string) (string, error) {
	var snaps []db.Snapshot
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		snaps, err = tx.SnapshotList(ctx, name)
		return err
	})
	if err != nil {
		return "", err
	}
	used := map[string]bool{}
	for _, s := range snaps {
		used[s.Name] = true
	}
	for i := 0; ; i++ {
		if n := fmt.Sprintf("snap%d", i); !used[n] {
			return n, nil
		}
	}
}
