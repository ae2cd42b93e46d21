package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestInGuestReboot reboots a guest from inside with a custom volume, a
// host directory and a port forward: liblxc mounts the disks again for the
// new init (a 0700 directory on the way blocked the rootfs once, see
// TestDaemonRestartKeepsGuests), and the forward reaches the new init's
// network namespace.
func TestInGuestReboot(t *testing.T) {
	cleanupInstance(t, "rb1")
	t.Cleanup(func() { lxmgr(t, "storage", "volume", "delete", "default", "rbvol") })
	src := filepath.Join(suite.dir, "rbsite")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("site\n"), 0o644)
	must(t, "storage", "volume", "create", "default", "rbvol")
	must(t, "create", "busybox", "rb1")
	must(t, "storage", "volume", "attach", "default", "rbvol", "rb1", "/data")
	must(t, "config", "device", "add", "rb1", "site", "disk", "source="+src, "path=/var/www")
	must(t, "config", "device", "add", "rb1", "web", "proxy", "listen=tcp:0.0.0.0:18110", "connect=tcp:127.0.0.1:80")
	must(t, "start", "rb1")
	waitReady(t, "rb1")
	must(t, "exec", "rb1", "--", "sh", "-c", "echo kept > /data/f")
	pid := stateOf(t, "rb1").Pid
	lxmgr(t, "exec", "rb1", "--", "reboot")
	rebooted := waitNewInit(t, "rb1", pid)
	waitListReady(t, "rb1", rebooted)
	if out := must(t, "exec", "rb1", "--", "cat", "/data/f", "/var/www/index.html"); out != "kept\nsite\n" {
		t.Errorf("disks after an in-guest reboot: %q", out)
	}
	must(t, "exec", "rb1", "--", "httpd", "-p", "127.0.0.1:80", "-h", "/var/www")
	if got := fetchInNetns(t, "http://127.0.0.1:18110/"); got != "site\n" {
		t.Errorf("port forward after an in-guest reboot: %q", got)
	}
	if out := must(t, "exec", "rb1", "--", "sh", "-c", "grep -c -e ' /data ' -e ' /var/www ' /proc/mounts"); strings.TrimSpace(out) != "2" {
		t.Errorf("mounts after reboot: %q", out)
	}
	// A forward process whose record is lost (a crash between its start
	// and the record's write) still holds its port: the next start kills
	// it and serves the device with a new one.
	orphan := proxyProc(t, "rb1", "web")
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(suite.dir, "proxies", "rb1", "web.json"))
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	if pid := proxyProc(t, "rb1", "web"); pid == 0 || pid == orphan {
		t.Errorf("forward after its record was lost: pid %d (the orphan was %d)", pid, orphan)
	}
	if left := proxyProcsOf("rb1"); len(left) != 1 {
		t.Errorf("forward processes of rb1: %v, want one", left)
	}
	if got := fetchInNetns(t, "http://127.0.0.1:18110/"); got != "site\n" {
		t.Errorf("port forward after the orphan was replaced: %q", got)
	}
}
