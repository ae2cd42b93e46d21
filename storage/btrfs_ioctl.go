package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Subvolumes are made, snapshotted and deleted with ioctls rather than the
// btrfs tool: a snapshot is then a millisecond-scale call, which is what
// makes launching from an image cheap.

// Kernel ABI of linux/btrfs.h.
const (
	btrfsIocSubvolCreate   = 0x5000940e // _IOW(0x94, 14, btrfs_ioctl_vol_args)
	btrfsIocSnapDestroy    = 0x5000940f // _IOW(0x94, 15, btrfs_ioctl_vol_args)
	btrfsIocSnapCreateV2   = 0x50009417 // _IOW(0x94, 23, btrfs_ioctl_vol_args_v2)
	btrfsIocSubvolGetflags = 0x80089419 // _IOR(0x94, 25, u64)
	btrfsIocSubvolSetflags = 0x4008941a // _IOW(0x94, 26, u64)
	btrfsIocFsInfo         = 0x8400941f // _IOR(0x94, 31, btrfs_ioctl_fs_info_args)
	btrfsSubvolRdonly      = 1 << 1
	// btrfsFirstFreeObjectid is the inode number of every subvolume's
	// root directory.
	btrfsFirstFreeObjectid = 256
)

// btrfsVolArgs is struct btrfs_ioctl_vol_args.
type btrfsVolArgs struct {
	fd   int64
	name [4088]byte
}

// btrfsVolArgsV2 is struct btrfs_ioctl_vol_args_v2 (the unions as their
// largest members).
type btrfsVolArgsV2 struct {
	fd      int64
	transid uint64
	flags   uint64
	unused  [4]uint64
	name    [4040]byte
}

// btrfsFsInfoArgs is struct btrfs_ioctl_fs_info_args (1024 bytes).
type btrfsFsInfoArgs struct {
	maxID          uint64
	numDevices     uint64
	fsid           [16]byte
	nodesize       uint32
	sectorsize     uint32
	cloneAlignment uint32
	csumType       uint16
	csumSize       uint16
	flags          uint64
	generation     uint64
	metadataUUID   [16]byte
	reserved       [944]byte
}

// quotasOn reports whether qgroups are enabled on the btrfs filesystem
// holding path, from sysfs (/sys/fs/btrfs/FSID/qgroups exists exactly
// then), so that creating a volume starts no btrfs tool just to learn that
// there are no quotas. known is false when sysfs cannot tell.
func quotasOn(path string) (on, known bool) {
	f, err := openDir(path)
	if err != nil {
		return false, false
	}
	defer f.Close()
	var args btrfsFsInfoArgs
	if err := ioctlPtr(f.Fd(), btrfsIocFsInfo, unsafe.Pointer(&args)); err != nil {
		return false, false
	}
	u := args.fsid
	dir := fmt.Sprintf("/sys/fs/btrfs/%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	if _, err := os.Stat(dir); err != nil {
		return false, false
	}
	_, err = os.Stat(filepath.Join(dir, "qgroups"))
	return err == nil, true
}

