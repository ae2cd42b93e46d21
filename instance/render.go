package instance

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Host paths probed once by New. Variables so tests can point them elsewhere.
var (
	cgroup2Probe   = "/sys/fs/cgroup/cgroup.controllers"
	apparmorProbe  = "/sys/kernel/security/apparmor"
	seccompProfile = "/usr/share/lxc/config/common.seccomp"
	lxcfsDir       = "/var/lib/lxcfs"
)

// lxcfsProcFiles are the /proc files lxcfs virtualises per guest.
var lxcfsProcFiles = []string{"cpuinfo", "diskstats", "loadavg", "meminfo", "slabinfo", "stat", "swaps", "uptime"}

// hostInfo is what the rendered config depends on besides the spec. It is
// detected once at New so rendering is a pure function of (hostInfo, Spec).
type hostInfo struct {
	// cgroup2 is true on a pure unified host; false on legacy or hybrid
	// hosts, where liblxc puts limits on the v1 controllers.
	cgroup2 bool
	// apparmor is true when the kernel has AppArmor enabled.
	apparmor bool
	// seccomp is the seccomp policy file to load, "" if none is installed.
	seccomp string
	// lxcfs lists the lxcfs files (relative to lxcfsDir) to bind over the
	// guest's own; empty when lxcfs is not running.
	lxcfs []string
	// files are the optional cgroup files (I/O weight, swap limit); use
	// cgroupFiles(), which keeps their layout in step with cgroup2.
	files CgroupFiles
}

func (h hostInfo) cgroupFiles() CgroupFiles {
	f := h.files
	f.V2 = h.cgroup2
	return f
}

func detectHost() hostInfo {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	h := hostInfo{
		cgroup2:  exists(cgroup2Probe),
		apparmor: exists(apparmorProbe),
		lxcfs:    detectLXCFS(),
	}
	if exists(seccompProfile) {
		h.seccomp = seccompProfile
	}
	h.files = probeCgroupFiles(cgroupRoot, h.cgroup2)
	return h
}

// detectLXCFS lists what a running lxcfs offers. A dead lxcfs leaves an
// unreadable mount behind, which fails the stats and so counts as absent.
func detectLXCFS() []string {
	var files []string
	for _, f := range lxcfsProcFiles {
		if _, err := os.Stat(filepath.Join(lxcfsDir, "proc", f)); err == nil {
			files = append(files, "proc/"+f)
		}
	}
	if len(files) > 0 {
		if _, err := os.Stat(filepath.Join(lxcfsDir, "sys/devices/system/cpu/online")); err == nil {
			files = append(files, "sys/devices/system/cpu")
		}
	}
	return files
}

// allowedDevices are the character devices a guest may read and write; the
// rest can only be created (mknod), as in liblxc's common.conf.
var allowedDevices = []string{
	"c *:* m", "b *:* m",
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", // null zero full random urandom
	"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", // tty console ptmx
	"c 136:* rwm",                  // pts
	"c 10:229 rwm", "c 10:200 rwm", // fuse, net/tun
}

// rawMarker starts the part of a rendered config copied from raw.lxc.
const rawMarker = "# raw.lxc\n"

