package network

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/vishvananda/netlink"
)

func TestSetLinkLimitsInvalid(t *testing.T) {
	// Validation comes before any netlink call, so this needs no root.
	for _, tc := range []struct {
		name            string
		ingress, egress int64
	}{
		{"negative ingress", -1, 0},
		{"negative egress", 0, -8},
		{"ingress below minimum", MinLinkLimit - 1, 0},
		{"egress below minimum", 0, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SetLinkLimits("lxnosuch0", tc.ingress, tc.egress)
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, api.ErrInvalid) {
				t.Errorf("SetLinkLimits(%d, %d) = %v, want ErrInvalid", tc.ingress, tc.egress, err)
			}
		})
	}
}

func TestLinkBurst(t *testing.T) {
	for _, tc := range []struct {
		rate, floor uint64
		want        uint32
	}{
		{1_000_000, 6056, 100_000},  // 8 Mbit: 100 ms of traffic
		{4000, 6056, 6056},          // slow: the floor
		{100e9 / 8, 6056, maxBurst}, // 100 Gbit: capped
	} {
		if got := linkBurst(tc.rate, tc.floor); got != tc.want {
			t.Errorf("linkBurst(%d, %d) = %d, want %d", tc.rate, tc.floor, got, tc.want)
		}
	}
}

// linkLimits reads back what SetLinkLimits left on link, in bit/s (0 =
// none): the rate of its root tbf, and the rate of the root tbf of the ifb
// its one ingress filter redirects to, failing on anything unexpected.
func linkLimits(t *testing.T, link string) (ingress, egress int64) {
	t.Helper()
	l, err := netlink.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	ifb, err := netlink.LinkByName(ifbName(link))
	if err != nil && !errors.As(err, new(netlink.LinkNotFoundError)) {
		t.Fatal(err)
	}
	ingress, hasIngress := rootTbfRate(t, l)
	if !hasIngress {
		if ifb != nil {
			t.Errorf("%s has no ingress qdisc but ifb %s exists", link, ifb.Attrs().Name)
		}
		return ingress, 0
	}
	if ifb == nil {
		t.Fatalf("%s has an ingress qdisc but no ifb", link)
	}
	if ifb.Type() != "ifb" || ifb.Attrs().Alias != ifbAlias+link || ifb.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("ifb: type %s, alias %q, flags %v", ifb.Type(), ifb.Attrs().Alias, ifb.Attrs().Flags)
	}
	egress, _ = rootTbfRate(t, ifb)
	fs, err := netlink.FilterList(l, netlink.HANDLE_INGRESS)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%d ingress filters, want 1: %+v", len(fs), fs)
	}
	u, ok := fs[0].(*netlink.U32)
	if !ok || len(u.Actions) != 1 {
		t.Fatalf("ingress filter: %+v", fs[0])
	}
	m, ok := u.Actions[0].(*netlink.MirredAction)
	if !ok || m.MirredAction != netlink.TCA_EGRESS_REDIR || m.Ifindex != ifb.Attrs().Index {
		t.Fatalf("ingress filter action: %+v, ifb index %d", u.Actions[0], ifb.Attrs().Index)
	}
	return ingress, egress
}

// rootTbfRate returns the rate of l's root tbf in bit/s (0 = none) and
// whether l has an ingress qdisc.
func rootTbfRate(t *testing.T, l netlink.Link) (bits int64, hasIngress bool) {
	t.Helper()
	qs, err := netlink.QdiscList(l)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		switch q := q.(type) {
		case *netlink.Tbf:
			if q.Parent != netlink.HANDLE_ROOT || q.Handle != limitsHandle || q.Buffer == 0 || q.Limit == 0 {
				t.Errorf("tbf on %s: %+v", l.Attrs().Name, q)
			}
			bits = int64(q.Rate) * 8
		case *netlink.Ingress:
			hasIngress = true
		}
	}
	return bits, hasIngress
}

