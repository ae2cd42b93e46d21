package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
)

// repair runs at start: it reconciles the inventory with what liblxc and the
// pools hold. Instances a crash left in "creating" are removed (their name is
// free again), liblxc configs and volumes with no row are removed unless a
// guest still runs from them, and every known guest's state is loaded into
// the cache so list is right from the first request.
func (d *daemon) repair(ctx context.Context) error {
	var insts []db.Instance
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		insts, err = tx.InstanceList(ctx)
		return err
	})
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, inst := range insts {
		if inst.CreationState != "creating" {
			known[inst.Name] = true
			continue
		}
		slog.Warn("removing instance left half-created by a crash", "instance", inst.Name)
		if err := d.deleteInstance(ctx, inst, true); err != nil {
			return fmt.Errorf("clean half-created instance %q: %w", inst.Name, err)
		}
	}
	defined, err := d.lxc.Defined()
	if err != nil {
		return err
	}
	for _, name := range defined {
		if known[name] {
			continue
		}
		if st, err := d.lxc.State(name); err == nil && st.Status != instance.StatusStopped {
			slog.Error("a guest runs that the inventory does not know; leaving it alone", "instance", name, "pid", st.Pid)
			continue
		}
		slog.Warn("removing liblxc config with no inventory row", "instance", name)
		if err := d.lxc.Delete(ctx, name); err != nil {
			return err
		}
	}
	for pname, pool := range d.pools {
		vols, err := pool.Volumes(ctx)
		if err != nil {
			return fmt.Errorf("list volumes of pool %q: %w", pname, err)
		}
		for _, v := range vols {
			if known[v] {
				continue
			}
			slog.Warn("removing volume with no inventory row", "pool", pname, "volume", v)
			if err := pool.DeleteVolume(ctx, v); err != nil {
				return err
			}
		}
	}
	// Image builds and uploads a crash interrupted.
	leftovers, _ := filepath.Glob(filepath.Join(d.imagesDir(), ".*"))
	for _, p := range leftovers {
		slog.Warn("removing interrupted image build or upload", "path", p)
		// Not fatal: the leftover is invisible to the image store and the
		// next start tries again.
		if err := os.RemoveAll(p); err != nil {
			slog.Error("interrupted image build or upload not removed", "path", p, "err", err)
		}
	}
	running := 0
	for name := range known {
		st := d.cache.refresh(name)
		if st.Status != instance.StatusStopped {
			running++
		}
		// Reattached guests: READY is known again once their init says so
		// (a frozen one is tracked when it is resumed).
		if st.Status == instance.StatusRunning {
			d.watchReady(name, st.Pid)
		}
		if st.Status != instance.StatusStopped {
			// Started by an older daemon: let it reboot itself too.
			if inst, profs, err := d.loadInstance(ctx, name); err == nil {
				if spec, err := d.spec(inst, profs); err == nil {
					if err := letGuestRootIn(spec); err != nil {
						slog.Warn("guest may not reboot itself", "instance", name, "err", err)
					}
				}
			}
		}
	}
	slog.Info("inventory reconciled", "instances", len(known), "running", running)
	return nil
}
