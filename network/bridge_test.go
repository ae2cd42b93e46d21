package network

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestBridge(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	gw := netip.MustParsePrefix("10.231.5.1/24")
	if err := EnsureBridge("lxt0", gw, 0); err != nil {
		t.Fatal(err)
	}
	st, err := Link("lxt0")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Up || st.MTU != 1500 || st.HWAddr == "" || !slices.Contains(st.Addresses, gw) {
		t.Fatalf("state after create: %+v", st)
	}
	l, _ := netlink.LinkByName("lxt0")
	index := l.Attrs().Index

	// A stray address and a changed MTU are put right; the bridge is adopted.
	stray, _ := netlink.ParseAddr("10.231.6.1/24")
	if err := netlink.AddrAdd(l, stray); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetDown(l); err != nil {
		t.Fatal(err)
	}
	if err := EnsureBridge("lxt0", gw, 1400); err != nil {
		t.Fatal(err)
	}
	if err := EnsureBridge("lxt0", gw, 1400); err != nil { // idempotent
		t.Fatal(err)
	}
	st, _ = Link("lxt0")
	l, _ = netlink.LinkByName("lxt0")
	if l.Attrs().Index != index {
		t.Errorf("bridge was recreated, not adopted")
	}
	if !st.Up || st.MTU != 1400 || slices.Contains(st.Addresses, netip.MustParsePrefix("10.231.6.1/24")) || !slices.Contains(st.Addresses, gw) {
		t.Errorf("state after adopt: %+v", st)
	}
	// A new gateway replaces the old one.
	gw2 := netip.MustParsePrefix("10.231.7.1/24")
	if err := EnsureBridge("lxt0", gw2, 0); err != nil {
		t.Fatal(err)
	}
	st, _ = Link("lxt0")
	if slices.Contains(st.Addresses, gw) || !slices.Contains(st.Addresses, gw2) || st.MTU != 1500 {
		t.Errorf("state after new gateway: %+v", st)
	}

	// Not a bridge: refused, and left alone by DeleteBridge.
	addDummy(t, "dum0")
	if err := EnsureBridge("dum0", gw, 0); !errors.Is(err, ErrConflict) {
		t.Errorf("EnsureBridge on a dummy = %v, want ErrConflict", err)
	}
	if err := DeleteBridge("dum0"); !errors.Is(err, ErrConflict) {
		t.Errorf("DeleteBridge on a dummy = %v, want ErrConflict", err)
	}
	if err := EnsureBridge("bad/name", gw, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("EnsureBridge(bad/name) = %v", err)
	}

	for range 2 { // missing is fine
		if err := DeleteBridge("lxt0"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Link("lxt0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Link after delete = %v, want ErrNotFound", err)
	}
}

func TestDeleteOwnedBridge(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	if err := EnsureBridge("lxt1", netip.Prefix{}, 0); err != nil {
		t.Fatal(err)
	}
	st, err := Link("lxt1")
	if err != nil || st.Index == 0 {
		t.Fatalf("Link = %+v, %v", st, err)
	}
	// Made again by someone else: another index, left alone.
	if err := DeleteOwnedBridge("lxt1", st.Index+1000); !errors.Is(err, ErrConflict) {
		t.Fatalf("delete with another index = %v, want ErrConflict", err)
	}
	if _, err := Link("lxt1"); err != nil {
		t.Fatalf("bridge gone after a refused delete: %v", err)
	}
	if err := DeleteOwnedBridge("lxt1", st.Index); err != nil {
		t.Fatal(err)
	}
	if _, err := Link("lxt1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bridge still there: %v", err)
	}
	if err := DeleteOwnedBridge("lxt1", st.Index); err != nil {
		t.Fatalf("delete of a missing bridge = %v, want success", err)
	}
}
