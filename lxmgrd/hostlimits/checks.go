package hostlimits

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// Per-guest estimates, for an idle Debian guest running systemd (the
// heaviest common guest; busybox-init guests use a tenth of it or less),
// and what the host keeps for itself. They are deliberately round: the
// point is which limit fails first and roughly where, not the exact guest.
const (
	// systemd (about 5), journald, logind, dbus, networkd and resolved
	// each hold an inotify instance or two.
	inotifyInstancesPerGuest = 10
	inotifyInstancesReserve  = 16 // the host's own root processes
	// The same processes watch unit, config and runtime directories.
	inotifyWatchesPerGuest = 500
	inotifyWatchesReserve  = 2048
	// systemd gives each service its own session keyring plus an
	// invocation-id key, charged to the guest's root.
	keysPerGuest     = 50
	keyBytesPerGuest = 5000
	// The host side of a bridge learns one neighbour entry per guest for
	// IPv4 and two for IPv6 (link-local and global).
	neighV4PerGuest = 1
	neighV6PerGuest = 2
	neighReserve    = 128 // the host's neighbours on its other links
	// Tasks (processes and threads) of a systemd guest, its liblxc monitor
	// included; a busybox guest has about 3.
	tasksPerGuest = 30
	tasksReserve  = 1024
	// Open files of a whole systemd guest.
	filesPerGuest = 500
	filesReserve  = 8192
	// lxmgrd's own descriptors per guest: proxy listeners, console and
	// exec streams, liblxc command sockets in flight.
	daemonFDsPerGuest = 4
	daemonFDsReserve  = 256
	// Each guest has its own 65536 ids (isolated idmap).
	idsPerGuest = 65536
	// Memory of an idle Debian 12 guest, measured: its memory cgroup holds
	// 42MiB (8 anonymous, 32 page cache of which 18 mapped, 3 kernel),
	// of which about 30 are its working set, since snapshots of one image
	// on btrfs share no page cache; plus liblxc's 0.4MiB monitor. A
	// 24GiB host began to thrash at about 780 such guests, where this
	// estimate puts the limit. Busybox guests use about 1.7MiB.
	memPerGuest = 32 << 20
	memReserve  = 512 << 20
)

// wantedControllers are the cgroup controllers that guest limits need:
// limits.memory, limits.processes, limits.cpu (cpuset and cpu shares).
var wantedControllers = []string{"cpu", "cpuset", "memory", "pids"}

// checks returns every check, in the order they are shown.
func (h host) checks() []Check {
	return []Check{
		h.sysctlScaled("fs.inotify.max_user_instances", inotifyInstancesPerGuest, inotifyInstancesReserve,
			"per user, but every guest's instances are also charged to root, which owns each guest's user namespace, so this caps all guests together (their own uid ranges do not help): lxmgrd raises it to 65536 at start; persist it in /etc/sysctl.d/60-lxmgr.conf (scripts/setup.sh)"),
		h.sysctlScaled("fs.inotify.max_user_watches", inotifyWatchesPerGuest, inotifyWatchesReserve,
			"per user, charged like the instances to root, which owns each guest's user namespace, so it caps all guests together: lxmgrd raises it to 1048576 at start; persist it in /etc/sysctl.d/60-lxmgr.conf (scripts/setup.sh)"),
		h.sysctlPerGuest("kernel.keys.maxkeys", keysPerGuest,
			"per uid: each guest's root is its own uid (isolated idmap), so this bounds one guest (systemd takes a keyring per service), not the count; guests sharing an idmap share it: lxmgrd raises it to 5000 at start"),
		h.sysctlPerGuest("kernel.keys.maxbytes", keyBytesPerGuest,
			"per uid, like kernel.keys.maxkeys: bounds one guest's keyrings, not the count: lxmgrd raises it to 5000000 at start"),
		h.sysctlScaled("net.ipv4.neigh.default.gc_thresh3", neighV4PerGuest, neighReserve,
			"hard cap of the IPv4 neighbour table of lxmgrd's network namespace, one entry per guest on a bridge; past it the kernel drops entries (neighbour table overflow) and guests lose traffic: lxmgrd raises it to 8192 at start"),
		h.sysctlScaled("net.ipv6.neigh.default.gc_thresh3", neighV6PerGuest, neighReserve,
			"hard cap of the IPv6 neighbour table, two entries per guest (link-local and global): lxmgrd raises it to 8192 at start"),
		h.sysctlScaled("kernel.pid_max", tasksPerGuest, tasksReserve,
			"every task of every guest also takes a pid of the host (about 30 per systemd guest, 3 per busybox guest): lxmgrd raises it to 4194304 at start"),
		h.sysctlScaled("kernel.threads-max", tasksPerGuest, tasksReserve,
			"cap on all tasks of the host, sized by the kernel from memory: raise it with sysctl kernel.threads-max=N in /etc/sysctl.d"),
		h.sysctlScaled("fs.file-max", filesPerGuest, filesReserve,
			"open files of the whole host, about 500 per systemd guest: raise it with sysctl fs.file-max=N in /etc/sysctl.d"),
		h.sysctlScaled("fs.nr_open", daemonFDsPerGuest, daemonFDsReserve,
			"ceiling of any process's open-file limit, lxmgrd's included: raise it with sysctl fs.nr_open=N in /etc/sysctl.d"),
		h.daemonFiles(),
		h.subIDs("/etc/subuid"),
		h.subIDs("/etc/subgid"),
		h.cgroups(),
		h.maxMapCount(),
		h.memory(),
	}
}

