package image

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// BuildOptions tunes Build.
type BuildOptions struct {
	// Mirror is the Debian mirror URL given to debootstrap; "" lets
	// debootstrap use its own default.
	Mirror string
	// Progress, if set, is called with short stage lines
	// ("debootstrap: downloading", "packing", ...). It must not block.
	Progress func(msg string)
	// WorkDir is a scratch directory, ideally on the same filesystem as
	// the destination; the temporary rootfs is made there and always
	// removed. "" means the directory of the destination.
	WorkDir string
}

func (o BuildOptions) progress(msg string) {
	if o.Progress != nil {
		o.Progress(msg)
	}
}

// Built describes a tarball written by Build.
type Built struct {
	Path         string            // the unified tarball written (the dest given to Build)
	Fingerprint  string            // sha256 hex of the tarball file
	Size         int64             // size of the tarball in bytes
	Architecture string            // LXD architecture name, e.g. "x86_64"
	Properties   map[string]string // os, release, variant, description, init, halt_signal, ...
}

// recipe fills rootfs (an existing, empty directory) and returns the image
// properties and the pack options the result needs.
type recipe func(ctx context.Context, rootfs string, opts BuildOptions) (map[string]string, packOptions, error)

// Build builds the image called name (a canonical name or any alias) into an
// LXD unified tarball at dest: metadata.yaml and rootfs/ at the top level,
// gzip-compressed. On any failure, cancellation included, nothing is left at
// dest and the scratch rootfs is removed; a running debootstrap is killed.
func Build(ctx context.Context, name, dest string, opts BuildOptions) (Built, error) {
	canonical, err := Canonical(name)
	if err != nil {
		return Built{}, err
	}
	var build recipe
	switch canonical {
	case "busybox":
		build = buildBusybox
	default:
		build = debianRecipe(canonical[len("debian/"):])
	}

	workDir := opts.WorkDir
	if workDir == "" {
		workDir = filepath.Dir(dest)
	}
	scratch, err := os.MkdirTemp(workDir, ".build-*")
	if err != nil {
		return Built{}, fmt.Errorf("build %s: scratch dir: %w", canonical, err)
	}
	defer removeScratch(scratch)
	rootfs := filepath.Join(scratch, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return Built{}, fmt.Errorf("build %s: %w", canonical, err)
	}
	if err := os.Chmod(rootfs, 0o755); err != nil { // the umask must not leak into the image
		return Built{}, fmt.Errorf("build %s: %w", canonical, err)
	}

	props, popts, err := build(ctx, rootfs, opts)
	if err != nil {
		return Built{}, fmt.Errorf("build %s: %w", canonical, err)
	}
	if err := ctx.Err(); err != nil {
		return Built{}, fmt.Errorf("build %s: %w", canonical, err)
	}
	meta := Metadata{
		Architecture: HostArchitecture(),
		CreationDate: time.Now().Unix(),
		Properties:   props,
	}
	opts.progress("packing")
	fp, size, err := writeTarball(ctx, dest, rootfs, meta, popts)
	if err != nil {
		return Built{}, fmt.Errorf("build %s: %w", canonical, err)
	}
	opts.progress("done")
	return Built{
		Path:         dest,
		Fingerprint:  fp,
		Size:         size,
		Architecture: meta.Architecture,
		Properties:   props,
	}, nil
}

// removeScratch removes a build's scratch directory. Anything still mounted
// below it (a killed debootstrap's /proc) is detached first so that the
// removal never descends into a kernel filesystem.
func removeScratch(dir string) {
	unmountBelow(dir)
	_ = os.RemoveAll(dir)
}
