package main

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
)

// TestInsertInstanceRechecksPrivileged: the insert judges the profiles as
// they are at insert time, so a profile made privileged after validation
// cannot slip a privileged guest past instances.privileged=deny, and the
// row gets an id range exactly when it is unprivileged.
func TestInsertInstanceRechecksPrivileged(t *testing.T) {
	ctx := context.Background()
	store, err := db.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	d := &daemon{db: store, ids: idRange{uidStart: 1000000, gidStart: 1000000, size: 10 * idsPerGuest}}
	tx := func(fn func(tx *db.Tx) error) error { return store.Transaction(ctx, fn) }
	setProfile := func(privileged string) {
		t.Helper()
		err := tx(func(tx *db.Tx) error {
			return tx.ProfileUpdate(ctx, api.Profile{Name: "p", ProfilePut: api.ProfilePut{Config: map[string]string{"security.privileged": privileged}, Devices: api.Devices{}}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx(func(tx *db.Tx) error {
		return tx.ProfileCreate(ctx, api.Profile{Name: "p", ProfilePut: api.ProfilePut{Config: map[string]string{}, Devices: api.Devices{}}})
	}); err != nil {
		t.Fatal(err)
	}
	row := func(name string) db.Instance {
		return db.Instance{Name: name, Type: "container", Config: map[string]string{}, Devices: api.Devices{}, Profiles: []string{"p"}, CreationState: "creating"}
	}
	insert := func(inst *db.Instance) (string, error) {
		var policy string
		err := tx(func(tx *db.Tx) error {
			var err error
			policy, err = d.insertInstance(ctx, tx, inst, false)
			return err
		})
		return policy, err
	}
	// Validated while "p" was unprivileged; "p" changed before the insert.
	if err := tx(func(tx *db.Tx) error { return tx.ConfigSet(ctx, "instances.privileged", "deny") }); err != nil {
		t.Fatal(err)
	}
	setProfile("true")
	a := row("a")
	if _, err := insert(&a); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("insert under deny with a privileged profile: err = %v, want forbidden", err)
	}
	if err := tx(func(tx *db.Tx) error { _, err := tx.InstanceGet(ctx, "a"); return err }); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a refused insert left a row: %v", err)
	}
	// Under the default (warn) it is inserted privileged: no id range.
	if err := tx(func(tx *db.Tx) error { return tx.ConfigSet(ctx, "instances.privileged", "") }); err != nil {
		t.Fatal(err)
	}
	if policy, err := insert(&a); err != nil || policy != "warn" || a.IdmapBase != 0 {
		t.Fatalf("insert under warn: policy %q, idmap %d, err %v; want warn, 0, nil", policy, a.IdmapBase, err)
	}
	// Made unprivileged again: the next row gets an id range.
	setProfile("")
	b := row("b")
	if _, err := insert(&b); err != nil || b.IdmapBase != 1000000 {
		t.Fatalf("unprivileged insert: idmap %d, err %v", b.IdmapBase, err)
	}
}
