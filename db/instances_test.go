package db

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

func TestInstanceRoundtrip(t *testing.T) {
	db := openTest(t)
	now := time.Now().UTC().Round(0)
	in := Instance{
		Name: "web1", Description: "a site", Architecture: "x86_64",
		Config:           map[string]string{"limits.memory": "256MiB", "user.note": "ünïcode \"quoted\""},
		Devices:          api.Devices{"root": {"type": "disk", "path": "/", "pool": "default"}},
		Profiles:         []string{"zeta", "default", "alpha"},
		Ephemeral:        true,
		Pool:             "default",
		ImageFingerprint: "abc",
		IdmapBase:        100000,
		CreatedAt:        now,
		LastUsedAt:       now.Add(time.Minute),
	}
	inTx(t, db, func(ctx context.Context, tx *Tx) error { return tx.InstanceCreate(ctx, &in) })
	if in.ID == 0 || in.Type != "container" || in.CreationState != StateCreating {
		t.Fatalf("InstanceCreate did not fill defaults: %+v", in)
	}
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		got, err := tx.InstanceGet(ctx, "web1")
		if err != nil {
			return err
		}
		if !got.CreatedAt.Equal(in.CreatedAt) || !got.LastUsedAt.Equal(in.LastUsedAt) {
			t.Errorf("times %v %v, want %v %v", got.CreatedAt, got.LastUsedAt, in.CreatedAt, in.LastUsedAt)
		}
		got.CreatedAt, got.LastUsedAt = in.CreatedAt, in.LastUsedAt
		if !reflect.DeepEqual(got, in) {
			t.Errorf("roundtrip:\n got %+v\nwant %+v", got, in)
		}
		return nil
	})

	// Update the mutable fields; the others must stay.
	upd := in
	upd.Description, upd.Architecture, upd.Ephemeral = "changed", "aarch64", false
	upd.Config = nil
	upd.Devices = api.Devices{}
	upd.Profiles = []string{"default"}
	upd.CreationState = StateCreated
	upd.LastUsedAt = time.Time{}
	upd.Pool, upd.IdmapBase, upd.ImageFingerprint = "other", 5, "zzz"
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		if err := tx.InstanceUpdate(ctx, upd); err != nil {
			return err
		}
		got, err := tx.InstanceGet(ctx, "web1")
		if err != nil {
			return err
		}
		want := upd
		want.Config = map[string]string{}
		want.Pool, want.IdmapBase, want.ImageFingerprint = in.Pool, in.IdmapBase, in.ImageFingerprint
		got.CreatedAt = want.CreatedAt
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after update:\n got %+v\nwant %+v", got, want)
		}
		if err := tx.InstanceUpdate(ctx, Instance{ID: 9999}); !errors.Is(err, ErrNotFound) {
			t.Errorf("update missing = %v", err)
		}
		return nil
	})
}

func TestInstanceNilMaps(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		if err := tx.InstanceCreate(ctx, &Instance{Name: "bare"}); err != nil {
			return err
		}
		got, err := tx.InstanceGet(ctx, "bare")
		if got.Config == nil || got.Devices == nil || got.Profiles == nil {
			t.Errorf("nil collections came back: %+v", got)
		}
		return err
	})
}

func TestInstanceErrors(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, n := range []string{"a", "b"} {
			if err := tx.InstanceCreate(ctx, &Instance{Name: n}); err != nil {
				return err
			}
		}
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"duplicate create", tx.InstanceCreate(ctx, &Instance{Name: "a"}), ErrExists},
			{"get missing", func() error { _, err := tx.InstanceGet(ctx, "zz"); return err }(), ErrNotFound},
			{"rename onto existing", tx.InstanceRename(ctx, "a", "b"), ErrExists},
			{"rename missing", tx.InstanceRename(ctx, "zz", "c"), ErrNotFound},
			{"delete missing", tx.InstanceDelete(ctx, "zz"), ErrNotFound},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("%s = %v, want %v", tt.name, tt.err, tt.want)
			}
		}
		return nil
	})
}

