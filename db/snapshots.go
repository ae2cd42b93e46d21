package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// Snapshot is an instance snapshot's row: the instance's own config,
// devices and profiles at the moment it was taken (restore brings them back).
type Snapshot struct {
	ID           int64
	Instance     string
	Name         string
	Description  string
	Architecture string
	Config       map[string]string
	Devices      api.Devices
	Profiles     []string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

const snapshotColumns = `s.id, i.name, s.name, s.description, s.architecture, s.config, s.devices, s.profiles, s.created_at, s.expires_at`

func scanSnapshot(row interface{ Scan(...any) error }) (Snapshot, error) {
	var s Snapshot
	var config, devices, profiles string
	var created, expires int64
	if err := row.Scan(&s.ID, &s.Instance, &s.Name, &s.Description, &s.Architecture, &config, &devices, &profiles, &created, &expires); err != nil {
		return Snapshot{}, err
	}
	s.Config, s.Devices, s.Profiles = map[string]string{}, api.Devices{}, []string{}
	if err := errors.Join(fromJSON(config, &s.Config, "config"), fromJSON(devices, &s.Devices, "devices"), fromJSON(profiles, &s.Profiles, "profiles")); err != nil {
		return Snapshot{}, fmt.Errorf("snapshot %s/%s: %w", s.Instance, s.Name, err)
	}
	s.CreatedAt, s.ExpiresAt = fromTime(created), fromTime(expires)
	return s, nil
}

// SnapshotCreate inserts a snapshot of an existing instance; ErrExists if
// the instance already has one of that name.
func (tx *Tx) SnapshotCreate(ctx context.Context, s Snapshot) error {
	config, err1 := toJSON(s.Config, "{}")
	devices, err2 := toJSON(s.Devices, "{}")
	profiles, err3 := toJSON(s.Profiles, "[]")
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("create snapshot %s/%s: %w", s.Instance, s.Name, err)
	}
	res, err := tx.exec(ctx, `INSERT INTO snapshots (instance_id, name, description, architecture, config, devices, profiles, created_at, expires_at)
		SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM instances WHERE name = ?`,
		s.Name, s.Description, s.Architecture, config, devices, profiles, toTime(s.CreatedAt), toTime(s.ExpiresAt), s.Instance)
	if isUnique(err) {
		return fmt.Errorf("snapshot %s/%s: %w", s.Instance, s.Name, ErrExists)
	}
	return affectedOne(res, err, fmt.Sprintf("create snapshot %s/%s (instance)", s.Instance, s.Name))
}

// SnapshotGet returns one snapshot; ErrNotFound if missing.
func (tx *Tx) SnapshotGet(ctx context.Context, instance, name string) (Snapshot, error) {
	s, err := scanSnapshot(tx.queryRow(ctx, `SELECT `+snapshotColumns+` FROM snapshots s JOIN instances i ON i.id = s.instance_id
		WHERE i.name = ? AND s.name = ?`, instance, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Snapshot{}, fmt.Errorf("snapshot %s/%s: %w", instance, name, ErrNotFound)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("get snapshot %s/%s: %w", instance, name, err)
	}
	return s, nil
}

// SnapshotList returns an instance's snapshots, oldest first.
func (tx *Tx) SnapshotList(ctx context.Context, instance string) ([]Snapshot, error) {
	rows, err := tx.query(ctx, `SELECT `+snapshotColumns+` FROM snapshots s JOIN instances i ON i.id = s.instance_id
		WHERE i.name = ? ORDER BY s.created_at, s.id`, instance)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %q: %w", instance, err)
	}
	defer rows.Close()
	out := []Snapshot{}
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// SnapshotDelete removes one snapshot's row; ErrNotFound if missing.
func (tx *Tx) SnapshotDelete(ctx context.Context, instance, name string) error {
	res, err := tx.exec(ctx, `DELETE FROM snapshots WHERE name = ? AND instance_id = (SELECT id FROM instances WHERE name = ?)`, name, instance)
	return affectedOne(res, err, fmt.Sprintf("delete snapshot %s/%s", instance, name))
}

// CustomVolume is a custom storage volume's row.
type CustomVolume struct {
	Pool, Name, Description string
	Config                  map[string]string
}

// VolumeCreate records a custom volume; ErrExists if the pool has one of
// that name.
func (tx *Tx) VolumeCreate(ctx context.Context, v CustomVolume) error {
	config, err := toJSON(v.Config, "{}")
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO custom_volumes (pool, name, description, config) VALUES (?, ?, ?, ?)`, v.Pool, v.Name, v.Description, config)
	if isUnique(err) {
		return fmt.Errorf("storage volume %s/%s: %w", v.Pool, v.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create storage volume %s/%s: %w", v.Pool, v.Name, err)
	}
	return nil
}

// VolumeList returns the custom volumes of a pool ("" = all pools).
func (tx *Tx) VolumeList(ctx context.Context, pool string) ([]CustomVolume, error) {
	rows, err := tx.query(ctx, `SELECT pool, name, description, config FROM custom_volumes WHERE ? = '' OR pool = ? ORDER BY pool, name`, pool, pool)
	if err != nil {
		return nil, fmt.Errorf("list storage volumes: %w", err)
	}
	defer rows.Close()
	out := []CustomVolume{}
	for rows.Next() {
		var v CustomVolume
		var config string
		if err := rows.Scan(&v.Pool, &v.Name, &v.Description, &config); err != nil {
			return nil, err
		}
		v.Config = map[string]string{}
		if err := fromJSON(config, &v.Config, "config"); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// VolumeDelete removes a custom volume's row; ErrNotFound if missing.
func (tx *Tx) VolumeDelete(ctx context.Context, pool, name string) error {
	res, err := tx.exec(ctx, `DELETE FROM custom_volumes WHERE pool = ? AND name = ?`, pool, name)
	return affectedOne(res, err, fmt.Sprintf("delete storage volume %s/%s", pool, name))
}

// PoolUpdate stores a pool's config and description.
func (tx *Tx) PoolUpdate(ctx context.Context, p Pool) error {
	config, err := toJSON(p.Config, "{}")
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE storage_pools SET config = ?, description = ? WHERE name = ?`, config, p.Description, p.Name)
	return affectedOne(res, err, fmt.Sprintf("update pool %q", p.Name))
}

// SnapshotsExpired returns the snapshots (of every instance) whose expiry
// is set and before now.
func (tx *Tx) SnapshotsExpired(ctx context.Context, now time.Time) ([]Snapshot, error) {
	rows, err := tx.query(ctx, `SELECT `+snapshotColumns+` FROM snapshots s JOIN instances i ON i.id = s.instance_id
		WHERE s.expires_at != 0 AND s.expires_at < ? ORDER BY s.expires_at`, toTime(now))
	if err != nil {
		return nil, fmt.Errorf("list expired snapshots: %w", err)
	}
	defer rows.Close()
	var out []Snapshot
	for rows.Next() {
		s, err := scanSnapshot(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
