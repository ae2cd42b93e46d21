package instance

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// IDMap maps container ids 0..Size-1 to host ids HostUID.. and HostGID...
type IDMap struct {
	HostUID, HostGID, Size uint32
}

// Limits are the cgroup limits of a container; a zero value means no limit.
type Limits struct {
	// MemoryBytes is the hard memory limit in bytes (0 = none).
	MemoryBytes int64
	// CPUs is a cpuset like "0-1" or "0,2" ("" = all).
	CPUs string
	// CPUCount caps CPU time at this many CPUs' worth (0 = none).
	CPUCount int
	// Processes is the maximum number of tasks (0 = none).
	Processes int64
	// NoSwap forbids swapping (memory+swap capped at MemoryBytes).
	NoSwap bool
	// CPUShares is the relative CPU weight (1024 = normal; 0 = default).
	CPUShares int64
	// CPUQuotaUS/CPUPeriodUS is a hard CPU time quota (0 = none).
	CPUQuotaUS, CPUPeriodUS int64
	// BlkioWeight is the block I/O weight, 10-1000 (0 = default).
	BlkioWeight int
}

// NIC is a veth interface attached to a host bridge. HostName names the
// host side of the pair (so its counters and limits can be found); "" lets
// liblxc pick one.
type NIC struct {
	Name, Bridge, HWAddr, HostName string
	MTU                            int
}

// Spec is a fully resolved container definition: the daemon has decided
// every path, id range and limit; the driver only renders and runs it.
type Spec struct {
	// Name is the container name; it must be hostname-like.
	Name string
	// Rootfs is the host path of the rootfs directory. On-disk ownership is
	// not shifted: uid 0 on disk is root in the guest (idmapped mount).
	Rootfs string
	// Hostname is the guest's hostname; "" means Name.
	Hostname string
	// Privileged runs the guest without a user namespace (explicit request only).
	Privileged bool
	// IDMap is the guest's id range, used unless Privileged.
	IDMap IDMap
	// HaltSignal is init's clean-shutdown signal, e.g. "SIGRTMIN+3"
	// (systemd) or "SIGUSR2" (busybox); "" leaves liblxc's default.
	HaltSignal string
	// Limits are the cgroup limits.
	Limits Limits
	// Nesting allows containers inside the guest.
	Nesting bool
	// Environment is set for init (lxc.environment).
	Environment map[string]string
	// RawLXC holds extra raw liblxc config lines, appended last.
	RawLXC string
	// NICs are veth interfaces; none means the guest has no network.
	NICs []NIC
	// Mounts are host directories or files bound into the guest.
	Mounts []Mount
}

