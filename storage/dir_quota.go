package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Project quotas: every file of a limited dir volume carries the volume's
// project id (directories with the inherit flag, so new files get it too)
// and the kernel limits the blocks of that project. The project id is the
// volume directory's inode number: unique on the filesystem while the
// volume exists, and it survives renames, so no registry is needed.

// Kernel ABI constants (linux/quota.h, linux/fs.h); x/sys lacks them.
const (
	qGetInfo           = 0x800005
	qGetQuota          = 0x800007
	qSetQuota          = 0x800008
	prjQuota           = 2
	qifBLimits         = 1
	fsIocFsGetXattr    = 0x801c581f
	fsIocFsSetXattr    = 0x401c5820
	fsXflagProjInherit = 0x200
)

// qcmd is QCMD(cmd, type).
func qcmd(cmd, typ uint32) uintptr { return uintptr(cmd<<8 | typ) }

// ifDqblk is struct if_dqblk; limits are in 1KiB blocks.
type ifDqblk struct {
	bHardLimit uint64
	bSoftLimit uint64
	curSpace   uint64
	iHardLimit uint64
	iSoftLimit uint64
	curInodes  uint64
	bTime      uint64
	iTime      uint64
	valid      uint32
	_          uint32
}

// ifDqinfo is struct if_dqinfo.
type ifDqinfo struct {
	bGrace uint64
	iGrace uint64
	flags  uint32
	valid  uint32
}

// fsxattr is struct fsxattr.
type fsxattr struct {
	xflags     uint32
	extsize    uint32
	nextents   uint32
	projid     uint32
	cowextsize uint32
	pad        [8]byte
}

// projectQuota limits directories of one filesystem with project quotas.
type projectQuota struct {
	root string // any directory on the filesystem, for quotactl_fd
}

// openProjectQuota returns a handle if the filesystem of root (ext4 or xfs)
// has project quotas turned on, nil if it has not.
func openProjectQuota(root string) (*projectQuota, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return nil, err
	}
	if st.Type != unix.EXT4_SUPER_MAGIC && st.Type != unix.XFS_SUPER_MAGIC {
		return nil, nil
	}
	q := &projectQuota{root: root}
	var info ifDqinfo
	if err := q.quotactl(qGetInfo, 0, unsafe.Pointer(&info)); err != nil {
		return nil, nil // ESRCH: quotas off; ENOSYS: old kernel; either way none
	}
	return q, nil
}

func (q *projectQuota) quotactl(cmd uint32, id uint32, addr unsafe.Pointer) error {
	f, err := os.Open(q.root)
	if err != nil {
		return err
	}
	defer f.Close()
	_, _, errno := unix.Syscall6(unix.SYS_QUOTACTL_FD, f.Fd(), qcmd(cmd, prjQuota), uintptr(id), uintptr(addr), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// projectID returns the project id a volume at path gets.
func projectID(path string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, err
	}
	if st.Ino == 0 || st.Ino > math.MaxUint32 {
		return 0, fmt.Errorf("inode number %d of %q cannot be a project id", st.Ino, path)
	}
	return uint32(st.Ino), nil
}

// set labels the tree at path with its project id (unless already done)
// and limits the project to bytes (0: no limit). Labelling comes first: the
// kernel refuses to move a file into a project that is over its limit.
func (q *projectQuota) set(ctx context.Context, path string, bytes int64) error {
	id, err := projectID(path)
	if err != nil {
		return err
	}
	cur, err := getFsxattr(path)
	if err != nil {
		return err
	}
	if cur.projid != id || cur.xflags&fsXflagProjInherit == 0 {
		if err := labelTree(ctx, path, id); err != nil {
			return fmt.Errorf("set project %d on %q: %w", id, path, err)
		}
	}
	dq := ifDqblk{bHardLimit: uint64((bytes + 1023) / 1024), valid: qifBLimits}
	if err := q.quotactl(qSetQuota, id, unsafe.Pointer(&dq)); err != nil {
		return fmt.Errorf("set quota of project %d: %w", id, err)
	}
	return nil
}

// get returns the limit of the volume at path, 0 if it has none.
func (q *projectQuota) get(path string) (int64, error) {
	cur, err := getFsxattr(path)
	if err != nil {
		return 0, err
	}
	if id, err := projectID(path); err != nil || cur.projid != id {
		return 0, err
	}
	var dq ifDqblk
	if err := q.quotactl(qGetQuota, cur.projid, unsafe.Pointer(&dq)); err != nil {
		if errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) {
			return 0, nil
		}
		return 0, fmt.Errorf("get quota of project %d: %w", cur.projid, err)
	}
	return int64(dq.bHardLimit) * 1024, nil
}

// labelTree gives every directory and regular file under root the project
// id; symlinks, devices and fifos cannot be opened for the ioctl and use
// next to no blocks.
func labelTree(ctx context.Context, root string, id uint32) error {
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.IsDir() && !e.Type().IsRegular() {
			return nil
		}
		return setProject(p, id, e.IsDir())
	})
}

func getFsxattr(path string) (fsxattr, error) {
	var x fsxattr
	f, err := os.OpenFile(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return x, err
	}
	defer f.Close()
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFsGetXattr, uintptr(unsafe.Pointer(&x))); errno != 0 {
		return x, fmt.Errorf("get attributes of %q: %w", path, errno)
	}
	return x, nil
}

func setProject(path string, id uint32, dir bool) error {
	f, err := os.OpenFile(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var x fsxattr
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFsGetXattr, uintptr(unsafe.Pointer(&x))); errno != 0 {
		return fmt.Errorf("get attributes of %q: %w", path, errno)
	}
	x.projid = id
	if dir {
		x.xflags |= fsXflagProjInherit
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), fsIocFsSetXattr, uintptr(unsafe.Pointer(&x))); errno != 0 {
		return fmt.Errorf("set project of %q: %w", path, errno)
	}
	return nil
}
