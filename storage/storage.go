package storage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Capabilities says what a driver can do beyond plain copies.
type Capabilities struct {
	// CoW is true when CreateFromImage and CopyVolume are cheap clones.
	CoW bool
	// Quotas is true when the driver can limit a volume's size.
	Quotas bool
	// Snapshots is true when the driver has native snapshots.
	Snapshots bool
}

// Driver is one storage pool. Every method is safe for concurrent use on
// different names; the daemon serializes operations on the same name.
// Names of volumes and images must pass ValidName, or methods fail with
// ErrInvalidName (path getters return "" and predicates false).
type Driver interface {
	// Name returns the pool's name.
	Name() string
	// Driver returns the driver's name ("dir").
	Driver() string
	// Path returns the pool's root directory.
	Path() string
	// Init creates (or mounts) the pool layout, repairs its modes and
	// removes leftovers of interrupted work in .tmp. It is idempotent and
	// must be called before anything else, once per daemon start.
	Init(ctx context.Context) error

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
	// and device nodes. Atomic: on error or cancellation nothing is left.
	// ErrNotFound if the image is missing, ErrExists if the volume exists.
	CreateFromImage(ctx context.Context, name, fp string) error
	// CopyVolume makes volume dst a copy of volume src, like
	// CreateFromImage. ErrNotFound / ErrExists as there.
	CopyVolume(ctx context.Context, src, dst string) error
	// DeleteVolume removes an instance volume; a missing volume is not an
	// error. ErrBusy if something is mounted inside it (removal would
	// reach through the mount).
	DeleteVolume(ctx context.Context, name string) error
	// RenameVolume renames an instance volume. ErrNotFound if old is
	// missing, ErrExists if new exists.
	RenameVolume(ctx context.Context, old, new string) error
	// VolumeExists reports whether the instance volume exists.
	VolumeExists(name string) bool
	// VolumePath returns the instance volume's directory; the guest's root
	// filesystem is VolumePath(name)+"/rootfs".
	VolumePath(name string) string
	// Volumes lists the instance volumes present, sorted (crash repair
	// compares them with the database).
	Volumes(ctx context.Context) ([]string, error)
	// Usage returns the bytes a volume uses on disk (best effort).
	Usage(ctx context.Context, name string) (int64, error)
	// Capabilities says what the driver supports.
	Capabilities() Capabilities
}

// factory makes a driver of one kind; drivers register in drivers.
type factory func(name string, config map[string]string) (Driver, error)

var drivers = map[string]factory{
	"dir": newDir,
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

// New returns the driver for pool name. For "dir", config "source" is the
// pool's absolute path (keys "volatile.*" are ignored, others refused).
// Unknown drivers fail with ErrUnknownDriver. New does no I/O; call Init.
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
