package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/lxmgr/lxmgr/internal/childproc"
	"golang.org/x/sys/unix"
)

// defaultLoopSize is the size of a loop file without a "size" key.
const defaultLoopSize = 5 << 30

// btrfsBackend is the "btrfs" driver: every volume is a subvolume. Images
// are made read-only once filled; instance volumes, snapshots and copies
// are snapshots of them, so launching costs no copy. Sizes are limited with
// qgroups on the referenced size of a volume's subvolume (what the guest
// sees, shared blocks included), as LXD does; quotas are enabled on the
// filesystem the first time a limit is set.
type btrfsBackend struct {
	name     string
	path     string
	loopFile string // "" for a pool on an existing btrfs directory
	size     int64  // loop file size at creation

	mu           sync.Mutex
	quotaEnabled bool
}

func newBtrfs(name string, config map[string]string) (Driver, error) {
	for k := range config {
		switch {
		case k == "source" || k == "loop.file" || k == "size" || strings.HasPrefix(k, "volatile."):
		default:
			return nil, fmt.Errorf("pool %q: %w: unknown key %q for driver \"btrfs\"", name, ErrInvalidConfig, k)
		}
	}
	src, err := sourcePath(name, config)
	if err != nil {
		return nil, err
	}
	b := &btrfsBackend{name: name, path: src, size: defaultLoopSize}
	if f, ok := config["loop.file"]; ok {
		if !filepath.IsAbs(f) || strings.ContainsAny(f, "\n\r\x00") {
			return nil, fmt.Errorf("pool %q: %w: \"loop.file\" must be an absolute path, got %q", name, ErrInvalidConfig, f)
		}
		b.loopFile = filepath.Clean(f)
		if strings.HasPrefix(b.loopFile, src+"/") {
			return nil, fmt.Errorf("pool %q: %w: \"loop.file\" cannot be inside \"source\"", name, ErrInvalidConfig)
		}
	}
	if s, ok := config["size"]; ok {
		if b.loopFile == "" {
			return nil, fmt.Errorf("pool %q: %w: \"size\" needs \"loop.file\"", name, ErrInvalidConfig)
		}
		n, err := ParseSize(s)
		if err != nil || n < 128<<20 {
			return nil, fmt.Errorf("pool %q: %w: \"size\" must be at least 128MiB, got %q", name, ErrInvalidConfig, s)
		}
		b.size = n
	}
	return &pool{name: name, path: src, be: b}, nil
}

func (b *btrfsBackend) kind() string { return "btrfs" }

func (b *btrfsBackend) caps() Capabilities {
	return Capabilities{CoW: true, Quotas: true, Snapshots: true}
}

func (b *btrfsBackend) setup(ctx context.Context) error {
	if b.loopFile != "" {
		if err := loopFile(ctx, b.loopFile, b.size, "mkfs.btrfs", "-q"); err != nil {
			return err
		}
		if err := mountLoop(b.loopFile, b.path, "btrfs", ""); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(b.path, modeRoot); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(b.path, &st); err != nil {
		return err
	}
	if st.Type != unix.BTRFS_SUPER_MAGIC {
		return fmt.Errorf("%w: %q is not on a btrfs filesystem", ErrInvalidConfig, b.path)
	}
	return nil
}

func (b *btrfsBackend) create(ctx context.Context, path string) error {
	return subvolCreate(path)
}

func (b *btrfsBackend) clone(ctx context.Context, src, dst string, readonly bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return subvolSnapshot(src, dst, readonly)
}

func (b *btrfsBackend) seal(ctx context.Context, path string) error {
	return subvolSetReadonly(path, true)
}

// publish renames a writable work subvolume into place. A read-only one
// cannot be renamed (EROFS: its ".." entry would change), so it is
// published as a read-only snapshot of itself, which is as atomic and
// costs only metadata.
func (b *btrfsBackend) publish(ctx context.Context, work, final string) error {
	ro, err := subvolReadonly(work)
	if err != nil {
		return err
	}
	if !ro {
		return renameNoReplace(work, final)
	}
	if err := subvolSnapshot(work, final, true); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return ErrExists
		}
		return err
	}
	return nil
}

func (b *btrfsBackend) remove(ctx context.Context, path string) error {
	return btrfsRemove(path)
}

// btrfsCmd runs the btrfs tool.
func btrfsCmd(ctx context.Context, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "btrfs", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := childproc.Run(cmd); err != nil {
		return out.String(), fmt.Errorf("btrfs %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// enableQuota turns qgroups on for the filesystem, once. Enabling starts a
// rescan; limits are only right once it is done, so wait for it.
func (b *btrfsBackend) enableQuota(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.quotaEnabled {
		return nil
	}
	if _, err := btrfsCmd(ctx, "qgroup", "show", b.path); err != nil {
		if _, err := btrfsCmd(ctx, "quota", "enable", b.path); err != nil {
			return err
		}
		if _, err := btrfsCmd(ctx, "quota", "rescan", "-w", b.path); err != nil {
			return err
		}
	}
	b.quotaEnabled = true
	return nil
}

func (b *btrfsBackend) setQuota(ctx context.Context, path string, bytes int64) error {
	if bytes == 0 {
		if limit, err := b.quota(ctx, path); err != nil || limit == 0 {
			return err // no quotas or no limit: nothing to remove
		}
	}
	if err := b.enableQuota(ctx); err != nil {
		return err
	}
	limit := "none"
	if bytes > 0 {
		limit = strconv.FormatInt(bytes, 10)
	}
	_, err := btrfsCmd(ctx, "qgroup", "limit", limit, path)
	return err
}

// quota reads the referenced-size limit of the subvolume at path from
// `btrfs qgroup show -rf --raw` (its 0/<id> line: qgroupid rfer excl
// max_rfer); 0 without quotas or limit.
func (b *btrfsBackend) quota(ctx context.Context, path string) (int64, error) {
	if on, known := quotasOn(path); known && !on {
		return 0, nil
	}
	out, err := btrfsCmd(ctx, "qgroup", "show", "-rf", "--raw", path)
	if err != nil {
		return 0, nil // quotas not enabled
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "0/") {
			continue
		}
		if f[3] == "none" {
			return 0, nil
		}
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse qgroup limit %q: %w", f[3], err)
		}
		return n, nil
	}
	return 0, nil
}

func (b *btrfsBackend) teardown(ctx context.Context, removeLayout func() error) error {
	if b.loopFile == "" {
		return removeLayout()
	}
	if err := unmountLoop(b.loopFile, b.path, "btrfs"); err != nil {
		return err
	}
	if err := removeFile(b.loopFile); err != nil {
		return err
	}
	return removeFile(b.loopFile + ".tmp")
}

func (b *btrfsBackend) grow(ctx context.Context, size int64) error {
	if b.loopFile == "" {
		return notSupported("storage pool %q (driver btrfs on %q) cannot grow: only pools on a loop file can", b.name, b.path)
	}
	if err := growLoop(b.loopFile, size); err != nil {
		return err
	}
	_, err := btrfsCmd(ctx, "filesystem", "resize", "max", b.path)
	return err
}
