// Package storagetest is the conformance suite of storage drivers: every
// driver's tests call Run, so all drivers keep the same promises (atomic
// creation, preserved ownership and modes, idempotent deletes, name
// validation, safe concurrency).
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lxmgr/lxmgr/storage"
)

// fp is the image fingerprint the suite uses.
const fp = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// Run runs the conformance suite. newDriver must return a fresh driver on
// an empty pool (typically under t.TempDir()); Run calls Init itself, and
// newDriver's cleanup should call Delete. The PoolFull test fills the pool
// and is skipped for pools with more than 2GiB free: run the suite on a
// small filesystem too.
// Checks of ownership, device nodes and trusted.* xattrs need root and are
// reduced when not root.
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	tests := []struct {
		name string
		fn   func(t *testing.T, d storage.Driver)
	}{
		{"Init", testInit},
		{"CreateImage", testCreateImage},
		{"CreateImageFailure", testCreateImageFailure},
		{"CreateFromImage", testCreateFromImage},
		{"CreateFromImageErrors", testCreateFromImageErrors},
		{"CreateFromImageCancelled", testCreateFromImageCancelled},
		{"PrepareFromImage", testPrepareFromImage},
		{"PreparedSpareCleanup", testPreparedSpareCleanup},
		{"CopyVolume", testCopyVolume},
		{"RenameVolume", testRenameVolume},
		{"DeleteIdempotent", testDelete},
		{"InvalidNames", testInvalidNames},
		{"ConcurrentCreates", testConcurrentCreates},
		{"Usage", testUsage},
		{"Snapshots", testSnapshots},
		{"SnapshotsFollowVolume", testSnapshotsFollowVolume},
		{"CopyFromSnapshot", testCopyFromSnapshot},
		{"CustomVolumes", testCustomVolumes},
		{"Quota", testQuota},
		{"PoolUsage", testPoolUsage},
		{"PoolFull", testPoolFull},
		{"DeletePool", testDeletePool},
		{"Grow", testGrow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDriver(t)
			if err := d.Init(t.Context()); err != nil {
				t.Fatalf("Init: %v", err)
			}
			tt.fn(t, d)
		})
	}
}

func mustImage(t *testing.T, d storage.Driver) {
	t.Helper()
	err := d.CreateImage(t.Context(), fp, func(ctx context.Context, dir string) error {
		writeTree(t, dir)
		return nil
	})
	if err != nil {
		t.Fatalf("CreateImage: %v", err)
	}
}

// assertNoLeftovers checks that the work area holds nothing.
func assertNoLeftovers(t *testing.T, d storage.Driver) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(d.Path(), ".tmp"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("leftover in .tmp: %s", e.Name())
	}
}

// assertPrivate checks that a directory is not readable by group or others.
func assertPrivate(t *testing.T, p string) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o044 != 0 {
		t.Errorf("%s has mode %v: readable by host users", p, st.Mode().Perm())
	}
}

