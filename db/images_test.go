package db

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

const (
	fpA  = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	fpA2 = "aaaaaaaaaaaa2222222222222222222222222222222222222222222222222222"
	fpB  = "bbbbbbbbbbbb1111111111111111111111111111111111111111111111111111"
)

func TestImages(t *testing.T) {
	db := openTest(t)
	now := time.Now().UTC()
	inTx(t, db, func(ctx context.Context, tx *Tx) error {
		for _, fp := range []string{fpA, fpA2, fpB} {
			img := Image{Fingerprint: fp, Filename: fp + ".tar.xz", Size: 42, Architecture: "x86_64",
				Properties: map[string]string{"os": "debian", "release": "12"}, CreatedAt: now}
			if err := tx.ImageCreate(ctx, img); err != nil {
				return err
			}
		}
		if err := tx.ImageCreate(ctx, Image{Fingerprint: fpA}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate ImageCreate = %v", err)
		}
		tests := []struct {
			fp   string
			want string
			err  error
		}{
			{fpB, fpB, nil},
			{fpB[:12], fpB, nil},
			{fpA[:13], fpA, nil},
			{fpA[:12], "", ErrAmbiguous},
			{fpB[:11], "", ErrNotFound}, // too short a prefix
			{"cccccccccccccccc", "", ErrNotFound},
			{"aaaaaaaaaaa%", "", ErrNotFound}, // no LIKE wildcards
		}
		for _, tt := range tests {
			img, err := tx.ImageGet(ctx, tt.fp)
			if (tt.err == nil) != (err == nil) || (tt.err != nil && !errors.Is(err, tt.err)) || img.Fingerprint != tt.want {
				t.Errorf("ImageGet(%q) = %q, %v; want %q, %v", tt.fp, img.Fingerprint, err, tt.want, tt.err)
			}
		}
		got, err := tx.ImageGet(ctx, fpB)
		if err != nil {
			return err
		}
		if got.Properties["release"] != "12" || got.Size != 42 || !got.CreatedAt.Equal(now) || got.UploadedAt.IsZero() || len(got.Aliases) != 0 {
			t.Errorf("ImageGet = %+v", got)
		}

		if err := tx.ImageAliasSet(ctx, "debian/12", fpA, "first"); err != nil {
			return err
		}
		if err := tx.ImageAliasSet(ctx, "debian", fpA, ""); err != nil {
			return err
		}
		// Moving an alias to another image (by unique prefix).
		if err := tx.ImageAliasSet(ctx, "debian/12", fpB[:12], "moved"); err != nil {
			return err
		}
		if err := tx.ImageAliasSet(ctx, "x", "nope-nope-nope", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("alias to missing image = %v", err)
		}
		if fp, err := tx.ImageAliasGet(ctx, "debian/12"); err != nil || fp != fpB {
			t.Errorf("ImageAliasGet = %q, %v; want %q", fp, err, fpB)
		}
		if _, err := tx.ImageAliasGet(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ImageAliasGet missing = %v", err)
		}

		before := tx.queries
		list, err := tx.ImageList(ctx)
		if err != nil {
			return err
		}
		if tx.queries-before != 1 {
			t.Errorf("ImageList ran %d queries, want 1", tx.queries-before)
		}
		if len(list) != 3 || list[0].Fingerprint != fpA || list[2].Fingerprint != fpB {
			t.Fatalf("ImageList = %+v", list)
		}
		if want := []api.ImageAlias{{Name: "debian"}}; !reflect.DeepEqual(list[0].Aliases, want) {
			t.Errorf("aliases of A = %+v, want %+v", list[0].Aliases, want)
		}
		if want := []api.ImageAlias{{Name: "debian/12", Description: "moved"}}; !reflect.DeepEqual(list[2].Aliases, want) {
			t.Errorf("aliases of B = %+v, want %+v", list[2].Aliases, want)
		}

		if err := tx.ImageTouch(ctx, fpA, now); err != nil {
			return err
		}
		if err := tx.ImageAliasDelete(ctx, "debian"); err != nil {
			return err
		}
		if err := tx.ImageAliasDelete(ctx, "debian"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ImageAliasDelete missing = %v", err)
		}
		// Deleting an image deletes its aliases (foreign key cascade).
		if err := tx.ImageDelete(ctx, fpB); err != nil {
			return err
		}
		if _, err := tx.ImageAliasGet(ctx, "debian/12"); !errors.Is(err, ErrNotFound) {
			t.Errorf("alias survived its image: %v", err)
		}
		if err := tx.ImageDelete(ctx, fpB); !errors.Is(err, ErrNotFound) {
			t.Errorf("ImageDelete missing = %v", err)
		}
		return nil
	})
}
