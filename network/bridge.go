package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// defaultMTU is what a bridge gets when bridge.mtu is unset.
const defaultMTU = 1500

// linkByName wraps netlink.LinkByName so a missing link is ErrNotFound.
func linkByName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: link %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", name, err)
	}
	return l, nil
}

// EnsureBridge creates the Linux bridge name, or adopts it when a bridge of
// that name exists (a link of another type is ErrConflict), gives it exactly
// the IPv4 address gw (removing any other IPv4 address and global IPv6
// address; a zero gw means no address), sets its MTU (0 = 1500) and brings it
// up. It is idempotent.
func EnsureBridge(name string, gw netip.Prefix, mtu int) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if mtu == 0 {
		mtu = defaultMTU
	}
	l, err := linkByName(name)
	switch {
	case errors.Is(err, ErrNotFound):
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		attrs.MTU = mtu
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return fmt.Errorf("create bridge %q: %w", name, err)
		}
		if l, err = linkByName(name); err != nil {
			return err
		}
	case err != nil:
		return err
	case l.Type() != "bridge":
		return fmt.Errorf("%w: link %q exists and is a %s, not a bridge", ErrConflict, name, l.Type())
	}
	if l.Attrs().MTU != mtu {
		if err := netlink.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set mtu %d on %q: %w", mtu, name, err)
		}
	}
	if err := syncAddresses(l, gw); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %q: %w", name, err)
	}
	return nil
}

// syncAddresses makes gw the only managed address of l. IPv6 link-local
// addresses are the kernel's and stay.
func syncAddresses(l netlink.Link, gw netip.Prefix) error {
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses of %q: %w", l.Attrs().Name, err)
	}
	have := false
	for _, a := range addrs {
		p, ok := prefixFromIPNet(a.IPNet)
		if !ok {
			continue
		}
		if gw.IsValid() && p == gw {
			have = true
			continue
		}
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove stray address %s from %q: %w", p, l.Attrs().Name, err)
		}
	}
	if gw.IsValid() && !have {
		addr := &netlink.Addr{IPNet: &net.IPNet{
			IP:   gw.Addr().AsSlice(),
			Mask: net.CIDRMask(gw.Bits(), 32),
		}}
		if err := netlink.AddrReplace(l, addr); err != nil {
			return fmt.Errorf("add address %s to %q: %w", gw, l.Attrs().Name, err)
		}
	}
	return nil
}

// DeleteBridge removes the bridge name; a missing link is success. A link of
// that name that is not a bridge is left alone (ErrConflict).
func DeleteBridge(name string) error {
	l, err := linkByName(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("%w: link %q is a %s, not a bridge", ErrConflict, name, l.Type())
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete bridge %q: %w", name, err)
	}
	return nil
}

// DeleteOwnedBridge removes the bridge name only when it is still the link
// with interface index index (recorded when it was made): a bridge of that
// name made by someone else since is left alone (ErrConflict), and a
// missing link is success.
func DeleteOwnedBridge(name string, index int) error {
	l, err := linkByName(name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if l.Type() != "bridge" || l.Attrs().Index != index {
		return fmt.Errorf("%w: link %q (index %d, a %s) is not the bridge recorded with index %d", ErrConflict, name, l.Attrs().Index, l.Type(), index)
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("delete bridge %q: %w", name, err)
	}
	return nil
}

// LinkState is the state of a link: a bridge, or a guest's host-side veth.
// Up is the administrative state (IFF_UP).
type LinkState struct {
	Index                int // interface index, unique in the namespace while the link lives
	Up                   bool
	MTU                  int
	HWAddr               string
	Addresses            []netip.Prefix
	RxBytes, TxBytes     int64
	RxPackets, TxPackets int64
}

// Link returns the state of the link name; a missing link is ErrNotFound.
func Link(name string) (LinkState, error) {
	l, err := linkByName(name)
	if err != nil {
		return LinkState{}, err
	}
	a := l.Attrs()
	st := LinkState{Index: a.Index, Up: a.Flags&net.FlagUp != 0, MTU: a.MTU, HWAddr: a.HardwareAddr.String()}
	if s := a.Statistics; s != nil {
		st.RxBytes, st.TxBytes = int64(s.RxBytes), int64(s.TxBytes)
		st.RxPackets, st.TxPackets = int64(s.RxPackets), int64(s.TxPackets)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return LinkState{}, fmt.Errorf("list addresses of %q: %w", name, err)
	}
	for _, ad := range addrs {
		if p, ok := prefixFromIPNet(ad.IPNet); ok {
			st.Addresses = append(st.Addresses, p)
		}
	}
	return st, nil
}
