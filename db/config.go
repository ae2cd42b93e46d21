package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ConfigGet returns the server config (never nil).
func (tx *Tx) ConfigGet(ctx context.Context) (map[string]string, error) {
	rows, err := tx.query(ctx, `SELECT key, value FROM config`)
	if err != nil {
		return nil, fmt.Errorf("get server config: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("get server config: %w", err)
		}
		out[k] = v
	}
	return out, rows.Err()
}

// ConfigSet sets one server config key; an empty value unsets it, as in
// LXD.
func (tx *Tx) ConfigSet(ctx context.Context, key, value string) error {
	var err error
	if value == "" {
		_, err = tx.exec(ctx, `DELETE FROM config WHERE key = ?`, key)
	} else {
		_, err = tx.exec(ctx, `INSERT INTO config (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	}
	if err != nil {
		return fmt.Errorf("set server config %q: %w", key, err)
	}
	return nil
}

// Pool is a storage pool's row.
type Pool struct {
	ID          int64
	Name        string
	Driver      string
	Description string
	Config      map[string]string
}

func scanPool(row interface{ Scan(...any) error }) (Pool, error) {
	var (
		p      Pool
		config string
	)
	if err := row.Scan(&p.ID, &p.Name, &p.Driver, &p.Description, &config); err != nil {
		return Pool{}, err
	}
	p.Config = map[string]string{}
	if err := fromJSON(config, &p.Config, "config"); err != nil {
		return Pool{}, fmt.Errorf("pool %q: %w", p.Name, err)
	}
	return p, nil
}

// PoolCreate inserts a storage pool; ErrExists if the name is taken.
func (tx *Tx) PoolCreate(ctx context.Context, name, driver string, config map[string]string) error {
	cfg, err := toJSON(config, "{}")
	if err != nil {
		return fmt.Errorf("create pool %q: %w", name, err)
	}
	_, err = tx.exec(ctx, `INSERT INTO storage_pools (name, driver, config) VALUES (?, ?, ?)`, name, driver, cfg)
	if isUnique(err) {
		return fmt.Errorf("create pool %q: %w", name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create pool %q: %w", name, err)
	}
	return nil
}

// PoolGet returns a storage pool; ErrNotFound if missing.
func (tx *Tx) PoolGet(ctx context.Context, name string) (Pool, error) {
	p, err := scanPool(tx.queryRow(ctx, `SELECT id, name, driver, description, config FROM storage_pools WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Pool{}, fmt.Errorf("pool %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Pool{}, fmt.Errorf("get pool %q: %w", name, err)
	}
	return p, nil
}

// PoolList returns all storage pools ordered by name.
func (tx *Tx) PoolList(ctx context.Context) ([]Pool, error) {
	rows, err := tx.query(ctx, `SELECT id, name, driver, description, config FROM storage_pools ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list pools: %w", err)
	}
	defer rows.Close()
	out := []Pool{}
	for rows.Next() {
		p, err := scanPool(rows)
		if err != nil {
			return nil, fmt.Errorf("list pools: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PoolDelete removes a storage pool: ErrNotFound if missing, ErrInUse if
// instances still live on it.
func (tx *Tx) PoolDelete(ctx context.Context, name string) error {
	var n int
	if err := tx.queryRow(ctx, `SELECT count(*) FROM instances WHERE pool = ?`, name).Scan(&n); err != nil {
		return fmt.Errorf("delete pool %q: %w", name, err)
	}
	if n > 0 {
		return fmt.Errorf("delete pool %q: %d instances on it: %w", name, n, ErrInUse)
	}
	res, err := tx.exec(ctx, `DELETE FROM storage_pools WHERE name = ?`, name)
	return affectedOne(res, err, fmt.Sprintf("delete pool %q", name))
}
