package network

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/vishvananda/netlink"
)

// addDummy creates an ifb link (this kernel has no dummy driver; ifb is as
// inert) in the test's own netns, with addresses.
func addDummy(t *testing.T, name string, addrs ...string) netlink.Link {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := netlink.LinkAdd(&netlink.Ifb{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		addr, err := netlink.ParseAddr(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.AddrAdd(l, addr); err != nil {
			t.Fatalf("add %s: %v", a, err)
		}
	}
	return l
}

func addRoute(t *testing.T, l netlink.Link, dst string, table int) {
	t.Helper()
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Table: table}
	if dst != "" {
		_, n, err := net.ParseCIDR(dst)
		if err != nil {
			t.Fatal(err)
		}
		r.Dst = n
	}
	if err := netlink.RouteAdd(r); err != nil {
		t.Fatalf("route %s: %v", dst, err)
	}
}

// TestPickSubnet fills 10.0.0.0/8 with addresses, routes (main and another
// table) and taken subnets so that exactly one /24 is left.
func TestPickSubnet(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	d0 := addDummy(t, "d0", "10.0.0.1/9", "10.192.0.1/11")
	d1 := addDummy(t, "d1", "10.240.0.1/13")
	addRoute(t, d0, "10.128.0.0/10", 0)
	addRoute(t, d1, "10.224.0.0/12", 100) // not the main table
	addRoute(t, d1, "10.248.0.0/14", 0)
	addRoute(t, d1, "10.252.0.0/15", 0)
	addRoute(t, d0, "10.254.0.0/16", 0)
	addRoute(t, d0, "10.255.0.0/17", 0)
	addRoute(t, d0, "10.255.255.0/24", 0)
	addRoute(t, d0, "0.0.0.0/0", 0) // a default route must not block anything
	var taken []netip.Prefix
	for _, s := range []string{"10.255.128.0/18", "10.255.192.0/19", "10.255.224.0/20", "10.255.240.0/21", "10.255.248.0/22", "10.255.252.0/23"} {
		taken = append(taken, netip.MustParsePrefix(s))
	}
	for range 20 {
		p, err := PickSubnet(taken)
		if err != nil || p.String() != "10.255.254.1/24" {
			t.Fatalf("PickSubnet = %v, %v; want 10.255.254.1/24", p, err)
		}
	}
	addRoute(t, d0, "10.255.254.0/24", 0)
	if p, err := PickSubnet(taken); !errors.Is(err, ErrConflict) {
		t.Fatalf("PickSubnet with 10/8 full = %v, %v", p, err)
	}

	cases := []struct {
		prefix, self string
		want         string // "" = free
	}{
		{"10.1.2.1/24", "", "address 10.0.0.1/9 of d0"},
		{"10.1.2.1/24", "d0", ""}, // re-validation of d0's own subnet
		{"10.230.0.1/24", "", "route 10.224.0.0/12 via d1"},
		{"10.255.130.1/24", "", "subnet 10.255.128.0/18 of another managed network"},
		{"10.255.254.1/24", "", "route 10.255.254.0/24"},
		{"192.168.7.1/24", "", ""},
		{"127.0.0.1/8", "", "address 127.0.0.1/8 of lo"},
	}
	for _, c := range cases {
		err := CheckFree(netip.MustParsePrefix(c.prefix), c.self, taken)
		if c.want == "" {
			if err != nil {
				t.Errorf("CheckFree(%s, %q) = %v, want free", c.prefix, c.self, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, api.ErrConflict) {
			t.Errorf("CheckFree(%s, %q) = %v, want ErrConflict naming %q", c.prefix, c.self, err, c.want)
		}
	}
}

// TestPickSubnetEmpty: in an empty netns any pick is a 10.X.Y.1/24 and
// picks are randomised.
func TestPickSubnetEmpty(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	seen := map[netip.Prefix]bool{}
	for range 10 {
		p, err := PickSubnet(nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Bits() != 24 || p.Addr().As4()[0] != 10 || p.Addr().As4()[3] != 1 {
			t.Fatalf("pick %s is not 10.X.Y.1/24", p)
		}
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Errorf("10 picks gave %d distinct subnets: not randomised", len(seen))
	}
}
