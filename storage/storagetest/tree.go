package storagetest

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// isRoot reports whether ownership, device nodes and trusted.* xattrs can be
// created, so the suite can check that they survive a copy.
func isRoot() bool { return os.Geteuid() == 0 }

// writeTree fills dir with a small guest-like tree exercising everything a
// copy must preserve: modes (setuid, sticky, 0600), owners (as root),
// relative, absolute and dangling symlinks, hardlinks, a fifo, a device node
// and xattrs (as root, or where the filesystem allows).
func writeTree(t *testing.T, dir string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"etc", "usr/bin", "home/user", "dev", "tmp"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	must(os.WriteFile(filepath.Join(dir, "metadata.yaml"), []byte("architecture: x86_64\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/bin/su"), []byte("#!/bin/true\n"), 0o755))
	must(os.Chmod(filepath.Join(root, "usr/bin/su"), 0o4755|fs.ModeSetuid))
	must(os.WriteFile(filepath.Join(root, "home/user/secret"), []byte("s3cret"), 0o600))
	must(os.Chmod(filepath.Join(root, "tmp"), 0o777|fs.ModeSticky))
	must(os.Symlink("../etc/passwd", filepath.Join(root, "usr/rel-link")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "abs-link")))
	must(os.Symlink("/does/not/exist", filepath.Join(root, "dangling")))
	must(os.WriteFile(filepath.Join(root, "hard1"), []byte("linked"), 0o644))
	must(os.Link(filepath.Join(root, "hard1"), filepath.Join(root, "hard2")))
	must(unix.Mkfifo(filepath.Join(root, "fifo"), 0o600))
	if err := unix.Setxattr(filepath.Join(root, "etc/passwd"), "user.lxmgr.test", []byte("value"), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
		t.Fatal(err)
	}
	if !isRoot() {
		return
	}
	must(os.Chown(filepath.Join(root, "home/user"), 1000, 1000))
	must(os.Chown(filepath.Join(root, "home/user/secret"), 1000, 1000))
	must(os.Lchown(filepath.Join(root, "dangling"), 1000, 1001))
	must(os.Chown(filepath.Join(root, "etc/passwd"), 100000, 100000))
	must(unix.Mknod(filepath.Join(root, "dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(unix.Setxattr(filepath.Join(root, "usr/bin/su"), "trusted.lxmgr.test", []byte{0, 1, 2}, 0))
}

// entry is what the suite compares of one file.
type entry struct {
	mode     fs.FileMode
	uid, gid uint32
	rdev     uint64
	target   string
	content  []byte
	xattrs   map[string]string
	ino      uint64
}

// readTree lstats everything under dir, keyed by relative path.
func readTree(t *testing.T, dir string) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		e := entry{mode: info.Mode(), uid: st.Uid, gid: st.Gid, rdev: st.Rdev, ino: st.Ino, xattrs: xattrs(t, p)}
		if rel == "." {
			e.mode &^= fs.ModePerm // the volume's own mode is the driver's
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.target, err = os.Readlink(p)
		case info.Mode().IsRegular():
			e.content, err = os.ReadFile(p)
		}
		out[rel] = e
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func xattrs(t *testing.T, p string) map[string]string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for name := range strings.SplitSeq(string(buf[:n]), "\x00") {
		if name == "" || strings.HasPrefix(name, "security.selinux") {
			continue
		}
		val := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		out[name] = string(val[:m])
	}
	return out
}

// compareTrees fails the test unless got is an exact copy of want:
// same entries, types, modes, owners, devices, targets, contents, xattrs,
// and the same hardlink structure.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	w, g := readTree(t, want), readTree(t, got)
	var names []string
	for n := range w {
		names = append(names, n)
	}
	sort.Strings(names)
	inoMap, revMap := map[uint64]uint64{}, map[uint64]uint64{}
	for _, n := range names {
		we := w[n]
		ge, ok := g[n]
		if !ok {
			t.Errorf("%s: missing in copy", n)
			continue
		}
		if we.mode != ge.mode {
			t.Errorf("%s: mode %v, want %v", n, ge.mode, we.mode)
		}
		if we.uid != ge.uid || we.gid != ge.gid {
			t.Errorf("%s: owner %d:%d, want %d:%d", n, ge.uid, ge.gid, we.uid, we.gid)
		}
		if we.rdev != ge.rdev {
			t.Errorf("%s: rdev %d, want %d", n, ge.rdev, we.rdev)
		}
		if we.target != ge.target {
			t.Errorf("%s: symlink target %q, want %q", n, ge.target, we.target)
		}
		if !bytes.Equal(we.content, ge.content) {
			t.Errorf("%s: content differs", n)
		}
		if len(we.xattrs) != len(ge.xattrs) {
			t.Errorf("%s: xattrs %v, want %v", n, ge.xattrs, we.xattrs)
		}
		for k, v := range we.xattrs {
			if ge.xattrs[k] != v {
				t.Errorf("%s: xattr %s = %q, want %q", n, k, ge.xattrs[k], v)
			}
		}
		if we.mode.IsRegular() {
			if prev, ok := inoMap[we.ino]; ok && prev != ge.ino {
				t.Errorf("%s: hardlink broken in copy", n)
			}
			if prev, ok := revMap[ge.ino]; ok && prev != we.ino {
				t.Errorf("%s: hardlinked to an unrelated file in copy", n)
			}
			inoMap[we.ino], revMap[ge.ino] = ge.ino, we.ino
		}
	}
	for n := range g {
		if _, ok := w[n]; !ok {
			t.Errorf("%s: extra entry in copy", n)
		}
	}
	if w["rootfs/hard1"].ino != w["rootfs/hard2"].ino || g["rootfs/hard1"].ino != g["rootfs/hard2"].ino {
		t.Errorf("hard1 and hard2 are not the same inode")
	}
	if isRoot() && g["rootfs/dev/null"].mode&fs.ModeCharDevice == 0 {
		t.Errorf("device node not copied")
	}
}
