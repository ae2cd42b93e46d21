package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
)

// guestRoot opens an instance's rootfs directory. Every path below it is
// resolved with openat2(RESOLVE_IN_ROOT): ".." and absolute symlinks stop at
// the guest's root, so a symlink in the guest can never reach the host.
func (d *daemon) guestRoot(r *http.Request) (*os.File, string, error) {
	name := r.PathValue("name")
	inst, _, err := d.loadInstance(r.Context(), name)
	if err != nil {
		return nil, "", err
	}
	p := r.URL.Query().Get("path")
	if p == "" || !strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return nil, "", fmt.Errorf("%w: path must be absolute, got %q", api.ErrInvalid, p)
	}
	pool, err := d.pool(inst.Pool)
	if err != nil {
		return nil, "", err
	}
	root, err := os.Open(filepath.Join(pool.VolumePath(name), "rootfs"))
	if err != nil {
		return nil, "", fmt.Errorf("open rootfs of %q: %w", name, err)
	}
	return root, path.Clean(p), nil
}

// openIn opens p below root without leaving it.
func openIn(root *os.File, p string, flags int, mode uint32) (*os.File, error) {
	how := &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := strings.TrimPrefix(p, "/")
	if rel == "" {
		rel = "."
	}
	fd, err := unix.Openat2(int(root.Fd()), rel, how)
	if err != nil {
		return nil, mapErrno(p, err)
	}
	return os.NewFile(uintptr(fd), p), nil
}

func mapErrno(p string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%w: path %q in the instance", api.ErrNotFound, p)
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.ENOTEMPTY):
		return fmt.Errorf("%w: path %q: %v", api.ErrConflict, p, err)
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EISDIR), errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%w: path %q: %v", api.ErrInvalid, p, err)
	}
	return fmt.Errorf("path %q: %w", p, err)
}

func (d *daemon) instanceFileGet(w http.ResponseWriter, r *http.Request) {
	root, p, err := d.guestRoot(r)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer root.Close()
	f, st, err := openForRead(root, p)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer f.Close()
	w.Header().Set("X-LXD-uid", strconv.FormatUint(uint64(st.Uid), 10))
	w.Header().Set("X-LXD-gid", strconv.FormatUint(uint64(st.Gid), 10))
	w.Header().Set("X-LXD-mode", fmt.Sprintf("%04o", st.Mode&0o7777))
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		w.Header().Set("X-LXD-type", "directory")
		names, err := f.Readdirnames(-1)
		if err != nil {
			errorResponse(w, err)
			return
		}
		syncResponse(w, names)
	case unix.S_IFREG:
		w.Header().Set("X-LXD-type", "file")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(st.Size, 10))
		io.Copy(w, f)
	}
}

// notRegular is the error for a FIFO, socket or device node in the guest:
// reading a FIFO would block the request forever, and a device is no
// content to copy.
func notRegular(p string) error {
	return fmt.Errorf("%w: %q is not a regular file or directory", api.ErrInvalid, p)
}

// openForRead opens p for reading if it is a regular file or a directory.
// The type is checked on an O_PATH descriptor (opening that has no effect
// on the file), and the real open goes through that very descriptor
// (/proc/self/fd), so the guest cannot swap the file in between.
func openForRead(root *os.File, p string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	pf, err := openIn(root, p, unix.O_PATH, 0)
	if err != nil {
		return nil, st, err
	}
	defer pf.Close()
	if err := unix.Fstat(int(pf.Fd()), &st); err != nil {
		return nil, st, fmt.Errorf("stat %q: %w", p, err)
	}
	flags := unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NOCTTY
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		flags |= unix.O_DIRECTORY
	default:
		return nil, st, notRegular(p)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pf.Fd()), flags, 0)
	if err != nil {
		return nil, st, mapErrno(p, err)
	}
	return os.NewFile(uintptr(fd), p), st, nil
}

