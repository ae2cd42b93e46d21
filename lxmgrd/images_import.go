package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/image"
)

// imageImport stores an uploaded LXD-format unified tarball (the request
// body). The upload lands in a temporary file first; the operation then
// hashes it, checks X-LXD-fingerprint when given, checks every entry name and
// reads metadata.yaml before anything is recorded.
func (d *daemon) imageImport(w http.ResponseWriter, r *http.Request) {
	tmp, err := os.CreateTemp(d.imagesDir(), ".upload-")
	if err != nil {
		errorResponse(w, err)
		return
	}
	_, err = io.Copy(tmp, r.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		errorResponse(w, fmt.Errorf("receive image upload: %w", err))
		return
	}
	want := strings.ToLower(r.Header.Get("X-LXD-fingerprint"))
	op := d.ops.start(d.bg, api.OperationClassTask, "Importing image", map[string][]string{"images": {}}, false, func(ctx context.Context, op *operation) error {
		defer os.Remove(tmp.Name())
		info, err := image.Inspect(ctx, tmp.Name())
		if err != nil {
			return fmt.Errorf("%w: image upload: %w", api.ErrInvalid, err)
		}
		if want != "" && want != info.Fingerprint {
			return fmt.Errorf("%w: image upload: fingerprint is %s, X-LXD-fingerprint says %s", api.ErrInvalid, info.Fingerprint, want)
		}
		final := filepath.Join(d.imagesDir(), info.Fingerprint)
		now := time.Now().UTC()
		img := db.Image{
			Fingerprint: info.Fingerprint, Filename: filepath.Base(r.Header.Get("X-LXD-filename")), Size: info.Size,
			Architecture: info.Metadata.Architecture, Properties: info.Metadata.Properties, CreatedAt: now, UploadedAt: now,
		}
		if img.Filename == "." || img.Filename == "/" {
			img.Filename = ""
		}
		if img.Architecture == "" {
			img.Architecture = image.HostArchitecture()
		}
		err = d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.ImageCreate(ctx, img) })
		if errors.Is(err, db.ErrExists) {
			return fmt.Errorf("%w: image %s is already stored", api.ErrConflict, info.Fingerprint)
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), final); err != nil {
			d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.ImageDelete(context.Background(), img.Fingerprint) })
			return fmt.Errorf("store image: %w", err)
		}
		op.setMeta("fingerprint", info.Fingerprint)
		return nil
	})
	asyncResponse(w, op)
}

// imageAliasesPost points an alias at a stored image (moving it if it exists).
func (d *daemon) imageAliasesPost(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Target      string `json:"target"`
	}
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := validAlias(req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		img, err := tx.ImageGet(r.Context(), req.Target)
		if err != nil {
			return err
		}
		return tx.ImageAliasSet(r.Context(), req.Name, img.Fingerprint, req.Description)
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

func (d *daemon) imageAliasDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error { return tx.ImageAliasDelete(r.Context(), name) })
	if err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

// validAlias allows "debian/12"-style aliases: hostname-like parts joined
// by single slashes, nothing that could act as a path trick.
func validAlias(name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("%w: image alias must be 1 to 255 characters", api.ErrInvalid)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("%w: invalid image alias %q", api.ErrInvalid, name)
		}
		for _, c := range part {
			if !(c == '-' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return fmt.Errorf("%w: invalid image alias %q: character %q", api.ErrInvalid, name, c)
			}
		}
	}
	return nil
}
