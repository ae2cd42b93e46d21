package main

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/network"
	"github.com/lxmgr/lxmgr/profiles"
)

// A guest that leaves a network (deleted, its nic removed, re-addressed or
// moved to another network) would keep its DHCP lease for up to the lease
// time: its address could not be given to another guest as a static
// ipv4.address, and the lease would still be listed. So the daemon gives
// such leases back on the guest's behalf, as LXD does, once the guest's
// veth is gone: a DHCP client still running in the guest would only renew.

// releaseLeases makes the dnsmasq of each managed network drop every lease
// its bridge holds for the MAC of one of gone. A MAC that a nic of any
// instance has on that bridge now (moved there from gone) is left alone.
// Best effort: a failure is logged and never stops the caller.
func (d *daemon) releaseLeases(ctx context.Context, instName string, gone []nicInfo) {
	if len(gone) == 0 {
		return
	}
	current, err := d.allNICs(ctx)
	if err != nil {
		slog.Warn("release dhcp leases: list nics", "instance", instName, "err", err)
		return
	}
	inUse := map[string]bool{}
	for _, n := range current {
		inUse[n.bridge+"/"+n.hwaddr] = true
	}
	for _, n := range gone {
		if n.bridge == "" || n.hwaddr == "" || inUse[n.bridge+"/"+n.hwaddr] {
			continue
		}
		p, ok := d.net.prefixes.Load(n.bridge) // a managed network of that name?
		if !ok || !p.(netip.Prefix).IsValid() {
			continue
		}
		gw := p.(netip.Prefix).Addr()
		for _, l := range d.leaseCacheOf(n.bridge).byMAC[strings.ToLower(n.hwaddr)] {
			err := network.ReleaseLease(ctx, d.networkDir(n.bridge), n.bridge, gw, l)
			// Whatever happened, the next read parses the file afresh.
			d.net.leases.Delete(n.bridge)
			if err != nil {
				slog.Warn("release dhcp lease", "instance", instName, "network", n.bridge, "mac", l.MAC, "ip", l.IP, "err", err)
				continue
			}
			slog.Info("dhcp lease released", "instance", instName, "network", n.bridge, "mac", l.MAC, "ip", l.IP)
		}
	}
}

// goneNICs returns the nics of before whose MAC is not on the same bridge
// in after: removed, given another MAC, or moved to another network.
func goneNICs(before, after []nicInfo) []nicInfo {
	keep := map[string]bool{}
	for _, n := range after {
		keep[n.bridge+"/"+n.hwaddr] = true
	}
	var out []nicInfo
	for _, n := range before {
		if !keep[n.bridge+"/"+n.hwaddr] {
			out = append(out, n)
		}
	}
	return out
}

// ranNICs returns the nics a guest's liblxc config on disk gives it: the
// ones it runs or last ran with (the daemon's config may have changed
// since). Unreadable is none, logged.
func (d *daemon) ranNICs(name string) []nicInfo {
	nics, err := d.lxc.ConfiguredNICs(name)
	if err != nil {
		slog.Warn("read the nics of the liblxc config", "instance", name, "err", err)
		return nil
	}
	return driverNICs(name, nics)
}

// driverNICs turns the driver's nics into nicInfos (bridge and MAC in the
// daemon's notation), for comparison with nicsOf.
func driverNICs(instName string, nics []instance.NIC) []nicInfo {
	out := make([]nicInfo, 0, len(nics))
	for _, n := range nics {
		mac, err := profiles.CanonicalMAC(n.HWAddr)
		if err != nil {
			mac = strings.ToLower(n.HWAddr)
		}
		out = append(out, nicInfo{instance: instName, bridge: n.Bridge, name: n.Name, hostName: n.HostName, hwaddr: mac})
	}
	return out
}

// releaseDropped gives back the leases of the nics a stopped guest ran
// with but no longer has in its config (changed while it ran). Call it
// only when the guest is stopped; devs are its expanded devices now.
func (d *daemon) releaseDropped(ctx context.Context, inst db.Instance, devs api.Devices) {
	d.releaseLeases(ctx, inst.Name, goneNICs(d.ranNICs(inst.Name), nicsOf(inst, devs)))
}

// stoppedOnItsOwn stops the proxy processes of a guest that stopped without
// the daemon's doing, and releases the leases of nics it had dropped while
// it ran.
func (d *daemon) stoppedOnItsOwn(name string) {
	d.resyncProxies(name)
	inst, profs, err := d.loadInstance(d.bg, name)
	if err != nil {
		return // deleted meanwhile: the delete released its leases
	}
	_, devs := expand(inst, profs)
	d.releaseDropped(d.bg, inst, devs)
}
