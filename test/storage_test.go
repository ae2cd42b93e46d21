package test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// inDaemonMounts runs a command in the daemon's mount namespace, where its
// loop-backed pools are mounted.
func inDaemonMounts(t *testing.T, args ...string) (string, error) {
	t.Helper()
	pid := strconv.Itoa(suite.daemon.Process.Pid)
	cmd := append([]string{"--mount=/proc/" + pid + "/ns/mnt"}, args...)
	out, err := execCombined("nsenter", cmd...)
	return out, err
}

// waitReady waits for an instance's init to report boot finished.
func waitReady(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if st := stateOf(t, name); st.Ready {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", name)
}

func TestBtrfsPoolSnapshotsCopiesQuotas(t *testing.T) {
	cleanupInstance(t, "bt1", "bt2", "bt3", "q1")
	t.Cleanup(func() {
		lxmgr(t, "storage", "volume", "delete", "e2ebt", "v1")
		lxmgr(t, "storage", "delete", "e2ebt")
	})
	must(t, "storage", "create", "e2ebt", "btrfs", "size=2GiB")
	if out := must(t, "storage", "list"); !strings.Contains(out, "e2ebt") || !strings.Contains(out, "btrfs") {
		t.Fatalf("storage list:\n%s", out)
	}
	poolDir := filepath.Join(suite.dir, "storage-pools", "e2ebt")

	t0 := time.Now()
	must(t, "launch", "busybox", "bt1", "-s", "e2ebt", "--wait")
	t.Logf("first launch on btrfs (unpacks the image): %s", time.Since(t0))
	// The guest's root is a btrfs subvolume (a snapshot of the image's).
	if out, err := inDaemonMounts(t, "btrfs", "subvolume", "show", filepath.Join(poolDir, "containers", "bt1")); err != nil {
		t.Fatalf("bt1 is not a subvolume: %v\n%s", err, out)
	}

	// Snapshot, change, restore: file and config come back.
	must(t, "exec", "bt1", "--", "sh", "-c", "echo original > /root/f")
	must(t, "snapshot", "bt1", "s1")
	must(t, "exec", "bt1", "--", "sh", "-c", "echo changed > /root/f; echo new > /root/g")
	must(t, "config", "set", "bt1", "user.after=1")
	if out := must(t, "snapshot", "list", "bt1"); !strings.Contains(out, "s1") {
		t.Fatalf("snapshot list:\n%s", out)
	}
	must(t, "snapshot", "restore", "bt1", "s1")
	if out := must(t, "exec", "bt1", "--", "cat", "/root/f"); out != "original\n" {
		t.Fatalf("after restore /root/f = %q", out)
	}
	if r := lxmgr(t, "exec", "bt1", "--", "test", "-e", "/root/g"); r.code == 0 {
		t.Fatal("a file made after the snapshot survived the restore")
	}
	if out := must(t, "config", "get", "bt1", "user.after"); strings.TrimSpace(out) != "" {
		t.Fatalf("config made after the snapshot survived the restore: %q", out)
	}

	// A copy of the running guest's snapshot boots, with its own MAC and ids.
	must(t, "copy", "bt1/s1", "bt2")
	must(t, "start", "bt2")
	waitReady(t, "bt2")
	if out := must(t, "exec", "bt2", "--", "cat", "/root/f"); out != "original\n" {
		t.Fatalf("copy's /root/f = %q", out)
	}
	list := listJSON(t)
	b1, b2 := find(list, "bt1"), find(list, "bt2")
	if b1.ExpandedConfig["volatile.eth0.hwaddr"] == b2.ExpandedConfig["volatile.eth0.hwaddr"] {
		t.Error("the copy kept the source's MAC")
	}
	if hostUIDOf(t, int(b1.State.Pid)) == hostUIDOf(t, int(b2.State.Pid)) {
		t.Error("the copy shares the source's id range")
	}
	must(t, "copy", "bt1", "bt3")
	must(t, "start", "bt3")
	waitReady(t, "bt3")

	// Quota: the root disk's size stops writes inside the guest.
	must(t, "launch", "busybox", "q1", "-s", "e2ebt", "-d", "root,size=64MiB", "--wait")
	r := lxmgr(t, "exec", "q1", "--", "dd", "if=/dev/zero", "of=/root/big", "bs=1M", "count=200")
	if r.code == 0 {
		t.Fatal("writing 200 MiB into a 64 MiB root disk succeeded")
	}
	if out := must(t, "exec", "q1", "--", "sh", "-c", "ls -l /root/big | awk '{print $5}'"); atoi(strings.TrimSpace(out)) > 80<<20 {
		t.Fatalf("wrote %s bytes past a 64 MiB quota", out)
	}
	if out := must(t, "info", "q1"); !strings.Contains(out, "Disk") {
		t.Errorf("info shows no disk usage:\n%s", out)
	}

	// Custom volume attached into a guest; refused to delete while attached.
	must(t, "storage", "volume", "create", "e2ebt", "v1", "size=100MiB")
	must(t, "storage", "volume", "attach", "e2ebt", "v1", "bt2", "/data")
	must(t, "restart", "bt2")
	must(t, "exec", "bt2", "--", "sh", "-c", "echo vol > /data/x")
	if out := must(t, "exec", "bt2", "--", "stat", "-c", "%u", "/data/x"); strings.TrimSpace(out) != "0" {
		t.Errorf("file on the custom volume owned by %q in the guest", out)
	}
	mustFail(t, "attached", "storage", "volume", "delete", "e2ebt", "v1")
	mustFail(t, "in use", "storage", "delete", "e2ebt")

	// Delete removes every subvolume and snapshot of the instances.
	must(t, "delete", "--force", "bt1", "bt2", "bt3", "q1")
	for _, p := range []string{"containers/bt1", "containers/bt2", "containers-snapshots/bt1"} {
		if out, err := inDaemonMounts(t, "ls", filepath.Join(poolDir, p)); err == nil {
			t.Errorf("%s left after delete: %s", p, out)
		}
	}
	must(t, "storage", "volume", "delete", "e2ebt", "v1")
	must(t, "storage", "delete", "e2ebt")
	if _, err := os.Stat(filepath.Join(suite.dir, "disks", "e2ebt.img")); !os.IsNotExist(err) {
		t.Errorf("loop file left after storage delete: %v", err)
	}
}

func TestDirPoolRefusesQuota(t *testing.T) {
	cleanupInstance(t, "qd1")
	before := len(instanceNames(t))
	mustFail(t, "not supported", "launch", "busybox", "qd1", "-d", "root,size=1GiB")
	if len(instanceNames(t)) != before {
		t.Fatal("a refused create left an instance")
	}
}

func TestHostDirectoryDisk(t *testing.T) {
	cleanupInstance(t, "hd1")
	src := filepath.Join(suite.dir, "site1")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "index.html"), []byte("site\n"), 0o644)
	must(t, "create", "busybox", "hd1")
	mustFail(t, "does not exist", "config", "device", "add", "hd1", "site", "disk", "source=/nonexistent/x", "path=/var/www")
	must(t, "config", "device", "add", "hd1", "site", "disk", "source="+src, "path=/var/www")
	must(t, "start", "hd1")
	waitReady(t, "hd1")
	// Host root's files are the guest root's, both ways.
	if out := must(t, "exec", "hd1", "--", "stat", "-c", "%u %g", "/var/www/index.html"); strings.TrimSpace(out) != "0 0" {
		t.Errorf("host file seen in the guest as %q, want root", out)
	}
	must(t, "exec", "hd1", "--", "sh", "-c", "echo from-guest > /var/www/new")
	var st syscallStat
	if err := statOwner(filepath.Join(src, "new"), &st); err != nil || st.uid != 0 {
		t.Errorf("file written by guest root is owned by %d on the host (%v), want 0", st.uid, err)
	}
}

