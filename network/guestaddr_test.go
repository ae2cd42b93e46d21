package network

import (
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestGuestAddresses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	g := newGuestNetns(t)
	var err error
	g.do(func() {
		var lo netlink.Link
		if lo, err = netlink.LinkByName("lo"); err == nil {
			addr, _ := netlink.ParseAddr("10.231.66.5/24")
			err = netlink.AddrAdd(lo, addr)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := GuestAddresses(g.path, "lo")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1/8", "10.231.66.5/24", "::1/128"} {
		if !slices.Contains(got, netip.MustParsePrefix(want)) {
			t.Errorf("addresses of the namespace's lo = %v, missing %s", got, want)
		}
	}
	// Another namespace's lo has no such address: each read is its own.
	other, err := GuestAddresses(newGuestNetns(t).path, "lo")
	if err != nil || slices.Contains(other, netip.MustParsePrefix("10.231.66.5/24")) {
		t.Errorf("another namespace's lo = %v, %v", other, err)
	}
	if _, err := GuestAddresses(g.path, "eth9"); err == nil {
		t.Error("no error for a missing interface")
	}
}
