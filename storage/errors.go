package storage

import "github.com/lxmgr/lxmgr/api"

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
