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
	_, err = checkPrivileged(ctx, tx, inst.Name, cfg)
	return err
}

// checkPrivileged applies the host policy instances.privileged (allow,
// warn, deny; default warn) to an instance whose effective config, possibly
// through a profile, asks for a privileged guest: under deny it is refused.
// It returns the policy in force, for logPrivileged.
func checkPrivileged(ctx context.Context, tx *db.Tx, name string, cfg map[string]string) (string, error) {
	server, err := tx.ConfigGet(ctx)
	if err != nil {
		return "", err
	}
	policy := server["instances.privileged"]
	if policy == "" {
		policy = "warn"
	}
	if policy == "deny" && cfg["security.privileged"] == "true" {
		return policy, fmt.Errorf("%w: instance %q would be privileged (security.privileged=true) and the host policy instances.privileged=deny forbids it", api.ErrForbidden, name)
	}
	return policy, nil
}

// privilegedPolicy reads instances.privileged for logPrivileged ("warn"
// if unset or unreadable).
func (d *daemon) privilegedPolicy(ctx context.Context) string {
	policy := "warn"
	d.db.View(ctx, func(tx *db.Tx) error {
		server, err := tx.ConfigGet(ctx)
		if p := server["instances.privileged"]; err == nil && p != "" {
			policy = p
		}
		return err
	})
	return policy
}

// logPrivileged records that a privileged guest was created, changed or
// started: a warning unless the admin said allow (then info), since its
// root is the host's root.
func logPrivileged(policy, name, event string) {
	level := slog.LevelWarn
	if policy == "allow" {
		level = slog.LevelInfo
	}
	slog.Log(context.Background(), level, "privileged instance "+event+": its root is the host's root", "instance", name, "policy", policy)
}
