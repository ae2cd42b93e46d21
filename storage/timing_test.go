package storage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestCreateFromImageTiming compares launching from a real rootfs on dir
// and btrfs. Opt-in (LXMGR_STORAGE_TIMING=1): it copies ~250MB.
func TestCreateFromImageTiming(t *testing.T) {
	if os.Getenv("LXMGR_STORAGE_TIMING") == "" {
		t.Skip("set LXMGR_STORAGE_TIMING=1 to compare drivers")
	}
	src := os.Getenv("LXMGR_STORAGE_TIMING_ROOTFS")
	if src == "" {
		src = "/var/lib/lxmgr-instance-dev/debian"
	}
	if _, err := os.Stat(src); err != nil {
		t.Skipf("no rootfs at %s", src)
	}
	ctx := context.Background()
	dirPool, err := New("d", "dir", map[string]string{"source": filepath.Join(t.TempDir(), "pool")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Driver{dirPool, newBtrfsLoopPool(t, "2GiB")} {
		if err := d.Init(ctx); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := d.CreateImage(ctx, "img", func(ctx context.Context, dir string) error {
			out, err := exec.CommandContext(ctx, "cp", "-a", src, filepath.Join(dir, "rootfs")).CombinedOutput()
			if err != nil {
				t.Logf("%s", out)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		fill := time.Since(start)
		var first time.Duration
		for i, n := range []string{"c1", "c2", "c3"} {
			start = time.Now()
			if err := d.CreateFromImage(ctx, n, "img"); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = time.Since(start)
			}
		}
		avg3 := time.Since(start)
		start = time.Now()
		if err := d.CreateSnapshot(ctx, "c1", "s1"); err != nil {
			t.Fatal(err)
		}
		snap := time.Since(start)
		start = time.Now()
		if err := d.DeleteVolume(ctx, "c1"); err != nil {
			t.Fatal(err)
		}
		del := time.Since(start)
		t.Logf("%-5s CreateImage(cp -a rootfs) %v; CreateFromImage first %v, third %v; CreateSnapshot %v; DeleteVolume (with snapshot) %v",
			d.Driver(), fill.Round(time.Millisecond), first.Round(time.Millisecond), avg3.Round(time.Millisecond), snap.Round(time.Millisecond), del.Round(time.Millisecond))
	}
}
