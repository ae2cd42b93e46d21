package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// A loop pool is a filesystem in a sparse file, attached to a loop device
// and mounted on the pool root. The same file must never be attached
// twice: two loop devices would let the filesystem be mounted twice as if
// it were two, which corrupts it. So Init reuses the loop device already
// backed by the file (a daemon restarted in a fresh mount namespace while
// its old mount lives on elsewhere finds it that way), and attaches a new
// one only when there is none. New devices are attached with autoclear:
// the kernel detaches them when the last mount goes away.

// loopFile creates the loop file: sparse, size bytes, formatted by mkfs
// under a temporary name and renamed into place, so an existing file is
// always a formatted one and mkfs runs once.
func loopFile(ctx context.Context, file string, size int64, mkfs ...string) error {
	if _, err := os.Stat(file); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		args := append(append([]string{}, mkfs[1:]...), tmp)
		if out, cerr := exec.CommandContext(ctx, mkfs[0], args...).CombinedOutput(); cerr != nil {
			err = fmt.Errorf("%s: %w: %s", mkfs[0], cerr, strings.TrimSpace(string(out)))
		}
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("create loop file %q: %w", file, err)
	}
	return nil
}

// findLoop returns the loop device backed by file ("" if none), matched by
// device and inode numbers rather than by name, which may be stale.
func findLoop(file string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(file, &st); err != nil {
		return "", err
	}
	devs, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return "", err
	}
	for _, b := range devs {
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(b)))
		f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // detached meanwhile, or no node
		}
		info, err := unix.IoctlLoopGetStatus64(int(f.Fd()))
		f.Close()
		if err != nil {
			continue
		}
		if info.Inode == st.Ino && info.Device == st.Dev {
			return dev, nil
		}
	}
	return "", nil
}

// attachLoop attaches file to a free loop device with autoclear and
// returns it open: autoclear detaches the device as soon as nothing holds
// it, so the caller keeps it open until the filesystem is mounted.
func attachLoop(file string) (*os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer ctl.Close()
	backing, err := os.OpenFile(file, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer backing.Close()
	for range 10 {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("get free loop device: %w", err)
		}
		dev, err := os.OpenFile(fmt.Sprintf("/dev/loop%d", n), os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(backing.Fd())}
		// No direct I/O: btrfs caches each snapshot's files apart, so the
		// backing file's page cache is what the guests launched from one
		// image share; without it every new guest reads its boot from disk
		// (measured: +60 ms per launch).
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:len(cfg.Info.File_name)-1], file)
		err = unix.IoctlLoopConfigure(int(dev.Fd()), &cfg)
		if err == nil {
			return dev, nil
		}
		dev.Close()
		if !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("attach %q to loop%d: %w", file, n, err)
		}
		// Someone took the device between GET_FREE and CONFIGURE.
	}
	return nil, fmt.Errorf("attach %q: no free loop device", file)
}

// mountedDevice returns the source of the mount at point in this mount
// namespace with fstype, "" if none; err if something else is mounted
// there.
func mountedDevice(point, fstype string) (string, error) {
	mounts, err := readMountInfo()
	if err != nil {
		return "", err
	}
	src := ""
	for _, m := range mounts {
		if m.point != point {
			continue
		}
		if m.fstype != fstype {
			src = ""
			err = fmt.Errorf("%q is a mount of %s %q, not of the pool", point, m.fstype, m.source)
			continue
		}
		src, err = m.source, nil // the last mount on a point is the visible one
	}
	return src, err
}

// mountLoop makes file's filesystem mounted on point (with the mount data
// options), reusing the loop device and mount that exist. It retries once
// when a found device is detached (autoclear) before it could be mounted.
func mountLoop(file, point, fstype, options string) error {
	if err := os.MkdirAll(point, modeRoot); err != nil {
		return err
	}
	var lastErr error
	for range 2 {
		dev, err := findLoop(file)
		if err != nil {
			return err
		}
		if dev != "" {
			src, err := mountedDevice(point, fstype)
			if err != nil {
				return err
			}
			if src == dev {
				return nil
			}
			if err := unix.Mount(dev, point, fstype, 0, options); err != nil {
				lastErr = fmt.Errorf("mount %s on %q: %w", dev, point, err)
				continue
			}
			return nil
		}
		if src, err := mountedDevice(point, fstype); err != nil {
			return err
		} else if src != "" {
			return fmt.Errorf("%q is a mount of %s, not of %q", point, src, file)
		}
		f, err := attachLoop(file)
		if err != nil {
			return err
		}
		err = unix.Mount(f.Name(), point, fstype, 0, options)
		f.Close()
		if err != nil {
			return fmt.Errorf("mount %s on %q: %w", f.Name(), point, err)
		}
		return nil
	}
	return lastErr
}

// unmountLoop unmounts point if file's filesystem is mounted there, then
// detaches the loop device if still attached (a mount in another namespace
// keeps it; LOOP_CLR_FD then makes it detach when that mount goes).
func unmountLoop(file, point, fstype string) error {
	dev, err := findLoop(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if dev == "" {
		return nil
	}
	for {
		src, err := mountedDevice(point, fstype)
		if err != nil || src != dev {
			break
		}
		if err := unix.Unmount(point, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("unmount %q: %w", point, ErrBusy)
			}
			return fmt.Errorf("unmount %q: %w", point, err)
		}
	}
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil // already gone
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("detach %s: %w", dev, err)
	}
	return nil
}

// growLoop enlarges file to size bytes and tells its loop device.
func growLoop(file string, size int64) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if size < st.Size() {
		return notSupported("shrinking is not supported (%d bytes now, asked for %d)", st.Size(), size)
	}
	if size == st.Size() {
		return nil
	}
	if err := os.Truncate(file, size); err != nil {
		return err
	}
	dev, err := findLoop(file)
	if err != nil || dev == "" {
		return err
	}
	f, err := os.OpenFile(dev, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.IoctlSetInt(int(f.Fd()), unix.LOOP_SET_CAPACITY, 0); err != nil {
		return fmt.Errorf("resize %s: %w", dev, err)
	}
	return nil
}

// removeFile removes a file; a missing one is not an error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
