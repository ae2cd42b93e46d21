package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Directory modes of the pool layout. The pool root and containers/ are
// traversable (0711) but not listable; every volume directory is 0700 root,
// which keeps host users away from the guests' setuid binaries. liblxc
// opens an idmapped rootfs from the (root) parent, so guests still start.
// Custom volumes and their parent custom/ are 0711: liblxc sets up the
// idmapped bind of a volume from inside the guest's user namespace, so the
// guest's root must be able to traverse to it (as LXD's custom/ is). Host
// users can traverse but not list them.
const (
	modeRoot       = 0o711
	modeContainers = 0o711
	modeImages     = 0o700
	modeSnapshots  = 0o700
	modeCustomRoot = 0o711
	modeTmp        = 0o700
	modeVolume     = 0o700
	modeCustom     = 0o711
)

// backend is what differs between drivers whose volumes are directories
// of one filesystem (dir: plain directories and copies; btrfs: subvolumes
// and snapshots). pool implements Driver on top of it, so the layout, the
// atomicity (build in .tmp, rename into place) and the errors are the same
// for every such driver. Paths given to a backend are absolute and valid.
type backend interface {
	// kind is the driver's name.
	kind() string
	// setup prepares the filesystem at the pool root before the layout is
	// made (btrfs: check it, or create, attach and mount the loop file).
	setup(ctx context.Context) error
	// caps says what the backend supports; valid after setup.
	caps() Capabilities
	// create makes an empty volume at path, which does not exist.
	create(ctx context.Context, path string) error
	// clone makes dst, which does not exist, a copy of the volume src;
	// readonly asks for a read-only copy where the backend enforces it.
	clone(ctx context.Context, src, dst string, readonly bool) error
	// seal makes a finished image volume read-only where it can.
	seal(ctx context.Context, path string) error
	// publish moves the finished work volume to final, atomically and
	// without replacing an existing final (ErrExists). What it leaves
	// at work is removed by the caller.
	publish(ctx context.Context, work, final string) error
	// remove deletes path whatever it holds (a volume, a directory of
	// volumes, a file); a missing path is not an error.
	remove(ctx context.Context, path string) error
	// setQuota limits the volume at path to bytes; 0 removes the limit.
	setQuota(ctx context.Context, path string, bytes int64) error
	// quota returns the limit of the volume at path, 0 if none.
	quota(ctx context.Context, path string) (int64, error)
	// teardown deletes the pool; removeLayout removes every volume, and a
	// backend that drops the whole filesystem need not call it.
	teardown(ctx context.Context, removeLayout func() error) error
	// grow enlarges the pool's filesystem to size bytes.
	grow(ctx context.Context, size int64) error
}

// pool is a Driver over a backend, with the layout documented in doc.go.
type pool struct {
	name string
	path string
	be   backend

	// spareMu serialises making and removing spares (PrepareFromImage,
	// DeleteImage, Delete); taking one is a rename and needs no lock.
	spareMu sync.Mutex
	// deleted is set by Delete so that a late PrepareFromImage does not
	// recreate part of the layout.
	deleted bool
}

func (p *pool) Name() string               { return p.name }
func (p *pool) Driver() string             { return p.be.kind() }
func (p *pool) Path() string               { return p.path }
func (p *pool) Capabilities() Capabilities { return p.be.caps() }

func (p *pool) tmpDir() string        { return filepath.Join(p.path, ".tmp") }
func (p *pool) imagesDir() string     { return filepath.Join(p.path, "images") }
func (p *pool) containersDir() string { return filepath.Join(p.path, "containers") }
func (p *pool) snapshotsDir() string  { return filepath.Join(p.path, "containers-snapshots") }
func (p *pool) customDir() string     { return filepath.Join(p.path, "custom") }
func (p *pool) sparesDir() string     { return filepath.Join(p.path, ".spares") }

// snapDir holds the snapshots of volume name; name must be valid.
func (p *pool) snapDir(name string) string { return filepath.Join(p.snapshotsDir(), name) }