// addVeth creates the veth pair host/peer, both up.
func addVeth(t *testing.T, host, peer string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = host
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: peer}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{host, peer} {
		l, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSetLinkLimits(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	addVeth(t, "lxlim0", "lxlim0g")
	steps := []struct {
		name            string
		ingress, egress int64
	}{
		{"set", 8_000_000, 4_000_000},
		{"same again", 8_000_000, 4_000_000},
		{"replace", 2_000_000, 16_000_000},
		{"ingress only", 1_000_000, 0},
		{"egress only", 0, 3_000_000},
		{"high rates", 20_000_000_000, 30_000_000_000},
		{"remove", 0, 0},
		{"remove again", 0, 0},
	}
	for _, s := range steps {
		if err := SetLinkLimits("lxlim0", s.ingress, s.egress); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		in, eg := linkLimits(t, "lxlim0")
		if in != s.ingress || eg != s.egress {
			t.Errorf("%s: read back ingress %d egress %d, want %d %d", s.name, in, eg, s.ingress, s.egress)
		}
	}
	// The peer (the guest's side) is never touched.
	if in, eg := linkLimits(t, "lxlim0g"); in != 0 || eg != 0 {
		t.Errorf("peer has limits %d %d", in, eg)
	}

	err := SetLinkLimits("lxnosuch0", 8_000_000, 0)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, api.ErrNotFound) {
		t.Errorf("missing link: %v", err)
	}

	// ClearLinkLimits on a live link removes everything.
	if err := SetLinkLimits("lxlim0", 8_000_000, 4_000_000); err != nil {
		t.Fatal(err)
	}
	if err := ClearLinkLimits("lxlim0"); err != nil {
		t.Fatal(err)
	}
	if in, eg := linkLimits(t, "lxlim0"); in != 0 || eg != 0 {
		t.Errorf("after ClearLinkLimits: %d %d", in, eg)
	}

	// The ifb outlives its link: ClearLinkLimits removes it afterwards, and
	// PruneLinkLimits finds the orphans it was not called for.
	addVeth(t, "lxlim1", "lxlim1g")
	addVeth(t, "lxlim2", "lxlim2g")
	for _, link := range []string{"lxlim0", "lxlim1", "lxlim2"} {
		if err := SetLinkLimits(link, 0, 4_000_000); err != nil {
			t.Fatal(err)
		}
	}
	for _, link := range []string{"lxlim0", "lxlim1"} {
		l, _ := netlink.LinkByName(link)
		if err := netlink.LinkDel(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := ClearLinkLimits("lxlim0"); err != nil {
		t.Fatal(err)
	}
	if err := ClearLinkLimits("lxlim0"); err != nil { // already gone
		t.Errorf("second ClearLinkLimits: %v", err)
	}
	if _, err := netlink.LinkByName(ifbName("lxlim0")); err == nil {
		t.Errorf("ifb of lxlim0 left after ClearLinkLimits")
	}
	pruned, err := PruneLinkLimits()
	if err != nil || !slices.Equal(pruned, []string{"lxlim1"}) {
		t.Errorf("PruneLinkLimits = %v, %v; want [lxlim1]", pruned, err)
	}
	if _, eg := linkLimits(t, "lxlim2"); eg != 4_000_000 {
		t.Errorf("prune touched lxlim2: egress %d", eg)
	}

	// A foreign link with the ifb's name is not taken over.
	attrs := netlink.NewLinkAttrs()
	attrs.Name = ifbName("lxlim3")
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "lxlim3p"}); err != nil {
		t.Fatal(err)
	}
	addVeth(t, "lxlim3", "lxlim3g")
	if err := SetLinkLimits("lxlim3", 0, 4_000_000); !errors.Is(err, ErrConflict) {
		t.Errorf("ifb name taken: %v", err)
	}
}

