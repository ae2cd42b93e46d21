package test

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDebianSystemdGuest boots a real Debian 12 guest with systemd: launch
// --wait returns when systemd says boot finished, exec works, stop is clean
// (SIGRTMIN+3 handled, not killed) and it starts again.
func TestDebianSystemdGuest(t *testing.T) {
	cleanupInstance(t, "deb1")
	ensureDebian(t)
	t0 := time.Now()
	must(t, "launch", "debian/12", "deb1", "--wait")
	t.Logf("launch --wait debian/12: %s", time.Since(t0))
	state := strings.TrimSpace(lxmgr(t, "exec", "deb1", "--", "systemctl", "is-system-running").stdout)
	if state != "running" {
		t.Fatalf("systemd state after launch --wait: %q; failed units:\n%s", state,
			lxmgr(t, "exec", "deb1", "--", "systemctl", "--failed", "--no-legend").stdout)
	}
	if out := must(t, "exec", "deb1", "--", "hostname"); strings.TrimSpace(out) != "deb1" {
		t.Errorf("hostname = %q", out)
	}
	// The image: DHCP on eth0 by systemd-networkd with the MAC as client
	// id, iproute2, and a minbase (no documentation tooling, few packages).
	netcfg := must(t, "exec", "deb1", "--", "cat", "/etc/systemd/network/eth0.network")
	for _, want := range []string{"Name=eth0", "DHCP=ipv4", "ClientIdentifier=mac"} {
		if !strings.Contains(netcfg, want) {
			t.Errorf("eth0.network lacks %s:\n%s", want, netcfg)
		}
	}
	if out := must(t, "exec", "deb1", "--", "systemctl", "is-active", "systemd-networkd"); strings.TrimSpace(out) != "active" {
		t.Errorf("systemd-networkd: %q", out)
	}
	if out := must(t, "exec", "deb1", "--", "ip", "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(out, "inet ") {
		t.Errorf("no IPv4 address on eth0 (ip addr): %q", out)
	}
	if r := lxmgr(t, "exec", "deb1", "--", "dpkg", "-s", "man-db"); r.code == 0 {
		t.Errorf("man-db is installed: not a minbase")
	}
	pkgs := 0
	for _, l := range strings.Split(must(t, "exec", "deb1", "--", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}\\n"), "\n") {
		if strings.HasPrefix(l, "ii") {
			pkgs++
		}
	}
	t.Logf("packages installed: %d", pkgs)
	if pkgs == 0 || pkgs > 200 {
		t.Errorf("%d packages installed: not a minbase with systemd", pkgs)
	}
	if out := must(t, "exec", "deb1", "--", "cat", "/etc/os-release"); !strings.Contains(out, "bookworm") {
		t.Errorf("os-release: %s", out)
	}
	t1 := time.Now()
	must(t, "stop", "deb1", "--timeout", "60")
	took := time.Since(t1)
	t.Logf("clean stop of debian/12: %s", took)
	if !strings.Contains(suite.logTail(300), "instance=deb1 clean=true") {
		t.Fatalf("debian guest was not stopped cleanly (took %s); log:\n%s", took, suite.logTail(20))
	}
	t2 := time.Now()
	must(t, "start", "deb1")
	must(t, "restart", "deb1")
	st := stateOf(t, "deb1")
	if st.Status != "Running" {
		t.Fatalf("after restart: %s", st.Status)
	}
	t.Logf("start+restart: %s", time.Since(t2))
	// A systemd guest the daemon reattaches to is READY again (asked over
	// systemd's bus, not only by file).
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	waitListReady(t, "deb1", st.Pid)
}
