package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
)

// readyTimeout bounds how long a start waits for the guest's init.
const readyTimeout = 5 * time.Minute

func (d *daemon) instanceStateGet(w http.ResponseWriter, r *http.Request) {
	inst, profs, err := d.loadInstance(r.Context(), r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	_, devs := expand(inst, profs)
	syncResponse(w, d.stateOf(inst, devs, true))
}

func (d *daemon) instanceStatePut(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.InstanceStatePut
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if _, _, err := d.loadInstance(r.Context(), name); err != nil {
		errorResponse(w, err)
		return
	}
	if req.Timeout < -1 {
		errorResponse(w, fmt.Errorf("%w: timeout %d: want seconds, or -1 or 0 for the default", api.ErrInvalid, req.Timeout))
		return
	}
	timeout := defaultStopTimeout
	if req.Timeout > 0 {
		timeout = time.Duration(req.Timeout) * time.Second
	}
	var fn func(ctx context.Context, op *operation) error
	switch req.Action {
	case api.ActionStart:
		fn = func(ctx context.Context, op *operation) error { return d.startInstance(ctx, op, name, false) }
	case api.ActionStop:
		fn = func(ctx context.Context, op *operation) error { return d.stopInstance(ctx, name, timeout, req.Force) }
	case api.ActionRestart:
		fn = func(ctx context.Context, op *operation) error {
			if err := d.stopInstance(ctx, name, timeout, req.Force); err != nil {
				return err
			}
			return d.startInstance(ctx, op, name, false)
		}
	case api.ActionFreeze:
		fn = func(ctx context.Context, op *operation) error { return d.freezeInstance(ctx, name, true) }
	case api.ActionUnfreeze:
		fn = func(ctx context.Context, op *operation) error { return d.freezeInstance(ctx, name, false) }
	default:
		errorResponse(w, fmt.Errorf("%w: unknown action %q (start, stop, restart, freeze, unfreeze)", api.ErrInvalid, req.Action))
		return
	}
	res := map[string][]string{"instances": {"/1.0/instances/" + name}}
	op := d.ops.start(d.bg, api.OperationClassTask, actionDescription(req.Action), res, false, func(ctx context.Context, op *operation) error {
		return d.withLock(ctx, name, func() error { return fn(ctx, op) })
	})
	asyncResponse(w, op)
}

func actionDescription(action string) string {
	switch action {
	case api.ActionStart:
		return "Starting instance"
	case api.ActionStop:
		return "Stopping instance"
	case api.ActionRestart:
		return "Restarting instance"
	case api.ActionFreeze:
		return "Freezing instance"
	default:
		return "Unfreezing instance"
	}
}

// startInstance renders the liblxc config from the current expanded config
// (so changes made while stopped apply) and starts the guest. With wait it
// returns only when the guest's init reports boot finished. Caller holds the
// instance lock.
func (d *daemon) startInstance(ctx context.Context, op *operation, name string, wait bool) error {
	inst, profs, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	if st := d.cache.refresh(name); st.Status != instance.StatusStopped {
		return fmt.Errorf("%w: instance %q is already %s", errBusy, name, statusCode(st.Status))
	}
	// A profile may have given the instance a nic since it was last
	// checked: give it a MAC and validate it now. Leases are not asked:
	// a reservation checked when it was made is in dnsmasq's hosts since,
	// and a start must not fail on a lease that is about to end.
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		_, devs := expand(inst, profs)
		before := maps.Clone(inst.Config)
		if err := prepareNICs(ctx, tx, &inst, devs, nil); err != nil {
			return err
		}
		if !maps.Equal(before, inst.Config) {
			return tx.InstanceUpdate(ctx, inst)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := checkHostNames(inst, profs); err != nil {
		return err
	}
	spec, err := d.spec(inst, profs)
	if err != nil {
		return err
	}
	if spec.Privileged {
		logPrivileged(d.privilegedPolicy(ctx), name, "starting")
	}
	// The last run's nics are forgotten with its config: leases of those
	// dropped while it ran, and it stopped unseen (daemon down), go now.
	_, devs := expand(inst, profs)
	d.releaseDropped(ctx, inst, devs)
	if err := d.lxc.Create(ctx, spec); err != nil {
		return fmt.Errorf("render liblxc config: %w", err)
	}
	if err := letGuestRootIn(spec); err != nil {
		return err
	}
	if op != nil {
		op.progress("starting")
	}
	if err := d.lxc.Start(ctx, name); err != nil {
		d.cache.refresh(name)
		return fmt.Errorf("start instance %q: %w", name, err)
	}
	st := d.cache.refresh(name)
	err = d.syncProxies(name, devs, st)
	if err == nil {
		err = applyNICLimits(inst, devs)
	}
	if err != nil {
		d.stopProxies(name)
		d.lxc.Stop(context.Background(), name, 0, true)
		d.cache.refresh(name)
		return fmt.Errorf("start instance %q: %w", name, err)
	}
	slog.Info("instance started", "instance", name, "pid", st.Pid)
	inst.LastUsedAt = time.Now().UTC()
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceUpdate(ctx, inst) }); err != nil {
		slog.Warn("record last use", "instance", name, "err", err)
	}
	// Readiness is tracked in the background in any case, for info/list.
	run := d.watchReady(name, st.Pid)
	if !wait {
		return nil
	}
	if op != nil {
		op.progress("waiting for boot to finish")
	}
	select {
	case <-run.done:
		return run.err
	case <-ctx.Done():
		return fmt.Errorf("instance %q: wait for boot to finish: %w", name, ctx.Err())
	}
}