func ioctlPtr(fd uintptr, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// openDir opens a directory for ioctls.
func openDir(path string) (*os.File, error) {
	return os.OpenFile(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// setName copies name into a fixed-size ioctl buffer.
func setName(buf []byte, name string) error {
	if len(name) >= len(buf) {
		return fmt.Errorf("subvolume name %q too long", name)
	}
	copy(buf, name)
	return nil
}

// subvolCreate makes an empty subvolume at path.
func subvolCreate(path string) error {
	parent, err := openDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer parent.Close()
	var args btrfsVolArgs
	if err := setName(args.name[:], filepath.Base(path)); err != nil {
		return err
	}
	if err := ioctlPtr(parent.Fd(), btrfsIocSubvolCreate, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("create subvolume %q: %w", path, err)
	}
	return nil
}

// subvolSnapshot makes dst a snapshot of the subvolume src.
func subvolSnapshot(src, dst string, readonly bool) error {
	s, err := openDir(src)
	if err != nil {
		return err
	}
	defer s.Close()
	parent, err := openDir(filepath.Dir(dst))
	if err != nil {
		return err
	}
	defer parent.Close()
	args := btrfsVolArgsV2{fd: int64(s.Fd())}
	if readonly {
		args.flags = btrfsSubvolRdonly
	}
	if err := setName(args.name[:], filepath.Base(dst)); err != nil {
		return err
	}
	if err := ioctlPtr(parent.Fd(), btrfsIocSnapCreateV2, unsafe.Pointer(&args)); err != nil {
		return fmt.Errorf("snapshot %q to %q: %w", src, dst, err)
	}
	return nil
}

// subvolReadonly reports whether the subvolume at path is read-only.
func subvolReadonly(path string) (bool, error) {
	f, err := openDir(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var flags uint64
	if err := ioctlPtr(f.Fd(), btrfsIocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return false, fmt.Errorf("get flags of subvolume %q: %w", path, err)
	}
	return flags&btrfsSubvolRdonly != 0, nil
}

// subvolSetReadonly sets or clears the read-only flag of a subvolume.
func subvolSetReadonly(path string, readonly bool) error {
	f, err := openDir(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var flags uint64
	if err := ioctlPtr(f.Fd(), btrfsIocSubvolGetflags, unsafe.Pointer(&flags)); err != nil {
		return fmt.Errorf("get flags of subvolume %q: %w", path, err)
	}
	want := flags &^ btrfsSubvolRdonly
	if readonly {
		want |= btrfsSubvolRdonly
	}
	if want == flags {
		return nil
	}
	if err := ioctlPtr(f.Fd(), btrfsIocSubvolSetflags, unsafe.Pointer(&want)); err != nil {
		return fmt.Errorf("set flags of subvolume %q: %w", path, err)
	}
	return nil
}

// isSubvol reports whether path is the root of a btrfs subvolume.
func isSubvol(path string) (bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Ino != btrfsFirstFreeObjectid {
		return false, nil
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return false, err
	}
	return sfs.Type == unix.BTRFS_SUPER_MAGIC, nil
}

// btrfsRemove removes path: a subvolume (with any subvolumes nested in it),
// a directory (recursing, since it may hold subvolumes) or anything else.
// A missing path is not an error.
func btrfsRemove(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if !st.IsDir() {
		return os.Remove(path)
	}
	sub, err := isSubvol(path)
	if err != nil {
		return err
	}
	if sub {
		return subvolDelete(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := btrfsRemove(filepath.Join(path, e.Name())); err != nil {
			return err
		}
	}
	return os.Remove(path)
}

// subvolDelete deletes the subvolume at path. The kernel refuses a
// subvolume holding other subvolumes (ENOTEMPTY); those are found by a walk
// (only then, walks are slow on a full rootfs) and deleted first, after
// making path writable since their entries live in it.
func subvolDelete(path string) error {
	err := snapDestroy(path)
	if !errors.Is(err, unix.ENOTEMPTY) {
		return err
	}
	if err := subvolSetReadonly(path, false); err != nil {
		return err
	}
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == path || !e.IsDir() {
			return err
		}
		sub, err := isSubvol(p)
		if err != nil || !sub {
			return err
		}
		if err := subvolDelete(p); err != nil {
			return err
		}
		return fs.SkipDir
	})
	if err != nil {
		return err
	}
	return snapDestroy(path)
}

func snapDestroy(path string) error {
	parent, err := openDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer parent.Close()
	var args btrfsVolArgs
	if err := setName(args.name[:], filepath.Base(path)); err != nil {
		return err
	}
	if err := ioctlPtr(parent.Fd(), btrfsIocSnapDestroy, unsafe.Pointer(&args)); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("delete subvolume %q: %w", path, err)
	}
	return nil
}
