package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLeaseReleased checks that a guest leaving a network gives its DHCP
// lease back at once: a deleted guest's dynamic address can be a new
// guest's static address right away (dnsmasq would otherwise keep it for
// the lease time, and the daemon refuse it), and a nic removed from a
// running guest gives its lease back when the guest stops, not before.
func TestLeaseReleased(t *testing.T) {
	t.Cleanup(func() { lxmgr(t, "network", "delete", "e2erel") })
	cleanupInstance(t, "rel1", "rel2", "rel3", "rel4")
	must(t, "network", "create", "e2erel", "ipv4.address=10.231.15.1/24", "ipv4.nat=false")
	must(t, "launch", "busybox", "rel1", "-d", "eth0,network=e2erel", "--wait")
	addr := ipv4Of(t, "rel1")
	if !strings.HasPrefix(addr, "10.231.15.") {
		t.Fatalf("rel1 is not on e2erel: address %q", addr)
	}
	mac1 := find(listJSON(t), "rel1").ExpandedConfig["volatile.eth0.hwaddr"]
	// While rel1 holds it, the address is refused as a static one.
	mustFail(t, "leased to instance \"rel1\"", "create", "busybox", "rel2", "-d", "eth0,network=e2erel,ipv4.address="+addr)

	t0 := time.Now()
	must(t, "delete", "--force", "rel1")
	t.Logf("delete --force with the release: %v", time.Since(t0))
	if out := must(t, "network", "info", "e2erel"); strings.Contains(out, addr) || strings.Contains(out, mac1) {
		t.Errorf("rel1's lease (%s, %s) still listed after its delete:\n%s", addr, mac1, out)
	}
	must(t, "launch", "busybox", "rel2", "-d", "eth0,network=e2erel,ipv4.address="+addr, "--wait")
	waitIP(t, "rel2", addr)
	// The guest itself holds it, not just a reservation in the list.
	waitGuestIP(t, "rel2", addr+"/24")
	if out := must(t, "network", "info", "e2erel"); strings.Contains(out, mac1) {
		t.Errorf("rel1's MAC %s still listed:\n%s", mac1, out)
	}

	// A stopped guest keeps the lease of a nic it still has; once the nic
	// leaves the network (its own eth0 removed: the default profile's, if
	// any, is on another network), the lease goes at once.
	mac2 := find(listJSON(t), "rel2").ExpandedConfig["volatile.eth0.hwaddr"]
	must(t, "stop", "--force", "rel2")
	// The lease file itself: network info lists rel2's reservation anyway.
	leaseFile := filepath.Join(suite.dir, "networks", "e2erel", "dnsmasq.leases")
	if b, _ := os.ReadFile(leaseFile); !strings.Contains(string(b), mac2) {
		t.Errorf("stopped rel2 lost the lease of a nic it still has (%s):\n%s", mac2, b)
	}
	must(t, "config", "device", "remove", "rel2", "eth0")
	if out := must(t, "network", "info", "e2erel"); strings.Contains(out, mac2) {
		t.Errorf("rel2's lease (%s) still listed after its nic left e2erel:\n%s", mac2, out)
	}
	if b, _ := os.ReadFile(leaseFile); strings.Contains(string(b), mac2) {
		t.Errorf("rel2's lease (%s) still in dnsmasq's file:\n%s", mac2, b)
	}

	// A nic removed from a running guest: its DHCP client still runs and
	// would renew, so the lease stays until the guest stops.
	must(t, "launch", "busybox", "rel3", "-d", "eth0,network=e2erel", "--wait")
	addr3 := ipv4Of(t, "rel3")
	mac3 := find(listJSON(t), "rel3").ExpandedConfig["volatile.eth0.hwaddr"]
	if !strings.HasPrefix(addr3, "10.231.15.") || mac3 == "" {
		t.Fatalf("rel3: address %q, MAC %q", addr3, mac3)
	}
	must(t, "config", "device", "remove", "rel3", "eth0")
	if out := must(t, "network", "info", "e2erel"); !strings.Contains(out, mac3) {
		t.Errorf("lease of running rel3 (%s) released while its veth is up:\n%s", mac3, out)
	}
	must(t, "stop", "--force", "rel3")
	if out := must(t, "network", "info", "e2erel"); strings.Contains(out, mac3) || strings.Contains(out, addr3) {
		t.Errorf("rel3's dropped nic still has its lease after the stop:\n%s", out)
	}
	// And its address is free for a static nic at once.
	must(t, "create", "busybox", "rel4", "-d", "eth0,network=e2erel,ipv4.address="+addr3)
}
