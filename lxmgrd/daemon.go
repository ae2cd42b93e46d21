package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/storage"
)

// daemon is the running lxmgrd: its state directory, inventory, drivers and
// in-memory runtime state.
type daemon struct {
	dir   string
	db    *db.DB
	lxc   *instance.Driver
	ops   *operations
	locks *nameLocks
	cache *stateCache
	ready *readyTrackers
	ids   idRange
	lock  *os.File // flock on lxmgrd.lock: one daemon per directory

	poolsMu sync.RWMutex
	pools   map[string]storage.Driver
	spares  spareTimers

	net        netState
	guestAddrs guestAddrCache // netlink reads of guests' addresses
	// proxyMu serialises syncProxies (starting, adopting, killing proxy
	// processes); proxyPids (under proxyPidsMu) is the init pid each
	// instance's proxy processes serve.
	proxyMu     sync.Mutex
	proxyPidsMu sync.Mutex
	proxyPids   map[string]int

	// shutdownCh is closed when a host power-off was asked for (SIGPWR or
	// PUT /internal/shutdown): serve returns after the guests are stopped.
	shutdownCh   chan struct{}
	shutdownOnce sync.Once

	// bg is the daemon's lifetime context; operations derive from it so a
	// shutdown cancels them.
	bg context.Context
}

func (d *daemon) socketPath() string { return filepath.Join(d.dir, "unix.socket") }
func (d *daemon) imagesDir() string  { return filepath.Join(d.dir, "images") }
func (d *daemon) lxcPath() string    { return filepath.Join(d.dir, "containers") }
func (d *daemon) defaultPoolPath() string {
	return filepath.Join(d.dir, "storage-pools", "default")
}

