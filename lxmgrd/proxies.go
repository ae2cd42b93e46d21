package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/network"
)

// Port forwards (proxy devices) are served each by its own process,
// `lxmgrd forkproxy`, started by the daemon and recorded under
// proxies/<instance>/<device>.json, so that hosted ports and the
// connections through them survive a daemon stop or upgrade. The daemon
// keeps those processes in line with the guests: syncProxies is the one
// place that starts, adopts and kills them (proxyproc.go has the process
// side).

// proxyKey names a proxy device (logs, the forkproxy's registry).
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

// wantedProxies returns, by device, the forwards an instance in state st
// should have served: those of devs while its init runs (frozen too: the
// connections wait), none when it is stopped.
func wantedProxies(name string, st runtimeState, devs api.Devices) (map[string]forkproxySpec, error) {
	out := map[string]forkproxySpec{}
	if st.Status == instance.StatusStopped || st.Pid <= 0 {
		return out, nil
	}
	for _, dev := range proxyDevices(devs) {
		spec, err := network.ParseProxy(devs[dev]["listen"], devs[dev]["connect"])
		if err != nil {
			return nil, fmt.Errorf("device %q: %w", dev, err)
		}
		out[dev] = forkproxySpec{Instance: name, Device: dev, Listen: spec.Listen, Connect: spec.Connect, InitPid: st.Pid}
	}
	return out, nil
}

// syncProxies makes the proxy processes of instance name what st and devs
// want: a live process serving exactly a wanted forward into the current
// init is kept (adopted after a daemon restart), any other is killed, and
// the missing ones are started. A bind error (the listen address is taken)
// is returned; the forwards started before it stay.
func (d *daemon) syncProxies(name string, devs api.Devices, st runtimeState) error {
	d.proxyMu.Lock()
	defer d.proxyMu.Unlock()
	_, err := d.syncProxiesLocked(name, devs, st)
	return err
}

// syncProxiesLocked is syncProxies under d.proxyMu; it returns how many
// processes it found running as wanted and kept (adopted).
func (d *daemon) syncProxiesLocked(name string, devs api.Devices, st runtimeState) (int, error) {
	want, err := wantedProxies(name, st, devs)
	if err != nil {
		return 0, err
	}
	adopted, started := 0, 0
	defer func() { d.noteProxies(name, st.Pid, adopted+started > 0) }()
	for dev, r := range d.readProxyRecords(name) {
		path := d.proxyRecordPath(name, dev)
		if w, ok := want[dev]; ok && adoptable(r, w, path, readProc(r.Pid)) {
			delete(want, dev)
			adopted++
			continue
		}
		killProxyProc(r, path)
		removeProxyRecord(path)
	}
	missing := make([]string, 0, len(want))
	for dev := range want {
		missing = append(missing, dev)
	}
	sort.Strings(missing)
	for _, dev := range missing {
		if err := d.startProxyProc(d.proxyRecordPath(name, dev), want[dev]); err != nil {
			return adopted, fmt.Errorf("device %q: %w", dev, err)
		}
		started++
	}
	if adopted+started == 0 {
		os.Remove(d.proxyInstanceDir(name)) // only when empty
	}
	return adopted, nil
}

// stopProxies kills every proxy process of an instance.
func (d *daemon) stopProxies(name string) {
	if err := d.syncProxies(name, nil, runtimeState{Status: instance.StatusStopped}); err != nil {
		slog.Warn("stop proxies", "instance", name, "err", err)
	}
}

// resyncProxies brings an instance's proxy processes in line with its
// stored devices and cached state, after the daemon saw its init change or
// stop on its own (an in-guest reboot needs a process for the new
// namespace). The devices are read under d.proxyMu, so a concurrent
// change's own sync, made after its commit, cannot be undone by this one.
func (d *daemon) resyncProxies(name string) {
	d.proxyMu.Lock()
	defer d.proxyMu.Unlock()
	inst, profs, err := d.loadInstance(d.bg, name)
	var devs api.Devices
	st := d.cache.get(name)
	switch {
	case errors.Is(err, db.ErrNotFound):
		st = runtimeState{Status: instance.StatusStopped} // deleted
	case err != nil:
		slog.Warn("resync proxies", "instance", name, "err", err)
		return
	default:
		_, devs = expand(inst, profs)
	}
	if _, err := d.syncProxiesLocked(name, devs, st); err != nil {
		slog.Error("proxy device could not be bound", "instance", name, "err", err)
	}
}

// noteProxies remembers which init pid an instance's proxy processes serve,
// for proxyCheck's cheap comparison on every state refresh.
func (d *daemon) noteProxies(name string, pid int, any bool) {
	d.proxyPidsMu.Lock()
	defer d.proxyPidsMu.Unlock()
	if any {
		d.proxyPids[name] = pid
	} else {
		delete(d.proxyPids, name)
	}
}

// proxyCheck runs on every periodic state refresh: when an instance's
// forwards serve an init that is no longer its init (it rebooted itself or
// stopped, possibly between two refreshes), they are redone in the
// background. It reads memory only.
func (d *daemon) proxyCheck(name string, st runtimeState) {
	d.proxyPidsMu.Lock()
	pid, ok := d.proxyPids[name]
	d.proxyPidsMu.Unlock()
	if ok && (st.Status == instance.StatusStopped || st.Pid != pid) {
		go d.resyncProxies(name)
	}
}

// reconcileProxies runs at daemon start: it adopts the proxy processes the
// last run left serving running guests, restarts those that no longer
// match, starts missing ones, and kills those of stopped or deleted
// instances.
func (d *daemon) reconcileProxies(ctx context.Context) {
	insts, err := d.instanceList(ctx)
	if err != nil {
		slog.Error("reconcile proxies", "err", err)
		return
	}
	d.proxyMu.Lock()
	defer d.proxyMu.Unlock()
	d.sweepProxyOrphans()
	known := map[string]bool{}
	adopted := 0
	for _, ie := range insts {
		known[ie.inst.Name] = true
		n, err := d.syncProxiesLocked(ie.inst.Name, ie.devs, d.cache.refresh(ie.inst.Name))
		if err != nil {
			slog.Error("proxy device could not be bound", "instance", ie.inst.Name, "err", err)
		}
		adopted += n
	}
	ents, _ := os.ReadDir(d.proxiesDir())
	for _, e := range ents {
		if known[e.Name()] || api.ValidateName("instance", e.Name()) != nil {
			continue
		}
		d.syncProxiesLocked(e.Name(), nil, runtimeState{Status: instance.StatusStopped})
	}
	slog.Info("proxy processes reconciled", "adopted", adopted)
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

func (d *daemon) proxiesDir() string { return filepath.Join(d.dir, "proxies") }

func (d *daemon) proxyInstanceDir(name string) string {
	return filepath.Join(d.proxiesDir(), name)
}

// proxyRecordPath is where a device's process is recorded. Instance and
// device names are validated (no '/', no "..") before they are stored.
func (d *daemon) proxyRecordPath(name, dev string) string {
	return filepath.Join(d.proxyInstanceDir(name), dev+".json")
}
