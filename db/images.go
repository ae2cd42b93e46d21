package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// MinPrefix is the shortest fingerprint prefix ImageGet resolves.
const MinPrefix = 12

// Image is an image's row with its aliases.
type Image struct {
	Fingerprint  string
	Filename     string
	Size         int64
	Architecture string
	Properties   map[string]string
	Aliases      []api.ImageAlias // sorted by name; ignored by ImageCreate
	CreatedAt    time.Time
	UploadedAt   time.Time
	LastUsedAt   time.Time
}

// imageColumns includes the aliases as one JSON array per row, so lists
// are a single query.
const imageColumns = `i.id, i.fingerprint, i.filename, i.size, i.architecture, i.properties,
	i.created_at, i.uploaded_at, i.last_used_at,
	(SELECT json_group_array(json_object('name', a.name, 'description', a.description) ORDER BY a.name)
	 FROM image_aliases a WHERE a.image_id = i.id)`

func scanImage(row interface{ Scan(...any) error }) (int64, Image, error) {
	var (
		id                          int64
		img                         Image
		props, aliases              string
		created, uploaded, lastUsed int64
	)
	err := row.Scan(&id, &img.Fingerprint, &img.Filename, &img.Size, &img.Architecture, &props,
		&created, &uploaded, &lastUsed, &aliases)
	if err != nil {
		return 0, Image{}, err
	}
	img.CreatedAt, img.UploadedAt, img.LastUsedAt = fromTime(created), fromTime(uploaded), fromTime(lastUsed)
	img.Properties, img.Aliases = map[string]string{}, []api.ImageAlias{}
	if err := errors.Join(fromJSON(props, &img.Properties, "properties"), fromJSON(aliases, &img.Aliases, "aliases")); err != nil {
		return 0, Image{}, fmt.Errorf("image %q: %w", img.Fingerprint, err)
	}
	return id, img, nil
}

// ImageCreate inserts an image (its Aliases are ignored: use
// ImageAliasSet); ErrExists if the fingerprint is known. A zero UploadedAt
// is set to now.
func (tx *Tx) ImageCreate(ctx context.Context, img Image) error {
	props, err := toJSON(img.Properties, "{}")
	if err != nil {
		return fmt.Errorf("create image %q: %w", img.Fingerprint, err)
	}
	if img.UploadedAt.IsZero() {
		img.UploadedAt = time.Now().UTC()
	}
	_, err = tx.exec(ctx, `INSERT INTO images (fingerprint, filename, size, architecture, properties,
		created_at, uploaded_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		img.Fingerprint, img.Filename, img.Size, img.Architecture, props,
		toTime(img.CreatedAt), toTime(img.UploadedAt), toTime(img.LastUsedAt))
	if isUnique(err) {
		return fmt.Errorf("create image %q: %w", img.Fingerprint, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("create image %q: %w", img.Fingerprint, err)
	}
	return nil
}

// ImageGet returns the image whose fingerprint is fp or, for fp of at
// least MinPrefix characters, starts with fp: ErrNotFound if none,
// ErrAmbiguous if the prefix matches several.
func (tx *Tx) ImageGet(ctx context.Context, fp string) (Image, error) {
	_, img, err := tx.imageResolve(ctx, fp)
	return img, err
}

func (tx *Tx) imageResolve(ctx context.Context, fp string) (int64, Image, error) {
	id, img, err := scanImage(tx.queryRow(ctx, `SELECT `+imageColumns+` FROM images i WHERE i.fingerprint = ?`, fp))
	if err == nil {
		return id, img, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, Image{}, fmt.Errorf("get image %q: %w", fp, err)
	}
	if len(fp) < MinPrefix {
		return 0, Image{}, fmt.Errorf("image %q: %w", fp, ErrNotFound)
	}
	// substr rather than LIKE: LIKE is case-insensitive and treats % and _
	// as wildcards.
	rows, err := tx.query(ctx, `SELECT `+imageColumns+` FROM images i
		WHERE substr(i.fingerprint, 1, length(?1)) = ?1 LIMIT 2`, fp)
	if err != nil {
		return 0, Image{}, fmt.Errorf("get image %q: %w", fp, err)
	}
	defer rows.Close()
	var found []Image
	for rows.Next() {
		id, img, err = scanImage(rows)
		if err != nil {
			return 0, Image{}, fmt.Errorf("get image %q: %w", fp, err)
		}
		found = append(found, img)
	}
	if err := rows.Err(); err != nil {
		return 0, Image{}, fmt.Errorf("get image %q: %w", fp, err)
	}
	switch len(found) {
	case 0:
		return 0, Image{}, fmt.Errorf("image %q: %w", fp, ErrNotFound)
	case 1:
		return id, found[0], nil
	default:
		return 0, Image{}, fmt.Errorf("image prefix %q: %w", fp, ErrAmbiguous)
	}
}

// ImageList returns all images ordered by fingerprint, with their aliases,
// in one query.
func (tx *Tx) ImageList(ctx context.Context) ([]Image, error) {
	rows, err := tx.query(ctx, `SELECT `+imageColumns+` FROM images i ORDER BY i.fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	defer rows.Close()
	out := []Image{}
	for rows.Next() {
		_, img, err := scanImage(rows)
		if err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		out = append(out, img)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out, nil
}

// ImageTouch sets an image's last use time; ErrNotFound if missing.
func (tx *Tx) ImageTouch(ctx context.Context, fp string, at time.Time) error {
	res, err := tx.exec(ctx, `UPDATE images SET last_used_at = ? WHERE fingerprint = ?`, toTime(at), fp)
	return affectedOne(res, err, fmt.Sprintf("touch image %q", fp))
}

// ImageDelete removes the image with exactly this fingerprint and its
// aliases; ErrNotFound if missing.
func (tx *Tx) ImageDelete(ctx context.Context, fp string) error {
	res, err := tx.exec(ctx, `DELETE FROM images WHERE fingerprint = ?`, fp)
	return affectedOne(res, err, fmt.Sprintf("delete image %q", fp))
}

// ImageAliasSet points alias at the image fp (exact or unique prefix, as
// in ImageGet), creating the alias or moving it from another image.
func (tx *Tx) ImageAliasSet(ctx context.Context, alias, fp, description string) error {
	id, _, err := tx.imageResolve(ctx, fp)
	if err != nil {
		return fmt.Errorf("set alias %q: %w", alias, err)
	}
	_, err = tx.exec(ctx, `INSERT INTO image_aliases (name, image_id, description) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET image_id = excluded.image_id, description = excluded.description`,
		alias, id, description)
	if err != nil {
		return fmt.Errorf("set alias %q: %w", alias, err)
	}
	return nil
}

// ImageAliasGet returns the fingerprint alias points at; ErrNotFound if
// there is no such alias.
func (tx *Tx) ImageAliasGet(ctx context.Context, alias string) (string, error) {
	var fp string
	err := tx.queryRow(ctx, `SELECT i.fingerprint FROM image_aliases a JOIN images i ON i.id = a.image_id
		WHERE a.name = ?`, alias).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("image alias %q: %w", alias, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("get image alias %q: %w", alias, err)
	}
	return fp, nil
}

// ImageAliasDelete removes an alias; ErrNotFound if missing.
func (tx *Tx) ImageAliasDelete(ctx context.Context, alias string) error {
	res, err := tx.exec(ctx, `DELETE FROM image_aliases WHERE name = ?`, alias)
	return affectedOne(res, err, fmt.Sprintf("delete image alias %q", alias))
}