// sysctlScaled checks a sysctl that all guests share.
func (h host) sysctlScaled(name string, perGuest float64, reserve int64, advice string) Check {
	v, err := readInt(sysctlPath(h.root, name))
	if err != nil {
		return unknown(name, perGuest, isRaisable(name), err)
	}
	return h.scaled(name, v, perGuest, reserve, isRaisable(name), advice)
}

// sysctlPerGuest checks a sysctl that each guest has for itself.
func (h host) sysctlPerGuest(name string, need int64, advice string) Check {
	v, err := readInt(sysctlPath(h.root, name))
	if err != nil {
		return unknown(name, float64(need), isRaisable(name), err)
	}
	return perGuestLimit(name, v, need, isRaisable(name), advice)
}

// maxMapCount is per process: it bounds no count, but databases and JVMs in
// guests want the value scripts/setup.sh sets.
func (h host) maxMapCount() Check {
	const name = "vm.max_map_count"
	v, err := readInt(sysctlPath(h.root, name))
	if err != nil {
		return unknown(name, 0, true, err)
	}
	c := perGuestLimit(name, v, wanted[name], true,
		"memory maps one process may have: not a count limit, but databases and JVMs in guests want 262144: lxmgrd raises it at start")
	c.PerGuest = 0
	return c
}

// daemonFiles checks lxmgrd's own RLIMIT_NOFILE, read from the caller's
// /proc/self/limits (Inspect runs inside lxmgrd). Go raises the soft limit
// to the hard one at start, so the soft value is what the daemon has.
func (h host) daemonFiles() Check {
	const name = "lxmgrd RLIMIT_NOFILE"
	v, err := openFilesLimit(h.path("proc/self/limits"))
	if err != nil {
		return unknown(name, daemonFDsPerGuest, false, err)
	}
	return h.scaled(name, v, daemonFDsPerGuest, daemonFDsReserve, false,
		"open files lxmgrd itself may hold, a few per guest: raise its hard limit (LimitNOFILE= in lxmgrd.service, or ulimit -Hn) and restart the daemon")
}

// openFilesLimit returns the soft "Max open files" of a limits file
// ("unlimited" counts as the largest value).
func openFilesLimit(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Max open files")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			break
		}
		if fields[0] == "unlimited" {
			return 1 << 62, nil
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s: %w", path, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return 0, fmt.Errorf("no \"Max open files\" line in %s", path)
}

