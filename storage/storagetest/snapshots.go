package storagetest

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lxmgr/lxmgr/storage"
	"golang.org/x/sys/unix"
)

// mustVolume makes the image and volume name from it.
func mustVolume(t *testing.T, d storage.Driver, name string) {
	t.Helper()
	if !d.HasImage(fp) {
		mustImage(t, d)
	}
	if err := d.CreateFromImage(t.Context(), name, fp); err != nil {
		t.Fatalf("CreateFromImage %s: %v", name, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func assertContent(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s = %q, %v; want %q", path, got, err, want)
	}
}

func assertSnapshots(t *testing.T, d storage.Driver, name string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got, err := d.Snapshots(t.Context(), name)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Snapshots(%s) = %v, %v; want %v", name, got, err, want)
	}
}

func testSnapshots(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	mustVolume(t, d, "a")
	root := filepath.Join(d.VolumePath("a"), "rootfs")
	writeFile(t, filepath.Join(root, "v"), "one")
	if err := d.CreateSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	if err := d.CreateSnapshot(ctx, "a", "s1"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("second CreateSnapshot = %v, want ErrExists", err)
	}
	assertPrivate(t, d.SnapshotPath("a", "s1"))
	writeFile(t, filepath.Join(root, "v"), "two")
	writeFile(t, filepath.Join(root, "new"), "new")
	if err := os.Remove(filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(ctx, "a", "s0"); err != nil {
		t.Fatalf("CreateSnapshot: %v", err)
	}
	assertSnapshots(t, d, "a", "s0", "s1")
	assertContent(t, filepath.Join(d.SnapshotPath("a", "s1"), "rootfs/v"), "one")
	assertContent(t, filepath.Join(d.SnapshotPath("a", "s0"), "rootfs/v"), "two")
	if d.Capabilities().Snapshots {
		err := os.WriteFile(filepath.Join(d.SnapshotPath("a", "s1"), "rootfs/x"), nil, 0o600)
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("write into a native snapshot = %v, want EROFS", err)
		}
	}

	if err := d.RestoreSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	assertContent(t, filepath.Join(root, "v"), "one")
	if _, err := os.Stat(filepath.Join(root, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file made after the snapshot survived the restore: %v", err)
	}
	compareTrees(t, d.SnapshotPath("a", "s1"), d.VolumePath("a"))
	assertPrivate(t, d.VolumePath("a"))
	writeFile(t, filepath.Join(root, "after"), "writable") // the volume stays writable
	assertSnapshots(t, d, "a", "s0", "s1")

	for i := range 2 {
		if err := d.DeleteSnapshot(ctx, "a", "s0"); err != nil {
			t.Errorf("DeleteSnapshot #%d: %v", i+1, err)
		}
	}
	assertSnapshots(t, d, "a", "s1")
	if err := d.DeleteSnapshot(ctx, "nope", "s0"); err != nil {
		t.Errorf("DeleteSnapshot of a missing volume = %v", err)
	}

	notFound := map[string]error{
		"CreateSnapshot of missing volume":  d.CreateSnapshot(ctx, "nope", "s"),
		"RestoreSnapshot of missing snap":   d.RestoreSnapshot(ctx, "a", "nope"),
		"RestoreSnapshot of missing volume": d.RestoreSnapshot(ctx, "nope", "s1"),
		"CopyFromSnapshot of missing snap":  d.CopyFromSnapshot(ctx, "a", "nope", "x"),
	}
	_, notFound["Snapshots of missing volume"] = d.Snapshots(ctx, "nope")
	for call, err := range notFound {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s = %v, want ErrNotFound", call, err)
		}
	}
	assertNoLeftovers(t, d)
}

func testSnapshotsFollowVolume(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	mustVolume(t, d, "a")
	mustVolume(t, d, "other")
	for _, s := range []string{"s1", "s2"} {
		if err := d.CreateSnapshot(ctx, "a", s); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.RenameVolume(ctx, "a", "b"); err != nil {
		t.Fatalf("RenameVolume: %v", err)
	}
	assertSnapshots(t, d, "b", "s1", "s2")
	if d.SnapshotPath("a", "s1") == "" || isDir(d.SnapshotPath("a", "s1")) {
		t.Error("snapshot left under the old name")
	}
	if err := d.DeleteVolume(ctx, "b"); err != nil {
		t.Fatalf("DeleteVolume: %v", err)
	}
	if isDir(d.SnapshotPath("b", "s1")) {
		t.Error("DeleteVolume left the snapshots")
	}
	mustVolume(t, d, "b")
	assertSnapshots(t, d, "b")
	assertSnapshots(t, d, "other")
	assertNoLeftovers(t, d)
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func testCopyFromSnapshot(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	mustVolume(t, d, "a")
	writeFile(t, filepath.Join(d.VolumePath("a"), "rootfs/v"), "one")
	if err := d.CreateSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d.VolumePath("a"), "rootfs/v"), "two")
	if err := d.CopyFromSnapshot(ctx, "a", "s1", "c"); err != nil {
		t.Fatalf("CopyFromSnapshot: %v", err)
	}
	compareTrees(t, d.SnapshotPath("a", "s1"), d.VolumePath("c"))
	assertPrivate(t, d.VolumePath("c"))
	writeFile(t, filepath.Join(d.VolumePath("c"), "rootfs/v"), "three")
	assertContent(t, filepath.Join(d.SnapshotPath("a", "s1"), "rootfs/v"), "one")
	assertContent(t, filepath.Join(d.VolumePath("a"), "rootfs/v"), "two")
	assertSnapshots(t, d, "c")
	if err := d.CopyFromSnapshot(ctx, "a", "s1", "c"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CopyFromSnapshot onto existing = %v, want ErrExists", err)
	}
	vols, err := d.Volumes(ctx)
	if err != nil || !slices.Equal(vols, []string{"a", "c"}) {
		t.Errorf("Volumes = %v, %v; want [a c]", vols, err)
	}
	assertNoLeftovers(t, d)
}

func testCustomVolumes(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	if err := d.CreateCustom(ctx, "data", 0); err != nil {
		t.Fatalf("CreateCustom: %v", err)
	}
	p := d.CustomPath("data")
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o711 {
		t.Errorf("custom volume %s: %v, %v; want a 0711 directory", p, st, err)
	}
	if entries, _ := os.ReadDir(p); len(entries) != 0 {
		t.Errorf("new custom volume is not empty: %v", entries)
	}
	writeFile(t, filepath.Join(p, "f"), "x")
	if err := d.CreateCustom(ctx, "data", 0); !errors.Is(err, storage.ErrExists) {
		t.Errorf("second CreateCustom = %v, want ErrExists", err)
	}
	assertContent(t, filepath.Join(p, "f"), "x")
	if err := d.CreateCustom(ctx, "neg", -1); !errors.Is(err, storage.ErrInvalidSize) {
		t.Errorf("CreateCustom with a negative size = %v, want ErrInvalidSize", err)
	}
	err = d.CreateCustom(ctx, "sized", 64<<20)
	switch {
	case d.Capabilities().Quotas && err != nil:
		t.Errorf("CreateCustom with a size = %v", err)
	case !d.Capabilities().Quotas && !errors.Is(err, storage.ErrNotSupported):
		t.Errorf("CreateCustom with a size on a pool without quotas = %v, want ErrNotSupported", err)
	}
	want := []string{"data"}
	if err == nil {
		want = append(want, "sized")
	}
	got, err := d.Customs(ctx)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("Customs = %v, %v; want %v", got, err, want)
	}
	for _, n := range want {
		for i := range 2 {
			if err := d.DeleteCustom(ctx, n); err != nil {
				t.Errorf("DeleteCustom %s #%d: %v", n, i+1, err)
			}
		}
	}
	if got, err := d.Customs(ctx); err != nil || len(got) != 0 {
		t.Errorf("Customs after deletes = %v, %v", got, err)
	}
	assertNoLeftovers(t, d)
}
