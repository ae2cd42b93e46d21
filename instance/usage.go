package instance

import (
	"fmt"
	"strconv"
	"strings"

	lxc "github.com/lxc/go-lxc"
)

// Usage is a running container's resource use read from its cgroups.
// Fields the kernel does not provide are left 0 (best effort).
type Usage struct {
	MemoryBytes, MemoryPeakBytes, CPUNanos, Processes int64
}

// Usage reads the resource use of a running container from its cgroups
// (liblxc finds the cgroup through the monitor; no process is spawned).
// It gives ErrNotRunning for a stopped container.
func (d *Driver) Usage(name string) (Usage, error) {
	var u Usage
	err := d.use(name, func(c *lxc.Container) error {
		if c.State() == lxc.STOPPED {
			return fmt.Errorf("usage %q: %w", name, ErrNotRunning)
		}
		item := func(key string) []string { return c.CgroupItem(key) }
		if d.host.cgroup2 {
			u.MemoryBytes = firstInt(item("memory.current"))
			u.MemoryPeakBytes = firstInt(item("memory.peak"))
			u.CPUNanos = keyedInt(item("cpu.stat"), "usage_usec") * 1000
		} else {
			u.MemoryBytes = firstInt(item("memory.usage_in_bytes"))
			u.MemoryPeakBytes = firstInt(item("memory.max_usage_in_bytes"))
			u.CPUNanos = firstInt(item("cpuacct.usage"))
		}
		u.Processes = firstInt(item("pids.current"))
		return nil
	})
	return u, err
}

// firstInt parses the first line of a cgroup file; 0 if absent or "max".
func firstInt(lines []string) int64 {
	if len(lines) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(lines[0]), 10, 64)
	return n
}

// keyedInt returns the value of key in a "key value" per line cgroup file.
func keyedInt(lines []string, key string) int64 {
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
