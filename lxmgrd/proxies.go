package main

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/network"
)

// proxyKey names a proxy device in the daemon's registry.
func proxyKey(inst, device string) string { return inst + "/" + device }

// proxyDevices returns the proxy devices of expanded devices, by name.
func proxyDevices(devs api.Devices) []string {
	var out []string
	for name, dev := range devs {
		if dev["type"] == "proxy" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// startProxies binds the port forwards of a running instance. Each new
// connection is forwarded into the guest's current network namespace, so a
// forward needs no restart when the guest restarts.
func (d *daemon) startProxies(name string, devs api.Devices) error {
	for _, dev := range proxyDevices(devs) {
		spec, err := network.ParseProxy(devs[dev]["listen"], devs[dev]["connect"])
		if err != nil {
			return fmt.Errorf("device %q: %w", dev, err)
		}
		target := func() (string, error) {
			st := d.cache.get(name)
			if st.Status != instance.StatusRunning || st.Pid == 0 {
				return "", fmt.Errorf("instance %q is not running", name)
			}
			return fmt.Sprintf("/proc/%d/ns/net", st.Pid), nil
		}
		if err := d.proxies.Start(proxyKey(name, dev), spec, target); err != nil {
			return fmt.Errorf("device %q: %w", dev, err)
		}
	}
	return nil
}

// stopProxies unbinds every port forward of an instance.
func (d *daemon) stopProxies(name string, devs api.Devices) {
	for _, dev := range proxyDevices(devs) {
		if err := d.proxies.Stop(proxyKey(name, dev)); err != nil {
			slog.Warn("stop proxy", "instance", name, "device", dev, "err", err)
		}
	}
}

// startAllProxies rebinds the forwards of running guests after a daemon
// start.
func (d *daemon) startAllProxies(ctx context.Context) {
	insts, err := d.instanceList(ctx)
	if err != nil {
		slog.Error("start proxies", "err", err)
		return
	}
	for _, ie := range insts {
		if d.cache.get(ie.inst.Name).Status == instance.StatusStopped {
			continue
		}
		if err := d.startProxies(ie.inst.Name, ie.devs); err != nil {
			slog.Error("proxy device could not be bound", "instance", ie.inst.Name, "err", err)
		}
	}
}

// checkNewProxies refuses proxy devices of devs (not already in old) whose
// listen address cannot be bound now, before anything is stored.
func (d *daemon) checkNewProxies(devs, old api.Devices) error {
	for _, dev := range proxyDevices(devs) {
		if o, ok := old[dev]; ok && o["listen"] == devs[dev]["listen"] {
			continue // already bound by this instance
		}
		spec, err := network.ParseProxy(devs[dev]["listen"], devs[dev]["connect"])
		if err != nil {
			return fmt.Errorf("%w: device %q: %w", api.ErrInvalid, dev, err)
		}
		if err := network.CheckListen(spec); err != nil {
			return fmt.Errorf("device %q: %w", dev, err)
		}
	}
	return nil
}
