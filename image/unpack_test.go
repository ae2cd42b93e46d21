package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one member of a crafted tarball.
type entry struct {
	hdr  tar.Header
	body string
}

const testMetadata = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n"

func meta() entry {
	return entry{hdr: tar.Header{Name: "metadata.yaml", Typeflag: tar.TypeReg, Mode: 0o644}, body: testMetadata}
}

func dir(name string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}}
}

func file(name, body string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: body}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
}

// writeTestTar writes entries as a tarball (gzip'd if gz) and returns its path.
func writeTestTar(t *testing.T, gz bool, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	var tw *tar.Writer
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.body))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "image.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (chown, mknod, xattrs)")
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s not cleaned up: %v", dir, names)
	}
}

func TestUnpackRejectsUnsafe(t *testing.T) {
	outside := t.TempDir()
	tests := []struct {
		name    string
		entries []entry
	}{
		{"absolute path", []entry{meta(), file("/etc/evil", "x")}},
		{"absolute rootfs path", []entry{meta(), dir("rootfs/"), file("/rootfs/x", "x")}},
		{"dotdot escape", []entry{meta(), file("../evil", "x")}},
		{"dotdot inside name", []entry{meta(), dir("rootfs/"), file("rootfs/../../evil", "x")}},
		{"symlink parent escape", []entry{meta(), dir("rootfs/"), symlink("rootfs/a", outside), file("rootfs/a/file", "x")}},
		{"symlink parent relative escape", []entry{meta(), dir("rootfs/"), symlink("rootfs/a", "../../../../../.."+outside), file("rootfs/a/file", "x")}},
		{"symlink parent inside", []entry{meta(), dir("rootfs/usr/lib/"), symlink("rootfs/lib", "usr/lib"), file("rootfs/lib/x", "x")}},
		{"symlink parent dir entry", []entry{meta(), symlink("rootfs", outside), dir("rootfs/etc/")}},
		{"hardlink absolute", []entry{meta(), dir("rootfs/"), hardlink("rootfs/passwd", "/etc/passwd")}},
		{"hardlink dotdot", []entry{meta(), dir("rootfs/"), hardlink("rootfs/passwd", "../../etc/passwd")}},
		{"hardlink missing target", []entry{meta(), dir("rootfs/"), hardlink("rootfs/x", "rootfs/missing")}},
		{"hardlink through symlink", []entry{meta(), dir("rootfs/"), symlink("rootfs/s", outside), hardlink("rootfs/x", "rootfs/s/secret")}},
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tarball := writeTestTar(t, true, tt.entries...)
			dest := t.TempDir()
			_, err := Unpack(context.Background(), tarball, "", dest, UnpackOptions{AllowDevices: true})
			if !errors.Is(err, ErrUnsafeTarball) {
				t.Fatalf("Unpack error = %v, want ErrUnsafeTarball", err)
			}
			t.Log(err)
			assertEmpty(t, dest)
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				t.Errorf("something was written outside: %d entries in %s", len(ents), outside)
			}
		})
	}
}

func TestUnpackReplacesSymlinkInsteadOfFollowing(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarball := writeTestTar(t, false, meta(), dir("rootfs/"), symlink("rootfs/f", victim), file("rootfs/f", "new"))
	dest := t.TempDir()
	if _, err := Unpack(context.Background(), tarball, "", dest, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "original" {
		t.Errorf("write went through the symlink: victim = %q", data)
	}
	fi, err := os.Lstat(filepath.Join(dest, "rootfs/f"))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("rootfs/f = %v, %v; want a regular file", fi, err)
	}
}

