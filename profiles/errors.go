package profiles

import "github.com/lxmgr/lxmgr/api"

// invalidError is a sentinel that also matches api.ErrInvalid, so that the
// daemon's single error table maps every validation failure to HTTP 400
// without knowing this package's sentinels.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }

// Is reports whether target is api.ErrInvalid.
func (e *invalidError) Is(target error) bool { return target == api.ErrInvalid }

// Sentinel errors of this package. Each one also matches api.ErrInvalid
// with errors.Is.
var (
	// ErrUnknownKey is returned for a config key that is not in the schema.
	ErrUnknownKey error = &invalidError{"unknown config key"}
	// ErrInvalidValue is returned for a config value its validator refuses.
	ErrInvalidValue error = &invalidError{"invalid value"}
	// ErrReadOnlyKey is returned when a user tries to set an internal key
	// (volatile.*) that only the daemon may write.
	ErrReadOnlyKey error = &invalidError{"read-only config key"}
	// ErrUnsupportedDevice is returned for a device type lxmgr cannot
	// attach yet (nic, proxy, ...).
	ErrUnsupportedDevice error = &invalidError{"unsupported device"}
	// ErrInvalidDevice is returned for a malformed device: bad name,
	// missing or unknown key, bad path.
	ErrInvalidDevice error = &invalidError{"invalid device"}
	// ErrInvalidYAML is returned by ParseYAML for a document that does not
	// parse or has unknown fields.
	ErrInvalidYAML error = &invalidError{"invalid profile yaml"}
)
