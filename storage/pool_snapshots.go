package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

func (p *pool) CreateSnapshot(ctx context.Context, name, snap string) error {
	if err := errors.Join(ValidName(name), ValidName(snap)); err != nil {
		return fmt.Errorf("create snapshot %q of volume %q: %w", snap, name, err)
	}
	if !p.VolumeExists(name) {
		return fmt.Errorf("create snapshot %q of volume %q: %w", snap, name, ErrNotFound)
	}
	if err := os.Mkdir(p.snapDir(name), modeSnapshots); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create snapshot %q of volume %q: %w", snap, name, poolFull(p.name, err))
	}
	vol := p.VolumePath(name)
	err := p.build(ctx, p.SnapshotPath(name, snap), func(work string) error {
		return p.be.clone(ctx, vol, work, true)
	})
	if err != nil {
		_ = os.Remove(p.snapDir(name)) // only if empty: leave nothing
		return fmt.Errorf("create snapshot %q of volume %q: %w", snap, name, err)
	}
	return nil
}

func (p *pool) DeleteSnapshot(ctx context.Context, name, snap string) error {
	if err := errors.Join(ValidName(name), ValidName(snap)); err != nil {
		return fmt.Errorf("delete snapshot %q of volume %q: %w", snap, name, err)
	}
	if err := p.removeAside(ctx, p.SnapshotPath(name, snap)); err != nil {
		return fmt.Errorf("delete snapshot %q of volume %q: %w", snap, name, err)
	}
	_ = os.Remove(p.snapDir(name)) // only if empty
	return nil
}

func (p *pool) RestoreSnapshot(ctx context.Context, name, snap string) (err error) {
	if err := errors.Join(ValidName(name), ValidName(snap)); err != nil {
		return fmt.Errorf("restore snapshot %q of volume %q: %w", snap, name, err)
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("restore snapshot %q of volume %q: %w", snap, name, err)
		}
	}()
	vol, src := p.VolumePath(name), p.SnapshotPath(name, snap)
	if !p.VolumeExists(name) || !isDir(src) {
		return ErrNotFound
	}
	// The old content is removed after the swap.
	if mounted, err := hasMountsUnder(vol); err != nil {
		return err
	} else if mounted {
		return ErrBusy
	}
	limit, err := p.be.quota(ctx, vol)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	parent, err := os.MkdirTemp(p.tmpDir(), "restore-")
	if err != nil {
		return poolFull(p.name, err)
	}
	defer p.discard(ctx, parent, &err)
	work := filepath.Join(parent, "v")
	if err := p.cloneWritable(ctx, src)(work); err != nil {
		return poolFull(p.name, err)
	}
	if limit > 0 {
		if err := p.be.setQuota(ctx, work, limit); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// RENAME_EXCHANGE swaps both names in one step: at every instant the
	// volume is either the old or the new content. The old one is now
	// at work and goes with the work directory.
	if err := unix.Renameat2(unix.AT_FDCWD, work, unix.AT_FDCWD, vol, unix.RENAME_EXCHANGE); err != nil {
		return fmt.Errorf("swap in restored content: %w", err)
	}
	return nil
}

func (p *pool) Snapshots(ctx context.Context, name string) ([]string, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("list snapshots of volume %q: %w", name, err)
	}
	if !p.VolumeExists(name) {
		return nil, fmt.Errorf("list snapshots of volume %q: %w", name, ErrNotFound)
	}
	names, err := listNames(p.snapDir(name))
	if err != nil {
		return nil, fmt.Errorf("list snapshots of volume %q: %w", name, err)
	}
	return names, nil
}

func (p *pool) CopyFromSnapshot(ctx context.Context, name, snap, dst string) error {
	if err := errors.Join(ValidName(name), ValidName(snap), ValidName(dst)); err != nil {
		return fmt.Errorf("copy snapshot %q of volume %q to %q: %w", snap, name, dst, err)
	}
	src := p.SnapshotPath(name, snap)
	if !isDir(src) {
		return fmt.Errorf("copy snapshot %q of volume %q: %w", snap, name, ErrNotFound)
	}
	if err := p.build(ctx, p.VolumePath(dst), p.cloneWritable(ctx, src)); err != nil {
		return fmt.Errorf("copy snapshot %q of volume %q to %q: %w", snap, name, dst, err)
	}
	return nil
}

func (p *pool) CreateCustom(ctx context.Context, name string, size int64) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("create custom volume %q: %w", name, err)
	}
	if size < 0 {
		return fmt.Errorf("create custom volume %q: %w %d", name, ErrInvalidSize, size)
	}
	err := p.build(ctx, p.CustomPath(name), func(work string) error {
		if err := p.be.create(ctx, work); err != nil {
			return err
		}
		if err := os.Chmod(work, modeCustom); err != nil {
			return err
		}
		if size > 0 {
			return p.be.setQuota(ctx, work, size)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create custom volume %q: %w", name, err)
	}
	return nil
}

func (p *pool) DeleteCustom(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return fmt.Errorf("delete custom volume %q: %w", name, err)
	}
	if err := p.removeAside(ctx, p.CustomPath(name)); err != nil {
		return fmt.Errorf("delete custom volume %q: %w", name, err)
	}
	return nil
}

func (p *pool) Customs(ctx context.Context) ([]string, error) {
	names, err := listNames(p.customDir())
	if err != nil {
		return nil, fmt.Errorf("list custom volumes of pool %q: %w", p.name, err)
	}
	return names, nil
}

func (p *pool) PoolUsage(ctx context.Context) (PoolUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(p.path, &st); err != nil {
		return PoolUsage{}, fmt.Errorf("usage of pool %q: %w", p.name, err)
	}
	bs := st.Bsize
	return PoolUsage{Used: int64(st.Blocks-st.Bfree) * bs, Total: int64(st.Blocks) * bs}, nil
}

func (p *pool) Delete(ctx context.Context) error {
	// The pool root itself may be a mount (a loop pool): only mounts
	// below it make removal unsafe.
	if mounted, err := hasMountsBelow(p.path); err != nil {
		return fmt.Errorf("delete pool %q: %w", p.name, err)
	} else if mounted {
		return fmt.Errorf("delete pool %q: %w", p.name, ErrBusy)
	}
	p.spareMu.Lock()
	defer p.spareMu.Unlock()
	p.deleted = true
	removeLayout := func() error {
		for _, dir := range []string{p.containersDir(), p.snapshotsDir(), p.customDir(), p.sparesDir(), p.imagesDir(), p.tmpDir()} {
			if err := p.be.remove(ctx, dir); err != nil {
				return err
			}
		}
		return nil
	}
	if err := p.be.teardown(ctx, removeLayout); err != nil {
		return fmt.Errorf("delete pool %q: %w", p.name, err)
	}
	// Only if empty: a source directory the user gave may hold more.
	if err := os.Remove(p.path); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("delete pool %q: %w", p.name, err)
	}
	return nil
}

func (p *pool) Grow(ctx context.Context, newSize int64) error {
	if newSize <= 0 {
		return fmt.Errorf("grow pool %q: %w %d", p.name, ErrInvalidSize, newSize)
	}
	if err := p.be.grow(ctx, newSize); err != nil {
		return fmt.Errorf("grow pool %q: %w", p.name, err)
	}
	return nil
}
