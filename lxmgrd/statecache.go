package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/instance"
)

// refreshEvery is how often the cache re-checks every guest with liblxc, to
// notice guests that stopped on their own (poweroff inside, crash).
const refreshEvery = 2 * time.Second

// runtimeState is what the daemon knows of a guest without asking it.
type runtimeState struct {
	Status instance.Status
	Pid    int
	Ready  bool // init reported boot finished (for this pid)
}

// stateCache holds every instance's runtime state in memory, so that list
// and info never spawn a process or enter a guest (DESIGN "State and speed").
type stateCache struct {
	drv *instance.Driver
	mu  sync.RWMutex
	m   map[string]runtimeState

	// onNewInit is called when run finds a running guest with an init pid
	// it did not have before (it rebooted itself, or started behind the
	// daemon's back), so its readiness is tracked again.
	onNewInit func(name string, pid int)
	// onStopped is called when run finds that a guest it saw running has
	// stopped on its own (poweroff inside, crash).
	onStopped func(name string)
	// onTick is called with every guest's state at each periodic refresh;
	// it must be cheap (memory only).
	onTick func(name string, st runtimeState)
}

func newStateCache(drv *instance.Driver) *stateCache {
	return &stateCache{drv: drv, m: map[string]runtimeState{}}
}

// get returns the cached state; unknown names are stopped.
func (c *stateCache) get(name string) runtimeState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if st, ok := c.m[name]; ok {
		return st
	}
	return runtimeState{Status: instance.StatusStopped}
}

// refresh asks liblxc (through the monitor's socket, no process spawned)
// and stores the answer. Ready survives as long as the init pid is the same.
func (c *stateCache) refresh(name string) runtimeState {
	st, err := c.drv.State(name)
	next := runtimeState{Status: instance.StatusStopped}
	if err == nil {
		next = runtimeState{Status: st.Status, Pid: st.Pid}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[name]; ok && prev.Ready && prev.Pid == next.Pid && next.Pid != 0 {
		next.Ready = true
	}
	c.m[name] = next
	return next
}

func (c *stateCache) setReady(name string, pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[name]; ok && st.Pid == pid {
		st.Ready = true
		c.m[name] = st
	}
}

func (c *stateCache) forget(name string) {
	c.mu.Lock()
	delete(c.m, name)
	c.mu.Unlock()
}

func (c *stateCache) names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.m))
	for n := range c.m {
		out = append(out, n)
	}
	return out
}

// run re-checks every known guest periodically until ctx ends.
func (c *stateCache) run(ctx context.Context) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, n := range c.names() {
			before := c.get(n)
			after := c.refresh(n)
			if before.Status != after.Status {
				slog.Info("instance state changed", "instance", n, "from", before.Status, "to", after.Status)
				if after.Status == instance.StatusStopped && c.onStopped != nil {
					c.onStopped(n)
				}
			}
			if after.Status == instance.StatusRunning && after.Pid != 0 && after.Pid != before.Pid && !after.Ready && c.onNewInit != nil {
				c.onNewInit(n, after.Pid)
			}
			if c.onTick != nil {
				c.onTick(n, after)
			}
		}
	}
}

// statusCode maps the driver's status to LXD's codes.
func statusCode(s instance.Status) api.StatusCode {
	switch s {
	case instance.StatusRunning:
		return api.Running
	case instance.StatusFrozen:
		return api.Frozen
	case instance.StatusStarting:
		return api.Starting
	case instance.StatusStopping:
		return api.Stopping
	case instance.StatusFreezing:
		return api.Freezing
	case instance.StatusAborting:
		return api.Aborting
	default:
		return api.Stopped
	}
}
