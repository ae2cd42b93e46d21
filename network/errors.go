package network

import "github.com/lxmgr/lxmgr/api"

// apiError is a sentinel that also matches an api sentinel, so the daemon's
// single error table maps network errors to HTTP codes.
type apiError struct {
	msg string
	api error
}

func (e *apiError) Error() string { return e.msg }

// Is lets errors.Is match the api sentinel this error stands for.
func (e *apiError) Is(target error) bool { return target == e.api }

// Sentinel errors of the network package.
var (
	// ErrInvalid: a bad name, config key or value, proxy spec (matches
	// api.ErrInvalid).
	ErrInvalid error = &apiError{"invalid", api.ErrInvalid}
	// ErrConflict: a subnet overlaps something, a listen address is taken, a
	// link of that name exists but is not a bridge (matches api.ErrConflict).
	ErrConflict error = &apiError{"conflict", api.ErrConflict}
	// ErrNotFound: no such link or proxy (matches api.ErrNotFound).
	ErrNotFound error = &apiError{"not found", api.ErrNotFound}
)
