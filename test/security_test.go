package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNestingMountsFreshProc: with security.nesting=true a guest can mount a
// fresh proc from a nested user namespace, as a nested container manager
// does. The guest's own proc has overmounts (lxcfs files, a read-only
// /proc/sys) that are locked in a nested user namespace, so the kernel
// refuses a new proc unless a fully visible one exists: the clean proc under
// /dev/.lxc/proc (and sys under /dev/.lxc/sys), which liblxc mounts for the
// lxc.apparmor.allow_nesting=1 that security.nesting renders, as its
// nesting.conf does. A guest without nesting is refused. (Checked to fail
// with nesting not rendered.)
func TestNestingMountsFreshProc(t *testing.T) {
	cleanupInstance(t, "nest1", "nest0")
	must(t, "launch", "busybox", "nest1", "-c", "security.nesting=true", "--wait")
	must(t, "launch", "busybox", "nest0", "--wait")
	mountProc := []string{"--", "unshare", "-r", "-m", "-p", "-f", "sh", "-c", "mkdir -p /tmp/p && mount -t proc proc /tmp/p && test -e /tmp/p/self/status"}
	if r := lxmgr(t, append([]string{"exec", "nest1"}, mountProc...)...); r.code != 0 {
		t.Errorf("fresh proc mount in a nested user namespace with security.nesting=true: exit %d: %s", r.code, r.stderr)
	}
	if r := lxmgr(t, append([]string{"exec", "nest0"}, mountProc...)...); r.code == 0 || !strings.Contains(r.stderr, "denied") && !strings.Contains(r.stderr, "not permitted") {
		t.Errorf("fresh proc mount in a nested user namespace without security.nesting: exit %d, stderr %q; want a permission error", r.code, r.stderr)
	}
	// sysfs likewise.
	if out := must(t, "exec", "nest1", "--", "sh", "-c", "grep -c -e ' /dev/.lxc/proc proc ' -e ' /dev/.lxc/sys sysfs ' /proc/mounts"); strings.TrimSpace(out) != "2" {
		t.Errorf("nesting guest lacks the clean proc and sys mounts: %q", out)
	}
}

// TestProtectionDelete: security.protection.delete=true refuses a delete
// (also a forced one) and keeps the guest; once unset the delete works.
func TestProtectionDelete(t *testing.T) {
	cleanupInstance(t, "prot1")
	t.Cleanup(func() { lxmgr(t, "config", "unset", "prot1", "security.protection.delete") })
	must(t, "create", "busybox", "prot1", "-c", "security.protection.delete=true")
	mustFail(t, "security.protection.delete", "delete", "prot1")
	mustFail(t, "security.protection.delete", "delete", "--force", "prot1")
	if !slicesContains(instanceNames(t), "prot1") {
		t.Fatal("a refused delete removed the instance")
	}
	if _, err := os.Stat(rootfsOf("prot1")); err != nil {
		t.Fatalf("a refused delete removed the rootfs: %v", err)
	}
	must(t, "config", "unset", "prot1", "security.protection.delete")
	must(t, "delete", "prot1")
	if slicesContains(instanceNames(t), "prot1") {
		t.Fatal("delete after unset left the instance")
	}
}

// rootfsOf is a guest's rootfs in the default (dir) pool, as the host sees it.
func rootfsOf(name string) string {
	return filepath.Join(suite.dir, "storage-pools", "default", "containers", name, "rootfs")
}

// TestNoChownWalkAtLaunch: the rootfs is not shifted on disk at launch: its
// files stay owned by host uid 0 while the guest's init runs as a mapped,
// non-zero host uid and sees them owned by its own root.
func TestNoChownWalkAtLaunch(t *testing.T) {
	cleanupInstance(t, "nochown1")
	must(t, "launch", "busybox", "nochown1", "--wait")
	if uid := hostUIDOf(t, int(stateOf(t, "nochown1").Pid)); uid == 0 {
		t.Fatal("the guest's init runs as host root; the check below would prove nothing")
	}
	for _, p := range []string{"bin/busybox", "etc", "."} {
		var st syscallStat
		if err := statOwner(filepath.Join(rootfsOf("nochown1"), p), &st); err != nil {
			t.Fatal(err)
		}
		if st.uid != 0 || st.gid != 0 {
			t.Errorf("rootfs %s owned by host %d:%d after launch, want 0:0 (a chown walk ran)", p, st.uid, st.gid)
		}
	}
	if out := must(t, "exec", "nochown1", "--", "stat", "-c", "%u:%g", "/bin/busybox", "/etc"); out != "0:0\n0:0\n" {
		t.Errorf("owners seen in the guest: %q, want root", out)
	}
	if out := must(t, "exec", "nochown1", "--", "id", "-u"); strings.TrimSpace(out) != "0" {
		t.Errorf("exec runs as guest uid %q, want 0", out)
	}
}
