package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Directory modes of the pool layout. The pool root and containers/ are
// traversable (0711) but not listable; every volume directory is 0700 root,
// which keeps host users away from the guests' setuid binaries. liblxc
// opens an idmapped rootfs from the (root) parent, so guests still start.
const (
	modeRoot       = 0o711
	modeContainers = 0o711
	modeImages     = 0o700
	modeTmp        = 0o700
	modeVolume     = 0o700
)

// dirDriver is the "dir" driver: volumes are plain directories and copies
// are `cp -a --reflink=auto`, so they are clones on filesystems with
// reflinks (xfs, btrfs) and full copies elsewhere.
type dirDriver struct {
	name string
	path string
}

func newDir(name string, config map[string]string) (Driver, error) {
	for k := range config {
		if k != "source" && !strings.HasPrefix(k, "volatile.") {
			return nil, fmt.Errorf("pool %q: %w: unknown key %q for driver \"dir\"", name, ErrInvalidConfig, k)
		}
	}
	src := config["source"]
	if src == "" || !filepath.IsAbs(src) || strings.ContainsAny(src, "\n\r\x00") {
		return nil, fmt.Errorf("pool %q: %w: \"source\" must be an absolute path, got %q", name, ErrInvalidConfig, src)
	}
	return &dirDriver{name: name, path: filepath.Clean(src)}, nil
}

func (d *dirDriver) Name() string               { return d.name }
func (d *dirDriver) Driver() string             { return "dir" }
func (d *dirDriver) Path() string               { return d.path }
func (d *dirDriver) Capabilities() Capabilities { return Capabilities{} }

func (d *dirDriver) tmpDir() string        { return filepath.Join(d.path, ".tmp") }
func (d *dirDriver) imagesDir() string     { return filepath.Join(d.path, "images") }
func (d *dirDriver) containersDir() string { return filepath.Join(d.path, "containers") }

func (d *dirDriver) Init(ctx context.Context) error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{d.path, modeRoot},
		{d.imagesDir(), modeImages},
		{d.containersDir(), modeContainers},
		{d.tmpDir(), modeTmp},
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir.path, dir.mode); err != nil {
			return fmt.Errorf("init pool %q: %w", d.name, err)
		}
		// Chmod because MkdirAll obeys the umask and leaves existing
		// directories as they were; Init repairs the modes.
		if err := os.Chmod(dir.path, dir.mode); err != nil {
			return fmt.Errorf("init pool %q: %w", d.name, err)
		}
	}
	leftovers, err := os.ReadDir(d.tmpDir())
	if err != nil {
		return fmt.Errorf("init pool %q: %w", d.name, err)
	}
	for _, e := range leftovers {
		if err := os.RemoveAll(filepath.Join(d.tmpDir(), e.Name())); err != nil {
			return fmt.Errorf("init pool %q: remove leftover %q: %w", d.name, e.Name(), err)
		}
	}
	return nil
}

func (d *dirDriver) ImagePath(fp string) string {
	if ValidName(fp) != nil {
		return ""
	}
	return filepath.Join(d.imagesDir(), fp)
}

func (d *dirDriver) VolumePath(name string) string {
	if ValidName(name) != nil {
		return ""
	}
	return filepath.Join(d.containersDir(), name)
}

func (d *dirDriver) HasImage(fp string) bool { return isDir(d.ImagePath(fp)) }

func (d *dirDriver) VolumeExists(name string) bool { return isDir(d.VolumePath(name)) }