// TestSetLinkLimitsThroughput measures real TCP transfers over a veth pair
// whose peer is in a second namespace, as a guest's eth0 would be.
func TestSetLinkLimitsThroughput(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	guest := newGuestNetns(t)
	addVeth(t, "lxlim1", "lxlim1g")
	host, _ := netlink.LinkByName("lxlim1")
	peer, _ := netlink.LinkByName("lxlim1g")
	nsf, err := os.Open(guest.path)
	if err != nil {
		t.Fatal(err)
	}
	err = netlink.LinkSetNsFd(peer, int(nsf.Fd()))
	nsf.Close()
	if err != nil {
		t.Fatal(err)
	}
	hostAddr, _ := netlink.ParseAddr("10.231.6.1/24")
	if err := netlink.AddrAdd(host, hostAddr); err != nil {
		t.Fatal(err)
	}
	guest.do(func() {
		var l netlink.Link
		if l, err = netlink.LinkByName("lxlim1g"); err != nil {
			return
		}
		guestAddr, _ := netlink.ParseAddr("10.231.6.2/24")
		if err = netlink.AddrAdd(l, guestAddr); err == nil {
			err = netlink.LinkSetUp(l)
		}
	})
	if err != nil {
		t.Fatalf("guest side: %v", err)
	}

	// Listeners: one in the guest (for traffic into it), one on the host.
	var guestLn net.Listener
	guest.do(func() { guestLn, err = net.Listen("tcp4", "10.231.6.2:5001") })
	if err != nil {
		t.Fatal(err)
	}
	defer guestLn.Close()
	hostLn, err := net.Listen("tcp4", "10.231.6.1:5002")
	if err != nil {
		t.Fatal(err)
	}
	defer hostLn.Close()
	toGuest := func(d time.Duration) int64 {
		return transfer(t, guestLn, func() (net.Conn, error) {
			return net.DialTimeout("tcp4", "10.231.6.2:5001", time.Second)
		}, d)
	}
	fromGuest := func(d time.Duration) int64 {
		return transfer(t, hostLn, func() (c net.Conn, err error) {
			guest.do(func() { c, err = net.DialTimeout("tcp4", "10.231.6.1:5002", time.Second) })
			return c, err
		}, d)
	}

	if err := SetLinkLimits("lxlim1", 8_000_000, 4_000_000); err != nil {
		t.Fatal(err)
	}
	// 8 Mbit/s is 1 MB/s; 4 Mbit/s is 0.5 MB/s. The upper bounds leave room
	// for the bursts, the lower ones catch a limit that blocks traffic.
	if n := toGuest(time.Second); n > 1_600_000 || n < 300_000 {
		t.Errorf("into the guest at 8 Mbit/s: %d bytes in 1 s", n)
	} else {
		t.Logf("into the guest at 8 Mbit/s: %d bytes in 1 s", n)
	}
	if n := fromGuest(time.Second); n > 800_000 || n < 200_000 {
		t.Errorf("from the guest at 4 Mbit/s: %d bytes in 1 s", n)
	} else {
		t.Logf("from the guest at 4 Mbit/s: %d bytes in 1 s", n)
	}

	// Removed: both ways run far above the old limits.
	if err := SetLinkLimits("lxlim1", 0, 0); err != nil {
		t.Fatal(err)
	}
	d := 200 * time.Millisecond
	if n := toGuest(d); n < 2_000_000 {
		t.Errorf("into the guest unlimited: %d bytes in %v", n, d)
	} else {
		t.Logf("into the guest unlimited: %d bytes in %v", n, d)
	}
	if n := fromGuest(d); n < 2_000_000 {
		t.Errorf("from the guest unlimited: %d bytes in %v", n, d)
	} else {
		t.Logf("from the guest unlimited: %d bytes in %v", n, d)
	}
}

// transfer connects with dial, accepts on ln, sends from the dialled end as
// fast as it can and returns how many bytes the accepted end read within d.
func transfer(t *testing.T, ln net.Listener, dial func() (net.Conn, error), d time.Duration) int64 {
	t.Helper()
	c, err := dial()
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close() // also ends the writer below
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second))
	s, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	defer s.Close()
	deadline := time.Now().Add(d)
	s.SetReadDeadline(deadline)
	c.SetWriteDeadline(deadline.Add(time.Second))
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	n, err := io.Copy(io.Discard, s)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("receive: %v", err)
	}
	return n
}
