package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// extractor writes tar entries below an os.Root, which the kernel-side
// resolution keeps inside destDir whatever the tarball holds. On top of that
// it refuses any entry below a symlink, so a tarball cannot redirect its own
// later entries even within the target.
type extractor struct {
	root  *os.Root
	opts  UnpackOptions
	dirs  map[string]bool // names known to be real directories
	times []dirTime
	buf   []byte
}

// dirTime is a directory's mtime, applied once all its children exist.
type dirTime struct {
	name  string
	mtime time.Time
}

func newExtractor(root *os.Root, opts UnpackOptions) *extractor {
	return &extractor{root: root, opts: opts, dirs: map[string]bool{}, buf: make([]byte, 1<<20)}
}

// extract writes one entry; name has been checked by entryName.
func (x *extractor) extract(hdr *tar.Header, name string, r io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if !x.opts.AllowDevices {
			return nil
		}
	}
	if err := x.parents(name, true); err != nil {
		return err
	}
	var err error
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = x.dir(hdr, name)
	case tar.TypeReg, tar.TypeGNUSparse:
		err = x.file(hdr, name, r)
	case tar.TypeSymlink:
		err = x.symlink(hdr, name)
	case tar.TypeLink:
		err = x.link(hdr, name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		err = x.node(hdr, name)
	default:
		return nil // unknown or vendor types carry nothing we need
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", name, err)
	}
	return nil
}

// parents checks that every ancestor of name is a real directory, creating
// missing ones when create is set; a symlink or other file there is unsafe.
func (x *extractor) parents(name string, create bool) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		if x.dirs[p] {
			continue
		}
		fi, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			if err := x.root.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("extract %s: %w", name, err)
		case fi.Mode().Type() == fs.ModeSymlink:
			return fmt.Errorf("%w: %q is below the symlink %q", ErrUnsafeTarball, name, p)
		case !fi.IsDir():
			return fmt.Errorf("%w: %q is below the non-directory %q", ErrUnsafeTarball, name, p)
		}
		x.dirs[p] = true
	}
	return nil
}

// clear makes room for a new entry at name. It reports whether name is
// already a real directory and the new entry is one too (then it stays).
func (x *extractor) clear(name string, wantDir bool) (bool, error) {
	fi, err := x.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if wantDir && fi.IsDir() {
		return true, nil
	}
	delete(x.dirs, name)
	// Remove never follows a symlink; it fails on a non-empty directory,
	// as tar does.
	return false, x.root.Remove(name)
}

// mode returns the permission bits of hdr, setuid/setgid/sticky included.
func mode(hdr *tar.Header) fs.FileMode {
	return hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

func (x *extractor) dir(hdr *tar.Header, name string) error {
	exists, err := x.clear(name, true)
	if err != nil {
		return err
	}
	if !exists {
		if err := x.root.Mkdir(name, 0o700); err != nil {
			return err
		}
	}
	x.dirs[name] = true
	// chown first: it clears setgid.
	if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := x.root.Chmod(name, mode(hdr)); err != nil {
		return err
	}
	x.times = append(x.times, dirTime{name, hdr.ModTime})
	return nil
}

func (x *extractor) file(hdr *tar.Header, name string, r io.Reader) error {
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	// O_EXCL: never opens an existing file, nor through a symlink.
	f, err := x.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyBuffer(f, r, x.buf); err != nil {
		return err
	}
	// Order matters: chown clears setuid bits and file capabilities.
	if err := f.Chown(hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if err := setCapability(f, hdr); err != nil {
		return err
	}
	if err := f.Chmod(mode(hdr)); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return x.root.Chtimes(name, hdr.ModTime, hdr.ModTime)
}

// setCapability restores a security.capability xattr from the PAX records.
func setCapability(f *os.File, hdr *tar.Header) error {
	val, ok := hdr.PAXRecords[paxXattrPrefix+xattrCapability]
	if !ok {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Fsetxattr(int(fd), xattrCapability, []byte(val), 0)
	}); err != nil {
		return err
	}
	if serr != nil && !errors.Is(serr, unix.ENOTSUP) {
		return fmt.Errorf("set %s: %w", xattrCapability, serr)
	}
	return nil
}

func (x *extractor) symlink(hdr *tar.Header, name string) error {
	if hdr.Linkname == "" || strings.ContainsRune(hdr.Linkname, 0) {
		return fmt.Errorf("%w: symlink %q has an invalid target", ErrUnsafeTarball, name)
	}
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	// The target is stored as-is: it is resolved inside the guest, and this
	// extractor never writes through it.
	if err := x.root.Symlink(hdr.Linkname, name); err != nil {
		return err
	}
	return x.root.Lchown(name, hdr.Uid, hdr.Gid)
}

func (x *extractor) link(hdr *tar.Header, name string) error {
	target, err := entryName(hdr.Linkname)
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("%w: hard link %q to the top directory", ErrUnsafeTarball, name)
	}
	if err := x.parents(target, false); err != nil {
		return fmt.Errorf("%w: hard link %q to %q: %w", ErrUnsafeTarball, name, target, err)
	}
	fi, err := x.root.Lstat(target)
	if err != nil {
		return fmt.Errorf("%w: hard link %q to %q: %w", ErrUnsafeTarball, name, target, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: hard link %q to the directory %q", ErrUnsafeTarball, name, target)
	}
	if target == name {
		return nil
	}
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	return x.root.Link(target, name)
}

// node creates a device node or fifo (only with AllowDevices).
func (x *extractor) node(hdr *tar.Header, name string) error {
	if _, err := x.clear(name, false); err != nil {
		return err
	}
	var typ uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	default:
		typ = unix.S_IFIFO
	}
	parent, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer parent.Close()
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	// The parent was opened through the root and base has no slash, so
	// mknodat cannot land outside.
	if err := unix.Mknodat(int(parent.Fd()), path.Base(name), typ|0o600, int(dev)); err != nil {
		return err
	}
	if err := x.root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	return x.root.Chmod(name, mode(hdr))
}

// finish applies directory mtimes, deepest last-written first, now that
// no more children will touch them.
func (x *extractor) finish() {
	for i := len(x.times) - 1; i >= 0; i-- {
		t := x.times[i]
		if fi, err := x.root.Lstat(t.name); err == nil && fi.IsDir() {
			_ = x.root.Chtimes(t.name, t.mtime, t.mtime)
		}
	}
}
