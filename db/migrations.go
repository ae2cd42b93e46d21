package db

import (
	"context"
	"fmt"
	"time"
)

// migrations are the schema steps in order; step i brings the schema to
// version i+1. Never edit a step that has shipped: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE instances (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	name              TEXT NOT NULL UNIQUE,
	description       TEXT NOT NULL DEFAULT '',
	architecture      TEXT NOT NULL DEFAULT '',
	type              TEXT NOT NULL DEFAULT 'container',
	config            TEXT NOT NULL DEFAULT '{}',
	devices           TEXT NOT NULL DEFAULT '{}',
	profiles          TEXT NOT NULL DEFAULT '[]',
	ephemeral         INTEGER NOT NULL DEFAULT 0,
	pool              TEXT NOT NULL DEFAULT '',
	image_fingerprint TEXT NOT NULL DEFAULT '',
	idmap_base        INTEGER,
	creation_state    TEXT NOT NULL DEFAULT 'creating',
	created_at        INTEGER NOT NULL DEFAULT 0,
	last_used_at      INTEGER NOT NULL DEFAULT 0
);
-- Two instances never share an id range; NULL (privileged) is exempt.
CREATE UNIQUE INDEX instances_idmap_base ON instances (idmap_base) WHERE idmap_base IS NOT NULL AND idmap_base != 0;

CREATE TABLE profiles (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	config      TEXT NOT NULL DEFAULT '{}',
	devices     TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE images (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	fingerprint  TEXT NOT NULL UNIQUE,
	filename     TEXT NOT NULL DEFAULT '',
	size         INTEGER NOT NULL DEFAULT 0,
	architecture TEXT NOT NULL DEFAULT '',
	properties   TEXT NOT NULL DEFAULT '{}',
	created_at   INTEGER NOT NULL DEFAULT 0,
	uploaded_at  INTEGER NOT NULL DEFAULT 0,
	last_used_at INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE image_aliases (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT NOT NULL UNIQUE,
	image_id    INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
	description TEXT NOT NULL DEFAULT ''
);
CREATE INDEX image_aliases_image_id ON image_aliases (image_id);

CREATE TABLE config (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE storage_pools (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	name   TEXT NOT NULL UNIQUE,
	driver TEXT NOT NULL,
	config TEXT NOT NULL DEFAULT '{}'
);
`,
	// 2: managed networks.
	`
CREATE TABLE networks (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	type        TEXT NOT NULL DEFAULT 'bridge',
	config      TEXT NOT NULL DEFAULT '{}'
);
`,
	// 3: snapshots, custom volumes, pool descriptions.
	`
CREATE TABLE snapshots (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	instance_id  INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	architecture TEXT NOT NULL DEFAULT '',
	config       TEXT NOT NULL DEFAULT '{}',
	devices      TEXT NOT NULL DEFAULT '{}',
	profiles     TEXT NOT NULL DEFAULT '[]',
	created_at   INTEGER NOT NULL DEFAULT 0,
	expires_at   INTEGER NOT NULL DEFAULT 0,
	UNIQUE (instance_id, name)
);

CREATE TABLE custom_volumes (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	pool        TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	config      TEXT NOT NULL DEFAULT '{}',
	UNIQUE (pool, name)
);

ALTER TABLE storage_pools ADD COLUMN description TEXT NOT NULL DEFAULT '';
`,
}

// migrate applies the steps not applied yet, each in its own transaction
// together with its schema_version row, so a crash leaves a consistent
// version. A database newer than this binary is refused.
func (db *DB) migrate(ctx context.Context) error {
	_, err := db.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for {
		var current int
		err := db.Transaction(ctx, func(tx *Tx) error {
			if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
				return err
			}
			if current >= len(migrations) {
				return nil
			}
			if _, err := tx.exec(ctx, migrations[current]); err != nil {
				return fmt.Errorf("step %d: %w", current+1, err)
			}
			_, err := tx.exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`, current+1, time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if current > len(migrations) {
			return fmt.Errorf("migrate: database schema version %d is newer than this lxmgr (%d)", current, len(migrations))
		}
		if current == len(migrations) {
			return nil
		}
	}
}

// SchemaVersion returns the schema version of the open database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}
