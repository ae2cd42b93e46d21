package test

import (
	"strings"
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
	if state != "running" && state != "degraded" {
		t.Fatalf("systemd state after launch --wait: %q", state)
	}
	if state == "degraded" {
		t.Logf("degraded units:\n%s", lxmgr(t, "exec", "deb1", "--", "systemctl", "--failed", "--no-legend").stdout)
	}
	if out := must(t, "exec", "deb1", "--", "hostname"); strings.TrimSpace(out) != "deb1" {
		t.Errorf("hostname = %q", out)
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
	if s := stateOf(t, "deb1"); s.Status != "Running" {
		t.Fatalf("after restart: %s", s.Status)
	}
	t.Logf("start+restart: %s", time.Since(t2))
}
