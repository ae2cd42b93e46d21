package db

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestProfiles(t *testing.T) {
	db := openTest(t)
	def := api.Profile{Name: "default", ProfilePut: api.ProfilePut{
		Description: "Default lxmgr profile",
		Config:      map[string]string{},
		Devices:     api.Devices{"root": {"type": "disk", "path": "/", "pool": "default"}},
	}}
	big := api.Profile{Name: "big", ProfilePut: api.ProfilePut{Config: map[string]string{"limits.cpu": "4"}}}
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, p := range []api.Profile{def, big} {
			if err := tx.ProfileCreate(ctx, p); err != nil {
				return err
			}
		}
		if err := tx.ProfileCreate(ctx, def); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate ProfileCreate = %v", err)
		}
		for _, in := range []Instance{
			{Name: "b", Profiles: []string{"default", "big"}},
			{Name: "a", Profiles: []string{"big", "default"}},
			{Name: "c", Profiles: []string{"default"}},
		} {
			if err := tx.InstanceCreate(ctx, &in); err != nil {
				return err
			}
		}

		got, err := tx.ProfileGet(ctx, "default")
		if err != nil {
			return err
		}
		want := def
		want.UsedBy = []string{"a", "b", "c"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ProfileGet:\n got %+v\nwant %+v", got, want)
		}
		if _, err := tx.ProfileGet(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ProfileGet missing = %v", err)
		}

		before := tx.queries
		list, err := tx.ProfileList(ctx)
		if err != nil {
			return err
		}
		if tx.queries-before != 1 {
			t.Errorf("ProfileList ran %d queries, want 1", tx.queries-before)
		}
		if len(list) != 2 || list[0].Name != "big" || !reflect.DeepEqual(list[0].UsedBy, []string{"a", "b"}) || list[0].Devices == nil {
			t.Errorf("ProfileList = %+v", list)
		}

		users, err := tx.ProfileUsedBy(ctx, "big")
		if err != nil || !reflect.DeepEqual(users, []string{"a", "b"}) {
			t.Errorf("ProfileUsedBy = %v, %v", users, err)
		}

		big.Description, big.Config = "more", map[string]string{"limits.cpu": "8"}
		if err := tx.ProfileUpdate(ctx, big); err != nil {
			return err
		}
		if got, _ := tx.ProfileGet(ctx, "big"); got.Description != "more" || got.Config["limits.cpu"] != "8" {
			t.Errorf("after update: %+v", got)
		}
		if err := tx.ProfileUpdate(ctx, api.Profile{Name: "nope"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("ProfileUpdate missing = %v", err)
		}
		return nil
	})
}

func TestProfileRenameDelete(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, n := range []string{"default", "web", "db"} {
			if err := tx.ProfileCreate(ctx, api.Profile{Name: n}); err != nil {
				return err
			}
		}
		in := Instance{Name: "c1", Profiles: []string{"default", "web", "db"}}
		if err := tx.InstanceCreate(ctx, &in); err != nil {
			return err
		}
		tests := []struct {
			name string
			err  error
			want error
		}{
			{"rename onto existing", tx.ProfileRename(ctx, "web", "db"), ErrExists},
			{"rename missing", tx.ProfileRename(ctx, "nope", "x"), ErrNotFound},
			{"delete in use", tx.ProfileDelete(ctx, "web"), ErrInUse},
			{"delete missing", tx.ProfileDelete(ctx, "nope"), ErrNotFound},
		}
		for _, tt := range tests {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("%s = %v, want %v", tt.name, tt.err, tt.want)
			}
		}
		if err := tx.ProfileRename(ctx, "web", "www"); err != nil {
			return err
		}
		got, err := tx.InstanceGet(ctx, "c1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got.Profiles, []string{"default", "www", "db"}) {
			t.Errorf("instance profiles after rename = %v (order must be kept)", got.Profiles)
		}
		in.ID, in.Profiles = got.ID, []string{"default"}
		if err := tx.InstanceUpdate(ctx, in); err != nil {
			return err
		}
		if err := tx.ProfileDelete(ctx, "www"); err != nil {
			t.Errorf("delete unused profile: %v", err)
		}
		return nil
	})
}
