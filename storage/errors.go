package storage

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"golang.org/x/sys/unix"
)

// apiError is a sentinel that also matches an api sentinel, so the daemon's
// error table maps storage errors to HTTP codes without knowing them.
type apiError struct {
	msg string
	api error
}

func (e *apiError) Error() string { return e.msg }

// Is lets errors.Is match the api sentinel this error stands for.
func (e *apiError) Is(target error) bool { return target == e.api }

// Sentinel errors of the storage package.
var (
	// ErrInvalidName is returned for a volume, image or pool name that must
	// not become a path (matches api.ErrInvalid).
	ErrInvalidName error = &apiError{"invalid name", api.ErrInvalid}
	// ErrExists is returned when the target volume or image already exists
	// (matches api.ErrConflict).
	ErrExists error = &apiError{"already exists", api.ErrConflict}
	// ErrNotFound is returned when the source volume or image does not exist
	// (matches api.ErrNotFound).
	ErrNotFound error = &apiError{"not found", api.ErrNotFound}
	// ErrBusy is returned when a volume cannot be removed because
	// something is mounted inside it (matches api.ErrConflict).
	ErrBusy error = &apiError{"busy: something is mounted inside", api.ErrConflict}
	// ErrUnknownDriver is returned by New for a driver name it does not know
	// (matches api.ErrInvalid).
	ErrUnknownDriver error = &apiError{"unknown storage driver", api.ErrInvalid}
	// ErrInvalidConfig is returned by New for a bad pool config (matches
	// api.ErrInvalid).
	ErrInvalidConfig error = &apiError{"invalid pool config", api.ErrInvalid}
)

// More sentinel errors of the storage package.
var (
	// ErrNotSupported is returned when a pool's driver (or the filesystem
	// under it) cannot do what was asked, such as quotas on a dir pool
	// without project quotas or Grow on a pool that is not a loop file
	// (matches api.ErrInvalid).
	ErrNotSupported error = &apiError{"not supported", api.ErrInvalid}
	// ErrInvalidSize is returned for a negative size or quota (matches
	// api.ErrInvalid).
	ErrInvalidSize error = &apiError{"invalid size", api.ErrInvalid}
	// ErrPoolFull is returned when a create, copy, snapshot or restore ran
	// out of space (ENOSPC) or hit a quota (EDQUOT). Nothing of the failed
	// operation is left behind. It matches no api sentinel: the daemon maps
	// it to HTTP 507 Insufficient Storage.
	ErrPoolFull = errors.New("storage pool is full")
)

// detailError carries its own message but matches a sentinel and, when
// set, the underlying cause, so callers can test errors.Is(err, ErrPoolFull)
// while users read a sentence made for them.
type detailError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *detailError) Error() string {
	if e.cause != nil {
		return e.msg + ": " + e.cause.Error()
	}
	return e.msg
}

func (e *detailError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.sentinel, e.cause}
	}
	return []error{e.sentinel}
}

// notSupported returns an ErrNotSupported with the given message.
func notSupported(format string, args ...any) error {
	return &detailError{msg: fmt.Sprintf(format, args...), sentinel: ErrNotSupported}
}

// isFull reports whether err says that a filesystem or quota ran out of
// space. Commands such as cp only report it in their output, which the
// callers include in err's text.
func isFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) || errors.Is(err, ErrPoolFull) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "No space left on device") || strings.Contains(msg, "Disk quota exceeded")
}

// poolFull turns a space error into ErrPoolFull for pool, keeping the cause;
// other errors pass unchanged.
func poolFull(pool string, err error) error {
	if !isFull(err) || errors.Is(err, ErrPoolFull) {
		return err
	}
	return &detailError{msg: fmt.Sprintf("storage pool %q is full", pool), sentinel: ErrPoolFull, cause: err}
}
