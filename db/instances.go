package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// Creation states of an instance row.
const (
	// StateCreating marks a row whose volume and container are still being
	// made; crash repair finishes or removes such instances.
	StateCreating = "creating"
	// StateCreated marks a fully created instance.
	StateCreated = "created"
)

// Instance is an instance's row: what the daemon persists about it (its
// runtime state lives in memory).
type Instance struct {
	ID           int64
	Name         string
	Description  string
	Architecture string
	Type         string // "container"
	Config       map[string]string
	Devices      api.Devices
	Profiles     []string // in application order
	Ephemeral    bool
	Pool         string
	// ImageFingerprint is the image the rootfs was made from.
	ImageFingerprint string
	// IdmapBase is the first host uid/gid of the instance's id range;
	// 0 means none (privileged). No two instances share a base.
	IdmapBase int64
	// CreationState is StateCreating until fully created, then
	// StateCreated.
	CreationState string
	CreatedAt     time.Time
	LastUsedAt    time.Time
}

const instanceColumns = `id, name, description, architecture, type, config, devices, profiles,
	ephemeral, pool, image_fingerprint, COALESCE(idmap_base, 0), creation_state, created_at, last_used_at`

func scanInstance(row interface{ Scan(...any) error }) (Instance, error) {
	var (
		in                        Instance
		config, devices, profiles string
		created, lastUsed         int64
	)
	err := row.Scan(&in.ID, &in.Name, &in.Description, &in.Architecture, &in.Type, &config, &devices, &profiles,
		&in.Ephemeral, &in.Pool, &in.ImageFingerprint, &in.IdmapBase, &in.CreationState, &created, &lastUsed)
	if err != nil {
		return Instance{}, err
	}
	in.CreatedAt, in.LastUsedAt = fromTime(created), fromTime(lastUsed)
	in.Config, in.Devices, in.Profiles = map[string]string{}, api.Devices{}, []string{}
	if err := errors.Join(fromJSON(config, &in.Config, "config"), fromJSON(devices, &in.Devices, "devices"),
		fromJSON(profiles, &in.Profiles, "profiles")); err != nil {
		return Instance{}, fmt.Errorf("instance %q: %w", in.Name, err)
	}
	return in, nil
}

// nullIdmap stores "no idmap" as NULL so the unique index ignores it.
func nullIdmap(base int64) sql.NullInt64 {
	return sql.NullInt64{Int64: base, Valid: base != 0}
}

// InstanceCreate inserts in and sets in.ID. Type defaults to "container",
// CreationState to StateCreating and CreatedAt to now. A taken name or
// idmap base fails with ErrExists; the unique indexes make this safe
// against concurrent creators.
func (tx *Tx) InstanceCreate(ctx context.Context, in *Instance) error {
	if in.Type == "" {
		in.Type = "container"
	}
	if in.CreationState == "" {
		in.CreationState = StateCreating
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = time.Now().UTC()
	}
	config, err1 := toJSON(in.Config, "{}")
	devices, err2 := toJSON(in.Devices, "{}")
	profiles, err3 := toJSON(in.Profiles, "[]")
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("create instance %q: %w", in.Name, err)
	}
	res, err := tx.exec(ctx, `INSERT INTO instances (name, description, architecture, type, config, devices, profiles,
		ephemeral, pool, image_fingerprint, idmap_base, creation_state, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.Name, in.Description, in.Architecture, in.Type, config, devices, profiles,
		in.Ephemeral, in.Pool, in.ImageFingerprint, nullIdmap(in.IdmapBase), in.CreationState,
		toTime(in.CreatedAt), toTime(in.LastUsedAt))
	if isUnique(err) {
		if strings.Contains(err.Error(), "idmap_base") {
			return fmt.Errorf("create instance %q: idmap base %d: %w", in.Name, in.IdmapBase, ErrExists)
		}
		return fmt.Errorf("create instance %q: %w", in.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create instance %q: %w", in.Name, err)
	}
	in.ID, err = res.LastInsertId()
	return err
}

// InstanceGet returns the instance called name, or ErrNotFound.
func (tx *Tx) InstanceGet(ctx context.Context, name string) (Instance, error) {
	in, err := scanInstance(tx.queryRow(ctx, `SELECT `+instanceColumns+` FROM instances WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Instance{}, fmt.Errorf("instance %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Instance{}, fmt.Errorf("get instance %q: %w", name, err)
	}
	return in, nil
}

