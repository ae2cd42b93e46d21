package network

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inUse is a prefix found on the host and what holds it, for messages.
type inUse struct {
	prefix netip.Prefix
	owner  string // "address 10.0.0.1/8 of eth0", "route 10.9.0.0/16 via eth1"
	link   string
}

// dumpRetries bounds retries of netlink dumps interrupted by a concurrent
// change (ErrDumpInterrupted gives possibly inconsistent results).
const dumpRetries = 5

// retryDump runs a netlink dump until it is not interrupted.
func retryDump(f func() error) error {
	var err error
	for range dumpRetries {
		if err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// usedPrefixes lists the IPv4 addresses (as their subnets) and the non-default
// routes of every routing table of the current network namespace. Only
// netlink is read: nothing is probed.
func usedPrefixes() ([]inUse, error) {
	names := map[int]string{}
	var links []netlink.Link
	if err := retryDump(func() (err error) { links, err = netlink.LinkList(); return err }); err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	var out []inUse
	var addrs []netlink.Addr
	if err := retryDump(func() (err error) { addrs, err = netlink.AddrList(nil, netlink.FAMILY_V4); return err }); err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		p, ok := prefixFromIPNet(a.IPNet)
		if !ok {
			continue
		}
		name := names[a.LinkIndex]
		out = append(out, inUse{p.Masked(), fmt.Sprintf("address %s of %s", p, name), name})
	}
	var routes []netlink.Route
	filter := &netlink.Route{Table: unix.RT_TABLE_UNSPEC} // every table
	if err := retryDump(func() (err error) {
		routes, err = netlink.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_TABLE)
		return err
	}); err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		p, ok := prefixFromIPNet(r.Dst)
		if !ok || p.Bits() == 0 {
			continue // default routes cover everything: they are not a conflict
		}
		name := names[r.LinkIndex]
		owner := fmt.Sprintf("route %s", p.Masked())
		if name != "" {
			owner += " via " + name
		}
		out = append(out, inUse{p.Masked(), owner, name})
	}
	return out, nil
}

// prefixFromIPNet converts an IPv4 net.IPNet.
func prefixFromIPNet(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	a = a.Unmap()
	if bits == 0 || (a.Is4() && bits != 32) {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// conflict returns what p overlaps, "" when nothing.
func conflict(p netip.Prefix, self string, used []inUse, taken []netip.Prefix) string {
	p = p.Masked()
	for _, u := range used {
		if self != "" && u.link == self {
			continue
		}
		if u.prefix.Overlaps(p) {
			return u.owner
		}
	}
	for _, t := range taken {
		if t.IsValid() && t.Masked().Overlaps(p) {
			return "subnet " + t.Masked().String() + " of another managed network"
		}
	}
	return ""
}

// PickSubnet returns a free /24 from 10.0.0.0/8 as its gateway prefix
// 10.X.Y.1/24, starting at a random /24: one that overlaps no address and no
// non-default route of the current network namespace (read with netlink) and
// none of taken (the subnets of other managed networks, which may be down).
// It fails with ErrConflict when all of 10.0.0.0/8 is in use.
func PickSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	used, err := usedPrefixes()
	if err != nil {
		return netip.Prefix{}, err
	}
	start := rand.IntN(1 << 16)
	for i := range 1 << 16 {
		n := (start + i) % (1 << 16)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n >> 8), byte(n), 1}), 24)
		if conflict(p, "", used, taken) == "" {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("%w: no free /24 left in 10.0.0.0/8", ErrConflict)
}

// CheckFree returns an error wrapping ErrConflict, naming the conflicting
// address, route or network, when prefix overlaps an address or route of the
// current network namespace (except those on the link named self, so an
// existing network re-validates against itself) or one of taken.
func CheckFree(prefix netip.Prefix, self string, taken []netip.Prefix) error {
	used, err := usedPrefixes()
	if err != nil {
		return err
	}
	if c := conflict(prefix, self, used, taken); c != "" {
		return fmt.Errorf("%w: subnet %s overlaps %s", ErrConflict, prefix.Masked(), c)
	}
	return nil
}
