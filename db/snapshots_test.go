package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

func TestSnapshotsAndVolumes(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	err := d.Transaction(ctx, func(tx *Tx) error {
		inst := Instance{Name: "web1", Type: "container", Config: map[string]string{"user.a": "1"}, Devices: api.Devices{}, Profiles: []string{"default"}, CreationState: "created"}
		if err := tx.InstanceCreate(ctx, &inst); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i, name := range []string{"snap0", "snap1"} {
			s := Snapshot{Instance: "web1", Name: name, Config: map[string]string{"user.a": name}, Profiles: []string{"default"}, CreatedAt: now.Add(time.Duration(i) * time.Second)}
			if err := tx.SnapshotCreate(ctx, s); err != nil {
				return err
			}
		}
		if err := tx.SnapshotCreate(ctx, Snapshot{Instance: "web1", Name: "old", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			return err
		}
		if exp, err := tx.SnapshotsExpired(ctx, now.Add(2*time.Minute)); err != nil || len(exp) != 1 || exp[0].Name != "old" {
			t.Errorf("expired: %+v %v", exp, err)
		}
		if exp, _ := tx.SnapshotsExpired(ctx, now); len(exp) != 0 {
			t.Errorf("not yet expired: %+v", exp)
		}
		if err := tx.SnapshotDelete(ctx, "web1", "old"); err != nil {
			return err
		}
		if err := tx.SnapshotCreate(ctx, Snapshot{Instance: "web1", Name: "snap0"}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate snapshot: %v", err)
		}
		if err := tx.SnapshotCreate(ctx, Snapshot{Instance: "nope", Name: "s"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("snapshot of a missing instance: %v", err)
		}
		list, err := tx.SnapshotList(ctx, "web1")
		if err != nil || len(list) != 2 || list[0].Name != "snap0" || list[1].Config["user.a"] != "snap1" {
			t.Errorf("list: %+v %v", list, err)
		}
		// Snapshots follow a rename and go with the instance.
		if err := tx.InstanceRename(ctx, "web1", "web2"); err != nil {
			return err
		}
		if _, err := tx.SnapshotGet(ctx, "web2", "snap1"); err != nil {
			t.Errorf("snapshot after rename: %v", err)
		}
		if err := tx.SnapshotDelete(ctx, "web2", "snap0"); err != nil {
			return err
		}
		if err := tx.InstanceDelete(ctx, "web2"); err != nil {
			return err
		}
		if list, _ := tx.SnapshotList(ctx, "web2"); len(list) != 0 {
			t.Errorf("snapshots outlived their instance: %v", list)
		}
		if err := tx.VolumeCreate(ctx, CustomVolume{Pool: "default", Name: "v1", Config: map[string]string{"size": "1GiB"}}); err != nil {
			return err
		}
		if err := tx.VolumeCreate(ctx, CustomVolume{Pool: "default", Name: "v1"}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate volume: %v", err)
		}
		vols, err := tx.VolumeList(ctx, "default")
		if err != nil || len(vols) != 1 || vols[0].Config["size"] != "1GiB" {
			t.Errorf("volumes: %+v %v", vols, err)
		}
		return tx.VolumeDelete(ctx, "default", "v1")
	})
	if err != nil {
		t.Fatal(err)
	}
}