func (p *pool) Init(ctx context.Context) error {
	if err := p.be.setup(ctx); err != nil {
		return fmt.Errorf("init pool %q: %w", p.name, err)
	}
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{p.path, modeRoot},
		{p.imagesDir(), modeImages},
		{p.containersDir(), modeContainers},
		{p.snapshotsDir(), modeSnapshots},
		{p.customDir(), modeCustomRoot},
		{p.tmpDir(), modeTmp},
		{p.sparesDir(), modeTmp},
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir.path, dir.mode); err != nil {
			return fmt.Errorf("init pool %q: %w", p.name, err)
		}
		// Chmod because MkdirAll obeys the umask and leaves existing
		// directories as they were; Init repairs the modes.
		if err := os.Chmod(dir.path, dir.mode); err != nil {
			return fmt.Errorf("init pool %q: %w", p.name, err)
		}
	}
	leftovers, err := os.ReadDir(p.tmpDir())
	if err != nil {
		return fmt.Errorf("init pool %q: %w", p.name, err)
	}
	for _, e := range leftovers {
		p.removeLeftover(ctx, filepath.Join(p.tmpDir(), e.Name()))
	}
	// A spare must not outlive its image (a crash inside DeleteImage).
	if err := p.removeOrphans(ctx, p.sparesDir(), p.HasImage); err != nil {
		return fmt.Errorf("init pool %q: spares: %w", p.name, err)
	}
	// Snapshots must not outlive their volume (a crash inside
	// RenameVolume or DeleteVolume can leave some), or a new volume of
	// that name would inherit them.
	if err := p.removeOrphans(ctx, p.snapshotsDir(), p.VolumeExists); err != nil {
		return fmt.Errorf("init pool %q: snapshots: %w", p.name, err)
	}
	return nil
}

// removeOrphans removes the entries of dir whose name is invalid or whose
// owner is gone (owned false).
func (p *pool) removeOrphans(ctx context.Context, dir string, owned func(name string) bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if ValidName(e.Name()) != nil || !owned(e.Name()) {
			if err := p.be.remove(ctx, filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove orphaned %q: %w", e.Name(), err)
			}
		}
	}
	return nil
}

func (p *pool) ImagePath(fp string) string {
	if ValidName(fp) != nil {
		return ""
	}
	return filepath.Join(p.imagesDir(), fp)
}

func (p *pool) VolumePath(name string) string {
	if ValidName(name) != nil {
		return ""
	}
	return filepath.Join(p.containersDir(), name)
}

func (p *pool) SnapshotPath(name, snap string) string {
	if ValidName(name) != nil || ValidName(snap) != nil {
		return ""
	}
	return filepath.Join(p.snapDir(name), snap)
}

func (p *pool) CustomPath(name string) string {
	if ValidName(name) != nil {
		return ""
	}
	return filepath.Join(p.customDir(), name)
}

func (p *pool) HasImage(fp string) bool { return isDir(p.ImagePath(fp)) }

func (p *pool) VolumeExists(name string) bool { return isDir(p.VolumePath(name)) }

func isDir(p string) bool {
	if p == "" {
		return false
	}
	st, err := os.Lstat(p)
	return err == nil && st.IsDir()
}