// TestFullPoolFailsCleanly fills a small pool during a create, then grows
// it: the same name works and nothing half-made was left.
func TestFullPoolFailsCleanly(t *testing.T) {
	ensureDebian(t)
	cleanupInstance(t, "full1")
	t.Cleanup(func() { lxmgr(t, "storage", "delete", "e2esmall") })
	must(t, "storage", "create", "e2esmall", "btrfs", "size=200MiB")
	r := mustFail(t, "full", "launch", "debian/12", "full1", "-s", "e2esmall")
	if n := strings.Count(r.stderr, "Error:"); n != 1 {
		t.Errorf("want one error line, got %d: %q", n, r.stderr)
	}
	if slicesContains(instanceNames(t), "full1") {
		t.Fatal("full1 exists after a failed create")
	}
	pool := filepath.Join(suite.dir, "storage-pools", "e2esmall")
	if out, err := inDaemonMounts(t, "find", pool+"/containers", pool+"/images", pool+"/.tmp", "-mindepth", "1", "-maxdepth", "1"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("the failed create left data on the pool (%v):\n%s", err, out)
	}
	must(t, "storage", "set", "e2esmall", "size=2GiB")
	must(t, "launch", "debian/12", "full1", "-s", "e2esmall", "--wait")
	must(t, "delete", "--force", "full1")
}

// TestScheduledSnapshots: snapshots.schedule takes snapshots on time and
// snapshots.expiry gives them an expiry date.
func TestScheduledSnapshots(t *testing.T) {
	c := suite.client()
	cleanupInstance(t, "sch1")
	must(t, "create", "busybox", "sch1", "-c", "snapshots.schedule=* * * * *", "-c", "snapshots.expiry=2H")
	mustFail(t, "snapshots.schedule", "config", "set", "sch1", "snapshots.schedule=61 * * * *")
	mustFail(t, "snapshots.expiry", "config", "set", "sch1", "snapshots.expiry=soon")
	deadline := time.Now().Add(75 * time.Second)
	for time.Now().Before(deadline) {
		snaps, err := c.GetInstanceSnapshots(context.Background(), "sch1")
		if err != nil {
			t.Fatal(err)
		}
		if len(snaps) > 0 {
			s := snaps[0]
			if s.Name != "snap0" {
				t.Errorf("scheduled snapshot named %q, want snap0", s.Name)
			}
			if d := s.ExpiresAt.Sub(s.CreatedAt); d < 119*time.Minute || d > 121*time.Minute {
				t.Errorf("snapshot expires %s after it was taken, want 2h", d)
			}
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatal("no scheduled snapshot within 75 s")
}
