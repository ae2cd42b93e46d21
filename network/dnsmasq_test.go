package network

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dnsQuery asks server (an address of the test's own bridge) for name's A
// record and returns the rcode and the addresses.
func dnsQuery(t *testing.T, server netip.Addr, name string) (int, []netip.Addr) {
	t.Helper()
	q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(name, ".") {
		q = append(q, byte(len(l)))
		q = append(q, l...)
	}
	q = append(q, 0, 0, 1, 0, 1) // type A, class IN
	c, err := net.Dial("udp", netip.AddrPortFrom(server, 53).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(q); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("dns query %s to %s: %v", name, server, err)
	}
	r := buf[:n]
	if n < 12 || r[0] != 0x12 || r[1] != 0x34 || r[2]&0x80 == 0 {
		t.Fatalf("bad dns reply % x", r)
	}
	rcode := int(r[3] & 0x0f)
	an := int(binary.BigEndian.Uint16(r[6:8]))
	var out []netip.Addr
	// Answers follow the question; each A answer ends with 4 bytes of
	// address and uses a compressed name (2 bytes): 2+2+2+4+2+4 = 16.
	off := len(q)
	for range an {
		if off+16 > n {
			break
		}
		if binary.BigEndian.Uint16(r[off+2:]) == 1 {
			out = append(out, netip.AddrFrom4([4]byte(r[off+12:off+16])))
		}
		off += 12 + int(binary.BigEndian.Uint16(r[off+10:]))
	}
	return rcode, out
}

func pidOf(t *testing.T, dir string) int {
	t.Helper()
	pid, _ := running(dir)
	if pid <= 0 {
		b, _ := os.ReadFile(filepath.Join(dir, logFile))
		t.Fatalf("no dnsmasq running for %s; log:\n%s", dir, b)
	}
	return pid
}

func TestDNSMasq(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	ctx := context.Background()
	gw := netip.MustParsePrefix("10.231.5.1/24")
	if err := EnsureBridge("lxt0", gw, 0); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "n1")
	m := DNSMasq{Network: "n1", Bridge: "lxt0", Dir: dir, Domain: "lxmgr", Gateway: gw,
		Ranges: []Range{{netip.MustParseAddr("10.231.5.50"), netip.MustParseAddr("10.231.5.60")}},
		Hosts:  []Host{{MAC: "00:16:3e:00:00:01", Name: "web1", IP: netip.MustParseAddr("10.231.5.10")}}}
	t.Cleanup(func() { StopDNSMasq(dir) })
	start := time.Now()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("dnsmasq start took %v", time.Since(start))
	pid := pidOf(t, dir)
	// Detached: not our child, in its own session, so it outlives the daemon.
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	mySid, _ := unix.Getsid(0)
	if ppid, _ := strconv.Atoi(f[1]); ppid == os.Getpid() || f[3] == strconv.Itoa(mySid) {
		t.Errorf("dnsmasq %d: ppid %s, session %s: not detached", pid, f[1], f[3])
	}

	// It answers DNS on the gateway. Names come from leases (see
	// TestDNSMasqDHCP), so without one the local domain is NXDOMAIN, and
	// it is answered locally, not forwarded upstream.
	if rc, _ := dnsQuery(t, gw.Addr(), "web1.lxmgr"); rc != 3 {
		t.Errorf("web1.lxmgr: rcode %d, want NXDOMAIN", rc)
	}

	// Adopt after a "daemon restart": same config, same process.
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if p := pidOf(t, dir); p != pid {
		t.Errorf("Start again: pid %d, want adopted %d", p, pid)
	}

	// Adopted also when the pid file is lost; the file is written back.
	if err := os.Remove(filepath.Join(dir, pidFile)); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, pidFile)); strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
		t.Errorf("pid file after adoption by search: %q, want %d", b, pid)
	}

	// Reload: the hosts file is rewritten and the same dnsmasq serves it.
	m.Hosts = append(m.Hosts, Host{MAC: "00:16:3e:00:00:02", Name: "db1", IP: netip.MustParseAddr("10.231.5.11")})
	if err := m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, hostsFile))
	if !strings.Contains(string(b), "00:16:3e:00:00:02,10.231.5.11,db1\n") {
		t.Errorf("hosts file after reload: %q", b)
	}
	time.Sleep(100 * time.Millisecond) // SIGHUP is handled asynchronously
	if p := pidOf(t, dir); p != pid {
		t.Errorf("reload changed the pid %d -> %d", pid, p)
	}
	if rc, _ := dnsQuery(t, gw.Addr(), "db1.lxmgr"); rc != 3 {
		t.Errorf("db1.lxmgr after reload: rcode %d", rc)
	}

	// A changed command line restarts it.
	m.Domain = "example"
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	newPid := pidOf(t, dir)
	if newPid == pid || alive(pid) {
		t.Errorf("domain change: pid %d -> %d (old alive %v)", pid, newPid, alive(pid))
	}
	if rc, _ := dnsQuery(t, gw.Addr(), "web1.example"); rc != 3 {
		t.Errorf("web1.example: rcode %d", rc)
	}

	// A second network's dnsmasq is never taken for ours.
	if p, _ := running(t.TempDir()); p != 0 {
		t.Errorf("running(other dir) = %d", p)
	}

	if err := StopDNSMasq(dir); err != nil {
		t.Fatal(err)
	}
	if alive(newPid) {
		t.Errorf("dnsmasq %d still alive after stop", newPid)
	}
	if _, err := os.Stat(filepath.Join(dir, pidFile)); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
	if err := StopDNSMasq(dir); err != nil {
		t.Errorf("second stop: %v", err)
	}
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "dhcp-hosts dnsmasq.leases dnsmasq.log" {
		t.Errorf("files left in dir: %s", got)
	}

	// A failing start reports dnsmasq's own error.
	bad := DNSMasq{Network: "n2", Bridge: "nobr0", Dir: t.TempDir(), Gateway: netip.MustParsePrefix("10.231.9.1/24")}
	err := bad.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "10.231.9.1") {
		t.Errorf("start without bridge: %v", err)
	}
	t.Logf("start without bridge: %v", err)
	if p, _ := running(bad.Dir); p != 0 {
		t.Errorf("failed start left dnsmasq %d", p)
	}
}