// Mount binds a host path into the guest. With Idmap (unprivileged guests)
// the bind is an idmapped mount: files owned by host root show as the
// guest's root, so nothing needs chowning.
type Mount struct {
	Source   string // absolute host path
	Path     string // absolute path in the guest
	ReadOnly bool
	Idmap    bool
}

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	hostnameRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)
	signalRe   = regexp.MustCompile(`^(SIG[A-Z0-9]+([+-][0-9]+)?|[0-9]{1,2})$`)
	cpusetRe   = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)
	ifaceRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$`)
	macRe      = regexp.MustCompile(`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`)
	rawKeyRe   = regexp.MustCompile(`^lxc\.[a-z0-9_.]+\s*=`)
)

// ValidName reports whether name may be used as a container name: it
// becomes a directory under the lxc path and a liblxc config value, so
// nothing with '/', "..", whitespace or control characters passes.
func ValidName(name string) error {
	if !nameRe.MatchString(name) || strings.Contains(name, "..") {
		return fmt.Errorf("%w: bad name %q", ErrInvalidSpec, name)
	}
	return nil
}

// hasBadChar reports whether s holds a character that could end or split a
// liblxc config line.
func hasBadChar(s string) bool {
	return strings.ContainsAny(s, "\n\r\x00")
}

// validate checks every field of the spec; nothing is rendered from a spec
// that fails, so no value with a newline ever reaches a config file.
func (s *Spec) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, a...)...)
	}
	if err := ValidName(s.Name); err != nil {
		return err
	}
	for field, v := range map[string]string{
		"rootfs": s.Rootfs, "hostname": s.Hostname, "halt signal": s.HaltSignal, "cpus": s.Limits.CPUs,
	} {
		if hasBadChar(v) {
			return bad("%s contains a newline or NUL", field)
		}
	}
	if !filepath.IsAbs(s.Rootfs) || filepath.Clean(s.Rootfs) != s.Rootfs || strings.ContainsAny(s.Rootfs, " \t") {
		return bad("rootfs %q must be a clean absolute path without blanks", s.Rootfs)
	}
	if s.Hostname != "" && (len(s.Hostname) > 253 || !hostnameRe.MatchString(s.Hostname)) {
		return bad("hostname %q", s.Hostname)
	}
	if !s.Privileged {
		m := s.IDMap
		if m.Size == 0 || m.HostUID == 0 || m.HostGID == 0 {
			return bad("unprivileged container needs an idmap with a non-root host range and a size")
		}
		if uint64(m.HostUID)+uint64(m.Size) > 1<<32-1 || uint64(m.HostGID)+uint64(m.Size) > 1<<32-1 {
			return bad("idmap range overflows")
		}
	}
	if s.HaltSignal != "" && !signalRe.MatchString(s.HaltSignal) {
		return bad("halt signal %q", s.HaltSignal)
	}
	if err := s.Limits.validate(); err != nil {
		return err
	}
	for k, v := range s.Environment {
		// The same rule as the config schema's, so a key the API accepted
		// is never refused here.
		if !api.ValidEnvName(k) || hasBadChar(v) {
			return bad("environment variable %q", k)
		}
	}
	if strings.ContainsAny(s.RawLXC, "\r\x00") {
		return bad("raw.lxc contains a carriage return or NUL")
	}
	for _, line := range strings.Split(s.RawLXC, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !rawKeyRe.MatchString(line) {
			return bad("raw.lxc line %q is not a liblxc key = value", line)
		}
	}
	for i, m := range s.Mounts {
		if !path.IsAbs(m.Source) || !path.IsAbs(m.Path) || path.Clean(m.Path) == "/" {
			return bad("mount %d: source and path must be absolute (and path not /)", i)
		}
		for _, p := range []string{m.Source, m.Path} {
			if hasBadChar(p) || strings.ContainsAny(p, " \t\\") || slices.Contains(strings.Split(p, "/"), "..") {
				return bad("mount %d: path %q has whitespace, a backslash, \"..\" or a control character", i, p)
			}
		}
	}
	for i, n := range s.NICs {
		if !ifaceRe.MatchString(n.Name) || !ifaceRe.MatchString(n.Bridge) || (n.HostName != "" && !ifaceRe.MatchString(n.HostName)) {
			return bad("nic %d: bad interface or bridge name", i)
		}
		if n.HWAddr != "" && !macRe.MatchString(n.HWAddr) {
			return bad("nic %d: bad hwaddr %q", i, n.HWAddr)
		}
		if n.MTU < 0 || n.MTU > 65535 {
			return bad("nic %d: bad mtu %d", i, n.MTU)
		}
	}
	return nil
}

func (l *Limits) validate() error {
	if l.MemoryBytes < 0 || l.CPUCount < 0 || l.Processes < 0 || l.CPUShares < 0 || l.CPUQuotaUS < 0 || l.CPUPeriodUS < 0 || l.BlkioWeight < 0 {
		return fmt.Errorf("%w: negative limit", ErrInvalidSpec)
	}
	if l.CPUs != "" && !cpusetRe.MatchString(l.CPUs) {
		return fmt.Errorf("%w: bad cpuset %q", ErrInvalidSpec, l.CPUs)
	}
	return nil
}
