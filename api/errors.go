package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Sentinel errors that clients can test with errors.Is. The daemon maps its
// internal errors to HTTP codes in one table; the client maps the codes back
// to these values.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid request")
	ErrForbidden    = errors.New("forbidden")
	ErrPrecondition = errors.New("precondition failed")
	ErrInternal     = errors.New("internal error")
)

// StatusError is an error response of the API: the HTTP code and the
// server's message.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("%d %s", e.Code, http.StatusText(e.Code))
}

// Is lets errors.Is(err, api.ErrNotFound) match a 404 and so on.
func (e *StatusError) Is(target error) bool {
	return SentinelFor(e.Code) == target
}

// SentinelFor returns the sentinel error for an HTTP status code.
func SentinelFor(code int) error {
	switch code {
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusConflict:
		return ErrConflict
	case http.StatusBadRequest:
		return ErrInvalid
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusPreconditionFailed:
		return ErrPrecondition
	default:
		return ErrInternal
	}
}
