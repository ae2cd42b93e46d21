package client

import (
	"errors"
	"fmt"

	"github.com/lxmgr/lxmgr/api"
)

// ChangedError reports that a write carrying an ETag (If-Match) was refused
// because the object changed after it was read (HTTP 412). Nothing was
// saved. It matches api.ErrPrecondition with errors.Is.
type ChangedError struct {
	Kind string // "instance", "network"
	Name string
	Err  error // the daemon's error
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s %s was changed by someone else since it was read; nothing was saved, read it again and retry", e.Kind, e.Name)
}

// Unwrap returns the daemon's error.
func (e *ChangedError) Unwrap() error { return e.Err }

// changed turns a 412 answer to a conditional write into a ChangedError and
// returns any other error unchanged.
func changed(kind, name string, err error) error {
	if err != nil && errors.Is(err, api.ErrPrecondition) {
		return &ChangedError{Kind: kind, Name: name, Err: err}
	}
	return err
}