func testInit(t *testing.T, d storage.Driver) {
	leftover := filepath.Join(d.Path(), ".tmp", "copy-123")
	if err := os.MkdirAll(filepath.Join(leftover, "v/rootfs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := d.Init(t.Context()); err != nil {
		t.Fatalf("second Init: %v", err)
	}
	assertNoLeftovers(t, d)
	assertPrivate(t, d.Path())
	vols, err := d.Volumes(t.Context())
	if err != nil || len(vols) != 0 {
		t.Errorf("Volumes on empty pool = %v, %v", vols, err)
	}
}

func testCreateImage(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if !d.HasImage(fp) {
		t.Fatal("HasImage false after CreateImage")
	}
	if _, err := os.Stat(filepath.Join(d.ImagePath(fp), "rootfs/etc/passwd")); err != nil {
		t.Errorf("image content missing: %v", err)
	}
	assertPrivate(t, d.ImagePath(fp))
	called := false
	err := d.CreateImage(t.Context(), fp, func(context.Context, string) error { called = true; return nil })
	if !errors.Is(err, storage.ErrExists) {
		t.Errorf("second CreateImage = %v, want ErrExists", err)
	}
	if called {
		t.Error("fill called for an existing image")
	}
	if err := d.DeleteImage(t.Context(), fp); err != nil {
		t.Fatalf("DeleteImage: %v", err)
	}
	if d.HasImage(fp) {
		t.Error("HasImage true after DeleteImage")
	}
	if err := d.DeleteImage(t.Context(), fp); err != nil {
		t.Errorf("DeleteImage of a missing image = %v, want nil", err)
	}
	assertNoLeftovers(t, d)
}

func testCreateImageFailure(t *testing.T, d storage.Driver) {
	boom := errors.New("boom")
	err := d.CreateImage(t.Context(), fp, func(ctx context.Context, dir string) error {
		writeTree(t, dir)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("CreateImage = %v, want the fill error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	err = d.CreateImage(ctx, fp, func(ctx context.Context, dir string) error {
		writeTree(t, dir)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled CreateImage = %v, want context.Canceled", err)
	}
	if d.HasImage(fp) {
		t.Error("failed CreateImage left the image")
	}
	entries, _ := os.ReadDir(filepath.Join(d.Path(), "images"))
	if len(entries) != 0 {
		t.Errorf("failed CreateImage left %d entries in images/", len(entries))
	}
	assertNoLeftovers(t, d)
}

func testCreateFromImage(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "c1", fp); err != nil {
		t.Fatalf("CreateFromImage: %v", err)
	}
	if !d.VolumeExists("c1") {
		t.Fatal("VolumeExists false after CreateFromImage")
	}
	assertPrivate(t, d.VolumePath("c1"))
	compareTrees(t, d.ImagePath(fp), d.VolumePath("c1"))
	vols, err := d.Volumes(t.Context())
	if err != nil || !slices.Equal(vols, []string{"c1"}) {
		t.Errorf("Volumes = %v, %v; want [c1]", vols, err)
	}
	assertNoLeftovers(t, d)
}

func testCreateFromImageErrors(t *testing.T, d storage.Driver) {
	if err := d.CreateFromImage(t.Context(), "c1", fp); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateFromImage of a missing image = %v, want ErrNotFound", err)
	}
	if d.VolumeExists("c1") {
		t.Error("failed CreateFromImage left a volume")
	}
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "c1", fp); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(d.VolumePath("c1"), "marker")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFromImage(t.Context(), "c1", fp); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CreateFromImage onto an existing volume = %v, want ErrExists", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("existing volume was touched: %v", err)
	}
	assertNoLeftovers(t, d)
}

func testCreateFromImageCancelled(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.CreateFromImage(ctx, "c1", fp); err == nil {
		t.Error("CreateFromImage with a cancelled context succeeded")
	}
	if d.VolumeExists("c1") {
		t.Error("cancelled CreateFromImage left a volume")
	}
	assertNoLeftovers(t, d)
}

// spares lists what PrepareFromImage left in the pool.
func spares(t *testing.T, d storage.Driver) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(d.Path(), ".spares"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func testPrepareFromImage(t *testing.T, d storage.Driver) {
	if err := d.PrepareFromImage(t.Context(), fp); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("PrepareFromImage of a missing image = %v, want ErrNotFound", err)
	}
	if err := d.PrepareFromImage(t.Context(), "../x"); !errors.Is(err, storage.ErrInvalidName) {
		t.Errorf("PrepareFromImage(\"../x\") = %v, want ErrInvalidName", err)
	}
	mustImage(t, d)
	for range 2 { // idempotent
		if err := d.PrepareFromImage(t.Context(), fp); err != nil {
			t.Fatalf("PrepareFromImage: %v", err)
		}
	}
	want := []string(nil)
	if d.Capabilities().CoW {
		want = []string{fp}
	}
	if got := spares(t, d); !slices.Equal(got, want) {
		t.Fatalf("spares after PrepareFromImage = %v, want %v", got, want)
	}
	// The next create takes the spare; the one after clones; both are
	// the image's content, private, and independent of each other.
	for _, name := range []string{"c1", "c2"} {
		if err := d.CreateFromImage(t.Context(), name, fp); err != nil {
			t.Fatalf("CreateFromImage %s: %v", name, err)
		}
		if got := spares(t, d); len(got) != 0 {
			t.Errorf("spares after CreateFromImage %s = %v, want none", name, got)
		}
		assertPrivate(t, d.VolumePath(name))
		compareTrees(t, d.ImagePath(fp), d.VolumePath(name))
	}
	writeFile(t, filepath.Join(d.VolumePath("c1"), "rootfs", "only-c1"), "x")
	if _, err := os.Stat(filepath.Join(d.VolumePath("c2"), "rootfs", "only-c1")); err == nil {
		t.Error("a file written in c1 shows in c2")
	}
	if _, err := os.Stat(filepath.Join(d.ImagePath(fp), "rootfs", "only-c1")); err == nil {
		t.Error("a file written in c1 shows in the image")
	}
	// A spare does not stand in the way of an existing volume's error.
	if err := d.PrepareFromImage(t.Context(), fp); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateFromImage(t.Context(), "c1", fp); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CreateFromImage onto an existing volume with a spare = %v, want ErrExists", err)
	}
	if got := spares(t, d); !slices.Equal(got, want) {
		t.Errorf("a failed CreateFromImage took the spare: %v, want %v", got, want)
	}
	vols, err := d.Volumes(t.Context())
	if err != nil || !slices.Equal(vols, []string{"c1", "c2"}) {
		t.Errorf("Volumes = %v, %v; want [c1 c2]", vols, err)
	}
	assertNoLeftovers(t, d)
}

