package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
)

// privilegedPolicies are the values of the server key instances.privileged.
var privilegedPolicies = map[string]bool{"allow": true, "warn": true, "deny": true}

// checkExpanded validates an instance's effective config and devices (its
// own merged over its profiles): the schema, and every check that depends
// on the host or on other objects, so that whatever reaches the inventory
// can also start. It runs in the caller's transaction.
func (d *daemon) checkExpanded(ctx context.Context, tx *db.Tx, inst db.Instance, cfg map[string]string, devs api.Devices) error {
	if err := profiles.ValidateConfig(cfg); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := profiles.ValidateDevices(devs); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	pool, err := rootPool(devs)
	if err != nil {
		return err
	}
	if _, err := d.pool(pool); err != nil {
		return err
	}
	if _, err := limitsFrom(cfg, inst, d.lxc.Cgroups()); err != nil {
		return err
	}
	if raw := cfg["raw.lxc"]; raw != "" {
		if err := instance.CheckRaw(raw); err != nil {
			return err
		}
	}
	if _, err := d.diskMounts(devs); err != nil {
		return err
	}
	if err := d.checkQuotaSupport(devs); err != nil {
		return err
	}
	if err := checkNetworkRefs(ctx, tx, devs); err != nil {
		return err
	}
	return d.checkPrivileged(ctx, tx, inst.Name, cfg)
}

// checkPrivileged applies the host policy instances.privileged (allow,
// warn, deny; default warn) to an instance whose effective config, possibly
// through a profile, asks for a privileged guest.
func (d *daemon) checkPrivileged(ctx context.Context, tx *db.Tx, name string, cfg map[string]string) error {
	if cfg["security.privileged"] != "true" {
		return nil
	}
	server, err := tx.ConfigGet(ctx)
	if err != nil {
		return err
	}
	switch server["instances.privileged"] {
	case "deny":
		return fmt.Errorf("%w: instance %q would be privileged (security.privileged=true) and the host policy instances.privileged=deny forbids it", api.ErrForbidden, name)
	case "allow":
	default:
		slog.Warn("privileged instance: its root is the host's root", "instance", name)
	}
	return nil
}