func TestUnpackDevices(t *testing.T) {
	requireRoot(t)
	null := entry{hdr: tar.Header{Name: "rootfs/dev/null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3}}
	fifo := entry{hdr: tar.Header{Name: "rootfs/run/fifo", Typeflag: tar.TypeFifo, Mode: 0o600}}
	tarball := writeTestTar(t, true, meta(), dir("rootfs/"), dir("rootfs/dev/"), null, fifo)
	tests := []struct {
		allow bool
		want  bool
	}{{false, false}, {true, true}}
	for _, tt := range tests {
		dest := t.TempDir()
		if _, err := Unpack(context.Background(), tarball, "", dest, UnpackOptions{AllowDevices: tt.allow}); err != nil {
			t.Fatal(err)
		}
		var st unix.Stat_t
		err := unix.Lstat(filepath.Join(dest, "rootfs/dev/null"), &st)
		if got := err == nil; got != tt.want {
			t.Fatalf("AllowDevices=%v: device exists = %v, want %v", tt.allow, got, tt.want)
		}
		if tt.want && (st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 1 || unix.Minor(st.Rdev) != 3 || st.Mode&0o777 != 0o666) {
			t.Errorf("device node wrong: mode %o rdev %d:%d", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		_, err = os.Lstat(filepath.Join(dest, "rootfs/run/fifo"))
		if got := err == nil; got != tt.want {
			t.Errorf("AllowDevices=%v: fifo exists = %v, want %v", tt.allow, got, tt.want)
		}
	}
}

func TestUnpackFingerprint(t *testing.T) {
	tarball := writeTestTar(t, true, meta(), dir("rootfs/"), file("rootfs/hello", "hi"))
	fp, err := Fingerprint(tarball)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		want    string
		wantErr error
	}{
		{"match", fp, nil},
		{"no check", "", nil},
		{"mismatch", "0000000000000000000000000000000000000000000000000000000000000000", ErrFingerprintMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			m, err := Unpack(context.Background(), tarball, tt.want, dest, UnpackOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unpack error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				assertEmpty(t, dest)
				return
			}
			if m.Architecture != "x86_64" || m.CreationDate != 1700000000 || m.Properties["os"] != "test" {
				t.Errorf("metadata = %+v", m)
			}
			if data, _ := os.ReadFile(filepath.Join(dest, "rootfs/hello")); string(data) != "hi" {
				t.Errorf("rootfs/hello = %q", data)
			}
		})
	}
}

func TestUnpackNeedsEmptyDirAndMetadata(t *testing.T) {
	dest := t.TempDir()
	noMeta := writeTestTar(t, true, dir("rootfs/"), file("rootfs/x", "x"))
	if _, err := Unpack(context.Background(), noMeta, "", dest, UnpackOptions{}); err == nil {
		t.Error("tarball without metadata.yaml was accepted")
	}
	assertEmpty(t, dest)
	if err := os.WriteFile(filepath.Join(dest, "junk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ok := writeTestTar(t, true, meta(), dir("rootfs/"))
	if _, err := Unpack(context.Background(), ok, "", dest, UnpackOptions{}); err == nil {
		t.Error("non-empty target was accepted")
	}
}

// capNetRaw is a vfs_cap_data v2 blob: effective, permitted cap_net_raw.
var capNetRaw = string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})

func TestUnpackOwnershipModesLinksXattrs(t *testing.T) {
	requireRoot(t)
	suid := file("rootfs/usr/bin/su", "ELF")
	suid.hdr.Mode, suid.hdr.Uid, suid.hdr.Gid = 0o4755, 0, 0
	owned := file("rootfs/home/u/f", "data")
	owned.hdr.Uid, owned.hdr.Gid, owned.hdr.Mode = 1234, 5678, 0o2750
	tmp := dir("rootfs/tmp/")
	tmp.hdr.Mode = 0o1777
	ping := file("rootfs/usr/bin/ping", "ELF")
	ping.hdr.Mode = 0o755
	ping.hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": capNetRaw}
	link := symlink("rootfs/home/u/l", "/etc/passwd")
	link.hdr.Uid, link.hdr.Gid = 1234, 5678
	tarball := writeTestTar(t, true, meta(), dir("rootfs/"), suid, owned, tmp, ping, link,
		hardlink("rootfs/usr/bin/su2", "rootfs/usr/bin/su"))
	dest := t.TempDir()
	if _, err := Unpack(context.Background(), tarball, "", dest, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		path     string
		uid, gid uint32
		mode     uint32 // permission bits incl. setuid/setgid/sticky
		typ      uint32
	}{
		{"rootfs/usr/bin/su", 0, 0, 0o4755, unix.S_IFREG},
		{"rootfs/home/u/f", 1234, 5678, 0o2750, unix.S_IFREG},
		{"rootfs/tmp", 0, 0, 0o1777, unix.S_IFDIR},
		{"rootfs/home/u/l", 1234, 5678, 0o777, unix.S_IFLNK},
		{"rootfs/home", 0, 0, 0o755, unix.S_IFDIR}, // implied parent
	}
	for _, c := range checks {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dest, c.path), &st); err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if st.Uid != c.uid || st.Gid != c.gid || st.Mode&0o7777 != c.mode || st.Mode&unix.S_IFMT != c.typ {
			t.Errorf("%s: uid %d gid %d mode %o; want %d %d %o type %o", c.path, st.Uid, st.Gid, st.Mode, c.uid, c.gid, c.mode, c.typ)
		}
	}
	if target, _ := os.Readlink(filepath.Join(dest, "rootfs/home/u/l")); target != "/etc/passwd" {
		t.Errorf("symlink target = %q, want it as-is", target)
	}
	a, _ := os.Stat(filepath.Join(dest, "rootfs/usr/bin/su"))
	b, _ := os.Stat(filepath.Join(dest, "rootfs/usr/bin/su2"))
	if a == nil || b == nil || !os.SameFile(a, b) {
		t.Error("hard link not restored as the same inode")
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(filepath.Join(dest, "rootfs/usr/bin/ping"), xattrCapability, buf)
	if err != nil || string(buf[:n]) != capNetRaw {
		t.Errorf("security.capability = %x, %v; want %x", buf[:max(n, 0)], err, capNetRaw)
	}
	fi, _ := os.Stat(filepath.Join(dest, "rootfs/home/u/f"))
	if fi == nil || fi.ModTime().Unix() != 1700000000 {
		t.Errorf("mtime not restored: %v", fi)
	}
}