// Render returns the liblxc config text for spec. It fails with
// ErrInvalidSpec, before producing anything, if any value could break out
// of its config line (newline, carriage return, NUL) or is otherwise bad.
func (d *Driver) Render(spec Spec) (string, error) {
	if err := spec.validate(); err != nil {
		return "", err
	}
	h := d.host
	var b strings.Builder
	kv := func(k string, v any) { fmt.Fprintf(&b, "%s = %v\n", k, v) }
	cg := func(v1key, v2key string, v any) {
		if h.cgroup2 {
			kv("lxc.cgroup2."+v2key, v)
		} else {
			kv("lxc.cgroup."+v1key, v)
		}
	}

	b.WriteString("# Rendered by lxmgr from the instance spec; rewritten on every change, do not edit.\n")
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.Name
	}
	kv("lxc.uts.name", hostname)
	kv("lxc.rootfs.path", "dir:"+spec.Rootfs)
	if !spec.Privileged {
		// An idmapped mount of the rootfs shifts ids on access, so the image
		// is shared unchanged on disk and launch needs no chown walk.
		kv("lxc.rootfs.options", "idmap=container")
		kv("lxc.idmap", fmt.Sprintf("u 0 %d %d", spec.IDMap.HostUID, spec.IDMap.Size))
		kv("lxc.idmap", fmt.Sprintf("g 0 %d %d", spec.IDMap.HostGID, spec.IDMap.Size))
	}

	b.WriteString("\n# Devices, terminals and console.\n")
	kv("lxc.autodev", 1)
	kv("lxc.pty.max", 1024)
	kv("lxc.tty.max", 0)
	// The console stays a pty held by the monitor (for a later console
	// attach); its output goes to a size-capped log next to the config.
	kv("lxc.console.logfile", filepath.Join(d.dir(spec.Name), "console.log"))
	kv("lxc.console.size", "auto")
	cg("devices.deny", "devices.deny", "a")
	for _, dev := range allowedDevices {
		cg("devices.allow", "devices.allow", dev)
	}

	b.WriteString("\n# Mounts.\n")
	kv("lxc.mount.auto", mountAuto(spec))
	kv("lxc.mount.entry", "/sys/fs/fuse/connections sys/fs/fuse/connections none bind,optional 0 0")
	for _, m := range spec.Mounts {
		kv("lxc.mount.entry", mountEntry(m, spec.Privileged))
	}
	// lxcfs files as plain bind entries rather than lxcfs's own mount hook:
	// the hook is a shell script that costs ~55 ms per start, and its
	// post-stop hook sleeps half a second on every stop. "optional": a
	// guest still starts should lxcfs have gone away meanwhile.
	for _, f := range h.lxcfs {
		kind := "file"
		if !strings.HasPrefix(f, "proc/") {
			kind = "dir"
		}
		kv("lxc.mount.entry", fmt.Sprintf("%s %s none bind,create=%s,optional 0 0", filepath.Join(lxcfsDir, f), f, kind))
	}

	b.WriteString("\n# Security.\n")
	// These capabilities act on the whole host even from a user namespace
	// (clock, modules, raw I/O, MAC policy); no guest needs them.
	kv("lxc.cap.drop", "sys_time sys_module sys_rawio mac_admin mac_override")
	if h.seccomp != "" {
		kv("lxc.seccomp.profile", h.seccomp)
	}
	switch {
	case !h.apparmor:
		// No AppArmor in this kernel: say so, so liblxc does not try to
		// load or generate a profile.
		kv("lxc.apparmor.profile", "unconfined")
	case spec.Nesting:
		kv("lxc.apparmor.profile", "generated")
	}
	if spec.Nesting {
		kv("lxc.apparmor.allow_nesting", 1)
	}

	b.WriteString("\n# Init.\n")
	if spec.HaltSignal != "" {
		kv("lxc.signal.halt", spec.HaltSignal)
	}
	for _, k := range sortedKeys(spec.Environment) {
		kv("lxc.environment", k+"="+spec.Environment[k])
	}

	if l := spec.Limits; l != (Limits{}) {
		b.WriteString("\n# Limits.\n")
		if l.MemoryBytes > 0 {
			cg("memory.limit_in_bytes", "memory.max", l.MemoryBytes)
		}
		if l.CPUs != "" {
			cg("cpuset.cpus", "cpuset.cpus", l.CPUs)
		}
		if l.CPUCount > 0 {
			const period = 100000 // 100ms, the kernel default
			if h.cgroup2 {
				kv("lxc.cgroup2.cpu.max", fmt.Sprintf("%d %d", int64(l.CPUCount)*period, period))
			} else {
				kv("lxc.cgroup.cpu.cfs_period_us", period)
				kv("lxc.cgroup.cpu.cfs_quota_us", int64(l.CPUCount)*period)
			}
		}
		if l.Processes > 0 {
			cg("pids.max", "pids.max", l.Processes)
		}
		items, err := limitItems(l, h.cgroupFiles())
		if err != nil {
			return "", err
		}
		for _, item := range items {
			if h.cgroup2 {
				kv("lxc.cgroup2."+item.key, item.value)
			} else {
				kv("lxc.cgroup."+item.key, item.value)
			}
		}
	}

	b.WriteString("\n# Network.\n")
	if len(spec.NICs) == 0 {
		kv("lxc.net.0.type", "empty")
	}
	for i, n := range spec.NICs {
		p := fmt.Sprintf("lxc.net.%d.", i)
		kv(p+"type", "veth")
		kv(p+"link", n.Bridge)
		kv(p+"name", n.Name)
		kv(p+"flags", "up")
		if n.HostName != "" {
			kv(p+"veth.pair", n.HostName)
		}
		if n.HWAddr != "" {
			kv(p+"hwaddr", strings.ToLower(n.HWAddr))
		}
		if n.MTU > 0 {
			kv(p+"mtu", n.MTU)
		}
	}

	if raw := strings.TrimSpace(spec.RawLXC); raw != "" {
		b.WriteString("\n" + rawMarker)
		for _, line := range strings.Split(raw, "\n") {
			b.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	return b.String(), nil
}

// mountAuto returns the lxc.mount.auto value.
//
// Tested with liblxc 5.0.2 on a Debian bookworm host with the hybrid
// layout (v1 controllers + v2 at /sys/fs/cgroup/unified), an unprivileged
// Debian 12 systemd guest with an isolated idmap: "proc:mixed sys:mixed"
// with any of cgroup:mixed, cgroup:mixed:force, cgroup:rw and
// cgroup:rw:force (and LXD's "proc:rw sys:rw cgroup:rw:force") boots to
// "running" with no failed unit and halts cleanly on SIGRTMIN+3. Without
// ":force" liblxc leaves the cgroup mounts to init (guests run in a cgroup
// namespace), which a busybox init never does, and systemd then skips the
// cpu and cpuacct hierarchies; ":force" gives every guest the same full,
// read-only-above-its-own-cgroup tree.
func mountAuto(spec Spec) string {
	cgroup := "cgroup:mixed:force"
	if spec.Nesting {
		// A nested liblxc must create cgroups below its own.
		cgroup = "cgroup:rw:force"
	}
	return "proc:mixed sys:mixed " + cgroup
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mountEntry renders a bind mount as an fstab-style lxc.mount.entry; the
// target is relative to the rootfs, as liblxc wants it.
func mountEntry(m Mount, privileged bool) string {
	opts := "bind,create=dir"
	if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
		opts = "bind,create=file"
	}
	if m.ReadOnly {
		opts += ",ro"
	}
	if m.Idmap && !privileged {
		opts += ",idmap=container"
	}
	return fmt.Sprintf("%s %s none %s 0 0", m.Source, strings.TrimPrefix(path.Clean(m.Path), "/"), opts)
}
