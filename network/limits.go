package network

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Bandwidth limits of a guest's nic (limits.ingress / limits.egress), applied
// with traffic control on the host side of its veth pair. Seen from the host
// the directions swap: what the host sends into the veth reaches the guest, so
// the guest's ingress is shaped by a tbf at the root of the link; what the
// guest sends arrives on the link's ingress, where no qdisc can queue it.
//
// The usual answer for that side, a police action on an ingress filter (what
// LXD does), needs act_police, and the kernels we run on are built without it
// (CONFIG_NET_ACT_POLICE unset, no modules). So the link's ingress is
// redirected (u32 match-all + mirred, both built in) to an ifb device that
// shapes with its own tbf and then hands the packets back to the stack as if
// they had just arrived on the link. That shapes rather than drops, which TCP
// likes better anyway. The ifb outlives the link, so whoever removes a guest's
// nic calls ClearLinkLimits, and PruneLinkLimits sweeps up after a crash.
const (
	// MinLinkLimit is the lowest non-zero limit in bits per second: below it
	// the burst floor would take longer to drain than the kernel's token
	// bucket can express (about 270 s in 32-bit ticks of 64 ns).
	MinLinkLimit = 32_000

	// limitsHandle is the handle of our root tbfs, so a second call changes
	// a tbf in place instead of grafting a new one.
	limitsHandle = 0x10000 // 1:0

	// ifbPrefix starts the name of every ifb this package makes; ifbAlias
	// followed by the link's name is its alias, which says whose it is.
	ifbPrefix = "lxifb"
	ifbAlias  = "lxmgr-limits:"

	// tbfLatencyDiv sets how long a packet may wait in a tbf queue (limit =
	// rate*latency + burst, as tc computes it): 1/20 s = 50 ms.
	tbfLatencyDiv = 20

	// maxBurst caps the burst and queue at very high rates: 100 ms of
	// 100 Gbit/s would not fit the kernel's 32-bit byte counts.
	maxBurst = 64 << 20
)

// linkBurst is the token bucket size for rate bytes per second: 100 ms of
// traffic, at least floor bytes, at most maxBurst.
func linkBurst(rate, floor uint64) uint32 {
	return uint32(min(max(rate/10, floor), maxBurst))
}

// ifbName is the name of link's ifb: a hash keeps it within the 15 bytes of
// a Linux link name whatever the link is called.
func ifbName(link string) string {
	h := fnv.New32a()
	h.Write([]byte(link))
	return fmt.Sprintf("%s%08x", ifbPrefix, h.Sum32())
}

// validateLinkLimit checks one limit in bits per second (0 = none).
func validateLinkLimit(what string, bits int64) error {
	switch {
	case bits < 0:
		return fmt.Errorf("%w: %s limit %d bit/s is negative", ErrInvalid, what, bits)
	case bits > 0 && bits < MinLinkLimit:
		return fmt.Errorf("%w: %s limit %d bit/s is below the minimum of %d bit/s", ErrInvalid, what, bits, MinLinkLimit)
	}
	return nil
}

// SetLinkLimits shapes the host side of a guest's veth pair link (the guest's
// eth0 is its peer). ingressBits limits traffic into the guest, egressBits
// traffic from the guest, both in bits per second with 0 meaning no limit
// (LXD's limits.ingress and limits.egress). It replaces earlier limits, so it
// is idempotent, and 0, 0 removes them. A non-zero limit below MinLinkLimit
// is ErrInvalid; a missing link is ErrNotFound.
//
// Ingress is a tbf root qdisc on link. Egress is an ingress qdisc on link
// whose match-all u32 filter redirects everything to the ifb device named
// ifbName(link), which has a tbf at its root; that ifb is created here and
// removed again by an egress of 0 or by ClearLinkLimits.
func SetLinkLimits(link string, ingressBits, egressBits int64) error {
	if err := validateLinkLimit("ingress", ingressBits); err != nil {
		return err
	}
	if err := validateLinkLimit("egress", egressBits); err != nil {
		return err
	}
	l, err := linkByName(link)
	if err != nil {
		return err
	}
	if err := setRootTbf(l, l.Attrs().MTU, ingressBits); err != nil {
		return fmt.Errorf("ingress limit on %q: %w", link, err)
	}
	if egressBits == 0 {
		err = clearEgress(l, link)
	} else {
		err = setEgress(l, egressBits)
	}
	if err != nil {
		return fmt.Errorf("egress limit on %q: %w", link, err)
	}
	return nil
}

// ClearLinkLimits removes every limit of link, including its ifb, which
// would otherwise outlive it. A link or ifb already gone is success, so it
// is what to call when a guest's nic goes away.
func ClearLinkLimits(link string) error {
	l, err := linkByName(link)
	switch {
	case errors.Is(err, ErrNotFound):
		l = nil
	case err != nil:
		return err
	}
	if l != nil {
		if err := setRootTbf(l, 0, 0); err != nil {
			return fmt.Errorf("clear ingress limit on %q: %w", link, err)
		}
	}
	if err := clearEgress(l, link); err != nil {
		return fmt.Errorf("clear egress limit on %q: %w", link, err)
	}
	return nil
}

// PruneLinkLimits deletes the ifb devices of links that no longer exist
// (guests that stopped while the daemon was down) and returns the names of
// the links they belonged to. It is for daemon start.
func PruneLinkLimits() ([]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var pruned []string
	for _, l := range links {
		a := l.Attrs()
		link, ok := strings.CutPrefix(a.Alias, ifbAlias)
		if l.Type() != "ifb" || !strings.HasPrefix(a.Name, ifbPrefix) || !ok {
			continue
		}
		if _, err := linkByName(link); !errors.Is(err, ErrNotFound) {
			continue // still in use, or unknown: keep it
		}
		if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			return pruned, fmt.Errorf("delete %s: %w", a.Name, err)
		}
		pruned = append(pruned, link)
	}
	return pruned, nil
}

