package instance

import (
	"fmt"

	"github.com/lxmgr/lxmgr/api"
)

// Sentinel errors of the driver. Each wraps the matching api error so the
// daemon's single error table maps them to HTTP codes with errors.Is.
var (
	// ErrNotFound means no container of that name is defined under the lxc path.
	ErrNotFound = fmt.Errorf("container %w", api.ErrNotFound)
	// ErrRunning means the operation needs a stopped container.
	ErrRunning = fmt.Errorf("container is running: %w", api.ErrConflict)
	// ErrNotRunning means the operation needs a running container.
	ErrNotRunning = fmt.Errorf("container is not running: %w", api.ErrConflict)
	// ErrInvalidSpec means a Spec (or a name) was refused before anything was written.
	ErrInvalidSpec = fmt.Errorf("invalid container spec: %w", api.ErrInvalid)
	// ErrUnsupported means a limit needs a cgroup file this host does not have.
	ErrUnsupported = fmt.Errorf("not supported on this host: %w", api.ErrInvalid)
)
