package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/lxmgr/lxmgr/internal/childproc"
)

// dirBackend is the "dir" driver: volumes are plain directories and copies
// (snapshots included) are `cp -a --reflink=auto`, so they are clones on
// filesystems with reflinks (xfs, btrfs) and full copies elsewhere. Sizes
// are limited with project quotas where the filesystem has them enabled
// (ext4 or xfs mounted with prjquota), see dir_quota.go.
type dirBackend struct {
	name string
	path string
	// prj is the project quota handle, nil without project quotas; set by
	// setup.
	prj *projectQuota
}

func newDir(name string, config map[string]string) (Driver, error) {
	for k := range config {
		if k != "source" && !strings.HasPrefix(k, "volatile.") {
			return nil, fmt.Errorf("pool %q: %w: unknown key %q for driver \"dir\"", name, ErrInvalidConfig, k)
		}
	}
	src, err := sourcePath(name, config)
	if err != nil {
		return nil, err
	}
	return &pool{name: name, path: src, be: &dirBackend{name: name, path: src}}, nil
}

// sourcePath returns the cleaned absolute "source" of config.
func sourcePath(name string, config map[string]string) (string, error) {
	src := config["source"]
	if src == "" || !filepath.IsAbs(src) || strings.ContainsAny(src, "\n\r\x00") {
		return "", fmt.Errorf("pool %q: %w: \"source\" must be an absolute path, got %q", name, ErrInvalidConfig, src)
	}
	return filepath.Clean(src), nil
}

func (d *dirBackend) kind() string { return "dir" }

func (d *dirBackend) caps() Capabilities { return Capabilities{Quotas: d.prj != nil} }

func (d *dirBackend) setup(ctx context.Context) error {
	if err := os.MkdirAll(d.path, modeRoot); err != nil {
		return err
	}
	prj, err := openProjectQuota(d.path)
	if err != nil {
		return err
	}
	d.prj = prj
	return nil
}

func (d *dirBackend) create(ctx context.Context, path string) error {
	return os.Mkdir(path, modeVolume)
}

func (d *dirBackend) clone(ctx context.Context, src, dst string, readonly bool) error {
	// cp -a keeps owners, modes, timestamps, xattrs, hardlinks, symlinks
	// and device nodes; --reflink=auto clones extents where the
	// filesystem can. The context kills cp on cancellation, and a crash
	// of the daemon kills it too (childproc). The copy is made under dst's
	// project (if any): the directory it lands in is not, so cp's files
	// start unaccounted and setQuota labels them.
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "cp", "-a", "--reflink=auto", "--", src, dst)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := childproc.Run(cmd); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("cp: %w: %s", err, strings.TrimSpace(out.String()))
	}
	return ctx.Err()
}

func (d *dirBackend) seal(ctx context.Context, path string) error { return nil }

func (d *dirBackend) publish(ctx context.Context, work, final string) error {
	return renameNoReplace(work, final)
}

func (d *dirBackend) remove(ctx context.Context, path string) error {
	return os.RemoveAll(path)
}

func (d *dirBackend) setQuota(ctx context.Context, path string, bytes int64) error {
	if d.prj == nil {
		return notSupported("quotas are not supported by storage pool %q (driver dir on a filesystem without project quotas)", d.name)
	}
	return d.prj.set(ctx, path, bytes)
}

func (d *dirBackend) quota(ctx context.Context, path string) (int64, error) {
	if d.prj == nil {
		return 0, nil
	}
	return d.prj.get(path)
}

func (d *dirBackend) teardown(ctx context.Context, removeLayout func() error) error {
	return removeLayout()
}

func (d *dirBackend) grow(ctx context.Context, size int64) error {
	return notSupported("storage pool %q (driver dir) cannot grow: it uses the space of the filesystem it is on", d.name)
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