// setRootTbf shapes what l transmits to bits per second with a root tbf, or
// removes our tbf for bits == 0. tbf segments GSO packets larger than its
// bucket, so a few MTUs (plus the 14-byte Ethernet header) are enough of a
// floor; a bucket below one packet would drop it.
func setRootTbf(l netlink.Link, mtu int, bits int64) error {
	if bits == 0 {
		return delQdiscs(l, func(q netlink.Qdisc) bool {
			return q.Attrs().Parent == netlink.HANDLE_ROOT && q.Type() == "tbf"
		})
	}
	rate := uint64(bits) / 8
	burst := linkBurst(rate, 4*(uint64(max(mtu, defaultMTU))+14))
	tbf := &netlink.Tbf{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: l.Attrs().Index,
			Handle:    limitsHandle,
			Parent:    netlink.HANDLE_ROOT,
		},
		Rate:   rate,
		Limit:  uint32(min(rate/tbfLatencyDiv+uint64(burst), 2*maxBurst)),
		Buffer: netlink.Xmittime(rate, burst),
	}
	if err := netlink.QdiscReplace(tbf); err != nil {
		return fmt.Errorf("replace root tbf: %w", err)
	}
	return nil
}

// setEgress shapes what arrives on l: the ifb gets (or keeps) a tbf, then the
// ingress qdisc of l is rebuilt with one filter redirecting to it. Rebuilding
// rather than replacing the filter avoids u32 handle bookkeeping; for the
// instant between the two, traffic passes unshaped.
func setEgress(l netlink.Link, bits int64) error {
	ifb, err := ensureIfb(l.Attrs().Name)
	if err != nil {
		return err
	}
	if err := setRootTbf(ifb, l.Attrs().MTU, bits); err != nil {
		return fmt.Errorf("ifb %s: %w", ifb.Attrs().Name, err)
	}
	if err := delIngress(l); err != nil {
		return err
	}
	ingress := &netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{
		LinkIndex: l.Attrs().Index,
		Handle:    netlink.MakeHandle(0xffff, 0),
		Parent:    netlink.HANDLE_INGRESS,
	}}
	if err := netlink.QdiscAdd(ingress); err != nil {
		return fmt.Errorf("add ingress qdisc: %w", err)
	}
	filter := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: l.Attrs().Index,
			Parent:    ingress.Handle,
			Priority:  1,
			Protocol:  unix.ETH_P_ALL,
		},
		// One key with a zero mask matches every packet.
		Sel: &netlink.TcU32Sel{
			Flags: netlink.TC_U32_TERMINAL,
			Nkeys: 1,
			Keys:  []netlink.TcU32Key{{}},
		},
		Actions: []netlink.Action{netlink.NewMirredAction(ifb.Attrs().Index)},
	}
	if err := netlink.FilterAdd(filter); err != nil {
		return fmt.Errorf("add redirect filter: %w", err)
	}
	return nil
}

// clearEgress removes the ingress qdisc of l (nil: the link is gone) and the
// ifb of link.
func clearEgress(l netlink.Link, link string) error {
	if l != nil {
		if err := delIngress(l); err != nil {
			return err
		}
	}
	ifb, err := netlink.LinkByName(ifbName(link))
	if err != nil {
		if errors.As(err, new(netlink.LinkNotFoundError)) {
			return nil
		}
		return fmt.Errorf("ifb of %q: %w", link, err)
	}
	if ifb.Type() != "ifb" || ifb.Attrs().Alias != ifbAlias+link {
		return nil // not ours: leave it alone
	}
	if err := netlink.LinkDel(ifb); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", ifb.Attrs().Name, err)
	}
	return nil
}

// ensureIfb creates link's ifb, or adopts it (left over from an earlier call
// or a crash), and brings it up. A link of that name that is not our ifb for
// link is ErrConflict.
func ensureIfb(link string) (netlink.Link, error) {
	name := ifbName(link)
	ifb, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		if err := netlink.LinkAdd(&netlink.Ifb{LinkAttrs: attrs}); err != nil {
			return nil, fmt.Errorf("add ifb %s: %w", name, err)
		}
		if ifb, err = netlink.LinkByName(name); err == nil {
			err = netlink.LinkSetAlias(ifb, ifbAlias+link)
		}
		if err != nil {
			netlink.LinkDel(&netlink.Ifb{LinkAttrs: attrs})
			return nil, fmt.Errorf("ifb %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("ifb %s: %w", name, err)
	} else if ifb.Type() != "ifb" || ifb.Attrs().Alias != ifbAlias+link {
		return nil, fmt.Errorf("%w: link %s exists and is not the ifb of %q", ErrConflict, name, link)
	}
	if err := netlink.LinkSetUp(ifb); err != nil {
		return nil, fmt.Errorf("set ifb %s up: %w", name, err)
	}
	return ifb, nil
}

// delIngress removes l's ingress qdisc and with it every filter on it.
func delIngress(l netlink.Link) error {
	return delQdiscs(l, func(q netlink.Qdisc) bool {
		return q.Attrs().Parent == netlink.HANDLE_INGRESS
	})
}

// delQdiscs deletes the qdiscs of l that match; one already gone is fine.
func delQdiscs(l netlink.Link, match func(netlink.Qdisc) bool) error {
	qs, err := netlink.QdiscList(l)
	if err != nil {
		return fmt.Errorf("list qdiscs: %w", err)
	}
	for _, q := range qs {
		if !match(q) {
			continue
		}
		if err := netlink.QdiscDel(q); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete %s qdisc: %w", q.Type(), err)
		}
	}
	return nil
}
