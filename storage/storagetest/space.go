package storagetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/lxmgr/lxmgr/storage"
	"golang.org/x/sys/unix"
)

// fp2 is a second image fingerprint.
const fp2 = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

// fillFile appends 1MiB chunks to path, syncing each, until max bytes or an
// error; it returns the bytes written and the error.
func fillFile(path string, max int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i*7 + 1) // not zeros: no filesystem may elide them
	}
	var n int64
	for n < max {
		m, err := f.Write(chunk)
		n += int64(m)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return n, err
		}
	}
	return n, f.Close()
}

func isSpaceErr(err error) bool {
	return errors.Is(err, unix.EDQUOT) || errors.Is(err, unix.ENOSPC)
}

// assertLimited checks that writing into dir stops with EDQUOT or ENOSPC
// near limit bytes, then removes what it wrote.
func assertLimited(t *testing.T, dir string, limit int64) {
	t.Helper()
	f := filepath.Join(dir, "fill")
	n, err := fillFile(f, 2*limit)
	if !isSpaceErr(err) {
		t.Errorf("wrote %d bytes into %s limited to %d: %v; want EDQUOT or ENOSPC", n, dir, limit, err)
	} else if n > limit+limit/4 {
		t.Errorf("wrote %d bytes into %s limited to %d before %v", n, dir, limit, err)
	}
	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
}

// assertUnlimited checks that size bytes can be written into dir.
func assertUnlimited(t *testing.T, dir string, size int64) {
	t.Helper()
	f := filepath.Join(dir, "fill")
	if n, err := fillFile(f, size); err != nil {
		t.Errorf("wrote %d of %d bytes into %s: %v", n, size, dir, err)
	}
	if err := os.Remove(f); err != nil {
		t.Fatal(err)
	}
}