// instanceFilePost writes a file, directory or symlink (X-LXD-type) with the
// owner and mode of the X-LXD-uid/gid/mode headers. Ids are the guest's:
// the rootfs is not shifted (idmapped mounts), so they go to disk as-is.
func (d *daemon) instanceFilePost(w http.ResponseWriter, r *http.Request) {
	root, p, err := d.guestRoot(r)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer root.Close()
	if p == "/" {
		errorResponse(w, fmt.Errorf("%w: cannot write the root directory", api.ErrInvalid))
		return
	}
	uid, err1 := strconv.Atoi(headerOr(r, "X-LXD-uid", "0"))
	gid, err2 := strconv.Atoi(headerOr(r, "X-LXD-gid", "0"))
	ftype := headerOr(r, "X-LXD-type", "file")
	defMode := "0644"
	if ftype == "directory" {
		defMode = "0755"
	}
	mode, err3 := strconv.ParseUint(headerOr(r, "X-LXD-mode", defMode), 8, 32)
	if err := errors.Join(err1, err2, err3); err != nil || uid < 0 || gid < 0 || mode > 0o7777 {
		errorResponse(w, fmt.Errorf("%w: bad X-LXD-uid, X-LXD-gid or X-LXD-mode header", api.ErrInvalid))
		return
	}
	parent, err := openIn(root, path.Dir(p), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer parent.Close()
	base := path.Base(p)
	switch ftype {
	case "directory":
		err = unix.Mkdirat(int(parent.Fd()), base, uint32(mode))
		if err == nil || errors.Is(err, unix.EEXIST) {
			err = unix.Fchownat(int(parent.Fd()), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
	case "symlink":
		target, rerr := io.ReadAll(io.LimitReader(r.Body, 4096))
		if rerr != nil {
			errorResponse(w, rerr)
			return
		}
		err = unix.Symlinkat(string(target), int(parent.Fd()), base)
		if err == nil {
			err = unix.Fchownat(int(parent.Fd()), base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
	case "file":
		err = writeFile(root, p, r, uid, gid, uint32(mode))
	default:
		err = fmt.Errorf("%w: unknown X-LXD-type %q (file, directory, symlink)", api.ErrInvalid, ftype)
	}
	if err != nil {
		errorResponse(w, mapErrno(p, err))
		return
	}
	emptySync(w)
}

func writeFile(root *os.File, p string, r *http.Request, uid, gid int, mode uint32) error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
	if r.Header.Get("X-LXD-write") == "append" {
		flags = unix.O_WRONLY | unix.O_CREAT | unix.O_APPEND
	}
	// Refuse what is there and not a regular file before opening it for
	// writing (which would block on a FIFO and write into a device); the
	// check is repeated on what was opened, as the guest may swap it, and
	// O_NONBLOCK keeps that open from waiting for a FIFO's reader.
	if pf, err := openIn(root, p, unix.O_PATH, 0); err == nil {
		var st unix.Stat_t
		err = unix.Fstat(int(pf.Fd()), &st)
		pf.Close()
		if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
			return notRegular(p)
		}
	}
	f, err := openIn(root, p, flags|unix.O_NONBLOCK|unix.O_NOCTTY, mode)
	if errors.Is(err, unix.ENXIO) {
		return notRegular(p) // a FIFO without a reader, or a socket
	}
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %q: %w", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notRegular(p)
	}
	if _, err := io.Copy(f, r.Body); err != nil {
		return fmt.Errorf("write %q: %w", p, err)
	}
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	// Chmod after chown: chown clears setuid bits.
	return f.Chmod(os.FileMode(mode&0o777) | modeBits(mode))
}

func modeBits(mode uint32) os.FileMode {
	var m os.FileMode
	if mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

func (d *daemon) instanceFileDelete(w http.ResponseWriter, r *http.Request) {
	root, p, err := d.guestRoot(r)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer root.Close()
	if p == "/" {
		errorResponse(w, fmt.Errorf("%w: cannot delete the root directory", api.ErrInvalid))
		return
	}
	parent, err := openIn(root, path.Dir(p), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer parent.Close()
	base := path.Base(p)
	err = unix.Unlinkat(int(parent.Fd()), base, 0)
	if errors.Is(err, unix.EISDIR) {
		err = unix.Unlinkat(int(parent.Fd()), base, unix.AT_REMOVEDIR)
	}
	if err != nil {
		errorResponse(w, mapErrno(p, err))
		return
	}
	emptySync(w)
}

func headerOr(r *http.Request, key, def string) string {
	if v := r.Header.Get(key); v != "" {
		return v
	}
	return def
}
