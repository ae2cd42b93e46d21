package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/image"
	"github.com/lxmgr/lxmgr/storage"
)

// findImage resolves an alias, a fingerprint or a unique fingerprint prefix.
func findImage(ctx context.Context, tx *db.Tx, ref string) (db.Image, error) {
	if fp, err := tx.ImageAliasGet(ctx, ref); err == nil {
		return tx.ImageGet(ctx, fp)
	}
	if canon, err := image.Canonical(ref); err == nil {
		if fp, err := tx.ImageAliasGet(ctx, canon); err == nil {
			return tx.ImageGet(ctx, fp)
		}
	}
	return tx.ImageGet(ctx, ref)
}

// ensureImage returns the stored image for ref, building it first when ref
// is a buildable alias that is not cached yet.
func (d *daemon) ensureImage(ctx context.Context, op *operation, ref string) (db.Image, error) {
	lookup := func() (db.Image, error) {
		var img db.Image
		err := d.db.Transaction(ctx, func(tx *db.Tx) error {
			var err error
			img, err = findImage(ctx, tx, ref)
			return err
		})
		return img, err
	}
	if img, err := lookup(); err == nil {
		return img, nil
	}
	canon, err := image.Canonical(ref)
	if err != nil {
		return db.Image{}, fmt.Errorf("%w: image %q: %w", api.ErrNotFound, ref, err)
	}
	// One build per image at a time; whoever waited finds it built.
	unlock, err := d.locks.lock(ctx, "image-build/"+canon)
	if err != nil {
		return db.Image{}, err
	}
	defer unlock()
	if img, err := lookup(); err == nil {
		return img, nil
	}
	return d.buildImage(ctx, op, canon)
}

