package db

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// openTest opens a fresh database file in a temporary directory.
func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "lxmgr.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// inTx runs fn in a transaction and fails the test on error.
func inTx(t *testing.T, db *DB, fn func(ctx context.Context, tx *Tx) error) {
	t.Helper()
	ctx := t.Context()
	if err := db.Transaction(ctx, func(tx *Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func TestOpenMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lxmgr.db")
	for i := range 3 {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v != len(migrations) {
			t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
		}
		var rows int
		if err := db.sql.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&rows); err != nil || rows != len(migrations) {
			t.Errorf("schema_version rows = %d, %v; want %d", rows, err, len(migrations))
		}
		if i == 0 {
			inTx(t, db, func(ctx context.Context, tx *Tx) error { return tx.InstanceCreate(ctx, &Instance{Name: "keep"}) })
		}
		inTx(t, db, func(ctx context.Context, tx *Tx) error {
			_, err := tx.InstanceGet(ctx, "keep")
			return err
		})
		db.Close()
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
}

func TestOpenPragmas(t *testing.T) {
	db := openTest(t)
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "30000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	}
	for _, tt := range tests {
		var got string
		if err := db.sql.QueryRow("PRAGMA " + tt.pragma).Scan(&got); err != nil || got != tt.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tt.pragma, got, err, tt.want)
		}
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lxmgr.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.sql.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("Open accepted a database from a newer lxmgr")
	}
}

func TestTransactionRollback(t *testing.T) {
	db := openTest(t)
	boom := errors.New("boom")
	err := db.Transaction(t.Context(), func(tx *Tx) error {
		if err := tx.InstanceCreate(t.Context(), &Instance{Name: "a"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Transaction = %v, want boom", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		_ = db.Transaction(t.Context(), func(tx *Tx) error {
			if err := tx.InstanceCreate(t.Context(), &Instance{Name: "b"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		list, err := tx.InstanceList(ctx)
		if len(list) != 0 {
			t.Errorf("rolled back rows are visible: %v", list)
		}
		return err
	})
}

func TestSentinelsMatchAPI(t *testing.T) {
	tests := []struct{ err, api error }{
		{ErrNotFound, api.ErrNotFound},
		{ErrExists, api.ErrConflict},
		{ErrInUse, api.ErrConflict},
		{ErrAmbiguous, api.ErrInvalid},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.api) {
			t.Errorf("%v does not match %v", tt.err, tt.api)
		}
	}
}

func TestServerConfig(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, kv := range [][2]string{{"core.https_address", ":8443"}, {"images.auto_update", "12"}, {"images.auto_update", "6"}, {"core.https_address", ""}} {
			if err := tx.ConfigSet(ctx, kv[0], kv[1]); err != nil {
				return err
			}
		}
		cfg, err := tx.ConfigGet(ctx)
		if len(cfg) != 1 || cfg["images.auto_update"] != "6" {
			t.Errorf("ConfigGet = %v", cfg)
		}
		return err
	})
}

func TestPools(t *testing.T) {
	db := openTest(t)
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		if err := tx.PoolCreate(ctx, "default", "dir", map[string]string{"source": "/var/lib/lxmgr/pool"}); err != nil {
			return err
		}
		if err := tx.PoolCreate(ctx, "default", "dir", nil); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate PoolCreate = %v", err)
		}
		if err := tx.PoolCreate(ctx, "fast", "btrfs", nil); err != nil {
			return err
		}
		p, err := tx.PoolGet(ctx, "default")
		if err != nil || p.Driver != "dir" || p.Config["source"] != "/var/lib/lxmgr/pool" {
			t.Errorf("PoolGet = %+v, %v", p, err)
		}
		if _, err := tx.PoolGet(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("PoolGet missing = %v", err)
		}
		list, err := tx.PoolList(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "default" || list[1].Config == nil {
			t.Errorf("PoolList = %+v, %v", list, err)
		}
		if err := tx.InstanceCreate(ctx, &Instance{Name: "c", Pool: "default"}); err != nil {
			return err
		}
		if err := tx.PoolDelete(ctx, "default"); !errors.Is(err, ErrInUse) {
			t.Errorf("PoolDelete in use = %v", err)
		}
		if err := tx.PoolDelete(ctx, "fast"); err != nil {
			return err
		}
		if err := tx.PoolDelete(ctx, "fast"); !errors.Is(err, ErrNotFound) {
			t.Errorf("PoolDelete missing = %v", err)
		}
		return nil
	})
}
