package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
)

// inNetns runs a host command inside the suite's network namespace (where
// the daemon's bridges live).
func inNetns(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + suite.netns}, args...)...).CombinedOutput()
	return string(out), err
}

func ruleset(t *testing.T) string {
	out, err := inNetns(t, "nft", "list", "ruleset")
	if err != nil {
		t.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	return out
}

// ipv4Of returns the first IPv4 address list shows for an instance.
func ipv4Of(t *testing.T, name string) string {
	t.Helper()
	inst := find(listJSON(t), name)
	if inst == nil || inst.State == nil {
		t.Fatalf("%s not listed", name)
	}
	for _, n := range inst.State.Network {
		for _, a := range n.Addresses {
			if a.Family == "inet" {
				return a.Address
			}
		}
	}
	return ""
}

func hasLink(t *testing.T, name string) bool {
	_, err := inNetns(t, "ip", "link", "show", name)
	return err == nil
}

const defaultNet = "lxmbr0"

func TestNetworkCreateValidateDelete(t *testing.T) {
	// The default network exists, with NAT, and is the default profile's eth0.
	if out := must(t, "network", "show", defaultNet); !strings.Contains(out, "ipv4.address") {
		t.Fatalf("default network:\n%s", out)
	}
	if out := must(t, "profile", "show", "default"); !strings.Contains(out, "network: "+defaultNet) {
		t.Fatalf("default profile has no nic on %s:\n%s", defaultNet, out)
	}
	if rs := ruleset(t); !strings.Contains(rs, "masquerade") {
		t.Fatalf("no masquerade rule for the default network:\n%s", rs)
	}

	t.Cleanup(func() { lxmgr(t, "network", "delete", "e2enat") })
	must(t, "network", "create", "e2enat", "ipv4.address=10.231.7.1/24", "ipv4.nat=true")
	if rs := ruleset(t); !strings.Contains(rs, "10.231.7.0/24") {
		t.Fatalf("no NAT rule for e2enat:\n%s", rs)
	}
	if !hasLink(t, "e2enat") {
		t.Fatal("bridge e2enat missing")
	}

	before := must(t, "network", "list", "--format", "csv")
	bad := []struct {
		want string
		args []string
	}{
		{"15", []string{"network", "create", "abcdefghijklmnop"}},
		{"name", []string{"network", "create", "a/b"}},
		{"name", []string{"network", "create", "a b"}},
		{"overlap", []string{"network", "create", "e2ebad", "ipv4.address=10.231.7.1/24"}},
		{"ipv4.address", []string{"network", "create", "e2ebad", "ipv4.address=10.231.300.1/24"}},
		{"ipv4.dhcp.ranges", []string{"network", "create", "e2ebad", "ipv4.address=10.231.8.1/24", "ipv4.dhcp.ranges=10.231.9.10-10.231.9.20"}},
		{"unknown", []string{"network", "create", "e2ebad", "bogus.key=1"}},
		{"exists", []string{"network", "create", "e2enat"}},
	}
	for _, b := range bad {
		r := lxmgr(t, b.args...)
		if r.code == 0 || !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(b.want)) {
			t.Errorf("lxmgr %v: exit %d, stderr %q; want failure mentioning %q", b.args, r.code, r.stderr, b.want)
		}
	}
	if after := must(t, "network", "list", "--format", "csv"); after != before || hasLink(t, "e2ebad") {
		t.Fatalf("refused creates left something:\n%s", after)
	}

	// set/unset re-apply the firewall; rename moves the bridge.
	must(t, "network", "set", "e2enat", "ipv4.nat=false")
	if strings.Contains(ruleset(t), "masquerade comment \"lxmgr net e2enat\"") {
		t.Fatalf("masquerade left after ipv4.nat=false:\n%s", ruleset(t))
	}
	must(t, "network", "unset", "e2enat", "ipv4.nat")
	must(t, "network", "rename", "e2enat", "e2enat2")
	t.Cleanup(func() { lxmgr(t, "network", "delete", "e2enat2") })
	if hasLink(t, "e2enat") || !hasLink(t, "e2enat2") {
		t.Fatal("rename did not move the bridge")
	}
	if out := must(t, "network", "info", "e2enat2"); !strings.Contains(out, "10.231.7.1") {
		t.Fatalf("network info:\n%s", out)
	}
	// The masquerade rule of a NAT network exists right up to its delete,
	// and goes with it.
	must(t, "network", "set", "e2enat2", "ipv4.nat=true")
	masq := `ip saddr 10.231.7.0/24 ip daddr != 10.231.7.0/24 masquerade comment "lxmgr net e2enat2"`
	if rs := ruleset(t); !strings.Contains(rs, masq) {
		t.Fatalf("no masquerade rule for e2enat2 before its delete:\n%s", rs)
	}
	must(t, "network", "delete", "e2enat2")
	if rs := ruleset(t); strings.Contains(rs, "10.231.7.0/24") || strings.Contains(rs, "e2enat2") || hasLink(t, "e2enat2") {
		t.Fatalf("firewall rule or bridge left after delete:\n%s", rs)
	}
}

