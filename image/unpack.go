package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// UnpackOptions tunes Unpack.
type UnpackOptions struct {
	// AllowDevices creates device nodes and fifos found in the tarball;
	// by default they are skipped (liblxc provides /dev).
	AllowDevices bool
}

// maxMetadataSize bounds metadata.yaml, which is read into memory.
const maxMetadataSize = 1 << 20

// Unpack extracts the unified image tarball (plain tar, or compressed with
// gzip, or with xz, zstd or bzip2 when their tools are installed) into
// destDir, which must exist and be empty: rootfs/ lands in destDir/rootfs,
// metadata.yaml (also written to destDir) is parsed and returned. The file is
// hashed while it is read; if wantFingerprint is not "" and differs, Unpack
// fails with ErrFingerprintMismatch. On any failure it removes what it
// wrote.
//
// Extraction never follows or creates anything outside destDir: absolute
// names, ".." components, entries below a symlink and hard links to
// outside fail with ErrUnsafeTarball. Symlinks are created as they are,
// ownership is kept as in the tar (not shifted), modes keep
// setuid/setgid/sticky and security.capability xattrs are restored.
func Unpack(ctx context.Context, tarball, wantFingerprint, destDir string, opts UnpackOptions) (Metadata, error) {
	entries, err := os.ReadDir(destDir)
	if err != nil {
		return Metadata{}, fmt.Errorf("unpack: %w", err)
	}
	if len(entries) != 0 {
		return Metadata{}, fmt.Errorf("unpack: target %s is not empty", destDir)
	}
	meta, err := unpack(ctx, tarball, wantFingerprint, destDir, opts)
	if err != nil {
		clearDir(destDir)
		return Metadata{}, fmt.Errorf("unpack %s: %w", tarball, err)
	}
	return meta, nil
}

func unpack(ctx context.Context, tarball, wantFingerprint, destDir string, opts UnpackOptions) (Metadata, error) {
	root, err := os.OpenRoot(destDir)
	if err != nil {
		return Metadata{}, err
	}
	defer root.Close()
	x := newExtractor(root, opts)
	var meta *Metadata
	got, _, err := walkTarball(ctx, tarball, func(hdr *tar.Header, name string, r io.Reader) error {
		if name == "metadata.yaml" && hdr.Typeflag == tar.TypeReg {
			m, data, err := readMetadata(r, hdr.Size)
			if err != nil {
				return err
			}
			meta = &m
			r = bytes.NewReader(data)
		}
		return x.extract(hdr, name, r)
	})
	if err != nil {
		return Metadata{}, err
	}
	if wantFingerprint != "" && !strings.EqualFold(got, wantFingerprint) {
		return Metadata{}, fmt.Errorf("%w: want %s, got %s", ErrFingerprintMismatch, wantFingerprint, got)
	}
	if meta == nil {
		return Metadata{}, errors.New("no metadata.yaml in tarball")
	}
	x.finish()
	return *meta, nil
}

// entryName validates a tar entry name and returns it cleaned and relative
// ("" for the top directory itself).
func entryName(raw string) (string, error) {
	if raw == "" || strings.ContainsRune(raw, 0) {
		return "", fmt.Errorf("%w: empty or invalid name %q", ErrUnsafeTarball, raw)
	}
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafeTarball, raw)
	}
	for _, c := range strings.Split(raw, "/") {
		if c == ".." {
			return "", fmt.Errorf("%w: name %q has a \"..\" component", ErrUnsafeTarball, raw)
		}
	}
	clean := path.Clean(raw)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// readMetadata reads and parses metadata.yaml, returning its bytes too so
// that it can be written out unchanged.
func readMetadata(r io.Reader, size int64) (Metadata, []byte, error) {
	if size > maxMetadataSize {
		return Metadata{}, nil, fmt.Errorf("metadata.yaml is too big (%d bytes)", size)
	}
	data, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return Metadata{}, nil, fmt.Errorf("read metadata.yaml: %w", err)
	}
	var m Metadata
	if err := yaml.Unmarshal(data, &m); err != nil {
		return Metadata{}, nil, fmt.Errorf("parse metadata.yaml: %w", err)
	}
	return m, data, nil
}

// clearDir removes everything inside dir (not dir itself) without
// following symlinks.
func clearDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(dir + "/" + e.Name())
	}
}
