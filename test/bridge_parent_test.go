package test

import (
	"strings"
	"testing"
	"time"
)

// TestNICOnUnmanagedBridge: a nic with parent= joins a bridge the daemon
// does not manage (made here, in the suite's namespace, no DHCP): the veth
// is on that bridge, an address the guest sets itself shows in list (read
// through netlink), the guest reaches the bridge, and deleting the guest
// leaves the bridge alone.
func TestNICOnUnmanagedBridge(t *testing.T) {
	const br = "e2epbr17"
	if out, err := inNetns(t, "ip", "link", "add", br, "type", "bridge"); err != nil {
		t.Fatalf("create bridge: %v: %s", err, out)
	}
	t.Cleanup(func() { inNetns(t, "ip", "link", "del", br) })
	for _, args := range [][]string{{"addr", "add", "10.231.17.1/24", "dev", br}, {"link", "set", br, "up"}} {
		if out, err := inNetns(t, append([]string{"ip"}, args...)...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	cleanupInstance(t, "pb1")
	// An own eth0 replaces the default profile's whole device (launch -d
	// would merge parent= into it, next to its network=).
	must(t, "create", "busybox", "pb1")
	must(t, "config", "device", "add", "pb1", "eth0", "nic", "parent="+br, "name=eth0")
	must(t, "start", "pb1")
	waitReady(t, "pb1")
	veth := find(listJSON(t), "pb1").State.Network["eth0"].HostName
	if out, _ := inNetns(t, "ip", "-o", "link", "show", "master", br); veth == "" || !strings.Contains(out, veth+"@") {
		t.Fatalf("pb1's veth %q is not on %s:\n%s", veth, br, out)
	}
	// No DHCP server here: stop the image's client, which would flush the
	// address when it gives up.
	must(t, "exec", "pb1", "--", "sh", "-c", "killall udhcpc; while pidof udhcpc >/dev/null; do sleep 0.1; done; ip addr add 10.231.17.5/24 dev eth0")
	deadline := time.Now().Add(3 * time.Second)
	for ipv4Of(t, "pb1") != "10.231.17.5" {
		if time.Now().After(deadline) {
			t.Fatalf("list does not show the guest's own address: %q", ipv4Of(t, "pb1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	must(t, "exec", "pb1", "--", "ping", "-c1", "-W3", "10.231.17.1")
	must(t, "delete", "--force", "pb1")
	if !hasLink(t, br) {
		t.Errorf("deleting the guest removed the unmanaged bridge %s", br)
	}
}
