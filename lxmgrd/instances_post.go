package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/image"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/revert"
)

// instancesPost creates an instance (and starts it when asked). Everything
// that can be checked is checked before anything is written; the row is
// inserted in state "creating" synchronously so that of two concurrent
// creates of one name exactly one wins, and a crash leaves a marker that the
// next start cleans up.
func (d *daemon) instancesPost(w http.ResponseWriter, r *http.Request) {
	var req api.InstancesPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	var inst db.Instance
	var ref string
	var err error
	var copyFrom *copySource
	if req.Source.Type == "copy" {
		copyFrom, err = d.validateCopy(r.Context(), &req)
		if err == nil {
			inst = copyFrom.inst
		}
	} else {
		inst, ref, err = d.validateCreate(r.Context(), &req)
	}
	if err != nil {
		errorResponse(w, err)
		return
	}
	ctx := r.Context()
	var policy string
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		policy, err = d.insertInstance(ctx, tx, &inst, req.Start || req.WaitReady)
		return err
	})
	if err != nil {
		if errors.Is(err, db.ErrExists) {
			err = fmt.Errorf("%w: instance %q already exists", api.ErrConflict, inst.Name)
		}
		errorResponse(w, err)
		return
	}
	if inst.IdmapBase == 0 {
		logPrivileged(policy, inst.Name, "created")
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + inst.Name}}
	op := d.ops.start(d.bg, api.OperationClassTask, "Creating instance", res, true, func(ctx context.Context, op *operation) error {
		var err error
		if copyFrom != nil {
			err = d.copyInstance(ctx, op, inst, copyFrom)
		} else {
			err = d.createInstance(ctx, op, inst, ref)
		}
		if err != nil {
			return err
		}
		if req.Start || req.WaitReady {
			return d.withLock(ctx, inst.Name, func() error { return d.startInstance(ctx, op, inst.Name, req.WaitReady) })
		}
		return nil
	})
	asyncResponse(w, op)
}

// insertInstance inserts a validated row in state "creating", inside the
// caller's transaction, and returns the privileged policy in force. The
// profiles are read again here: one changed since validation (made
// privileged, say) is judged as it is now, so the policy holds and the row
// gets an id range exactly when it is unprivileged.
func (d *daemon) insertInstance(ctx context.Context, tx *db.Tx, inst *db.Instance, start bool) (policy string, err error) {
	profs, err := profilesFor(ctx, tx, inst.Profiles)
	if err != nil {
		return "", err
	}
	cfg, devs := expand(*inst, profs)
	if policy, err = checkPrivileged(ctx, tx, inst.Name, cfg); err != nil {
		return "", err
	}
	if cfg["security.privileged"] != "true" {
		if inst.IdmapBase, err = d.ids.allocate(ctx, tx); err != nil {
			return "", err
		}
	}
	if err := prepareNICs(ctx, tx, inst, devs, d.leaseHolder); err != nil {
		return "", err
	}
	if err := checkProxyClash(ctx, tx, inst.Name, devs); err != nil {
		return "", err
	}
	if start {
		if err := d.checkNewProxies(devs, nil); err != nil {
			return "", err
		}
	}
	return policy, tx.InstanceCreate(ctx, inst)
}

// validateCreate checks a create request and returns the row to insert and
// the image reference to use.
func (d *daemon) validateCreate(ctx context.Context, req *api.InstancesPost) (inst db.Instance, ref string, err error) {
	if err := api.ValidateName("instance", req.Name); err != nil {
		return inst, "", err
	}
	if req.Type != "" && req.Type != "container" {
		return inst, "", fmt.Errorf("%w: instance type %q is not supported (only \"container\")", api.ErrInvalid, req.Type)
	}
	ref = req.Source.Fingerprint
	if ref == "" {
		ref = req.Source.Alias
	}
	if (req.Source.Type != "" && req.Source.Type != "image") || ref == "" {
		return inst, "", fmt.Errorf("%w: an image source (alias or fingerprint) is required", api.ErrInvalid)
	}
	if err := profiles.ValidateUserConfig(req.Config); err != nil {
		return inst, "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := profiles.ValidateDevices(req.Devices); err != nil {
		return inst, "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if req.Profiles == nil {
		req.Profiles = []string{"default"}
	}
	inst = db.Instance{
		Name: req.Name, Description: req.Description, Type: "container", Architecture: image.HostArchitecture(),
		Config: orEmpty(req.Config), Devices: orEmptyDevs(req.Devices), Profiles: req.Profiles,
		Ephemeral: req.Ephemeral, CreationState: "creating",
		CreatedAt: time.Now().UTC(),
	}
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		if _, err := tx.InstanceGet(ctx, req.Name); err == nil {
			return fmt.Errorf("%w: instance %q already exists", api.ErrConflict, req.Name)
		}
		profs, err := profilesFor(ctx, tx, req.Profiles)
		if err != nil {
			return err
		}
		cfg, devs := expand(inst, profs)
		if err := d.checkExpanded(ctx, tx, inst, cfg, devs); err != nil {
			return err
		}
		inst.Pool, _ = rootPool(devs)
		return d.checkImageRef(ctx, tx, ref)
	})
	return inst, ref, err
}