func testQuota(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	mustVolume(t, d, "a")
	const limit = 32 << 20
	err := d.SetQuota(ctx, "a", limit)
	if !d.Capabilities().Quotas {
		if !errors.Is(err, storage.ErrNotSupported) {
			t.Errorf("SetQuota on a pool without quotas = %v, want ErrNotSupported", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("SetQuota: %v", err)
	}
	rootfs := filepath.Join(d.VolumePath("a"), "rootfs")
	assertLimited(t, rootfs, limit)

	// The limit survives a restore.
	if err := d.CreateSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := d.RestoreSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	assertLimited(t, rootfs, limit)

	if err := d.SetQuota(ctx, "a", 0); err != nil {
		t.Fatalf("SetQuota 0: %v", err)
	}
	assertUnlimited(t, rootfs, 2*limit)

	if err := d.CreateCustom(ctx, "data", limit); err != nil {
		t.Fatalf("CreateCustom with a size: %v", err)
	}
	assertLimited(t, d.CustomPath("data"), limit)

	for call, err := range map[string]error{
		"SetQuota of missing volume": d.SetQuota(ctx, "nope", limit),
		"SetQuota negative":          d.SetQuota(ctx, "a", -1),
	} {
		if !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrInvalidSize) {
			t.Errorf("%s = %v", call, err)
		}
	}
}

func testPoolUsage(t *testing.T, d storage.Driver) {
	u, err := d.PoolUsage(t.Context())
	if err != nil || u.Total <= 0 || u.Used < 0 || u.Used > u.Total {
		t.Errorf("PoolUsage = %+v, %v", u, err)
	}
}

// testPoolFull fills the pool until it is full and checks that copies fail
// with ErrPoolFull leaving nothing (a copy-on-write clone may still
// succeed), then frees space and checks the same names work. Pools with
// more than 2GiB free are not filled.
func testPoolFull(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	u, err := d.PoolUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Total-u.Used > 2<<30 {
		t.Skipf("pool has %d bytes free: too many to fill", u.Total-u.Used)
	}
	mustVolume(t, d, "a")
	filler := filepath.Join(d.Path(), "filler")
	fillPool(t, filler, u.Total)
	defer os.RemoveAll(filler)

	fill := func(ctx context.Context, dir string) error {
		_, err := fillFile(filepath.Join(dir, "big"), 8<<20)
		return err
	}
	err = d.CreateImage(ctx, fp2, fill)
	if !errors.Is(err, storage.ErrPoolFull) {
		t.Errorf("CreateImage on a full pool = %v, want ErrPoolFull", err)
	}
	if d.HasImage(fp2) {
		t.Error("failed CreateImage left the image")
	}
	cow := d.Capabilities().CoW
	check := func(what string, err error, exists bool) {
		t.Helper()
		switch {
		case err == nil && !cow:
			t.Errorf("%s on a full pool succeeded without copy-on-write", what)
		case err != nil && !errors.Is(err, storage.ErrPoolFull):
			t.Errorf("%s on a full pool = %v, want ErrPoolFull", what, err)
		case err != nil && exists:
			t.Errorf("failed %s left its result", what)
		}
	}
	errB := d.CreateFromImage(ctx, "b", fp)
	check("CreateFromImage", errB, d.VolumeExists("b"))
	errC := d.CopyVolume(ctx, "a", "c")
	check("CopyVolume", errC, d.VolumeExists("c"))
	errS := d.CreateSnapshot(ctx, "a", "s1")
	check("CreateSnapshot", errS, isDir(d.SnapshotPath("a", "s1")))
	t.Logf("on a full pool: CreateFromImage: %v; CopyVolume: %v; CreateSnapshot: %v", errB, errC, errS)
	assertNoLeftovers(t, d)
	if errS != nil {
		if snaps, err := d.Snapshots(ctx, "a"); err != nil || len(snaps) != 0 {
			t.Errorf("Snapshots after a failed CreateSnapshot = %v, %v", snaps, err)
		}
	}

	if err := os.RemoveAll(filler); err != nil {
		t.Fatal(err)
	}
	syncPool(t, d)
	if err := d.CreateImage(ctx, fp2, fill); err != nil {
		t.Errorf("CreateImage after freeing space: %v", err)
	}
	if errB != nil {
		if err := d.CreateFromImage(ctx, "b", fp); err != nil {
			t.Errorf("CreateFromImage after freeing space: %v", err)
		}
	}
	if errC != nil {
		if err := d.CopyVolume(ctx, "a", "c"); err != nil {
			t.Errorf("CopyVolume after freeing space: %v", err)
		}
	}
	vols, err := d.Volumes(ctx)
	if err != nil || !slices.Equal(vols, []string{"a", "b", "c"}) {
		t.Errorf("Volumes = %v, %v; want [a b c]", vols, err)
	}
	assertNoLeftovers(t, d)
}

// fillPool fills the filesystem of dir with one big file, then with small
// files for the blocks that a failed big write leaves over, until both
// fail for lack of space.
func fillPool(t *testing.T, dir string, total int64) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if n, err := fillFile(filepath.Join(dir, "big"), total); !isSpaceErr(err) {
		t.Fatalf("filling the pool: wrote %d bytes: %v", n, err)
	}
	small := make([]byte, 4096)
	for i := range 100000 {
		err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), small, 0o600)
		if isSpaceErr(err) {
			return
		}
		if err != nil {
			t.Fatalf("filling the pool: %v", err)
		}
	}
	t.Fatal("filling the pool: 100000 small files fit after the big one")
}

// syncPool commits the pool's filesystem, so that freed space is free
// (btrfs frees extents at transaction commit).
func syncPool(t *testing.T, d storage.Driver) {
	f, err := os.Open(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		t.Fatal(err)
	}
}

func testDeletePool(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	mustVolume(t, d, "a")
	if err := d.CreateSnapshot(ctx, "a", "s1"); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateCustom(ctx, "data", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := d.Delete(ctx); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := os.Stat(d.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pool root still there after Delete: %v", err)
	}
	if err := d.Init(ctx); err != nil {
		t.Fatalf("Init after Delete: %v", err)
	}
	if d.HasImage(fp) || d.VolumeExists("a") {
		t.Error("recreated pool has old content")
	}
}

func testGrow(t *testing.T, d storage.Driver) {
	ctx := t.Context()
	if err := d.Grow(ctx, -1); err == nil {
		t.Error("Grow to a negative size succeeded")
	}
	if err := d.Grow(ctx, 1<<20); !errors.Is(err, storage.ErrNotSupported) {
		t.Errorf("Grow to 1MiB (shrink) = %v, want ErrNotSupported", err)
	}
}
