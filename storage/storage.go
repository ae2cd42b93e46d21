package storage

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Capabilities says what a driver can do beyond plain copies.
type Capabilities struct {
	// CoW is true when CreateFromImage, CopyVolume, CreateSnapshot and
	// CopyFromSnapshot are cheap clones rather than full copies.
	CoW bool
	// Quotas is true when SetQuota and sized custom volumes work.
	Quotas bool
	// Snapshots is true when the driver has native (cheap) snapshots; every
	// driver implements the snapshot methods, without it by full copies.
	Snapshots bool
}

// PoolUsage is the space of a pool's filesystem, in bytes. Pools sharing a
// filesystem (dir pools, btrfs pools on an existing btrfs) report all of it.
type PoolUsage struct {
	Used  int64
	Total int64
}

// Driver is one storage pool. Every method is safe for concurrent use on
// different names; the daemon serializes operations on the same name.
// Names of volumes, snapshots and images must pass ValidName, or methods
// fail with ErrInvalidName (path getters return "" and predicates false).
//
// Every create, copy, snapshot and restore is atomic: on error or
// cancellation nothing of it is left (no half volume, no work directory);
// running out of space or quota fails with ErrPoolFull.
type Driver interface {
	// Name returns the pool's name.
	Name() string
	// Driver returns the driver's name ("dir", "btrfs").
	Driver() string
	// Path returns the pool's root directory.
	Path() string
	// Init creates (or mounts) the pool layout, repairs its modes and
	// removes leftovers of interrupted work in .tmp. It is idempotent and
	// must be called before anything else, once per daemon start.
	Init(ctx context.Context) error
	// PoolUsage returns the used and total bytes of the pool's filesystem.
	PoolUsage(ctx context.Context) (PoolUsage, error)
	// Delete removes every volume, image and snapshot of the pool, and for
	// a pool on a loop file unmounts it, detaches the loop device and
	// removes the file. ErrBusy if something is mounted inside the pool.
	Delete(ctx context.Context) error
	// Grow enlarges a pool on a loop file to newSize bytes. ErrNotSupported
	// for other pools and for shrinking.
	Grow(ctx context.Context, newSize int64) error
	// Capabilities says what the driver supports (valid after Init).
	Capabilities() Capabilities

	// HasImage reports whether the image volume fp exists.
	HasImage(fp string) bool
	// CreateImage makes the image volume fp: fill writes the content into
	// an empty work directory (dir/rootfs, dir/metadata.yaml, ...); on
	// success the volume appears atomically as ImagePath(fp); on error or
	// cancellation nothing is left. ErrExists if the image exists.
	CreateImage(ctx context.Context, fp string, fill func(ctx context.Context, dir string) error) error
	// DeleteImage removes the image volume; a missing image is not an error.
	DeleteImage(ctx context.Context, fp string) error
	// ImagePath returns the image volume's directory.
	ImagePath(fp string) string

	// CreateFromImage makes the instance volume name as a copy (or clone)
	// of image fp, preserving owners, modes, xattrs, hardlinks, symlinks
	// and device nodes. ErrNotFound if the image is missing, ErrExists if
	// the volume exists.
	CreateFromImage(ctx context.Context, name, fp string) error
	// PrepareFromImage makes ahead of time, where the driver can (cheap
	// clones), what the next CreateFromImage of fp takes instead of
	// cloning then; it does nothing elsewhere. Idempotent; DeleteImage and
	// Delete remove what it made. ErrNotFound if the image is missing.
	PrepareFromImage(ctx context.Context, fp string) error
	// CopyVolume makes volume dst a copy of volume src, like
	// CreateFromImage (snapshots are not copied). ErrNotFound / ErrExists
	// as there.
	CopyVolume(ctx context.Context, src, dst string) error
	// DeleteVolume removes an instance volume and its snapshots; a missing
	// volume is not an error. ErrBusy if something is mounted inside it
	// (removal would reach through the mount).
	DeleteVolume(ctx context.Context, name string) error
	// RenameVolume renames an instance volume with its snapshots.
	// ErrNotFound if old is missing, ErrExists if new exists.
	RenameVolume(ctx context.Context, old, new string) error
	// VolumeExists reports whether the instance volume exists.
	VolumeExists(name string) bool
	// VolumePath returns the instance volume's directory; the guest's root
	// filesystem is VolumePath(name)+"/rootfs".
	VolumePath(name string) string
	// Volumes lists the instance volumes present, sorted (crash repair
	// compares them with the database).
	Volumes(ctx context.Context) ([]string, error)
	// Usage returns the bytes a volume uses on disk (best effort; blocks
	// shared with an image or snapshot are counted in full).
	Usage(ctx context.Context, name string) (int64, error)
	// SetQuota limits the size of volume name (its whole content, as seen
	// by the guest) to bytes; 0 removes the limit. Writes beyond it fail
	// with EDQUOT or ENOSPC. ErrNotSupported if the pool cannot limit
	// sizes (see Capabilities().Quotas), ErrNotFound if the volume is
	// missing.
	SetQuota(ctx context.Context, name string, bytes int64) error

	// CreateSnapshot makes the read-only snapshot snap of volume name.
	// ErrNotFound if the volume is missing, ErrExists if snap exists.
	CreateSnapshot(ctx context.Context, name, snap string) error
	// DeleteSnapshot removes a snapshot; a missing one is not an error.
	DeleteSnapshot(ctx context.Context, name, snap string) error
	// RestoreSnapshot makes the volume's content the snapshot's. The new
	// content is built aside and swapped in atomically, so a crash leaves
	// either the old or the new content. The volume keeps its quota.
	// ErrNotFound if the volume or snapshot is missing, ErrBusy if
	// something is mounted inside the volume.
	RestoreSnapshot(ctx context.Context, name, snap string) error
	// Snapshots lists the snapshots of volume name, sorted. ErrNotFound if
	// the volume is missing.
	Snapshots(ctx context.Context, name string) ([]string, error)
	// SnapshotPath returns the snapshot's directory (read-only by
	// contract; the content is SnapshotPath(name, snap)+"/rootfs").
	SnapshotPath(name, snap string) string
	// CopyFromSnapshot makes the instance volume dst from snapshot snap
	// of volume name. ErrNotFound if the snapshot is missing, ErrExists if
	// dst exists.
	CopyFromSnapshot(ctx context.Context, name, snap, dst string) error

	// CreateCustom makes the empty custom volume name (a directory mode
	// 0711 owned by root, for attaching into guests); size > 0 limits it
	// like SetQuota, and fails with ErrNotSupported where quotas are not.
	// ErrExists if it exists.
	CreateCustom(ctx context.Context, name string, size int64) error
	// DeleteCustom removes a custom volume; a missing one is not an error.
	// ErrBusy if something is mounted inside it.
	DeleteCustom(ctx context.Context, name string) error
	// CustomPath returns the custom volume's directory.
	CustomPath(name string) string
	// Customs lists the custom volumes, sorted.
	Customs(ctx context.Context) ([]string, error)
}

