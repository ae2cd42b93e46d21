package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needLoopTools skips unless the test can make loop filesystems.
func needLoopTools(t *testing.T, mkfs string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mounts")
	}
	if _, err := exec.LookPath(mkfs); err != nil {
		t.Skipf("%s not installed", mkfs)
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control")
	}
}

// newBtrfsLoopPool returns an uninitialized btrfs pool on a sparse loop
// file in a temporary directory; cleanup deletes the pool and checks that
// no mount or loop device is left.
func newBtrfsLoopPool(t *testing.T, size string) Driver {
	t.Helper()
	needLoopTools(t, "mkfs.btrfs")
	dir := t.TempDir()
	file := filepath.Join(dir, "disks", "pool.img")
	d, err := New("default", "btrfs", map[string]string{
		"source":    filepath.Join(dir, "pool"),
		"loop.file": file,
		"size":      size,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Delete(context.Background()); err != nil {
			t.Errorf("delete pool: %v", err)
		}
		assertNoLoopLeft(t, dir)
	})
	return d
}

// assertNoLoopLeft fails if a mount under dir or a loop device backed by a
// file under dir remains (autoclear detaches asynchronously: wait a bit).
func assertNoLoopLeft(t *testing.T, dir string) {
	t.Helper()
	if mounted, err := hasMountsUnder(dir); err != nil || mounted {
		t.Errorf("mount left under %s (%v)", dir, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("losetup", "-a").CombinedOutput()
		if !strings.Contains(string(out), dir) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("loop device left for %s: %s", dir, out)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newExt4Dir returns a directory on a fresh 256MiB ext4 loop filesystem,
// with project quotas if quota is set (skipping when the kernel cannot);
// cleanup unmounts it and checks that no mount or loop device is left.
func newExt4Dir(t *testing.T, quota bool) string {
	t.Helper()
	needLoopTools(t, "mkfs.ext4")
	dir := t.TempDir()
	file, mnt := filepath.Join(dir, "ext4.img"), filepath.Join(dir, "mnt")
	ctx := context.Background()
	mkfs, opts := []string{"mkfs.ext4", "-q"}, ""
	if quota {
		mkfs, opts = append(mkfs, "-O", "quota,project"), "prjquota"
	}
	if err := loopFile(ctx, file, 256<<20, mkfs...); err != nil {
		t.Fatal(err)
	}
	if err := mountLoop(file, mnt, "ext4", opts); err != nil {
		assertNoLoopLeft(t, dir)
		if quota && errors.Is(err, unix.EINVAL) {
			t.Skipf("no ext4 project quotas here (kernel without CONFIG_QUOTA?): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unmountLoop(file, mnt, "ext4"); err != nil {
			t.Errorf("unmount: %v", err)
		}
		assertNoLoopLeft(t, dir)
	})
	return mnt
}

// TestQuotasOn checks the sysfs probe that spares a btrfs tool run per
// volume create: off on a fresh filesystem, on after `quota enable`.
func TestQuotasOn(t *testing.T) {
	needLoopTools(t, "mkfs.btrfs")
	dir := t.TempDir()
	file, mnt := filepath.Join(dir, "bt.img"), filepath.Join(dir, "mnt")
	ctx := context.Background()
	if err := loopFile(ctx, file, 256<<20, "mkfs.btrfs", "-q"); err != nil {
		t.Fatal(err)
	}
	if err := mountLoop(file, mnt, "btrfs", ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unmountLoop(file, mnt, "btrfs"); err != nil {
			t.Errorf("unmount: %v", err)
		}
		assertNoLoopLeft(t, dir)
	})
	if on, known := quotasOn(mnt); !known || on {
		t.Fatalf("fresh filesystem: quotasOn = %v, %v; want false, true", on, known)
	}
	if _, err := btrfsCmd(ctx, "quota", "enable", mnt); err != nil {
		t.Fatal(err)
	}
	if on, known := quotasOn(mnt); !known || !on {
		t.Fatalf("after quota enable: quotasOn = %v, %v; want true, true", on, known)
	}
	if on, known := quotasOn(dir); known || on {
		t.Errorf("not btrfs (%s): quotasOn = %v, %v; want false, false", dir, on, known)
	}
}
