package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnescapeMount(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a/b", "/a/b"},
		{`/a\040b`, "/a b"},
		{`/a\011b\134`, "/a\tb\\"},
	}
	for _, tt := range tests {
		if got := unescapeMount(tt.in); got != tt.want {
			t.Errorf("unescapeMount(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDeleteVolumeRefusesMounts checks that a volume with a bind mount
// inside is not deleted: RemoveAll would wipe the mounted host directory.
func TestDeleteVolumeRefusesMounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	ctx := context.Background()
	d, err := New("p", "dir", map[string]string{"source": filepath.Join(t.TempDir(), "pool")})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateImage(ctx, "img", func(_ context.Context, dir string) error {
		return os.MkdirAll(filepath.Join(dir, "rootfs/data"), 0o755)
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFromImage(ctx, "c1", "img"); err != nil {
		t.Fatal(err)
	}
	hostDir := t.TempDir()
	precious := filepath.Join(hostDir, "precious")
	if err := os.WriteFile(precious, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(d.VolumePath("c1"), "rootfs/data")
	if err := unix.Mount(hostDir, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind mount here: %v", err)
	}
	mounted := true
	t.Cleanup(func() {
		if mounted {
			_ = unix.Unmount(target, unix.MNT_DETACH)
		}
	})
	if err := d.DeleteVolume(ctx, "c1"); !errors.Is(err, ErrBusy) {
		t.Errorf("DeleteVolume with a mount inside = %v, want ErrBusy", err)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("host data behind the mount was touched: %v", err)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatal(err)
	}
	mounted = false
	if err := d.DeleteVolume(ctx, "c1"); err != nil {
		t.Errorf("DeleteVolume after unmount: %v", err)
	}
}
