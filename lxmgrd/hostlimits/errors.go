package hostlimits

import "errors"

// ErrInvalidGuests is returned by Inspect for a negative guest count.
var ErrInvalidGuests = errors.New("invalid guest count")

// ErrNotRoot is returned by Inspect and Raise when root is not a directory.
var ErrNotRoot = errors.New("not a directory")