// TestDNSMasqDHCP gets a real lease: a veth from the bridge into a second
// namespace where busybox udhcpc asks for an address.
func TestDNSMasqDHCP(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("no busybox for udhcpc")
	}
	ctx := context.Background()
	gw := netip.MustParsePrefix("10.231.5.1/24")
	if err := EnsureBridge("lxt0", gw, 0); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mac := "00:16:3e:00:00:07"
	m := DNSMasq{Network: "n1", Bridge: "lxt0", Dir: dir, Gateway: gw,
		Ranges: []Range{{netip.MustParseAddr("10.231.5.50"), netip.MustParseAddr("10.231.5.60")}},
		Hosts:  []Host{{MAC: mac, Name: "guest1", IP: netip.MustParseAddr("10.231.5.77")}}}
	t.Cleanup(func() { StopDNSMasq(dir) })
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	guest := newGuestNetns(t)
	plugVeth(t, guest, "lxt0", "vh0", "eth0", mac)
	start := time.Now()
	out, err := exec.Command("nsenter", "--net="+guest.path, busybox, "udhcpc",
		"-i", "eth0", "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true").CombinedOutput()
	if err != nil {
		t.Fatalf("udhcpc: %v\n%s", err, out)
	}
	t.Logf("udhcpc took %v: %s", time.Since(start), out)
	var ls []Lease
	for range 50 {
		if ls, _ = Leases(dir); len(ls) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ls) != 1 || ls[0].MAC != mac || ls[0].IP.String() != "10.231.5.77" || ls[0].Expiry.Before(time.Now()) {
		t.Fatalf("leases %+v", ls)
	}
	// The guest's name is in DNS under the network's domain.
	if rc, addrs := dnsQuery(t, gw.Addr(), "guest1.lxmgr"); rc != 0 || len(addrs) != 1 || addrs[0].String() != "10.231.5.77" {
		t.Errorf("guest1.lxmgr: rcode %d addrs %v", rc, addrs)
	}
	st, err := Link("vh0")
	if err != nil || st.RxPackets == 0 || st.TxPackets == 0 {
		t.Errorf("veth counters %+v, %v", st, err)
	}
	// The lease survives a restart of dnsmasq.
	if err := StopDNSMasq(dir); err != nil {
		t.Fatal(err)
	}
	m.Domain = "other"
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ls, _ = Leases(dir)
	if len(ls) != 1 {
		t.Errorf("leases after restart: %+v", ls)
	}
	if rc, addrs := dnsQuery(t, gw.Addr(), "guest1.other"); rc != 0 || len(addrs) != 1 || addrs[0].String() != "10.231.5.77" {
		t.Errorf("guest1.other after restart: rcode %d addrs %v", rc, addrs)
	}
}