// waitAddresses polls the DHCP leases (cheap file reads) until each nic on
// a managed network with DHCP has one.
func (d *daemon) waitAddresses(ctx context.Context, inst db.Instance, devs api.Devices) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		missing := ""
		for _, n := range nicsOf(inst, devs) {
			if n.network == "" || !d.dhcpEnabled(ctx, n.network) {
				continue
			}
			if len(d.leasesByMAC(n.network, n.hwaddr)) == 0 {
				missing = n.name
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// stopInstance stops a guest cleanly (init's halt signal, then kill after
// timeout) or at once with force. Caller holds the instance lock.
func (d *daemon) stopInstance(ctx context.Context, name string, timeout time.Duration, force bool) error {
	st := d.cache.refresh(name)
	if st.Status == instance.StatusStopped {
		return fmt.Errorf("%w: instance %q is not running", errBusy, name)
	}
	if st.Status == instance.StatusFrozen && !force {
		// A frozen init cannot handle its halt signal.
		if err := d.lxc.Unfreeze(ctx, name); err != nil {
			return err
		}
	}
	clean, err := d.lxc.Stop(ctx, name, timeout, force)
	stopped := d.cache.refresh(name).Status == instance.StatusStopped
	if inst, profs, lerr := d.loadInstance(ctx, name); lerr == nil {
		_, devs := expand(inst, profs)
		// A guest that did not stop keeps its forwards.
		if err := d.syncProxies(name, devs, d.cache.get(name)); err != nil {
			slog.Warn("proxies after stop", "instance", name, "err", err)
		}
		clearNICLimits(inst, devs)
		if stopped {
			d.releaseDropped(ctx, inst, devs)
		}
	}
	if err != nil {
		return fmt.Errorf("stop instance %q: %w", name, err)
	}
	slog.Info("instance stopped", "instance", name, "clean", clean, "force", force)
	return nil
}

func (d *daemon) freezeInstance(ctx context.Context, name string, freeze bool) error {
	st := d.cache.refresh(name)
	var err error
	switch {
	case freeze && st.Status != instance.StatusRunning:
		return fmt.Errorf("%w: instance %q is not running", errBusy, name)
	case !freeze && st.Status != instance.StatusFrozen:
		return fmt.Errorf("%w: instance %q is not frozen", errBusy, name)
	case freeze:
		err = d.lxc.Freeze(ctx, name)
	default:
		err = d.lxc.Unfreeze(ctx, name)
	}
	// A guest frozen since before a daemon restart is tracked only now.
	if st := d.cache.refresh(name); err == nil && st.Status == instance.StatusRunning && !st.Ready {
		d.watchReady(name, st.Pid)
	}
	return err
}

// letGuestRootIn gives the 0700 volume directory holding the rootfs to the
// guest's root: when the guest reboots itself, liblxc mounts the rootfs again
// from inside the guest's user namespace, as that id, and a root-owned 0700
// directory made the reboot fail (the guest stayed stopped). Host users are
// still kept out: the mode stays 0700.
func letGuestRootIn(spec instance.Spec) error {
	if spec.Privileged {
		return nil
	}
	dir := filepath.Dir(spec.Rootfs)
	if err := os.Lchown(dir, int(spec.IDMap.HostUID), int(spec.IDMap.HostGID)); err != nil {
		return fmt.Errorf("give volume %s to the guest's root: %w", dir, err)
	}
	return nil
}