// subIDs checks root's largest subordinate id range, the one lxmgrd slices
// into one 65536-id range per guest. A missing file is a range of 0.
func (h host) subIDs(file string) Check {
	name := file + " root range"
	size, err := largestRootRange(h.path(file))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return unknown(name, idsPerGuest, false, err)
	}
	return h.scaled(name, size, idsPerGuest, 0, false,
		"each guest takes its own 65536 ids (isolated idmap) from root's largest range: add \"root:1000000:1000000000\" to "+file+" (scripts/setup.sh does)")
}

// largestRootRange returns the size of root's largest range in a subid file.
func largestRootRange(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var size int64
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.Split(strings.TrimSpace(line), ":")
		if len(parts) != 3 || (parts[0] != "root" && parts[0] != "0") {
			continue
		}
		if n, err := strconv.ParseInt(parts[2], 10, 64); err == nil && n > size {
			size = n
		}
	}
	return size, nil
}

// cgroups checks that the controllers guest limits need are usable, from
// cgroup v1 (/proc/cgroups: enabled and mounted on a hierarchy) or v2 (the
// root's cgroup.controllers, also in the hybrid layout's "unified" mount).
func (h host) cgroups() Check {
	const name = "cgroup controllers"
	v1, err1 := cgroupV1(h.path("proc/cgroups"))
	v2, err2 := readWords(h.path("sys/fs/cgroup/cgroup.controllers"))
	if err2 != nil {
		v2, err2 = readWords(h.path("sys/fs/cgroup/unified/cgroup.controllers"))
	}
	if err1 != nil && err2 != nil {
		return unknown(name, 0, false, errors.Join(err1, err2))
	}
	var fromV1, fromV2, missing []string
	for _, c := range wantedControllers {
		switch {
		case slices.Contains(v2, c):
			fromV2 = append(fromV2, c)
		case slices.Contains(v1, c):
			fromV1 = append(fromV1, c)
		default:
			missing = append(missing, c)
		}
	}
	var cur []string
	if len(fromV1) > 0 {
		cur = append(cur, "v1: "+strings.Join(fromV1, ","))
	}
	if len(fromV2) > 0 {
		cur = append(cur, "v2: "+strings.Join(fromV2, ","))
	}
	if len(cur) == 0 {
		cur = []string{"none"}
	}
	advice := "limits.memory, limits.processes and limits.cpu need the memory, pids, cpu and cpuset controllers (v1 or v2)"
	if len(missing) > 0 {
		advice = "missing " + strings.Join(missing, ",") + ": guests with limits using them cannot start; enable them (kernel command line, cgroup mounts)"
	}
	return Check{
		Name: name, Current: strings.Join(cur, "; "), Needed: strings.Join(wantedControllers, ","),
		MaxGuests: Unlimited, OK: len(missing) == 0, Advice: advice,
	}
}

// cgroupV1 returns the controllers /proc/cgroups lists as enabled and
// mounted on a v1 hierarchy (hierarchy 0 means v2 or unmounted).
func cgroupV1(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[1] != "0" && f[3] == "1" {
			out = append(out, f[0])
		}
	}
	return out, nil
}

func readWords(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// memory checks MemTotal, less a reserve for the host, against the
// per-guest estimate. MemTotal rather than MemAvailable: running guests
// already use part of what is available, and the count is of all guests.
func (h host) memory() Check {
	const name = "memory"
	info, err := meminfo(h.path("proc/meminfo"))
	if err != nil {
		return unknown(name, memPerGuest, false, err)
	}
	total, ok := info["MemTotal"]
	if !ok {
		return unknown(name, memPerGuest, false, errors.New("no MemTotal in /proc/meminfo"))
	}
	c := h.scaledFmt(name, total, memPerGuest, memReserve, false,
		"estimate 32MiB of working set per idle Debian systemd guest (2MiB busybox) plus 512MiB for the host; busy sites use more: add memory or measure real use with lxmgr info",
		api.HumanBytes)
	if avail, ok := info["MemAvailable"]; ok {
		c.Current += " (" + api.HumanBytes(avail) + " available)"
	}
	return c
}

// meminfo returns the byte values of /proc/meminfo.
func meminfo(path string) (map[string]int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) >= 3 && f[2] == "kB" {
			v *= 1024
		}
		out[strings.TrimSuffix(f[0], ":")] = v
	}
	return out, nil
}