// buildImage builds a canonical image into the store and records it.
func (d *daemon) buildImage(ctx context.Context, op *operation, canon string) (db.Image, error) {
	tmp := filepath.Join(d.imagesDir(), ".build-"+newUUID())
	work := tmp + ".work"
	defer os.RemoveAll(work)
	defer os.Remove(tmp)
	if err := os.MkdirAll(work, 0o700); err != nil {
		return db.Image{}, err
	}
	op.progress("building image " + canon)
	slog.Info("building image", "image", canon)
	start := time.Now()
	built, err := image.Build(ctx, canon, tmp, image.BuildOptions{
		WorkDir:  work,
		Mirror:   d.serverConfig(ctx, "images.debian.mirror"),
		Progress: func(msg string) { op.progress("building image " + canon + ": " + msg) },
	})
	if err != nil {
		return db.Image{}, fmt.Errorf("build image %s: %w", canon, err)
	}
	final := filepath.Join(d.imagesDir(), built.Fingerprint)
	if err := os.Rename(tmp, final); err != nil {
		return db.Image{}, fmt.Errorf("store image: %w", err)
	}
	now := time.Now().UTC()
	img := db.Image{
		Fingerprint: built.Fingerprint, Filename: canon + ".tar.gz", Size: built.Size,
		Architecture: built.Architecture, Properties: built.Properties, CreatedAt: now, UploadedAt: now,
	}
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		if err := tx.ImageCreate(ctx, img); err != nil && !errors.Is(err, db.ErrExists) {
			return err
		}
		for _, a := range image.Aliases(canon) {
			if err := tx.ImageAliasSet(ctx, a, img.Fingerprint, ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		os.Remove(final)
		return db.Image{}, fmt.Errorf("record image: %w", err)
	}
	slog.Info("image built", "image", canon, "fingerprint", img.Fingerprint, "size", img.Size, "took", time.Since(start).Round(time.Millisecond))
	return img, nil
}

// ensureImageVolume unpacks the image once per pool, verifying its
// fingerprint while reading it.
func (d *daemon) ensureImageVolume(ctx context.Context, op *operation, pool storage.Driver, img db.Image) error {
	unlock, err := d.locks.lock(ctx, "image-volume/"+pool.Name()+"/"+img.Fingerprint)
	if err != nil {
		return err
	}
	defer unlock()
	if pool.HasImage(img.Fingerprint) {
		return nil
	}
	op.progress("unpacking image")
	tarball := filepath.Join(d.imagesDir(), img.Fingerprint)
	return pool.CreateImage(ctx, img.Fingerprint, func(ctx context.Context, dir string) error {
		_, err := image.Unpack(ctx, tarball, img.Fingerprint, dir, image.UnpackOptions{})
		return err
	})
}

func imageToAPI(img db.Image) api.Image {
	aliases := img.Aliases
	if aliases == nil {
		aliases = []api.ImageAlias{}
	}
	return api.Image{
		Fingerprint: img.Fingerprint, Filename: img.Filename, Size: img.Size, Aliases: aliases,
		Architecture: img.Architecture, Properties: img.Properties, Type: "container",
		CreatedAt: img.CreatedAt, UploadedAt: img.UploadedAt, LastUsedAt: img.LastUsedAt,
	}
}

func (d *daemon) imagesGet(w http.ResponseWriter, r *http.Request) {
	var imgs []db.Image
	err := d.db.View(r.Context(), func(tx *db.Tx) error {
		var err error
		imgs, err = tx.ImageList(r.Context())
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(imgs))
		for _, img := range imgs {
			urls = append(urls, "/1.0/images/"+img.Fingerprint)
		}
		syncResponse(w, urls)
		return
	}
	out := make([]api.Image, 0, len(imgs))
	for _, img := range imgs {
		out = append(out, imageToAPI(img))
	}
	syncResponse(w, out)
}

func (d *daemon) imageGet(w http.ResponseWriter, r *http.Request) {
	var img db.Image
	err := d.db.View(r.Context(), func(tx *db.Tx) error {
		var err error
		img, err = findImage(r.Context(), tx, r.PathValue("fingerprint"))
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	out := imageToAPI(img)
	syncResponseETag(w, out, etagOf(out))
}

// imagesPost builds an image ("source": {"type": "build", "name": "debian/12"})
// or, with an application/octet-stream body, imports an image tarball.
func (d *daemon) imagesPost(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/octet-stream") {
		d.imageImport(w, r)
		return
	}
	var req api.ImagesPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if req.Source.Type != "build" {
		errorResponse(w, fmt.Errorf("%w: image source type %q is not supported (use \"build\")", api.ErrInvalid, req.Source.Type))
		return
	}
	canon, err := image.Canonical(req.Source.Name)
	if err != nil {
		errorResponse(w, fmt.Errorf("%w: %w", api.ErrInvalid, err))
		return
	}
	op := d.ops.start(d.bg, api.OperationClassTask, "Building image "+canon, map[string][]string{"images": {}}, true, func(ctx context.Context, op *operation) error {
		unlock, err := d.locks.lock(ctx, "image-build/"+canon)
		if err != nil {
			return err
		}
		defer unlock()
		img, err := d.buildImage(ctx, op, canon)
		if err != nil {
			return err
		}
		op.setMeta("fingerprint", img.Fingerprint)
		return nil
	})
	asyncResponse(w, op)
}

// imageDelete removes an image from the store and its unpacked volumes.
// Instances made from it are independent copies and keep working.
func (d *daemon) imageDelete(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("fingerprint")
	var img db.Image
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		var err error
		img, err = findImage(r.Context(), tx, ref)
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	res := map[string][]string{"images": {"/1.0/images/" + img.Fingerprint}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Deleting image", res, false, func(ctx context.Context, op *operation) error {
		d.poolsMu.RLock()
		pools := make([]storage.Driver, 0, len(d.pools))
		for _, p := range d.pools {
			pools = append(pools, p)
		}
		d.poolsMu.RUnlock()
		for _, p := range pools {
			unlock, err := d.locks.lock(ctx, "image-volume/"+p.Name()+"/"+img.Fingerprint)
			if err != nil {
				return err
			}
			err = p.DeleteImage(ctx, img.Fingerprint)
			unlock()
			if err != nil {
				return fmt.Errorf("delete image volume on pool %q: %w", p.Name(), err)
			}
		}
		if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.ImageDelete(ctx, img.Fingerprint) }); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(d.imagesDir(), img.Fingerprint)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	})
	asyncResponse(w, op)
}

// serverConfig returns one server config key ("" when unset).
func (d *daemon) serverConfig(ctx context.Context, key string) string {
	var cfg map[string]string
	d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		cfg, err = tx.ConfigGet(ctx)
		return err
	})
	return cfg[key]
}