// testPreparedSpareCleanup: deleting the image removes its spare, and Init
// removes a spare whose image is gone (a crash between the two).
func testPreparedSpareCleanup(t *testing.T, d storage.Driver) {
	if !d.Capabilities().CoW {
		t.Skip("the driver keeps no spares")
	}
	mustImage(t, d)
	if err := d.PrepareFromImage(t.Context(), fp); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteImage(t.Context(), fp); err != nil {
		t.Fatal(err)
	}
	if got := spares(t, d); len(got) != 0 {
		t.Errorf("spares after DeleteImage = %v, want none", got)
	}
	if err := d.PrepareFromImage(t.Context(), fp); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("PrepareFromImage after DeleteImage = %v, want ErrNotFound", err)
	}
	// A spare whose image is gone (a crash inside DeleteImage between the
	// two) and a stray entry: Init removes both, and keeps a valid spare.
	mustImage(t, d)
	if err := d.PrepareFromImage(t.Context(), fp); err != nil {
		t.Fatal(err)
	}
	orphan := strings.Repeat("e", 64)
	for _, name := range []string{orphan, ".stray"} {
		if err := os.MkdirAll(filepath.Join(d.Path(), ".spares", name, "rootfs"), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := spares(t, d); !slices.Equal(got, []string{fp}) {
		t.Errorf("spares after Init = %v, want [%s]", got, fp)
	}
	assertNoLeftovers(t, d)
}

func testCopyVolume(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "a", fp); err != nil {
		t.Fatal(err)
	}
	if err := d.CopyVolume(t.Context(), "a", "b"); err != nil {
		t.Fatalf("CopyVolume: %v", err)
	}
	compareTrees(t, d.VolumePath("a"), d.VolumePath("b"))
	assertPrivate(t, d.VolumePath("b"))
	if err := d.CopyVolume(t.Context(), "a", "b"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("CopyVolume onto existing = %v, want ErrExists", err)
	}
	if err := d.CopyVolume(t.Context(), "nope", "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CopyVolume from missing = %v, want ErrNotFound", err)
	}
	if d.VolumeExists("c") {
		t.Error("failed CopyVolume left a volume")
	}
	assertNoLeftovers(t, d)
}

func testRenameVolume(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	for _, n := range []string{"a", "b"} {
		if err := d.CreateFromImage(t.Context(), n, fp); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.RenameVolume(t.Context(), "a", "c"); err != nil {
		t.Fatalf("RenameVolume: %v", err)
	}
	if d.VolumeExists("a") || !d.VolumeExists("c") {
		t.Error("rename did not move the volume")
	}
	compareTrees(t, d.ImagePath(fp), d.VolumePath("c"))
	if err := d.RenameVolume(t.Context(), "c", "b"); !errors.Is(err, storage.ErrExists) {
		t.Errorf("RenameVolume onto existing = %v, want ErrExists", err)
	}
	if !d.VolumeExists("b") || !d.VolumeExists("c") {
		t.Error("failed rename lost a volume")
	}
	if err := d.RenameVolume(t.Context(), "nope", "d"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RenameVolume of missing = %v, want ErrNotFound", err)
	}
	vols, err := d.Volumes(t.Context())
	if err != nil || !slices.Equal(vols, []string{"b", "c"}) {
		t.Errorf("Volumes = %v, %v; want [b c]", vols, err)
	}
}

func testDelete(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "a", fp); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := d.DeleteVolume(t.Context(), "a"); err != nil {
			t.Fatalf("DeleteVolume #%d: %v", i+1, err)
		}
	}
	if d.VolumeExists("a") {
		t.Error("volume still exists after DeleteVolume")
	}
	if err := d.DeleteVolume(t.Context(), "never-existed"); err != nil {
		t.Errorf("DeleteVolume of missing = %v", err)
	}
	if !d.HasImage(fp) {
		t.Error("DeleteVolume removed the image")
	}
	assertNoLeftovers(t, d)
}