func isDir(p string) bool {
	if p == "" {
		return false
	}
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

func (d *dirDriver) CreateImage(ctx context.Context, fp string, fill func(ctx context.Context, dir string) error) (err error) {
	if err := ValidName(fp); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	if d.HasImage(fp) {
		return fmt.Errorf("create image %q: %w", fp, ErrExists)
	}
	parent, err := os.MkdirTemp(d.tmpDir(), "image-")
	if err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	defer removeAll(parent, &err)
	work := filepath.Join(parent, "v")
	if err := os.Mkdir(work, modeVolume); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	if err := fill(ctx, work); err != nil {
		return fmt.Errorf("create image %q: fill: %w", fp, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	if err := os.Chmod(work, modeVolume); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	if err := renameNoReplace(work, d.ImagePath(fp)); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	return nil
}

func (d *dirDriver) DeleteImage(ctx context.Context, fp string) error {
	if err := ValidName(fp); err != nil {
		return fmt.Errorf("delete image %q: %w", fp, err)
	}
	if err := d.removeVolume(d.ImagePath(fp)); err != nil {
		return fmt.Errorf("delete image %q: %w", fp, err)
	}
	return nil
}

func (d *dirDriver) CreateFromImage(ctx context.Context, name, fp string) error {
	if err := errors.Join(ValidName(name), ValidName(fp)); err != nil {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	if !d.HasImage(fp) {
		return fmt.Errorf("create volume %q: image %q: %w", name, fp, ErrNotFound)
	}
	if err := d.copyInto(ctx, d.ImagePath(fp), d.VolumePath(name)); err != nil {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	return nil
}

func (d *dirDriver) CopyVolume(ctx context.Context, src, dst string) error {
	if err := errors.Join(ValidName(src), ValidName(dst)); err != nil {
		return fmt.Errorf("copy volume %q to %q: %w", src, dst, err)
	}
	if !d.VolumeExists(src) {
		return fmt.Errorf("copy volume %q: %w", src, ErrNotFound)
	}
	if err := d.copyInto(ctx, d.VolumePath(src), d.VolumePath(dst)); err != nil {
		return fmt.Errorf("copy volume %q to %q: %w", src, dst, err)
	}
	return nil
}

// copyInto copies the directory src to final through a work directory in
// .tmp, so final appears whole or not at all.
func (d *dirDriver) copyInto(ctx context.Context, src, final string) (err error) {
	if isDir(final) {
		return ErrExists
	}
	parent, err := os.MkdirTemp(d.tmpDir(), "copy-")
	if err != nil {
		return err
	}
	defer removeAll(parent, &err)
	work := filepath.Join(parent, "v")
	// cp -a keeps owners, modes, timestamps, xattrs, hardlinks, symlinks
	// and device nodes; --reflink=auto clones extents where the
	// filesystem can. The context kills cp on cancellation.
	cmd := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", "--", src, work)
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("cp: %w: %s", err, strings.TrimSpace(string(out)))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Chmod(work, modeVolume); err != nil {
		return err
	}
	return renameNoReplace(work, final)
}

func (d *dirDriver) DeleteVolume(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("delete volume %q: %w", name, err)
	}
	if err := d.removeVolume(d.VolumePath(name)); err != nil {
		return fmt.Errorf("delete volume %q: %w", name, err)
	}
	return nil
}

// removeVolume first moves the volume into .tmp, so that it vanishes from
// its place at once and a crash during the (long) removal leaves only a
// leftover that Init cleans, never a half-deleted volume.
func (d *dirDriver) removeVolume(p string) (err error) {
	if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// RemoveAll crosses mount points: with a host directory bind-mounted
	// into a guest's rootfs it would delete the host's data.
	if mounted, err := hasMountsUnder(p); err != nil {
		return err
	} else if mounted {
		return ErrBusy
	}
	parent, err := os.MkdirTemp(d.tmpDir(), "delete-")
	if err != nil {
		return err
	}
	if err := os.Rename(p, filepath.Join(parent, "v")); err != nil {
		_ = os.Remove(parent)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted concurrently
		}
		return err
	}
	return os.RemoveAll(parent)
}

func (d *dirDriver) RenameVolume(ctx context.Context, old, new string) error {
	if err := errors.Join(ValidName(old), ValidName(new)); err != nil {
		return fmt.Errorf("rename volume %q to %q: %w", old, new, err)
	}
	if !d.VolumeExists(old) {
		return fmt.Errorf("rename volume %q: %w", old, ErrNotFound)
	}
	if err := renameNoReplace(d.VolumePath(old), d.VolumePath(new)); err != nil {
		return fmt.Errorf("rename volume %q to %q: %w", old, new, err)
	}
	return nil
}

func (d *dirDriver) Volumes(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.containersDir())
	if err != nil {
		return nil, fmt.Errorf("list volumes of pool %q: %w", d.name, err)
	}
	names := []string{}
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (d *dirDriver) Usage(ctx context.Context, name string) (int64, error) {
	if err := ValidName(name); err != nil {
		return 0, fmt.Errorf("usage of volume %q: %w", name, err)
	}
	if !d.VolumeExists(name) {
		return 0, fmt.Errorf("usage of volume %q: %w", name, ErrNotFound)
	}
	n, err := diskUsage(ctx, d.VolumePath(name))
	if err != nil {
		return n, fmt.Errorf("usage of volume %q: %w", name, err)
	}
	return n, nil
}

// diskUsage sums the allocated blocks under root, counting each hardlinked
// inode once. Files vanishing during the walk are skipped (best effort).
func diskUsage(ctx context.Context, root string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return nil
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if st.Nlink > 1 && !e.IsDir() {
			key := inode{uint64(st.Dev), st.Ino}
			if seen[key] {
				return nil
			}
			seen[key] = true
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// removeAll removes a work directory on the way out; a failure to clean up
// is reported only if nothing else failed.
func removeAll(p string, errp *error) {
	if err := os.RemoveAll(p); err != nil && *errp == nil {
		*errp = fmt.Errorf("clean up %q: %w", p, err)
	}
}