// newDaemon prepares the state directory, takes the daemon lock, opens the
// inventory and repairs what a crash left behind. It does not listen yet.
func newDaemon(ctx context.Context, dir string) (*daemon, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("must run as root (it manages containers, mounts and cgroups)")
	}
	raiseHostLimits() // inotify, keys, neighbours, pids: before any guest starts
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", dir, err)
	}
	d := &daemon{dir: abs, ops: newOperations(), locks: newNameLocks(), pools: map[string]storage.Driver{}, proxyPids: map[string]int{}, shutdownCh: make(chan struct{}), bg: ctx}
	// 0711: host users may traverse to what liblxc needs but can list nothing.
	for _, p := range []string{d.dir, d.imagesDir(), d.lxcPath(), filepath.Join(d.dir, "storage-pools")} {
		if err := os.MkdirAll(p, 0o711); err != nil {
			return nil, fmt.Errorf("create %s: %w", p, err)
		}
		if err := os.Chmod(p, 0o711); err != nil {
			return nil, fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	if err := d.takeLock(); err != nil {
		return nil, err
	}
	d.db, err = db.Open(ctx, filepath.Join(d.dir, "lxmgr.db"))
	if err != nil {
		return nil, fmt.Errorf("open inventory: %w", err)
	}
	d.lxc = instance.New(d.lxcPath())
	d.ids, err = readIDRange()
	if err != nil {
		slog.Warn("no subordinate id range for root: unprivileged guests cannot be created until scripts/setup.sh has run", "err", err)
	}
	if err := d.initProfiles(ctx); err != nil {
		return nil, err
	}
	if err := d.initPools(ctx); err != nil {
		return nil, err
	}
	if err := d.initNetworks(ctx); err != nil {
		return nil, fmt.Errorf("networks: %w", err)
	}
	d.cache = newStateCache(d.lxc)
	d.ready = newReadyTrackers()
	d.cache.onNewInit = func(name string, pid int) {
		d.watchReady(name, pid)
		// The forwards' processes hold the old init's namespace.
		go d.resyncProxies(name)
	}
	// In the background: the refresh loop must not wait on dnsmasq.
	d.cache.onStopped = func(name string) { go d.stoppedOnItsOwn(name) }
	d.cache.onTick = d.proxyCheck
	if err := d.repair(ctx); err != nil {
		return nil, fmt.Errorf("repair state left by the last run: %w", err)
	}
	d.reconcileProxies(ctx)
	return d, nil
}

// takeLock makes sure no other lxmgrd uses this directory.
func (d *daemon) takeLock() error {
	path := filepath.Join(d.dir, "lxmgrd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		f.Close()
		return fmt.Errorf("another lxmgrd (pid %s) is already running for %s", strings.TrimSpace(string(pid)), d.dir)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	d.lock = f
	return nil
}

func (d *daemon) initProfiles(ctx context.Context) error {
	return d.db.Transaction(ctx, func(tx *db.Tx) error {
		if _, err := tx.ProfileGet(ctx, "default"); err == nil {
			return nil
		} else if !errors.Is(err, db.ErrNotFound) {
			return err
		}
		return tx.ProfileCreate(ctx, profiles.Default())
	})
}

// initPools loads the pools of the inventory (creating "default", a dir pool,
// on first start) and initialises each driver.
func (d *daemon) initPools(ctx context.Context) error {
	var pools []db.Pool
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		pools, err = tx.PoolList(ctx)
		if err != nil || len(pools) > 0 {
			return err
		}
		p := db.Pool{Name: "default", Driver: "dir", Config: map[string]string{"source": d.defaultPoolPath()}}
		if err := tx.PoolCreate(ctx, p.Name, p.Driver, p.Config); err != nil {
			return err
		}
		pools = append(pools, p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load storage pools: %w", err)
	}
	for _, p := range pools {
		drv, err := storage.New(p.Name, p.Driver, p.Config)
		if err != nil {
			return fmt.Errorf("storage pool %q: %w", p.Name, err)
		}
		if err := drv.Init(ctx); err != nil {
			return fmt.Errorf("storage pool %q: %w", p.Name, err)
		}
		d.pools[p.Name] = drv
	}
	return nil
}

func (d *daemon) pool(name string) (storage.Driver, error) {
	d.poolsMu.RLock()
	defer d.poolsMu.RUnlock()
	p, ok := d.pools[name]
	if !ok {
		return nil, fmt.Errorf("%w: storage pool %q", db.ErrNotFound, name)
	}
	return p, nil
}

// serve listens on the unix socket until ctx ends, then shuts down without
// touching the guests.
func (d *daemon) serve(ctx context.Context) error {
	sock := d.socketPath()
	// We hold the lock, so a socket file left here is stale.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", sock, err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sock, err)
	}
	if err := d.socketPerms(sock); err != nil {
		l.Close()
		return err
	}
	srv := &http.Server{Handler: d.routes(), ReadHeaderTimeout: 10 * time.Second}
	go d.cache.run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	slog.Info("lxmgrd ready", "dir", d.dir, "socket", sock, "pid", os.Getpid(), "version", version)

	go d.autostart(ctx)
	go d.runSnapshotSchedules(ctx)
	pwr := make(chan os.Signal, 1)
	signal.Notify(pwr, syscall.SIGPWR)
	defer signal.Stop(pwr)
	bye := "shutting down; guests keep running"
	select {
	case <-ctx.Done():
	case <-d.shutdownCh:
		bye = "shutting down after stopping the guests"
	case <-pwr:
		// Host power-off: stop the guests cleanly, in stop priority order.
		slog.Info("SIGPWR: stopping all guests for host shutdown")
		if err := d.stopAll(ctx, defaultStopTimeout); err != nil {
			slog.Error("stopping guests for host shutdown", "err", err)
		}
		bye = "shutting down after stopping the guests"
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	slog.Info(bye)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	d.ops.shutdown(sctx)
	// The proxy processes keep serving: the next start adopts them.
	os.Remove(sock)
	d.db.Close()
	d.lock.Close()
	return nil
}

// socketPerms makes the socket 0660, group lxmgr when that group exists
// (membership of it is root-equivalent), root otherwise.
func (d *daemon) socketPerms(sock string) error {
	if g, err := user.LookupGroup("lxmgr"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(sock, 0, gid); err != nil {
			return fmt.Errorf("chown socket: %w", err)
		}
	}
	if err := os.Chmod(sock, 0o660); err != nil {
		return fmt.Errorf("chmod socket: %w", err)
	}
	return nil
}