func testInvalidNames(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "ok", fp); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateSnapshot(t.Context(), "ok", "s"); err != nil {
		t.Fatal(err)
	}
	bad := []string{"", ".", "..", "../x", "a/b", "/", "/etc", ".tmp", ".hidden", "a..b", "a b", "a\tb", "a\nb", "a\rb", "a\x00b", "a\x7fb", "a\u00a0b", string(make([]byte, 256))}
	ctx := t.Context()
	fill := func(context.Context, string) error { return nil }
	for _, n := range bad {
		calls := map[string]error{
			"CreateImage":          d.CreateImage(ctx, n, fill),
			"DeleteImage":          d.DeleteImage(ctx, n),
			"CreateFromImage name": d.CreateFromImage(ctx, n, fp),
			"CreateFromImage fp":   d.CreateFromImage(ctx, "x", n),
			"CopyVolume src":       d.CopyVolume(ctx, n, "x"),
			"CopyVolume dst":       d.CopyVolume(ctx, "ok", n),
			"DeleteVolume":         d.DeleteVolume(ctx, n),
			"RenameVolume old":     d.RenameVolume(ctx, n, "x"),
			"RenameVolume new":     d.RenameVolume(ctx, "ok", n),
		}
		_, usageErr := d.Usage(ctx, n)
		calls["Usage"] = usageErr
		_, snapsErr := d.Snapshots(ctx, n)
		calls["Snapshots"] = snapsErr
		for call, err := range map[string]error{
			"SetQuota":              d.SetQuota(ctx, n, 1<<20),
			"CreateSnapshot name":   d.CreateSnapshot(ctx, n, "s"),
			"CreateSnapshot snap":   d.CreateSnapshot(ctx, "ok", n),
			"DeleteSnapshot name":   d.DeleteSnapshot(ctx, n, "s"),
			"DeleteSnapshot snap":   d.DeleteSnapshot(ctx, "ok", n),
			"RestoreSnapshot name":  d.RestoreSnapshot(ctx, n, "s"),
			"RestoreSnapshot snap":  d.RestoreSnapshot(ctx, "ok", n),
			"CopyFromSnapshot name": d.CopyFromSnapshot(ctx, n, "s", "x"),
			"CopyFromSnapshot snap": d.CopyFromSnapshot(ctx, "ok", n, "x"),
			"CopyFromSnapshot dst":  d.CopyFromSnapshot(ctx, "ok", "s", n),
			"CreateCustom":          d.CreateCustom(ctx, n, 0),
			"DeleteCustom":          d.DeleteCustom(ctx, n),
		} {
			calls[call] = err
		}
		if d.SnapshotPath(n, "s") != "" || d.SnapshotPath("ok", n) != "" || d.CustomPath(n) != "" {
			t.Errorf("snapshot or custom paths accept %q", n)
		}
		for call, err := range calls {
			if !errors.Is(err, storage.ErrInvalidName) {
				t.Errorf("%s(%q) = %v, want ErrInvalidName", call, n, err)
			}
		}
		if d.HasImage(n) || d.VolumeExists(n) || d.ImagePath(n) != "" || d.VolumePath(n) != "" {
			t.Errorf("predicates or paths accept %q", n)
		}
	}
	if !d.VolumeExists("ok") || d.VolumeExists("x") || !d.HasImage(fp) {
		t.Error("invalid-name calls changed the pool")
	}
	assertSnapshots(t, d, "ok", "s")
	if customs, err := d.Customs(ctx); err != nil || len(customs) != 0 {
		t.Errorf("invalid-name calls made custom volumes %v (%v)", customs, err)
	}
	assertNoLeftovers(t, d)
}

func testConcurrentCreates(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("c%d", i)
		wg.Go(func() { errs[i] = d.CreateFromImage(t.Context(), want[i], fp) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("create %s: %v", want[i], err)
		}
	}
	vols, err := d.Volumes(t.Context())
	if err != nil || !slices.Equal(vols, want) {
		t.Errorf("Volumes = %v, %v; want %v", vols, err, want)
	}
	compareTrees(t, d.ImagePath(fp), d.VolumePath("c7"))
	assertNoLeftovers(t, d)
}

func testUsage(t *testing.T, d storage.Driver) {
	mustImage(t, d)
	if err := d.CreateFromImage(t.Context(), "a", fp); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i)
	}
	if err := os.WriteFile(filepath.Join(d.VolumePath("a"), "rootfs/big"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := d.Usage(t.Context(), "a")
	if err != nil || n < 1<<20 {
		t.Errorf("Usage = %d, %v; want >= 1MiB", n, err)
	}
	if _, err := d.Usage(t.Context(), "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Usage of missing = %v, want ErrNotFound", err)
	}
}