// factory makes a driver of one kind; drivers register in drivers.
type factory func(name string, config map[string]string) (Driver, error)

var drivers = map[string]factory{
	"dir":   newDir,
	"btrfs": newBtrfs,
}

// Drivers returns the names of the drivers New knows, sorted.
func Drivers() []string {
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the driver for pool name. Config keys ("volatile.*" keys are
// ignored, unknown ones refused with ErrInvalidConfig):
//
//	dir:   "source"    the pool's absolute path (required)
//	btrfs: "source"    the pool's absolute path (required): a directory on
//	                   a btrfs filesystem, or the mount point of the loop file
//	       "loop.file" absolute path of a loop file holding the pool's
//	                   btrfs; Init creates it (sparse, "size" bytes) and
//	                   formats it once, then mounts it on "source"
//	       "size"      the loop file's size when Init creates it, such as
//	                   "5GiB" (the default); only with "loop.file"
//
// The daemon fills the defaults it wants (paths under its state directory);
// the driver only defaults "size". Unknown drivers fail with
// ErrUnknownDriver. New does no I/O; call Init.
func New(name, driver string, config map[string]string) (Driver, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	f, ok := drivers[driver]
	if !ok {
		return nil, fmt.Errorf("pool %q: %w %q (known: %s)", name, ErrUnknownDriver, driver, strings.Join(Drivers(), ", "))
	}
	return f(name, config)
}

// ValidName checks that a volume, image or pool name can safely become one
// path element: not empty, at most 255 bytes, no '/', no "..", not starting
// with '.' (reserved for the pool's own entries such as .tmp), and no
// whitespace or control characters.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(name) > 255:
		return fmt.Errorf("%w %q: longer than 255 bytes", ErrInvalidName, name)
	case strings.Contains(name, "/"):
		return fmt.Errorf("%w %q: contains '/'", ErrInvalidName, name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("%w %q: contains \"..\"", ErrInvalidName, name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("%w %q: starts with '.'", ErrInvalidName, name)
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError {
			return fmt.Errorf("%w %q: contains whitespace or a control character", ErrInvalidName, name)
		}
	}
	return nil
}

// sizeUnits maps a suffix to its multiplier, longest suffixes first so
// "KiB" is not read as "B". Decimal units are powers of 1000, binary ones
// powers of 1024, as in LXD.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15},
	{"B", 1},
}

// ParseSize parses a byte size such as "5GiB", "512MiB", "1GB" or "4096"
// (a non-negative integer with an optional unit).
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	if num == "" || strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("%w %q: want an integer with an optional unit such as MiB or GB", ErrInvalidSize, s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%w %q: out of range", ErrInvalidSize, s)
	}
	return n * mult, nil
}
