package hostlimits

import (
	"errors"
	"fmt"
	"os"
	"strconv"
)

// raisable are the sysctls lxmgrd raises at start, in the order written,
// with the values it wants. They are safe to raise: they only cap kernel
// tables and per-user counters, and raising them costs nothing until used.
// The first eight are the values scripts/setup.sh persists in
// /etc/sysctl.d/60-lxmgr.conf. The neighbour GC thresholds 1 and 2 keep
// gc_thresh1 <= gc_thresh2 <= gc_thresh3 (each thresh3 is written before
// them), so that a bridge with hundreds of guests is not garbage-collected
// every few seconds. pid_max goes to the kernel's maximum on 64-bit hosts
// (PID_MAX_LIMIT); a 32-bit kernel refuses it and Raise reports that.
var raisable = []struct {
	name string
	want int64
}{
	{"fs.inotify.max_user_instances", 65536},
	{"fs.inotify.max_user_watches", 1048576},
	{"fs.inotify.max_queued_events", 1048576},
	{"kernel.keys.maxkeys", 5000},
	{"kernel.keys.maxbytes", 5000000},
	{"net.ipv4.neigh.default.gc_thresh3", 8192},
	{"net.ipv6.neigh.default.gc_thresh3", 8192},
	{"vm.max_map_count", 262144},
	{"net.ipv4.neigh.default.gc_thresh2", 4096},
	{"net.ipv6.neigh.default.gc_thresh2", 4096},
	{"net.ipv4.neigh.default.gc_thresh1", 1024},
	{"net.ipv6.neigh.default.gc_thresh1", 1024},
	{"kernel.pid_max", 4194304},
}

// wanted maps each raisable sysctl to the value Raise wants.
var wanted = func() map[string]int64 {
	m := make(map[string]int64, len(raisable))
	for _, r := range raisable {
		m[r.name] = r.want
	}
	return m
}()

func isRaisable(name string) bool {
	_, ok := wanted[name]
	return ok
}

// Raise writes the raisable sysctls (below root's proc/sys) that are below
// lxmgr's wanted values, and returns what it changed, one line each
// ("fs.inotify.max_user_instances 128 -> 8192"). It never lowers a value,
// so a second call changes nothing. A sysctl this kernel does not have (no
// IPv6, no keys) is skipped; any other failure is returned, joined, after
// every other sysctl was tried. The neighbour tables are those of the
// caller's network namespace. Root is "/" in production.
func Raise(root string) ([]string, error) {
	if err := isDir(root); err != nil {
		return nil, err
	}
	var changed []string
	var errs []error
	for _, r := range raisable {
		path := sysctlPath(root, r.name)
		cur, err := readInt(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", r.name, err))
			continue
		}
		if cur >= r.want {
			continue
		}
		// O_TRUNC without O_CREATE: a sysctl that vanished is not created
		// as a plain file.
		if err := writeExisting(path, strconv.FormatInt(r.want, 10)+"\n"); err != nil {
			errs = append(errs, fmt.Errorf("raise %s from %d to %d: %w", r.name, cur, r.want, err))
			continue
		}
		changed = append(changed, fmt.Sprintf("%s %d -> %d", r.name, cur, r.want))
	}
	return changed, errors.Join(errs...)
}

// writeExisting writes data to an existing file in one write, as sysctl
// files expect.
func writeExisting(path, data string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
