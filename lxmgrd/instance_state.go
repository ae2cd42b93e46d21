package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
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
	if err := d.lxc.Create(ctx, spec); err != nil {
		return fmt.Errorf("render liblxc config: %w", err)
	}
	if op != nil {
		op.progress("starting")
	}
	if err := d.lxc.Start(ctx, name); err != nil {
		d.cache.refresh(name)
		return fmt.Errorf("start instance %q: %w", name, err)
	}
	st := d.cache.refresh(name)
	_, devs := expand(inst, profs)
	err = d.startProxies(name, devs)
	if err == nil {
		err = applyNICLimits(inst, devs)
	}
	if err != nil {
		d.stopProxies(name, devs)
		d.lxc.Stop(context.Background(), name, 0, true)
		d.cache.refresh(name)
		return fmt.Errorf("start instance %q: %w", name, err)
	}
	slog.Info("instance started", "instance", name, "pid", st.Pid)
	inst.LastUsedAt = time.Now().UTC()
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceUpdate(ctx, inst) }); err != nil {
		slog.Warn("record last use", "instance", name, "err", err)
	}
	if !wait {
		// Readiness is still tracked, in the background, for info/list.
		go d.trackReady(d.bg, inst, devs, st.Pid)
		return nil
	}
	if op != nil {
		op.progress("waiting for boot to finish")
	}
	return d.trackReady(ctx, inst, devs, st.Pid)
}

// trackReady waits until the guest's init reports boot finished and every
// nic on a managed network has a DHCP lease, and records it in the state
// cache.
func (d *daemon) trackReady(ctx context.Context, inst db.Instance, devs api.Devices, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	timedOut := func(err error, what string) error {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("instance %q: %s within %s", inst.Name, what, readyTimeout)
		}
		return fmt.Errorf("instance %q: wait for %s: %w", inst.Name, what, err)
	}
	if err := d.lxc.WaitReady(ctx, inst.Name, inst.Config["image.init"]); err != nil {
		return timedOut(err, "boot did not finish")
	}
	if err := d.waitAddresses(ctx, inst, devs); err != nil {
		return timedOut(err, "no address on every interface")
	}
	d.cache.setReady(inst.Name, pid)
	return nil
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
	d.cache.refresh(name)
	if inst, profs, lerr := d.loadInstance(ctx, name); lerr == nil {
		_, devs := expand(inst, profs)
		d.stopProxies(name, devs)
		clearNICLimits(inst, devs)
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
	d.cache.refresh(name)
	return err
}