// removeLeftover removes work an interrupted operation left in .tmp. It
// retries briefly, and a failure does not keep the pool from opening: the
// leftover is invisible to everything else and the next Init tries again.
// (A helper of a crashed daemon writing into it is killed with the daemon,
// see childproc, but may take a moment to go.)
func (p *pool) removeLeftover(ctx context.Context, path string) {
	var err error
	for try := 0; try < 5; try++ {
		if err = p.be.remove(ctx, path); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	slog.Warn("storage: leftover of interrupted work not removed; retried at next start", "pool", p.name, "path", path, "err", err)
}

// build makes final atomically: make fills a work path in .tmp that is
// renamed to final on success and removed, with whatever make left, on
// failure. Space errors become ErrPoolFull.
func (p *pool) build(ctx context.Context, final string, make func(work string) error) (err error) {
	if isDir(final) {
		return ErrExists
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	parent, err := os.MkdirTemp(p.tmpDir(), "work-")
	if err != nil {
		return poolFull(p.name, err)
	}
	defer p.discard(ctx, parent, &err)
	work := filepath.Join(parent, "v")
	if err := make(work); err != nil {
		return poolFull(p.name, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return poolFull(p.name, p.be.publish(ctx, work, final))
}

// discard removes a work directory on the way out, even when ctx is
// cancelled; a failure to clean up is reported only if nothing else failed.
func (p *pool) discard(ctx context.Context, path string, errp *error) {
	if err := p.be.remove(context.WithoutCancel(ctx), path); err != nil && *errp == nil {
		*errp = fmt.Errorf("clean up %q: %w", path, err)
	}
}

// cloneWritable returns a build step cloning the volume src writable.
func (p *pool) cloneWritable(ctx context.Context, src string) func(work string) error {
	return func(work string) error {
		if err := p.be.clone(ctx, src, work, false); err != nil {
			return err
		}
		return os.Chmod(work, modeVolume)
	}
}

func (p *pool) CreateImage(ctx context.Context, fp string, fill func(ctx context.Context, dir string) error) error {
	if err := ValidName(fp); err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	err := p.build(ctx, p.ImagePath(fp), func(work string) error {
		if err := p.be.create(ctx, work); err != nil {
			return err
		}
		if err := os.Chmod(work, modeVolume); err != nil {
			return err
		}
		if err := fill(ctx, work); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return p.be.seal(ctx, work)
	})
	if err != nil {
		return fmt.Errorf("create image %q: %w", fp, err)
	}
	return nil
}

func (p *pool) DeleteImage(ctx context.Context, fp string) error {
	if err := ValidName(fp); err != nil {
		return fmt.Errorf("delete image %q: %w", fp, err)
	}
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	if err := p.removeAside(ctx, p.ImagePath(fp), filepath.Join(p.sparesDir(), fp)); err != nil {
		return fmt.Errorf("delete image %q: %w", fp, err)
	}
	return nil
}

// PrepareFromImage makes ahead of time the writable clone of image fp that
// the next CreateFromImage of it takes by a rename. On btrfs a snapshot
// commits a transaction, which has to write out everything the running
// guests wrote since the last one: 15 ms on an idle pool, up to 300 ms with
// 200 guests running. Made in the background between launches, it is no
// longer part of one. One spare per image, only where clones are cheap
// (Capabilities().CoW): elsewhere it does nothing. Idempotent.
func (p *pool) PrepareFromImage(ctx context.Context, fp string) error {
	if err := ValidName(fp); err != nil {
		return fmt.Errorf("prepare from image %q: %w", fp, err)
	}
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	if p.deleted {
		return fmt.Errorf("prepare from image %q: pool %q: %w", fp, p.name, ErrNotFound)
	}
	if !p.HasImage(fp) {
		return fmt.Errorf("prepare from image %q: %w", fp, ErrNotFound)
	}
	if !p.be.caps().CoW {
		return nil
	}
	err := p.build(ctx, filepath.Join(p.sparesDir(), fp), p.cloneWritable(ctx, p.ImagePath(fp)))
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("prepare from image %q: %w", fp, err)
	}
	return nil
}

func (p *pool) CreateFromImage(ctx context.Context, name, fp string) error {
	if err := errors.Join(ValidName(name), ValidName(fp)); err != nil {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	if !p.HasImage(fp) {
		return fmt.Errorf("create volume %q: image %q: %w", name, fp, ErrNotFound)
	}
	final := p.VolumePath(name)
	if isDir(final) {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, ErrExists)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	// A prepared clone, if any: taking it is atomic, and a concurrent
	// create that took it first leaves ENOENT here and clones instead.
	switch err := renameNoReplace(filepath.Join(p.sparesDir(), fp), final); {
	case err == nil:
		return nil
	case errors.Is(err, ErrExists):
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	if err := p.build(ctx, final, p.cloneWritable(ctx, p.ImagePath(fp))); err != nil {
		return fmt.Errorf("create volume %q from image %q: %w", name, fp, err)
	}
	return nil
}

func (p *pool) CopyVolume(ctx context.Context, src, dst string) error {
	if err := errors.Join(ValidName(src), ValidName(dst)); err != nil {
		return fmt.Errorf("copy volume %q to %q: %w", src, dst, err)
	}
	if !p.VolumeExists(src) {
		return fmt.Errorf("copy volume %q: %w", src, ErrNotFound)
	}
	if err := p.build(ctx, p.VolumePath(dst), p.cloneWritable(ctx, p.VolumePath(src))); err != nil {
		return fmt.Errorf("copy volume %q to %q: %w", src, dst, err)
	}
	return nil
}

// removeAside moves the paths (missing ones are skipped) into one work
// directory in .tmp, so they vanish from their places at once and a crash
// during the (long) removal leaves only a leftover that Init cleans, then
// removes them. ErrBusy if something is mounted inside any of them:
// removal would reach through the mount into, say, a host directory
// bind-mounted into a guest.
func (p *pool) removeAside(ctx context.Context, paths ...string) (err error) {
	var present []string
	for _, path := range paths {
		if _, err := os.Lstat(path); err == nil {
			present = append(present, path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if len(present) == 0 {
		return nil
	}
	for _, path := range present {
		if mounted, err := hasMountsUnder(path); err != nil {
			return err
		} else if mounted {
			return ErrBusy
		}
	}
	parent, err := os.MkdirTemp(p.tmpDir(), "delete-")
	if err != nil {
		return err
	}
	defer p.discard(ctx, parent, &err)
	for i, path := range present {
		err := os.Rename(path, filepath.Join(parent, fmt.Sprint(i)))
		if errors.Is(err, unix.EROFS) {
			// A read-only btrfs subvolume cannot move, but deleting
			// it is one atomic call anyway.
			err = p.be.remove(ctx, path)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (p *pool) DeleteVolume(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("delete volume %q: %w", name, err)
	}
	// The volume goes first: a crash in between leaves orphaned
	// snapshots, which Init removes, never a volume missing snapshots.
	if err := p.removeAside(ctx, p.VolumePath(name), p.snapDir(name)); err != nil {
		return fmt.Errorf("delete volume %q: %w", name, err)
	}
	return nil
}

func (p *pool) RenameVolume(ctx context.Context, old, new string) error {
	if err := errors.Join(ValidName(old), ValidName(new)); err != nil {
		return fmt.Errorf("rename volume %q to %q: %w", old, new, err)
	}
	if !p.VolumeExists(old) {
		return fmt.Errorf("rename volume %q: %w", old, ErrNotFound)
	}
	if _, err := os.Lstat(p.snapDir(new)); err == nil {
		return fmt.Errorf("rename volume %q to %q: snapshots of %q: %w", old, new, new, ErrExists)
	}
	if err := renameNoReplace(p.VolumePath(old), p.VolumePath(new)); err != nil {
		return fmt.Errorf("rename volume %q to %q: %w", old, new, err)
	}
	if _, err := os.Lstat(p.snapDir(old)); err != nil {
		return nil
	}
	if err := renameNoReplace(p.snapDir(old), p.snapDir(new)); err != nil {
		if rerr := renameNoReplace(p.VolumePath(new), p.VolumePath(old)); rerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", rerr))
		}
		return fmt.Errorf("rename volume %q to %q: snapshots: %w", old, new, err)
	}
	return nil
}

func (p *pool) Volumes(ctx context.Context) ([]string, error) {
	names, err := listNames(p.containersDir())
	if err != nil {
		return nil, fmt.Errorf("list volumes of pool %q: %w", p.name, err)
	}
	return names, nil
}

// listNames returns the valid names of the directories in dir, sorted; a
// missing dir has none.
func listNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	names := []string{}
	for _, e := range entries {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (p *pool) Usage(ctx context.Context, name string) (int64, error) {
	if err := ValidName(name); err != nil {
		return 0, fmt.Errorf("usage of volume %q: %w", name, err)
	}
	if !p.VolumeExists(name) {
		return 0, fmt.Errorf("usage of volume %q: %w", name, ErrNotFound)
	}
	n, err := diskUsage(ctx, p.VolumePath(name))
	if err != nil {
		return n, fmt.Errorf("usage of volume %q: %w", name, err)
	}
	return n, nil
}

func (p *pool) SetQuota(ctx context.Context, name string, bytes int64) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("set quota of volume %q: %w", name, err)
	}
	if bytes < 0 {
		return fmt.Errorf("set quota of volume %q: %w %d", name, ErrInvalidSize, bytes)
	}
	if !p.VolumeExists(name) {
		return fmt.Errorf("set quota of volume %q: %w", name, ErrNotFound)
	}
	if err := p.be.setQuota(ctx, p.VolumePath(name), bytes); err != nil {
		return fmt.Errorf("set quota of volume %q: %w", name, err)
	}
	return nil
}
