package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDisksThroughProfile: a host-directory disk and a custom volume carried
// by a profile reach a guest launched with that profile.
func TestDisksThroughProfile(t *testing.T) {
	t.Cleanup(func() {
		lxmgr(t, "profile", "delete", "pdisk")
		lxmgr(t, "storage", "volume", "delete", "default", "pdvol")
	})
	src := filepath.Join(suite.dir, "pdisk-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(src) })
	if err := os.WriteFile(filepath.Join(src, "hello"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, "storage", "volume", "create", "default", "pdvol")
	must(t, "profile", "create", "pdisk")
	must(t, "profile", "device", "add", "pdisk", "site", "disk", "source="+src, "path=/srv/x")
	must(t, "profile", "device", "add", "pdisk", "data", "disk", "pool=default", "source=pdvol", "path=/data")
	cleanupInstance(t, "pdk1")
	must(t, "launch", "busybox", "pdk1", "-p", "default", "-p", "pdisk", "--wait")
	if out := must(t, "exec", "pdk1", "--", "cat", "/srv/x/hello"); out != "from-host\n" {
		t.Errorf("host directory from the profile seen in the guest as %q", out)
	}
	must(t, "exec", "pdk1", "--", "sh", "-c", "echo vol > /data/f")
	if out := must(t, "exec", "pdk1", "--", "sh", "-c", "grep -c -e ' /srv/x ' -e ' /data ' /proc/mounts"); strings.TrimSpace(out) != "2" {
		t.Errorf("profile disks are not mounts in the guest: %q", out)
	}
	if out := must(t, "exec", "pdk1", "--", "cat", "/data/f"); out != "vol\n" {
		t.Errorf("custom volume from the profile: %q", out)
	}
}
