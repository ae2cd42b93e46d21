package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
)

// lastStateKey records, at a host shutdown, that a guest was running, so
// that a guest with boot.autostart unset comes back after the reboot (as in
// LXD); boot.autostart=false keeps it down.
const lastStateKey = "volatile.last_state.power"

func intKey(cfg map[string]string, key string) int {
	n, _ := strconv.Atoi(cfg[key])
	return n
}

// autostart starts, at daemon start, the stopped guests that want it,
// highest boot.autostart.priority first, waiting boot.autostart.delay
// seconds after each.
func (d *daemon) autostart(ctx context.Context) {
	insts, err := d.instanceList(ctx)
	if err != nil {
		slog.Error("autostart", "err", err)
		return
	}
	var todo []expandedInstance
	for _, ie := range insts {
		want := ie.cfg["boot.autostart"] == "true" || (ie.cfg["boot.autostart"] == "" && ie.inst.Config[lastStateKey] == "RUNNING")
		if want && d.cache.get(ie.inst.Name).Status == instance.StatusStopped {
			todo = append(todo, ie)
		}
	}
	for _, ie := range autostartOrder(todo) {
		name := ie.inst.Name
		err := d.withLock(ctx, name, func() error {
			// The host-shutdown mark is used once: a guest the admin stops
			// later stays down across daemon restarts.
			if ie.inst.Config[lastStateKey] != "" {
				if err := d.markLastState(ctx, name, ""); err != nil {
					return err
				}
			}
			return d.startInstance(ctx, nil, name, false)
		})
		if err != nil {
			slog.Error("autostart failed", "instance", name, "err", err)
			continue
		}
		slog.Info("autostarted", "instance", name, "priority", intKey(ie.cfg, "boot.autostart.priority"))
		if delay := intKey(ie.cfg, "boot.autostart.delay"); delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(delay) * time.Second):
			}
		}
	}
}

// stopAll stops every running guest cleanly for a host power-off: groups
// of equal boot.stop.priority in turn, highest first, the guests of a group
// in parallel. Each running guest is marked so that it comes back at the
// next start unless boot.autostart=false.
func (d *daemon) stopAll(ctx context.Context, timeout time.Duration) error {
	insts, err := d.instanceList(ctx)
	if err != nil {
		return err
	}
	var running []expandedInstance
	for _, ie := range insts {
		if d.cache.refresh(ie.inst.Name).Status != instance.StatusStopped {
			running = append(running, ie)
		}
	}
	var errs []error
	for _, group := range stopGroups(running) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, ie := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := ie.inst.Name
				err := d.withLock(ctx, name, func() error {
					if err := d.markLastState(ctx, name, "RUNNING"); err != nil {
						return err
					}
					return d.stopInstance(ctx, name, timeout, false)
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("stop %q: %w", name, err))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		slog.Info("stopped guests of one stop priority", "priority", intKey(group[0].cfg, "boot.stop.priority"), "count", len(group))
	}
	return errors.Join(errs...)
}

// autostartOrder returns the guests in the order autostart starts them:
// highest boot.autostart.priority first, by name among equals. It is pure
// so that the order is tested apart from the daemon (the instance list
// comes sorted by name, which would hide a missing priority sort).
func autostartOrder(todo []expandedInstance) []expandedInstance {
	out := append([]expandedInstance(nil), todo...)
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := intKey(out[i].cfg, "boot.autostart.priority"), intKey(out[j].cfg, "boot.autostart.priority")
		if pi != pj {
			return pi > pj
		}
		return out[i].inst.Name < out[j].inst.Name
	})
	return out
}

// stopGroups splits the running guests into groups of equal
// boot.stop.priority, highest priority first; stopAll stops a group in
// parallel and the groups in turn.
func stopGroups(running []expandedInstance) [][]expandedInstance {
	groups := map[int][]expandedInstance{}
	for _, ie := range running {
		p := intKey(ie.cfg, "boot.stop.priority")
		groups[p] = append(groups[p], ie)
	}
	prios := make([]int, 0, len(groups))
	for p := range groups {
		prios = append(prios, p)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(prios)))
	out := make([][]expandedInstance, 0, len(prios))
	for _, p := range prios {
		out = append(out, groups[p])
	}
	return out
}

// markLastState sets (or, with "", removes) the host-shutdown mark.
func (d *daemon) markLastState(ctx context.Context, name, state string) error {
	return d.db.Transaction(ctx, func(tx *db.Tx) error {
		inst, err := tx.InstanceGet(ctx, name)
		if err != nil {
			return err
		}
		if state == "" {
			delete(inst.Config, lastStateKey)
		} else {
			inst.Config[lastStateKey] = state
		}
		return tx.InstanceUpdate(ctx, inst)
	})
}

// internalShutdown (PUT /internal/shutdown?timeout=N) stops every guest in
// stop priority order and then the daemon: what a host power-off runs.
func (d *daemon) internalShutdown(w http.ResponseWriter, r *http.Request) {
	timeout := defaultStopTimeout
	if t, err := strconv.Atoi(r.URL.Query().Get("timeout")); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	if err := d.stopAll(r.Context(), timeout); err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
	d.requestShutdown()
}

// requestShutdown makes serve return (once).
func (d *daemon) requestShutdown() { d.shutdownOnce.Do(func() { close(d.shutdownCh) }) }
