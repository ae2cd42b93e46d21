package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"
)

// packOptions tunes how a rootfs is written into a tarball.
type packOptions struct {
	// ownerRoot records every entry as owned by 0:0, whoever built it
	// (the busybox image is assembled by this process, not by dpkg).
	ownerRoot bool
}

// xattrCapability is the only extended attribute carried in tarballs: file
// capabilities (ping, ...). Others (selinux labels, ...) belong to the host.
const xattrCapability = "security.capability"

// paxXattrPrefix is how GNU tar and LXD store xattrs in PAX records.
const paxXattrPrefix = "SCHILY.xattr."

// writeTarball writes metadata.yaml and rootfs into a gzip'd unified tarball
// at dest, atomically: it is written to a temporary file next to dest and
// renamed only when complete. It returns the sha256 hex and size of the file.
func writeTarball(ctx context.Context, dest, rootfs string, meta Metadata, opts packOptions) (string, int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".partial-*")
	if err != nil {
		return "", 0, fmt.Errorf("create tarball: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 1<<20)
	gz, err := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if err != nil {
		return "", 0, err
	}
	tw := tar.NewWriter(gz)
	if err := writeMetadata(tw, meta); err != nil {
		return "", 0, err
	}
	if err := packDir(ctx, tw, rootfs, "rootfs", opts); err != nil {
		return "", 0, err
	}
	for _, c := range []io.Closer{tw, gz} {
		if err := c.Close(); err != nil {
			return "", 0, fmt.Errorf("write tarball: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	st, err := tmp.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return "", 0, fmt.Errorf("write tarball: %w", err)
	}
	ok = true
	return hex.EncodeToString(h.Sum(nil)), st.Size(), nil
}

func writeMetadata(tw *tar.Writer, meta Metadata) error {
	data, err := yaml.Marshal(meta)
	if err != nil {
		return fmt.Errorf("encode metadata.yaml: %w", err)
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "metadata.yaml",
		Mode:     0o644,
		Size:     int64(len(data)),
		ModTime:  time.Unix(meta.CreationDate, 0),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write metadata.yaml: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write metadata.yaml: %w", err)
	}
	return nil
}

// inode identifies a file across hard links.
type inode struct{ dev, ino uint64 }

// packDir writes the tree at dir into tw under the name prefix, without
// following symlinks. Ownership is numeric only (no name lookups), modes keep
// setuid/setgid/sticky, a second name of an inode becomes a tar hard link and
// file capabilities are kept as PAX xattr records. Sockets are skipped.
func packDir(ctx context.Context, tw *tar.Writer, dir, prefix string, opts packOptions) error {
	links := map[inode]string{}
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("pack %s: %w", path, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := prefix
		if rel != "." {
			name = prefix + "/" + filepath.ToSlash(rel)
		}
		hdr, err := packHeader(path, name, links, opts)
		if err != nil || hdr == nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("pack %s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			return nil
		}
		return copyFileInto(tw, path, hdr.Size, buf)
	})
}

// packHeader builds the tar header of one file from its Lstat; nil means
// the file is skipped.
func packHeader(path, name string, links map[inode]string, opts packOptions) (*tar.Header, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, fmt.Errorf("pack %s: %w", path, err)
	}
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	if opts.ownerRoot {
		hdr.Uid, hdr.Gid = 0, 0
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case syscall.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", path, err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case syscall.S_IFREG:
		if st.Nlink > 1 {
			key := inode{uint64(st.Dev), st.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag = tar.TypeLink
				hdr.Linkname = first
				return hdr, nil
			}
			links[key] = name
		}
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
		if err := addCapability(path, hdr); err != nil {
			return nil, err
		}
	case syscall.S_IFCHR, syscall.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&syscall.S_IFMT == syscall.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(st.Rdev))
		hdr.Devminor = int64(unix.Minor(st.Rdev))
	case syscall.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default: // sockets only live while their server does
		return nil, nil
	}
	return hdr, nil
}

// addCapability copies a file's security.capability xattr into hdr.
func addCapability(path string, hdr *tar.Header) error {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, xattrCapability, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return nil
	case err != nil:
		return fmt.Errorf("pack %s: read %s: %w", path, xattrCapability, err)
	}
	hdr.PAXRecords = map[string]string{paxXattrPrefix + xattrCapability: string(buf[:n])}
	return nil
}

func copyFileInto(w io.Writer, path string, size int64, buf []byte) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("pack %s: %w", path, err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(w, io.LimitReader(f, size), buf); err != nil {
		return fmt.Errorf("pack %s: %w", path, err)
	}
	return nil
}