func TestGuestsOnABridge(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	t.Cleanup(func() {
		c.DeleteProfile(context.Background(), "e2elan")
		lxmgr(t, "network", "delete", "e2elan")
	})
	cleanupInstance(t, "g1", "g2", "g3", "g4")
	must(t, "network", "create", "e2elan", "ipv4.address=10.231.9.1/24", "ipv4.nat=false", "dns.domain=e2e")
	err := c.CreateProfile(ctx, api.ProfilesPost{Name: "e2elan", ProfilePut: api.ProfilePut{
		Devices: api.Devices{"eth0": {"type": "nic", "network": "e2elan", "name": "eth0"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g2"} {
		t0 := time.Now()
		must(t, "launch", "busybox", g, "-p", "default", "-p", "e2elan", "--wait")
		t.Logf("launch --wait %s (with address): %s", g, time.Since(t0))
	}
	ip1, ip2 := ipv4Of(t, "g1"), ipv4Of(t, "g2")
	if !strings.HasPrefix(ip1, "10.231.9.") || !strings.HasPrefix(ip2, "10.231.9.") || ip1 == ip2 {
		t.Fatalf("addresses in list: g1=%q g2=%q", ip1, ip2)
	}
	// Names resolve on the network, from a guest and from the host through
	// the bridge address; guests reach each other and the bridge.
	if out := must(t, "exec", "g1", "--", "nslookup", "g2.e2e"); !strings.Contains(out, ip2) {
		t.Errorf("g1 resolving g2.e2e:\n%s", out)
	}
	if out, err := inNetns(t, "busybox", "nslookup", "g1.e2e", "10.231.9.1"); err != nil || !strings.Contains(out, ip1) {
		t.Errorf("host resolving g1.e2e through the bridge: %v\n%s", err, out)
	}
	must(t, "exec", "g1", "--", "ping", "-c1", "-W3", "g2.e2e")
	must(t, "exec", "g2", "--", "ping", "-c1", "-W3", ip1)
	must(t, "exec", "g1", "--", "ping", "-c1", "-W3", "10.231.9.1")

	// A static address is honoured, also after a restart; the nic's mtu
	// and host_name too.
	must(t, "create", "busybox", "g3", "-p", "default", "-p", "e2elan")
	must(t, "config", "device", "add", "g3", "eth0", "nic", "network=e2elan", "name=eth0", "ipv4.address=10.231.9.77", "mtu=1400", "host_name=e2eg3host")
	must(t, "start", "g3")
	waitIP(t, "g3", "10.231.9.77")
	if out := must(t, "exec", "g3", "--", "cat", "/sys/class/net/eth0/mtu"); strings.TrimSpace(out) != "1400" {
		t.Errorf("g3's eth0 mtu = %q, want 1400", out)
	}
	if !hasLink(t, "e2eg3host") || find(listJSON(t), "g3").State.Network["eth0"].HostName != "e2eg3host" {
		t.Errorf("g3's veth is not called e2eg3host on the host")
	}
	mac3 := find(listJSON(t), "g3").ExpandedConfig["volatile.eth0.hwaddr"]
	must(t, "restart", "g3")
	waitIP(t, "g3", "10.231.9.77")
	// The lease outlives the restart, so list alone proves nothing: the
	// guest itself must hold the address again.
	waitGuestIP(t, "g3", "10.231.9.77/24")
	if got := find(listJSON(t), "g3").ExpandedConfig["volatile.eth0.hwaddr"]; got != mac3 || mac3 == "" {
		t.Errorf("MAC changed across a restart: %q -> %q", mac3, got)
	}
	// Bandwidth limits shape the host side of the guest's veth.
	must(t, "config", "device", "set", "g3", "eth0", "limits.ingress=8Mbit", "limits.egress=4Mbit")
	veth := find(listJSON(t), "g3").State.Network["eth0"].HostName
	if out, _ := inNetns(t, "tc", "qdisc", "show", "dev", veth); !strings.Contains(out, "tbf") || !strings.Contains(out, "8Mbit") {
		t.Errorf("no 8Mbit tbf on %s after a live limits change:\n%s", veth, out)
	}
	checkEgressShaping(t, veth, "4Mbit", "8Mbit")

	// Bad nic input: each refused, nothing changed.
	must(t, "create", "busybox", "g4", "-p", "default", "-p", "e2elan")
	mac := find(listJSON(t), "g1").ExpandedConfig["volatile.eth0.hwaddr"]
	before := find(listJSON(t), "g4")
	badNIC := []struct{ want, kv string }{
		{"outside", "ipv4.address=10.99.0.5"},
		{"already used", "ipv4.address=10.231.9.77"},
		{"gateway", "ipv4.address=10.231.9.1"},
		// g2 holds this address through a dynamic lease.
		{"leased to instance \"g2\"", "ipv4.address=" + ip2},
		{"already used", "hwaddr=" + mac},
		// The same MAC in another notation is the same MAC.
		{"already used", "hwaddr=" + strings.ToUpper(strings.ReplaceAll(mac, ":", "-"))},
		{"unicast", "hwaddr=ff:ff:ff:ff:ff:ff"},
		{"all-zero", "hwaddr=00:00:00:00:00:00"},
	}
	for _, b := range badNIC {
		mustFail(t, b.want, "config", "device", "add", "g4", "eth1", "nic", "network=e2elan", b.kv)
	}
	mustFail(t, "does not exist", "config", "device", "add", "g4", "eth1", "nic", "network=nosuchnet")
	mustFail(t, "already used by instance \"g3\"", "config", "device", "add", "g4", "eth1", "nic", "network=e2elan", "host_name=e2eg3host")
	mustFail(t, "managed network", "config", "device", "add", "g4", "eth1", "nic", "network=e2elan", "host_name=e2elan")
	if after := find(listJSON(t), "g4"); len(after.Devices) != len(before.Devices) || len(after.Config) != len(before.Config) {
		t.Fatalf("refused nic changes altered g4: %v %v", after.Devices, after.Config)
	}
	// A host_name taken on the host by an interface of someone else's
	// stops the start with a clear error.
	if out, err := inNetns(t, "ip", "link", "add", "e2etaken", "type", "bridge"); err != nil {
		t.Fatalf("add bridge: %v: %s", err, out)
	}
	t.Cleanup(func() { inNetns(t, "ip", "link", "del", "e2etaken") })
	must(t, "config", "device", "add", "g4", "eth1", "nic", "network=e2elan", "host_name=e2etaken")
	mustFail(t, "already exists on the host", "start", "g4")
	must(t, "config", "device", "remove", "g4", "eth1")
	mustFail(t, "in use", "network", "delete", "e2elan")
	if out := must(t, "network", "info", "e2elan"); !strings.Contains(out, ip1) || !strings.Contains(out, "10.231.9.77") || !strings.Contains(out, "g2") {
		t.Errorf("network info lacks leases or users:\n%s", out)
	} else if m := regexp.MustCompile(`Packets received:\s+(\S+)`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		// The guests' DHCP, DNS and pings went through the bridge.
		t.Errorf("network info shows no traffic on the bridge:\n%s", out)
	}

	// A port forward from the host to a server in the guest.
	must(t, "exec", "g1", "--", "sh", "-c", "mkdir -p /www && echo hello-proxy > /www/index.html && httpd -p 127.0.0.1:80 -h /www")
	must(t, "config", "device", "add", "g1", "web", "proxy", "listen=tcp:0.0.0.0:18080", "connect=tcp:127.0.0.1:80")
	fetch := func() string { return fetchInNetns(t, "http://127.0.0.1:18080/") }
	if got := fetch(); got != "hello-proxy\n" {
		t.Fatalf("through the proxy: %q", got)
	}
	mustFail(t, "in use", "config", "device", "add", "g2", "web", "proxy", "listen=tcp:0.0.0.0:18080", "connect=tcp:127.0.0.1:80")
	// Also on the same instance, and on a stopped one (it could never start).
	mustFail(t, "both listen", "config", "device", "add", "g1", "web2", "proxy", "listen=tcp:127.0.0.1:18080", "connect=tcp:127.0.0.1:80")
	mustFail(t, "in use by device \"web\" of instance \"g1\"", "config", "device", "add", "g4", "web", "proxy", "listen=tcp:127.0.0.1:18080", "connect=tcp:127.0.0.1:80")
	// A copy would listen on the same address: refused, unless -d gives it
	// its own; the copy's forward then reaches the copy.
	cleanupInstance(t, "g1copy")
	mustFail(t, "in use by device \"web\" of instance \"g1\"", "copy", "g1", "g1copy")
	must(t, "copy", "g1", "g1copy", "-d", "web,listen=tcp:0.0.0.0:18082", "-c", "user.site=copy")
	if out := must(t, "config", "show", "g1copy"); !strings.Contains(out, "listen: tcp:0.0.0.0:18082") || !strings.Contains(out, "user.site: copy") {
		t.Errorf("copy -d/-c not applied:\n%s", out)
	}
	must(t, "start", "g1copy")
	waitReady(t, "g1copy")
	must(t, "exec", "g1copy", "--", "sh", "-c", "echo hello-copy > /www/index.html && httpd -p 127.0.0.1:80 -h /www")
	if got := fetchInNetns(t, "http://127.0.0.1:18082/"); got != "hello-copy\n" {
		t.Errorf("through the copy's forward: %q", got)
	}
	must(t, "delete", "--force", "g1copy")
	if left := proxyProcsOf("g1copy"); len(left) > 0 {
		t.Errorf("proxy processes of a deleted guest: %v", left)
	}

	// A forward is its own process: a connection opened through it before
	// a daemon stop keeps carrying data while the daemon is down and after
	// it is back, new connections work meanwhile, and the restarted daemon
	// adopts the same process.
	tcpEcho(t, fmt.Sprintf("/proc/%d/ns/net", stateOf(t, "g1").Pid), "127.0.0.1:7")
	must(t, "config", "device", "add", "g1", "echo", "proxy", "listen=tcp:0.0.0.0:18083", "connect=tcp:127.0.0.1:7")
	echoPid := proxyProc(t, "g1", "echo")
	if echoPid == 0 {
		t.Fatal("no process serves the new forward")
	}
	conn, err := dialInNetns("tcp", "127.0.0.1:18083")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := roundTrip(conn, "before"); err != nil || got != "before" {
		t.Fatalf("through the echo forward: %q, %v", got, err)
	}

	// Everything survives a daemon restart: addresses, names, forwards.
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(conn, "daemon-down"); err != nil || got != "daemon-down" {
		t.Errorf("open connection while the daemon is stopped: %q, %v", got, err)
	}
	if got := fetch(); got != "hello-proxy\n" {
		t.Errorf("new connection while the daemon is stopped: %q", got)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(conn, "daemon-back"); err != nil || got != "daemon-back" {
		t.Errorf("open connection after the daemon restart: %q, %v", got, err)
	}
	if pid := proxyProc(t, "g1", "echo"); pid != echoPid {
		t.Errorf("forward process after the daemon restart: pid %d, want the adopted %d", pid, echoPid)
	}
	// The half-close still goes through: the guest's server sees EOF and
	// closes its side, which the client sees.
	conn.(*net.TCPConn).CloseWrite()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(conn); err != nil || len(rest) != 0 {
		t.Errorf("after the half-close: %q, %v", rest, err)
	}
	must(t, "config", "device", "remove", "g1", "echo")
	if proxyProcAlive(echoPid, filepath.Join(suite.dir, "proxies", "g1", "echo.json")) {
		t.Errorf("forward process %d still runs after its device was removed", echoPid)
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "proxies", "g1", "echo.json")); !os.IsNotExist(err) {
		t.Errorf("record of a removed forward: %v", err)
	}
	if ipv4Of(t, "g1") != ip1 || ipv4Of(t, "g2") != ip2 {
		t.Fatalf("addresses after daemon restart: %s %s", ipv4Of(t, "g1"), ipv4Of(t, "g2"))
	}
	if out := must(t, "exec", "g2", "--", "nslookup", "g1.e2e"); !strings.Contains(out, ip1) {
		t.Errorf("name after daemon restart:\n%s", out)
	}
	if got := fetch(); got != "hello-proxy\n" {
		t.Fatalf("proxy after daemon restart: %q", got)
	}
	// ... and a guest restart (the server is started again in the guest).
	webPid := proxyProc(t, "g1", "web")
	must(t, "restart", "g1")
	must(t, "exec", "g1", "--", "sh", "-c", "httpd -p 127.0.0.1:80 -h /www")
	if got := fetch(); got != "hello-proxy\n" {
		t.Fatalf("proxy after guest restart: %q", got)
	}
	// The new init has a new network namespace: a new process serves it.
	if pid := proxyProc(t, "g1", "web"); pid == 0 || pid == webPid {
		t.Errorf("forward process after a guest restart: pid %d (before: %d)", pid, webPid)
	}
	must(t, "delete", "--force", "g1")
	if left := proxyProcsOf("g1"); len(left) > 0 {
		t.Errorf("proxy processes of a deleted guest: %v", left)
	}
}

// waitIP waits up to 20 s for list to show want for an instance.
func waitIP(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if ipv4Of(t, name) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never got %s (has %q)", name, want, ipv4Of(t, name))
}

// waitGuestIP waits up to 20 s for the guest's own eth0 to carry want
// (an address with its prefix length), asked inside the guest.
func waitGuestIP(t *testing.T, name, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	out := ""
	for time.Now().Before(deadline) {
		out = lxmgr(t, "exec", name, "--", "ip", "-4", "addr", "show", "eth0").stdout
		if strings.Contains(out, "inet "+want+" ") {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s's eth0 never got %s:\n%s", name, want, out)
}

// fetchInNetns does an HTTP GET of url from inside the suite's network
// namespace (where "the host" of the daemon under test is): the socket is
// created on a thread moved into that namespace, then the thread goes back.
func fetchInNetns(t *testing.T, url string) string {
	t.Helper()
	conn, err := dialInNetns("tcp", strings.TrimPrefix(strings.SplitN(strings.TrimPrefix(url, "http://"), "/", 2)[0], "http://"))
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Close = true
	if err := req.Write(conn); err != nil {
		return "write: " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return "read: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func dialInNetns(network, addr string) (net.Conn, error) {
	return dialIn(suite.netns, network, addr)
}

// dialIn connects to addr from inside the named network namespace.
func dialIn(ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := doInNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, 5*time.Second)
		return err
	})
	return c, err
}

// doInNetns runs f on a thread moved into the named network namespace:
// sockets f creates belong to that namespace for their whole life.
func doInNetns(ns string, f func() error) error { return doInNetnsPath("/run/netns/"+ns, f) }

// doInNetnsPath is doInNetns for a namespace file (/proc/PID/ns/net).
func doInNetnsPath(nsPath string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(nsPath)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- f()
		// Only a thread back in its own namespace may serve other
		// goroutines; otherwise it stays locked and dies with this one.
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// dnsmasqOf returns the pid of a dnsmasq run for the named network of the
// daemon under test, or 0.
func dnsmasqOf(netName string) int {
	want := "--pid-file=" + filepath.Join(suite.dir, "networks", netName, "dnsmasq.pid")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && slices.Contains(strings.Split(string(b), "\x00"), want) {
			return atoi(filepath.Base(filepath.Dir(p)))
		}
	}
	return 0
}

// TestNetworkLeftoversRemovedAtStart checks the repair of a network that
// left the inventory while its bridge and dnsmasq stayed (a crash in the
// middle of a delete): the next start removes them, and leaves alone a
// bridge it cannot prove it made.
func TestNetworkLeftoversRemovedAtStart(t *testing.T) {
	t.Cleanup(func() {
		lxmgr(t, "network", "delete", "e2eorph")
		inNetns(t, "ip", "link", "del", "e2ehostbr")
	})
	must(t, "network", "create", "e2eorph", "ipv4.address=10.231.11.1/24", "ipv4.nat=false")
	if !hasLink(t, "e2eorph") || dnsmasqOf("e2eorph") == 0 {
		t.Fatal("network e2eorph has no bridge or no dnsmasq")
	}
	// A host bridge, and a directory of that name whose record names
	// another bridge (one of that name that existed before, say).
	if out, err := inNetns(t, "ip", "link", "add", "e2ehostbr", "type", "bridge"); err != nil {
		t.Fatalf("add host bridge: %v: %s", err, out)
	}
	hostDir := filepath.Join(suite.dir, "networks", "e2ehostbr")
	if err := os.MkdirAll(hostDir, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostDir, "bridge.ifindex"), []byte("99999\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := suite.stopDaemon(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	inv, err := db.Open(ctx, filepath.Join(suite.dir, "lxmgr.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = inv.Transaction(ctx, func(tx *db.Tx) error { return tx.NetworkDelete(ctx, "e2eorph") })
	inv.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	if hasLink(t, "e2eorph") {
		t.Error("bridge of the deleted network survived the start")
	}
	if pid := dnsmasqOf("e2eorph"); pid != 0 {
		t.Errorf("dnsmasq %d of the deleted network survived the start", pid)
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "networks", "e2eorph")); !os.IsNotExist(err) {
		t.Errorf("directory of the deleted network survived the start: %v", err)
	}
	if !hasLink(t, "e2ehostbr") {
		t.Error("a bridge the daemon did not make was removed")
	}
	if strings.Contains(ruleset(t), "e2eorph") {
		t.Errorf("firewall rules of the deleted network survived the start:\n%s", ruleset(t))
	}
	// The name is free again.
	must(t, "network", "create", "e2eorph", "ipv4.address=10.231.11.1/24", "ipv4.nat=false")
	must(t, "network", "delete", "e2eorph")
}

// TestProfileNICAndProxyChecks checks that a profile change gets the same
// nic and forward checks as a change of each instance using it: a
// reservation or MAC two users would share, a forward two users would
// both bind, and one whose port is taken are refused, and nothing changes.
func TestProfileNICAndProxyChecks(t *testing.T) {
	c := suite.client()
	t.Cleanup(func() {
		c.DeleteProfile(context.Background(), "e2epn")
		c.DeleteProfile(context.Background(), "e2epn2")
		lxmgr(t, "network", "delete", "e2epn")
	})
	cleanupInstance(t, "pn1", "pn2")
	must(t, "network", "create", "e2epn", "ipv4.address=10.231.12.1/24", "ipv4.nat=false")
	must(t, "profile", "create", "e2epn")
	must(t, "profile", "device", "add", "e2epn", "eth0", "nic", "network=e2epn", "name=eth0")
	must(t, "profile", "create", "e2epn2")
	for _, g := range []string{"pn1", "pn2"} {
		must(t, "create", "busybox", g, "-p", "default", "-p", "e2epn")
	}
	must(t, "profile", "add", "pn1", "e2epn2")
	must(t, "start", "pn1")
	mac1 := find(listJSON(t), "pn1").ExpandedConfig["volatile.eth0.hwaddr"]
	if mac1 == "" {
		t.Fatal("pn1 has no MAC")
	}

	// A port of the daemon's namespace taken by someone else.
	var taken net.Listener
	if err := doInNetns(suite.netns, func() error {
		var err error
		taken, err = net.Listen("tcp", "0.0.0.0:18096")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	before := must(t, "profile", "show", "e2epn") + must(t, "profile", "show", "e2epn2")
	instConf := func() string {
		out := ""
		for _, g := range []string{"pn1", "pn2"} {
			i := find(listJSON(t), g)
			out += fmt.Sprint(i.ExpandedConfig, i.ExpandedDevices, i.Config, i.Devices)
		}
		return out
	}
	instBefore := instConf()
	bad := []struct {
		want string
		args []string
	}{
		{"already used", []string{"profile", "device", "set", "e2epn", "eth0", "ipv4.address=10.231.12.50"}},
		{"already used", []string{"profile", "device", "set", "e2epn", "eth0", "hwaddr=" + strings.ToUpper(strings.ReplaceAll(mac1, ":", "-"))}},
		{"in use by device", []string{"profile", "device", "add", "e2epn", "web", "proxy", "listen=tcp:0.0.0.0:18095", "connect=tcp:127.0.0.1:80"}},
		{"in use", []string{"profile", "device", "add", "e2epn2", "web", "proxy", "listen=tcp:0.0.0.0:18096", "connect=tcp:127.0.0.1:80"}},
	}
	for _, b := range bad {
		mustFail(t, b.want, b.args...)
	}
	if after := must(t, "profile", "show", "e2epn") + must(t, "profile", "show", "e2epn2"); after != before {
		t.Errorf("refused profile changes altered the profiles:\n%s\nwas:\n%s", after, before)
	}
	if after := instConf(); after != instBefore {
		t.Errorf("refused profile changes altered the instances:\n%s\nwas:\n%s", after, instBefore)
	}
	// One user only: the same changes are fine, and the forward works.
	must(t, "profile", "device", "add", "e2epn2", "web", "proxy", "listen=tcp:0.0.0.0:18097", "connect=tcp:127.0.0.1:80")
	must(t, "exec", "pn1", "--", "sh", "-c", "mkdir -p /www && echo via-profile > /www/index.html && httpd -p 127.0.0.1:80 -h /www")
	if got := fetchInNetns(t, "http://127.0.0.1:18097/"); got != "via-profile\n" {
		t.Errorf("forward added through a profile: %q", got)
	}
}

// outsideNetns makes a namespace of the test's own joined to the daemon's
// by a veth pair on 10.231.250.0/30 (daemon side .1, outside .2): "a
// machine outside" for forwards. It is removed when the test ends.
func outsideNetns(t *testing.T) string {
	t.Helper()
	ns := "lxmgr-e2e-out-" + itoa(os.Getpid())
	t.Cleanup(func() {
		inNetns(t, "ip", "link", "del", "e2eout0")
		exec.Command("ip", "netns", "del", ns).Run()
	})
	steps := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "-n", suite.netns, "link", "add", "e2eout0", "type", "veth", "peer", "name", "e2eout1", "netns", ns},
		{"ip", "-n", suite.netns, "addr", "add", "10.231.250.1/30", "dev", "e2eout0"},
		{"ip", "-n", suite.netns, "link", "set", "e2eout0", "up"},
		{"ip", "-n", ns, "addr", "add", "10.231.250.2/30", "dev", "e2eout1"},
		{"ip", "-n", ns, "link", "set", "e2eout1", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
	}
	for _, st := range steps {
		if out, err := exec.Command(st[0], st[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", st, err, out)
		}
	}
	return ns
}

// udpEcho serves a UDP echo on addr inside a namespace (a guest's) until
// the test ends.
func udpEcho(t *testing.T, nsPath, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := doInNetnsPath(nsPath, func() error {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatalf("udp echo in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// udpAsk sends msg to addr from inside a namespace and returns the reply.
func udpAsk(ns, addr, msg string) (string, error) {
	c, err := dialIn(ns, "udp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for range 3 { // UDP: a lost datagram is tried again
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err = c.Write([]byte(msg)); err != nil {
			return "", err
		}
		var n int
		if n, err = c.Read(buf); err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", err
}

// TestProxyFromOutsideAndUDP checks port forwards as a hoster's customers
// use them: TCP and UDP, from the host itself and from another machine (a
// namespace of the test's own, routed to the daemon's through a veth).
func TestProxyFromOutsideAndUDP(t *testing.T) {
	t.Cleanup(func() { lxmgr(t, "network", "delete", "e2epx") })
	cleanupInstance(t, "px1")
	must(t, "network", "create", "e2epx", "ipv4.address=10.231.13.1/24", "ipv4.nat=false")
	must(t, "launch", "busybox", "px1", "-d", "eth0,network=e2epx", "--wait")
	must(t, "exec", "px1", "--", "sh", "-c", "mkdir -p /www && echo hello-outside > /www/index.html && httpd -p 127.0.0.1:80 -h /www")
	if ip := ipv4Of(t, "px1"); !strings.HasPrefix(ip, "10.231.13.") {
		t.Fatalf("px1 is not on e2epx: address %q", ip)
	}
	udpEcho(t, fmt.Sprintf("/proc/%d/ns/net", stateOf(t, "px1").Pid), "127.0.0.1:5353")
	must(t, "config", "device", "add", "px1", "web", "proxy", "listen=tcp:0.0.0.0:18081", "connect=tcp:127.0.0.1:80")
	must(t, "config", "device", "add", "px1", "dns", "proxy", "listen=udp:0.0.0.0:18053", "connect=udp:127.0.0.1:5353")
	out := outsideNetns(t)

	if got := fetchInNetns(t, "http://127.0.0.1:18081/"); got != "hello-outside\n" {
		t.Errorf("tcp from the host: %q", got)
	}
	if got, err := udpAsk(suite.netns, "127.0.0.1:18053", "from-host"); err != nil || got != "from-host" {
		t.Errorf("udp from the host: %q, %v", got, err)
	}
	c, err := dialIn(out, "tcp", "10.231.250.1:18081")
	if err != nil {
		t.Fatalf("tcp from outside: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	if body, _ := io.ReadAll(c); !strings.HasSuffix(string(body), "\r\n\r\nhello-outside\n") {
		t.Errorf("tcp from outside: %q", body)
	}
	if got, err := udpAsk(out, "10.231.250.1:18053", "from-outside"); err != nil || got != "from-outside" {
		t.Errorf("udp from outside: %q, %v", got, err)
	}
}

// TestAddressWithoutDHCPShown checks that list shows an address the guest
// set itself on a network without DHCP (no lease to read: the daemon reads
// the guest's interface through netlink), within about a second.
func TestAddressWithoutDHCPShown(t *testing.T) {
	t.Cleanup(func() { lxmgr(t, "network", "delete", "e2enodhcp") })
	cleanupInstance(t, "nd1")
	must(t, "network", "create", "e2enodhcp", "ipv4.address=10.231.14.1/24", "ipv4.dhcp=false", "ipv4.nat=false")
	must(t, "launch", "busybox", "nd1", "-d", "eth0,network=e2enodhcp", "--wait")
	if ip := ipv4Of(t, "nd1"); ip != "" {
		t.Fatalf("nd1 has an address before it set one: %q", ip)
	}
	// The image's DHCP client would flush the address when it gives up.
	must(t, "exec", "nd1", "--", "sh", "-c", "killall udhcpc; while pidof udhcpc >/dev/null; do sleep 0.1; done; ip addr add 10.231.14.5/24 dev eth0")
	set := time.Now()
	for ipv4Of(t, "nd1") != "10.231.14.5" {
		if time.Since(set) > 1500*time.Millisecond {
			t.Fatalf("list does not show the guest's own address after %s: %q", time.Since(set), ipv4Of(t, "nd1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("address listed %s after the guest set it", time.Since(set).Round(time.Millisecond))
	st := find(listJSON(t), "nd1").State.Network["eth0"]
	for _, a := range st.Addresses {
		if a.Address == "10.231.14.5" && a.Netmask != "24" {
			t.Errorf("netmask of the guest's address = %q, want 24", a.Netmask)
		}
	}
	// And it goes when the guest drops it.
	must(t, "exec", "nd1", "--", "ip", "addr", "del", "10.231.14.5/24", "dev", "eth0")
	deadline := time.Now().Add(1500 * time.Millisecond)
	for ipv4Of(t, "nd1") != "" {
		if time.Now().After(deadline) {
			t.Fatalf("list still shows a dropped address: %q", ipv4Of(t, "nd1"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkEgressShaping checks the guest's upload limit: the veth's ingress
// (traffic from the guest) is redirected to the IFB made for it, and that
// IFB carries a root tbf at rate; the veth's own tbf (the download limit)
// is at other, not rate.
func checkEgressShaping(t *testing.T, veth, rate, other string) {
	t.Helper()
	links, _ := inNetns(t, "ip", "-o", "link", "show", "type", "ifb")
	ifb := ""
	for _, line := range strings.Split(links, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(line, "alias lxmgr-limits:"+veth) {
			ifb = strings.TrimSuffix(f[1], ":")
		}
	}
	if ifb == "" {
		t.Fatalf("no IFB for %s's egress limit:\n%s", veth, links)
	}
	if out, _ := inNetns(t, "tc", "qdisc", "show", "dev", ifb); !strings.Contains(out, "qdisc tbf 1: root") || !strings.Contains(out, "rate "+rate) {
		t.Errorf("IFB %s lacks a root tbf at %s:\n%s", ifb, rate, out)
	}
	if out, _ := inNetns(t, "tc", "qdisc", "show", "dev", veth); !strings.Contains(out, "qdisc ingress ffff:") || strings.Contains(out, "rate "+rate) || !strings.Contains(out, "rate "+other) {
		t.Errorf("%s: want an ingress qdisc and its own tbf at %s only:\n%s", veth, other, out)
	}
	if out, _ := inNetns(t, "tc", "filter", "show", "dev", veth, "ingress"); !strings.Contains(out, "mirred") || !strings.Contains(out, "Redirect to device "+ifb) {
		t.Errorf("%s's ingress is not redirected to %s:\n%s", veth, ifb, out)
	}
}
