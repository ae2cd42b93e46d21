package network

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// GuestAddresses returns the addresses of interface ifname inside the
// network namespace at nsPath (a guest's /proc/<pid>/ns/net), IPv4 and
// global IPv6, IPv6 link-local left out. It asks the kernel through a
// netlink socket opened in that namespace: no process is spawned and
// nothing runs in the guest.
func GuestAddresses(nsPath, ifname string) ([]netip.Prefix, error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", nsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", nsPath, err)
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("link %q in %s: %w", ifname, nsPath, err)
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("addresses of %q in %s: %w", ifname, nsPath, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		p, ok := prefixFromIPNet(a.IPNet)
		if !ok || (p.Addr().Is6() && p.Addr().IsLinkLocalUnicast()) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}