func TestInstanceRenameDelete(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		in := Instance{Name: "old", Config: map[string]string{"user.k": "v"}}
		if err := tx.InstanceCreate(ctx, &in); err != nil {
			return err
		}
		if err := tx.InstanceRename(ctx, "old", "new"); err != nil {
			return err
		}
		if _, err := tx.InstanceGet(ctx, "old"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old name still resolves: %v", err)
		}
		got, err := tx.InstanceGet(ctx, "new")
		if err != nil || got.ID != in.ID || got.Config["user.k"] != "v" {
			t.Errorf("renamed instance = %+v, %v", got, err)
		}
		if err := tx.InstanceDelete(ctx, "new"); err != nil {
			return err
		}
		// The name is reusable at once.
		return tx.InstanceCreate(ctx, &Instance{Name: "new"})
	})
}

func TestInstanceConcurrentCreate(t *testing.T) {
	db := openTest(t)
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = db.Transaction(t.Context(), func(tx *Tx) error {
				return tx.InstanceCreate(t.Context(), &Instance{Name: "same", Description: fmt.Sprint(i)})
			})
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrExists):
		default:
			t.Errorf("unexpected error (want nil or ErrExists): %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d creators succeeded, want exactly 1", ok)
	}
}

func TestIdmapUnique(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, in := range []Instance{{Name: "a", IdmapBase: 165536}, {Name: "b", IdmapBase: 100000}, {Name: "p1"}, {Name: "p2"}} {
			if err := tx.InstanceCreate(ctx, &in); err != nil {
				t.Errorf("create %s: %v", in.Name, err)
			}
		}
		err := tx.InstanceCreate(ctx, &Instance{Name: "c", IdmapBase: 100000})
		if !errors.Is(err, ErrExists) {
			t.Errorf("shared idmap base = %v, want ErrExists", err)
		}
		bases, err := tx.IdmapBasesInUse(ctx)
		if err != nil || !reflect.DeepEqual(bases, []int64{100000, 165536}) {
			t.Errorf("IdmapBasesInUse = %v, %v", bases, err)
		}
		return nil
	})
}

func TestInstanceListOneQueryFast(t *testing.T) {
	db := openTest(t)
	const n = 1000
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for i := range n {
			in := Instance{
				Name:     fmt.Sprintf("c%04d", n-1-i), // inserted in reverse to test ordering
				Config:   map[string]string{"limits.memory": "128MiB", "limits.cpu": "1", "volatile.idmap.base": fmt.Sprint(100000 + i*65536)},
				Devices:  api.Devices{"root": {"type": "disk", "path": "/", "pool": "default"}},
				Profiles: []string{"default"},
				Pool:     "default", IdmapBase: int64(100000 + i*65536),
			}
			if err := tx.InstanceCreate(ctx, &in); err != nil {
				return err
			}
		}
		return nil
	})
	best := time.Hour
	for range 3 {
		inTx(t, db, func(ctx context.Context, tx *Tx) error {
			before := tx.queries
			start := time.Now()
			list, err := tx.InstanceList(ctx)
			best = min(best, time.Since(start))
			if err != nil {
				return err
			}
			if q := tx.queries - before; q != 1 {
				t.Errorf("InstanceList ran %d queries, want 1", q)
			}
			if len(list) != n || list[0].Name != "c0000" || list[n-1].Name != "c0999" || list[5].Devices["root"]["pool"] != "default" {
				t.Errorf("bad list: %d rows, first %q", len(list), list[0].Name)
			}
			return nil
		})
	}
	t.Logf("InstanceList of %d rows: %v", n, best)
	// ~15 ms on the 2-CPU VM when quiet; the bound only catches a
	// per-row cost gone wrong, not a busy machine.
	if best > 250*time.Millisecond && !raceEnabled {
		t.Errorf("InstanceList of %d rows took %v, want < 250ms", n, best)
	}
}
