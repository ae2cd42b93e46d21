package storage

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestBtrfsInitInFreshMountNamespace plays a daemon restarted in a new
// mount namespace while the old mount lives on elsewhere: Init must reuse
// the loop device (never attach the file twice) and mount it again.
func TestBtrfsInitInFreshMountNamespace(t *testing.T) {
	d := newBtrfsLoopPool(t, "256MiB")
	ctx := context.Background()
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateCustom(ctx, "marker", 0); err != nil {
		t.Fatal(err)
	}
	file := d.(*pool).be.(*btrfsBackend).loopFile
	devBefore, err := findLoop(file)
	if err != nil || devBefore == "" {
		t.Fatalf("findLoop = %q, %v", devBefore, err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked, so it dies with its namespace when
		// the goroutine ends.
		runtime.LockOSThread()
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return err
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return err
			}
			// The new namespace must not see the old mount.
			if err := unix.Unmount(d.Path(), 0); err != nil {
				return err
			}
			if _, err := os.Stat(d.CustomPath("marker")); err == nil {
				return errors.New("pool still visible after unmount")
			}
			if err := d.Init(ctx); err != nil {
				return err
			}
			if _, err := os.Stat(d.CustomPath("marker")); err != nil {
				return err
			}
			dev, err := findLoop(file)
			if err != nil {
				return err
			}
			if dev != devBefore {
				return errors.New("Init attached the file to another loop device: " + dev)
			}
			return d.Init(ctx) // idempotent there too
		}()
	}()
	if err := <-errc; err != nil {
		t.Fatalf("Init in a fresh mount namespace: %v", err)
	}
	out, _ := exec.Command("losetup", "-j", file).CombinedOutput()
	if n := strings.Count(string(out), "\n"); n != 1 {
		t.Errorf("file attached %d times: %s", n, out)
	}
}

func TestBtrfsGrow(t *testing.T) {
	d := newBtrfsLoopPool(t, "256MiB")
	ctx := context.Background()
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := d.PoolUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Grow(ctx, 512<<20); err != nil {
		t.Fatalf("Grow: %v", err)
	}
	after, err := d.PoolUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Total < before.Total+200<<20 {
		t.Errorf("Total %d -> %d after growing by 256MiB", before.Total, after.Total)
	}
	if err := d.Grow(ctx, 256<<20); !errors.Is(err, ErrNotSupported) {
		t.Errorf("shrinking Grow = %v, want ErrNotSupported", err)
	}
}

// TestBtrfsNestedSubvolumes checks that volumes holding subvolumes (a
// guest may make some) are deleted, restored and copied.
func TestBtrfsNestedSubvolumes(t *testing.T) {
	d := newBtrfsLoopPool(t, "256MiB")
	ctx := context.Background()
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateImage(ctx, "img", func(_ context.Context, dir string) error {
		return os.MkdirAll(filepath.Join(dir, "rootfs/var"), 0o755)
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFromImage(ctx, "c1", "img"); err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(d.VolumePath("c1"), "rootfs/var/machines")
	if err := subvolCreate(nested); err != nil {
		t.Fatal(err)
	}
	if err := subvolCreate(filepath.Join(nested, "deeper")); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, "c1", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := d.RestoreSnapshot(ctx, "c1", "s1"); err != nil {
		t.Fatalf("RestoreSnapshot over nested subvolumes: %v", err)
	}
	if err := d.CopyVolume(ctx, "c1", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := subvolCreate(filepath.Join(d.VolumePath("c2"), "rootfs/sub")); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"c1", "c2"} {
		if err := d.DeleteVolume(ctx, n); err != nil {
			t.Fatalf("DeleteVolume %s: %v", n, err)
		}
	}
	if err := d.DeleteImage(ctx, "img"); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(d.Path(), ".tmp"))
	if len(entries) != 0 {
		t.Errorf(".tmp not empty: %v", entries)
	}
}

// TestBtrfsOnDirectory runs a pool in a directory of an existing btrfs
// (no loop file of its own) and checks that a non-btrfs source is refused.
func TestBtrfsOnDirectory(t *testing.T) {
	outer := newBtrfsLoopPool(t, "256MiB")
	ctx := context.Background()
	if err := outer.Init(ctx); err != nil {
		t.Fatal(err)
	}
	d, err := New("inner", "btrfs", map[string]string{"source": filepath.Join(outer.Path(), "inner")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Init(ctx); err != nil {
		t.Fatalf("Init on a btrfs directory: %v", err)
	}
	if err := d.CreateImage(ctx, "img", func(context.Context, string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFromImage(ctx, "c1", "img"); err != nil {
		t.Fatal(err)
	}
	if err := d.Grow(ctx, 1<<30); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Grow of a pool without loop file = %v, want ErrNotSupported", err)
	}
	if err := d.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pool directory left: %v", err)
	}
	plain, err := New("plain", "btrfs", map[string]string{"source": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Init(ctx); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Init on a non-btrfs directory = %v, want ErrInvalidConfig", err)
	}
}
