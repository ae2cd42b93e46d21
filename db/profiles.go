package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lxmgr/lxmgr/api"
)

// usedBySQL lists, as a JSON array sorted by name, the instances whose
// profile list names the profile of the outer query's row "p".
const usedBySQL = `(SELECT json_group_array(name ORDER BY name) FROM (
	SELECT DISTINCT i.name AS name FROM instances i, json_each(i.profiles) e
	WHERE e.value = p.name))`

const profileColumns = `p.name, p.description, p.config, p.devices, ` + usedBySQL

func scanProfile(row interface{ Scan(...any) error }) (api.Profile, error) {
	var (
		p                       api.Profile
		config, devices, usedBy string
	)
	if err := row.Scan(&p.Name, &p.Description, &config, &devices, &usedBy); err != nil {
		return api.Profile{}, err
	}
	p.Config, p.Devices, p.UsedBy = map[string]string{}, api.Devices{}, []string{}
	if err := errors.Join(fromJSON(config, &p.Config, "config"), fromJSON(devices, &p.Devices, "devices"),
		fromJSON(usedBy, &p.UsedBy, "used_by")); err != nil {
		return api.Profile{}, fmt.Errorf("profile %q: %w", p.Name, err)
	}
	return p, nil
}

// ProfileCreate inserts a profile (UsedBy is ignored); ErrExists if the
// name is taken.
func (tx *Tx) ProfileCreate(ctx context.Context, p api.Profile) error {
	config, err1 := toJSON(p.Config, "{}")
	devices, err2 := toJSON(p.Devices, "{}")
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("create profile %q: %w", p.Name, err)
	}
	_, err := tx.exec(ctx, `INSERT INTO profiles (name, description, config, devices) VALUES (?, ?, ?, ?)`,
		p.Name, p.Description, config, devices)
	if isUnique(err) {
		return fmt.Errorf("create profile %q: %w", p.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create profile %q: %w", p.Name, err)
	}
	return nil
}

// ProfileGet returns a profile with UsedBy filled with the names (not
// URLs) of the instances using it, sorted; ErrNotFound if missing.
func (tx *Tx) ProfileGet(ctx context.Context, name string) (api.Profile, error) {
	p, err := scanProfile(tx.queryRow(ctx, `SELECT `+profileColumns+` FROM profiles p WHERE p.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return api.Profile{}, fmt.Errorf("profile %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return api.Profile{}, fmt.Errorf("get profile %q: %w", name, err)
	}
	return p, nil
}

// ProfileList returns all profiles ordered by name, UsedBy filled as in
// ProfileGet, in one query.
func (tx *Tx) ProfileList(ctx context.Context) ([]api.Profile, error) {
	rows, err := tx.query(ctx, `SELECT `+profileColumns+` FROM profiles p ORDER BY p.name`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	out := []api.Profile{}
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return out, nil
}

// ProfileUpdate replaces the description, config and devices of the
// profile p.Name; ErrNotFound if missing.
func (tx *Tx) ProfileUpdate(ctx context.Context, p api.Profile) error {
	config, err1 := toJSON(p.Config, "{}")
	devices, err2 := toJSON(p.Devices, "{}")
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("update profile %q: %w", p.Name, err)
	}
	res, err := tx.exec(ctx, `UPDATE profiles SET description = ?, config = ?, devices = ? WHERE name = ?`,
		p.Description, config, devices, p.Name)
	return affectedOne(res, err, fmt.Sprintf("update profile %q", p.Name))
}

// ProfileRename renames a profile and rewrites the profile lists of the
// instances using it (keeping their order): ErrNotFound if old is missing,
// ErrExists if new exists.
func (tx *Tx) ProfileRename(ctx context.Context, old, new string) error {
	res, err := tx.exec(ctx, `UPDATE profiles SET name = ? WHERE name = ?`, new, old)
	if isUnique(err) {
		return fmt.Errorf("rename profile %q to %q: %w", old, new, ErrExists)
	}
	if err := affectedOne(res, err, fmt.Sprintf("rename profile %q", old)); err != nil {
		return err
	}
	// json_each's "key" is the array index: ordering the aggregate by it
	// keeps the instance's profile order, with old replaced in place.
	_, err = tx.exec(ctx, `UPDATE instances SET profiles = (
		SELECT json_group_array(CASE WHEN e.value = ?1 THEN ?2 ELSE e.value END ORDER BY e.key)
		FROM json_each(instances.profiles) e)
		WHERE EXISTS (SELECT 1 FROM json_each(instances.profiles) WHERE value = ?1)`, old, new)
	if err != nil {
		return fmt.Errorf("rename profile %q in instances: %w", old, err)
	}
	return nil
}

// ProfileDelete removes a profile: ErrNotFound if missing, ErrInUse if
// instances still use it (checked in the same transaction).
func (tx *Tx) ProfileDelete(ctx context.Context, name string) error {
	users, err := tx.ProfileUsedBy(ctx, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return fmt.Errorf("delete profile %q: used by %d instances: %w", name, len(users), ErrInUse)
	}
	res, err := tx.exec(ctx, `DELETE FROM profiles WHERE name = ?`, name)
	return affectedOne(res, err, fmt.Sprintf("delete profile %q", name))
}

// ProfileUsedBy returns the names of the instances whose profile list
// contains name, sorted. It does not check that the profile exists.
func (tx *Tx) ProfileUsedBy(ctx context.Context, name string) ([]string, error) {
	rows, err := tx.query(ctx, `SELECT DISTINCT i.name FROM instances i, json_each(i.profiles) e
		WHERE e.value = ? ORDER BY i.name`, name)
	if err != nil {
		return nil, fmt.Errorf("profile %q used by: %w", name, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("profile %q used by: %w", name, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
