package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Network is a managed network's row.
type Network struct {
	ID          int64
	Name        string
	Description string
	Type        string // "bridge"
	Config      map[string]string
}

const networkColumns = `id, name, description, type, config`

func scanNetwork(row interface{ Scan(...any) error }) (Network, error) {
	var n Network
	var config string
	if err := row.Scan(&n.ID, &n.Name, &n.Description, &n.Type, &config); err != nil {
		return Network{}, err
	}
	n.Config = map[string]string{}
	if err := fromJSON(config, &n.Config, "config"); err != nil {
		return Network{}, fmt.Errorf("network %q: %w", n.Name, err)
	}
	return n, nil
}

// NetworkCreate inserts a network; ErrExists if the name is taken.
func (tx *Tx) NetworkCreate(ctx context.Context, n Network) error {
	config, err := toJSON(n.Config, "{}")
	if err != nil {
		return fmt.Errorf("create network %q: %w", n.Name, err)
	}
	_, err = tx.exec(ctx, `INSERT INTO networks (name, description, type, config) VALUES (?, ?, ?, ?)`,
		n.Name, n.Description, n.Type, config)
	if isUnique(err) {
		return fmt.Errorf("network %q: %w", n.Name, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create network %q: %w", n.Name, err)
	}
	return nil
}

// NetworkGet returns one network; ErrNotFound if missing.
func (tx *Tx) NetworkGet(ctx context.Context, name string) (Network, error) {
	n, err := scanNetwork(tx.queryRow(ctx, `SELECT `+networkColumns+` FROM networks WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Network{}, fmt.Errorf("network %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Network{}, fmt.Errorf("get network %q: %w", name, err)
	}
	return n, nil
}

// NetworkList returns every network ordered by name, in one query.
func (tx *Tx) NetworkList(ctx context.Context) ([]Network, error) {
	rows, err := tx.query(ctx, `SELECT `+networkColumns+` FROM networks ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	defer rows.Close()
	var out []Network
	for rows.Next() {
		n, err := scanNetwork(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NetworkUpdate stores a network's description and config (by name).
func (tx *Tx) NetworkUpdate(ctx context.Context, n Network) error {
	config, err := toJSON(n.Config, "{}")
	if err != nil {
		return fmt.Errorf("update network %q: %w", n.Name, err)
	}
	res, err := tx.exec(ctx, `UPDATE networks SET description = ?, config = ? WHERE name = ?`, n.Description, config, n.Name)
	return affectedOne(res, err, fmt.Sprintf("update network %q", n.Name))
}

// NetworkRename renames a network; ErrNotFound or ErrExists.
func (tx *Tx) NetworkRename(ctx context.Context, old, name string) error {
	res, err := tx.exec(ctx, `UPDATE networks SET name = ? WHERE name = ?`, name, old)
	if isUnique(err) {
		return fmt.Errorf("network %q: %w", name, ErrExists)
	}
	return affectedOne(res, err, fmt.Sprintf("rename network %q", old))
}

// NetworkDelete removes a network's row; ErrNotFound if missing.
func (tx *Tx) NetworkDelete(ctx context.Context, name string) error {
	res, err := tx.exec(ctx, `DELETE FROM networks WHERE name = ?`, name)
	return affectedOne(res, err, fmt.Sprintf("delete network %q", name))
}
