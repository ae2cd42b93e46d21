package db

import "github.com/lxmgr/lxmgr/api"

// apiError is a sentinel that also matches an api sentinel, so the daemon's
// single error table maps database errors to HTTP codes.
type apiError struct {
	msg string
	api error
}

func (e *apiError) Error() string { return e.msg }

// Is lets errors.Is match the api sentinel this error stands for.
func (e *apiError) Is(target error) bool { return target == e.api }

// Sentinel errors of the db package.
var (
	// ErrNotFound: no such row (matches api.ErrNotFound).
	ErrNotFound error = &apiError{"not found", api.ErrNotFound}
	// ErrExists: a row with that name (or unique value) exists (matches
	// api.ErrConflict).
	ErrExists error = &apiError{"already exists", api.ErrConflict}
	// ErrAmbiguous: a fingerprint prefix matches more than one image
	// (matches api.ErrInvalid).
	ErrAmbiguous error = &apiError{"ambiguous", api.ErrInvalid}
	// ErrInUse: the row is still referenced (a profile used by instances,
	// a pool holding instances) (matches api.ErrConflict).
	ErrInUse error = &apiError{"in use", api.ErrConflict}
)
