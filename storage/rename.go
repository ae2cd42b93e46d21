package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames old to new but never replaces an existing new
// (rename(2) would silently replace an empty directory). Filesystems without
// RENAME_NOREPLACE fall back to a check then rename, which the daemon's
// per-name locking makes safe enough.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY):
		return ErrExists
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		if _, err := os.Lstat(new); err == nil {
			return ErrExists
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return os.Rename(old, new)
	default:
		return fmt.Errorf("rename %q to %q: %w", old, new, err)
	}
}
