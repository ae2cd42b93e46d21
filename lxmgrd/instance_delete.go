package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
)

// instanceDelete removes an instance: liblxc config, root volume, row. A
// running guest is refused unless ?force=1, which kills it first.
func (d *daemon) instanceDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	force := r.URL.Query().Get("force") == "1" || r.URL.Query().Get("force") == "true"
	inst, profs, err := d.loadInstance(r.Context(), name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if st := d.cache.refresh(name); st.Status != instance.StatusStopped && !force {
		errorResponse(w, fmt.Errorf("%w: instance %q is running; stop it first or use --force", errBusy, name))
		return
	}
	cfg, _ := expand(inst, profs)
	if cfg["security.protection.delete"] == "true" {
		errorResponse(w, fmt.Errorf("%w: instance %q is protected from deletion (security.protection.delete)", api.ErrForbidden, name))
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Deleting instance", res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error { return d.deleteInstance(ctx, inst, force) })
	})
	asyncResponse(w, op)
}

// deleteInstance tears an instance down. Each step tolerates the parts that
// are already gone, so it also finishes a delete interrupted by a crash.
func (d *daemon) deleteInstance(ctx context.Context, inst db.Instance, force bool) error {
	profs, err := d.profilesOf(ctx, inst.Profiles)
	if err != nil {
		return err
	}
	_, devs := expand(inst, profs)
	st := d.cache.refresh(inst.Name)
	if st.Status != instance.StatusStopped {
		if !force {
			return fmt.Errorf("%w: instance %q is running; stop it first or use --force", errBusy, inst.Name)
		}
		if _, err := d.lxc.Stop(ctx, inst.Name, 0, true); err != nil {
			return fmt.Errorf("kill instance %q: %w", inst.Name, err)
		}
	}
	// What the guest ran with goes with its liblxc config: read it first.
	gone := append(nicsOf(inst, devs), d.ranNICs(inst.Name)...)
	if err := d.lxc.Delete(ctx, inst.Name); err != nil && !errors.Is(err, instance.ErrNotFound) {
		return fmt.Errorf("delete liblxc config of %q: %w", inst.Name, err)
	}
	if pool, err := d.pool(inst.Pool); err == nil {
		if err := pool.DeleteVolume(ctx, inst.Name); err != nil {
			return fmt.Errorf("delete root volume of %q: %w", inst.Name, err)
		}
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceDelete(ctx, inst.Name) }); err != nil {
		return err
	}
	d.cache.forget(inst.Name)
	d.stopProxies(inst.Name)
	clearNICLimits(inst, devs)
	d.reloadNetworks(ctx, networksOf(inst, devs)...)
	d.releaseLeases(ctx, inst.Name, gone)
	slog.Info("instance deleted", "instance", inst.Name)
	return nil
}
