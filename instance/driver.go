// Package instance is the container driver of lxmgr: it renders the liblxc
// config of a guest from a fully resolved Spec and drives liblxc (through
// go-lxc and the lxc-start tool) to start, stop, freeze, exec into and
// watch it. It is the only package that imports go-lxc.
//
// Layout on disk: <lxcpath>/<name>/config (rendered here, 0600),
// <lxcpath>/<name>/lxc.log (liblxc's log of the last starts) and
// <lxcpath>/<name>/console.log (the guest console, size-capped). Directories
// are 0711 so host users cannot reach into them.
//
// Which lxc.mount.auto cgroup mode systemd guests need, and what was tried
// on the hybrid v1+v2 host, is recorded at mountAuto in render.go.
package instance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"

	lxc "github.com/lxc/go-lxc"
)

// Driver runs containers defined under one lxc path. It is safe for
// concurrent use; callers serialise conflicting operations on one name
// (the daemon locks per instance).
type Driver struct {
	// LXCPath is the directory holding <name>/config and <name>/lxc.log.
	LXCPath string

	host hostInfo

	mu    sync.Mutex
	cache map[string]*entry
}

// entry is a cached go-lxc handle. go-lxc parses the config on every
// NewContainer, so one handle per name is kept for the cheap, frequent
// calls (state, pid, freeze, cgroup reads). go-lxc guards each handle with
// its own mutex, but some of its calls hold that mutex for as long as they
// block (Shutdown, RunCommandStatus); those run on a fresh handle instead
// so State never waits behind a shutdown.
type entry struct {
	// mu is held shared while c is in use and exclusively to release it,
	// so a handle is never released under a caller.
	mu sync.RWMutex
	c  *lxc.Container
}

// New returns a driver for containers under lxcPath. It probes the host
// (cgroup layout, AppArmor, seccomp policy, lxcfs) once, here.
func New(lxcPath string) *Driver {
	return &Driver{LXCPath: lxcPath, host: detectHost(), cache: map[string]*entry{}}
}

func (d *Driver) dir(name string) string        { return filepath.Join(d.LXCPath, name) }
func (d *Driver) configPath(name string) string { return filepath.Join(d.LXCPath, name, "config") }
func (d *Driver) logPath(name string) string    { return filepath.Join(d.LXCPath, name, "lxc.log") }

// Exists reports whether a container config for name exists.
func (d *Driver) Exists(name string) bool {
	if ValidName(name) != nil {
		return false
	}
	st, err := os.Stat(d.configPath(name))
	return err == nil && st.Mode().IsRegular()
}

// Defined returns the sorted names of all container directories under the
// lxc path, whatever the daemon's database says (for crash repair). A
// directory left without a config by a crash is listed too; Delete
// removes it.
func (d *Driver) Defined() ([]string, error) {
	ents, err := os.ReadDir(d.LXCPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && ValidName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// Create renders spec and writes it atomically to <lxcpath>/<name>/config.
// Re-rendering the config of an existing, stopped container is allowed (for
// config changes and renames); a running one gives ErrRunning, so the
// config on disk always describes what runs.
func (d *Driver) Create(ctx context.Context, spec Spec) error {
	text, err := d.Render(spec)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := spec.Name
	if d.Exists(name) {
		st, err := d.State(name)
		if err != nil {
			return err
		}
		if st.Status != StatusStopped {
			return fmt.Errorf("create %q: %w", name, ErrRunning)
		}
	}
	if err := mkdir0711(d.LXCPath); err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	if err := mkdir0711(d.dir(name)); err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	if err := writeFileAtomic(d.configPath(name), []byte(text)); err != nil {
		return fmt.Errorf("create %q: %w", name, err)
	}
	// The cached handle holds the old parsed config.
	d.drop(name)
	return nil
}

// Delete removes <lxcpath>/<name> (config and logs; the rootfs belongs to
// storage). It gives ErrRunning unless the container is stopped and
// ErrNotFound if it is not defined.
func (d *Driver) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if !d.Exists(name) {
		// A directory without a config (crash during Create) is not a
		// container but still ours to remove.
		if _, err := os.Lstat(d.dir(name)); err != nil {
			return fmt.Errorf("delete %q: %w", name, ErrNotFound)
		}
		d.drop(name)
		return os.RemoveAll(d.dir(name))
	}
	st, err := d.State(name)
	if err != nil {
		return err
	}
	if st.Status != StatusStopped {
		return fmt.Errorf("delete %q: %w", name, ErrRunning)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.drop(name)
	removeStaleCgroups(name)
	if err := os.RemoveAll(d.dir(name)); err != nil {
		return fmt.Errorf("delete %q: %w", name, err)
	}
	return nil
}

// use runs fn with the cached handle of name, creating it if needed.
func (d *Driver) use(name string, fn func(c *lxc.Container) error) error {
	if err := ValidName(name); err != nil {
		return err
	}
	for {
		e, err := d.entry(name)
		if err != nil {
			return err
		}
		e.mu.RLock()
		if e.c == nil {
			// Released by a concurrent drop; the map no longer holds it.
			e.mu.RUnlock()
			continue
		}
		err = fn(e.c)
		e.mu.RUnlock()
		return err
	}
}

func (d *Driver) entry(name string) (*entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.cache[name]; ok {
		return e, nil
	}
	c, err := d.fresh(name)
	if err != nil {
		return nil, err
	}
	e := &entry{c: c}
	d.cache[name] = e
	return e, nil
}

// fresh returns a new go-lxc handle for a defined container; the caller
// releases it.
func (d *Driver) fresh(name string) (*lxc.Container, error) {
	if !d.Exists(name) {
		return nil, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	c, err := lxc.NewContainer(name, d.LXCPath)
	if err != nil {
		return nil, fmt.Errorf("open container %q: %w", name, err)
	}
	return c, nil
}

// drop forgets and releases the cached handle of name, if any.
func (d *Driver) drop(name string) {
	d.mu.Lock()
	e := d.cache[name]
	delete(d.cache, name)
	d.mu.Unlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.c != nil {
		_ = e.c.Release()
		e.c = nil
	}
}

func mkdir0711(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	// MkdirAll keeps an existing directory's mode and the umask applies.
	return os.Chmod(dir, 0o711)
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so that liblxc never reads half a config. There is no
// fsync: the config is rendered again from the database before every
// start, so one lost in a host crash costs nothing, and each fsync cost a
// launch milliseconds (a launch renders twice).
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".config-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Version returns the version of the liblxc the daemon is linked with.
func Version() string { return lxc.Version() }
