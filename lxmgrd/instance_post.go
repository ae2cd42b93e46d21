package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/revert"
)

// instancePost renames a stopped instance.
func (d *daemon) instancePost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.InstancePost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := api.ValidateName("instance", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	if _, _, err := d.loadInstance(r.Context(), name); err != nil {
		errorResponse(w, err)
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Renaming instance", res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error {
			unlock, err := d.locks.lock(ctx, "instance/"+req.Name)
			if err != nil {
				return err
			}
			defer unlock()
			return d.renameInstance(ctx, name, req.Name)
		})
	})
	asyncResponse(w, op)
}

func (d *daemon) renameInstance(ctx context.Context, old, name string) error {
	if st := d.cache.refresh(old); st.Status != instance.StatusStopped {
		return fmt.Errorf("%w: instance %q must be stopped to be renamed", errBusy, old)
	}
	rev := revert.New()
	defer rev.Fail()
	err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceRename(ctx, old, name) })
	if err != nil {
		return fmt.Errorf("rename %q to %q: %w", old, name, err)
	}
	rev.Add(func() {
		d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.InstanceRename(context.Background(), name, old) })
	})
	inst, profs, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	if err := pool.RenameVolume(ctx, old, name); err != nil {
		return err
	}
	rev.Add(func() { pool.RenameVolume(context.Background(), name, old) })
	spec, err := d.spec(inst, profs)
	if err != nil {
		return err
	}
	if err := d.lxc.Create(ctx, spec); err != nil {
		return err
	}
	rev.Add(func() { d.lxc.Delete(context.Background(), name) })
	if err := d.lxc.Delete(ctx, old); err != nil {
		return err
	}
	d.cache.forget(old)
	d.cache.refresh(name)
	rev.Success()
	_, devs := expand(inst, profs)
	d.reloadNetworks(ctx, networksOf(inst, devs)...)
	slog.Info("instance renamed", "instance", name, "from", old)
	return nil
}
