package network

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// leaseFor plugs a veth with mac from bridge into guest as ifname and runs
// busybox udhcpc there once (it exits with the lease, so nothing renews it
// later); args are extra udhcpc flags.
func leaseFor(t *testing.T, guest *guestNetns, bridge, hostIf, ifname, mac string, args ...string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox for udhcpc")
	}
	plugVeth(t, guest, bridge, hostIf, ifname, mac)
	argv := append([]string{"--net=" + guest.path, busybox, "udhcpc", "-i", ifname, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true"}, args...)
	if out, err := exec.Command("nsenter", argv...).CombinedOutput(); err != nil {
		t.Fatalf("udhcpc on %s: %v\n%s", ifname, err, out)
	}
}

// plugVeth adds a veth pair with its host side hostIf on bridge and its
// peer ifname, with mac, up inside guest.
func plugVeth(t *testing.T, guest *guestNetns, bridge, hostIf, ifname, mac string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostIf
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	attrs.MasterIndex = br.Attrs().Index
	hw, _ := net.ParseMAC(mac)
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: ifname, PeerHardwareAddr: hw}); err != nil {
		t.Fatal(err)
	}
	vh, _ := netlink.LinkByName(hostIf)
	netlink.LinkSetUp(vh)
	peer, _ := netlink.LinkByName(ifname)
	f, err := os.Open(guest.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := netlink.LinkSetNsFd(peer, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	guest.do(func() {
		l, err := netlink.LinkByName(ifname)
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			t.Error(err)
		}
	})
}

// leaseOf returns mac's lease as the lease file holds it now.
func leaseOf(t *testing.T, dir, mac string) (Lease, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, leaseFile))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := parseLeases(b)
	for _, l := range ls {
		if l.MAC == mac {
			return l, true
		}
	}
	return Lease{}, false
}

// TestReleaseLease makes a real dnsmasq drop real leases: one taken with a
// client identifier (udhcpc's default, 01:<mac>) and one without.
func TestReleaseLease(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	ctx := context.Background()
	gw := netip.MustParsePrefix("10.231.5.1/24")
	if err := EnsureBridge("lxt0", gw, 0); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := DNSMasq{Network: "n1", Bridge: "lxt0", Dir: dir, Gateway: gw,
		Ranges: []Range{{netip.MustParseAddr("10.231.5.50"), netip.MustParseAddr("10.231.5.60")}}}
	t.Cleanup(func() { StopDNSMasq(dir) })
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir)
	guest := newGuestNetns(t)
	macA, macB := "00:16:3e:00:00:0a", "00:16:3e:00:00:0b"
	leaseFor(t, guest, "lxt0", "vh0", "eth0", macA)
	leaseFor(t, guest, "lxt0", "vh1", "eth1", macB, "-C") // -C: no client id
	a, okA := leaseOf(t, dir, macA)
	b, okB := leaseOf(t, dir, macB)
	if !okA || !okB {
		t.Fatalf("no leases for both guests: %+v %+v", a, b)
	}
	if a.ClientID != "01:"+macA || b.ClientID != "" {
		t.Fatalf("client ids %q and %q, want %q and none", a.ClientID, b.ClientID, "01:"+macA)
	}
	// Leases fills its cache now, so a stale cache would show below.
	if ls, _ := Leases(dir); len(ls) != 2 {
		t.Fatalf("Leases: %+v", ls)
	}

	// A lease dnsmasq does not have: nothing to do, no error.
	unknown := Lease{MAC: "00:16:3e:00:00:99", IP: a.IP}
	if err := ReleaseLease(ctx, dir, "lxt0", gw.Addr(), unknown); err != nil {
		t.Errorf("release of an unknown lease: %v", err)
	}
	// A wrong client identifier is not the client: dnsmasq keeps the lease
	// (so a release must send the recorded one, as below).
	wrong := a
	wrong.ClientID = "01:00:16:3e:00:00:99"
	if err := ReleaseLease(ctx, dir, "lxt0", gw.Addr(), wrong); err == nil {
		t.Errorf("release with another client id dropped the lease")
	}
	if _, ok := leaseOf(t, dir, macA); !ok {
		t.Fatalf("lease of %s gone after releases that were not its own", macA)
	}

	for _, l := range []Lease{a, b} {
		start := time.Now()
		if err := ReleaseLease(ctx, dir, "lxt0", gw.Addr(), l); err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, logFile))
			t.Fatalf("release %+v: %v\ndnsmasq log:\n%s", l, err, log)
		}
		t.Logf("release of %s (client id %q) took %v", l.IP, l.ClientID, time.Since(start))
		if _, ok := leaseOf(t, dir, l.MAC); ok {
			t.Errorf("lease of %s still in the file", l.MAC)
		}
	}
	if ls, _ := Leases(dir); len(ls) != 0 {
		t.Errorf("Leases after release: %+v", ls)
	}
	if !alive(pid) {
		t.Errorf("dnsmasq %d died", pid)
	}
}