// InstanceList returns all instances ordered by name, in one query.
func (tx *Tx) InstanceList(ctx context.Context) ([]Instance, error) {
	rows, err := tx.query(ctx, `SELECT `+instanceColumns+` FROM instances ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	out := []Instance{}
	for rows.Next() {
		in, err := scanInstance(rows)
		if err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	return out, nil
}

// InstanceRaw is an instance's name and JSON columns as stored. Callers
// that derive something from every instance (the daemon's nic index)
// compare the text and decode only the rows that changed.
type InstanceRaw struct{ Name, Config, Devices, Profiles string }

// InstanceRawList returns every instance's InstanceRaw, ordered by name.
func (tx *Tx) InstanceRawList(ctx context.Context) ([]InstanceRaw, error) {
	rows, err := tx.query(ctx, `SELECT name, config, devices, profiles FROM instances ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list instances: %w", err)
	}
	defer rows.Close()
	var out []InstanceRaw
	for rows.Next() {
		var r InstanceRaw
		if err := rows.Scan(&r.Name, &r.Config, &r.Devices, &r.Profiles); err != nil {
			return nil, fmt.Errorf("list instances: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Decode returns an Instance with the name, config, devices and profiles
// of r (the other fields are zero).
func (r InstanceRaw) Decode() (Instance, error) {
	in := Instance{Name: r.Name, Config: map[string]string{}, Devices: api.Devices{}, Profiles: []string{}}
	if err := errors.Join(fromJSON(r.Config, &in.Config, "config"), fromJSON(r.Devices, &in.Devices, "devices"),
		fromJSON(r.Profiles, &in.Profiles, "profiles")); err != nil {
		return Instance{}, fmt.Errorf("instance %q: %w", r.Name, err)
	}
	return in, nil
}

// InstanceUpdate writes, for the row with in.ID, the fields that change
// over an instance's life: description, config, devices, profiles,
// ephemeral, architecture, creation state and last use. Name (see
// InstanceRename), pool, image and idmap base are not touched.
func (tx *Tx) InstanceUpdate(ctx context.Context, in Instance) error {
	config, err1 := toJSON(in.Config, "{}")
	devices, err2 := toJSON(in.Devices, "{}")
	profiles, err3 := toJSON(in.Profiles, "[]")
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("update instance %q: %w", in.Name, err)
	}
	res, err := tx.exec(ctx, `UPDATE instances SET description = ?, config = ?, devices = ?, profiles = ?,
		ephemeral = ?, architecture = ?, creation_state = ?, last_used_at = ? WHERE id = ?`,
		in.Description, config, devices, profiles, in.Ephemeral, in.Architecture, in.CreationState,
		toTime(in.LastUsedAt), in.ID)
	return affectedOne(res, err, fmt.Sprintf("update instance %q (id %d)", in.Name, in.ID))
}

// InstanceRename renames an instance: ErrNotFound if old does not exist,
// ErrExists if new does.
func (tx *Tx) InstanceRename(ctx context.Context, old, new string) error {
	res, err := tx.exec(ctx, `UPDATE instances SET name = ? WHERE name = ?`, new, old)
	if isUnique(err) {
		return fmt.Errorf("rename instance %q to %q: %w", old, new, ErrExists)
	}
	return affectedOne(res, err, fmt.Sprintf("rename instance %q", old))
}

// InstanceDelete removes an instance's row, or fails with ErrNotFound.
func (tx *Tx) InstanceDelete(ctx context.Context, name string) error {
	res, err := tx.exec(ctx, `DELETE FROM instances WHERE name = ?`, name)
	return affectedOne(res, err, fmt.Sprintf("delete instance %q", name))
}

// IdmapBasesInUse returns the idmap bases of all instances, ascending
// (privileged instances have none).
func (tx *Tx) IdmapBasesInUse(ctx context.Context) ([]int64, error) {
	rows, err := tx.query(ctx, `SELECT idmap_base FROM instances WHERE idmap_base IS NOT NULL ORDER BY idmap_base`)
	if err != nil {
		return nil, fmt.Errorf("list idmap bases: %w", err)
	}
	defer rows.Close()
	out := []int64{}
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("list idmap bases: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