// checkImageRef fails unless ref names a stored image or one we can build.
func (d *daemon) checkImageRef(ctx context.Context, tx *db.Tx, ref string) error {
	if _, err := tx.ImageAliasGet(ctx, ref); err == nil {
		return nil
	}
	if len(ref) >= 12 {
		if _, err := tx.ImageGet(ctx, ref); err == nil {
			return nil
		}
	}
	if _, err := image.Canonical(ref); err != nil {
		return fmt.Errorf("%w: image %q: no such alias or fingerprint, and it is not one lxmgr can build: %w", api.ErrNotFound, ref, err)
	}
	return nil
}

// createInstance does the slow part of a create: image, volume, liblxc
// config. On failure every step is undone and the name is free again.
func (d *daemon) createInstance(ctx context.Context, op *operation, inst db.Instance, ref string) error {
	rev := revert.New()
	defer rev.Fail()
	rev.Add(func() { d.deleteRow(inst.Name) })

	unlock, err := d.locks.lock(ctx, "instance/"+inst.Name)
	if err != nil {
		return err
	}
	defer unlock()

	img, err := d.ensureImage(ctx, op, ref)
	if err != nil {
		return err
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return err
	}
	if err := d.ensureImageVolume(ctx, op, pool, img); err != nil {
		return err
	}
	op.progress("creating root filesystem")
	if err := pool.CreateFromImage(ctx, inst.Name, img.Fingerprint); err != nil {
		return fmt.Errorf("create root volume: %w", err)
	}
	d.prepareSpareLater(pool, img.Fingerprint)
	rev.Add(func() {
		if err := pool.DeleteVolume(context.Background(), inst.Name); err != nil {
			slog.Error("revert: delete volume", "instance", inst.Name, "err", err)
		}
	})
	profs, err := d.profilesOf(ctx, inst.Profiles)
	if err != nil {
		return err
	}
	if err := d.applyQuota(ctx, inst, profs); err != nil {
		return err
	}
	for k, v := range img.Properties {
		inst.Config["image."+k] = v
	}
	inst.Config["volatile.base_image"] = img.Fingerprint
	inst.ImageFingerprint = img.Fingerprint
	if err := d.finishCreate(ctx, rev, inst, profs); err != nil {
		return err
	}
	slog.Info("instance created", "instance", inst.Name, "image", img.Fingerprint[:12], "pool", inst.Pool)
	return nil
}

// deleteRow removes an instance row; used when undoing a create.
func (d *daemon) deleteRow(name string) {
	err := d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.InstanceDelete(context.Background(), name) })
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		slog.Error("revert: delete instance row", "instance", name, "err", err)
	}
	d.cache.forget(name)
}

func (d *daemon) profilesOf(ctx context.Context, names []string) ([]api.Profile, error) {
	var profs []api.Profile
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		profs, err = profilesFor(ctx, tx, names)
		return err
	})
	return profs, err
}

// withLock runs fn holding the instance's lock.
func (d *daemon) withLock(ctx context.Context, name string, fn func() error) error {
	unlock, err := d.locks.lock(ctx, "instance/"+name)
	if err != nil {
		return err
	}
	defer unlock()
	return fn()
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyDevs(m api.Devices) api.Devices {
	if m == nil {
		return api.Devices{}
	}
	return m
}

// finishCreate is the common end of a create and a copy, once the root
// volume exists: render the liblxc config, mark the row created, and give
// the networks the new guest's DHCP host entries. On success the caller's
// reverter is disarmed.
func (d *daemon) finishCreate(ctx context.Context, rev *revert.Reverter, inst db.Instance, profs []api.Profile) error {
	inst.CreationState = "created"
	spec, err := d.spec(inst, profs)
	if err != nil {
		return err
	}
	if err := d.lxc.Create(ctx, spec); err != nil {
		return fmt.Errorf("write liblxc config: %w", err)
	}
	rev.Add(func() { d.lxc.Delete(context.Background(), inst.Name) })
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceUpdate(ctx, inst) }); err != nil {
		return err
	}
	d.cache.refresh(inst.Name)
	rev.Success()
	_, devs := expand(inst, profs)
	d.reloadNetworks(ctx, networksOf(inst, devs)...)
	return nil
}
