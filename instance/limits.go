package instance

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	lxc "github.com/lxc/go-lxc"
)

// limitItem is one cgroup file's value for a limit; set is false when the
// limit is off (the value then is the file's "no limit" value, used when a
// live change removes a limit).
type limitItem struct {
	key, value string
	set        bool
}

// limitItems returns the cgroup settings of the limits beyond memory, cpuset
// and pids (which the renderer writes directly), in the order they must be
// applied.
func limitItems(l Limits, v2 bool) []limitItem {
	var out []limitItem
	if v2 {
		if l.CPUShares > 0 {
			// cgroup2 weights are 1-10000 with 100 as the default.
			out = append(out, limitItem{"cpu.weight", strconv.FormatInt(max(1, min(10000, l.CPUShares*100/1024)), 10), true})
		}
		if l.CPUQuotaUS > 0 {
			out = append(out, limitItem{"cpu.max", fmt.Sprintf("%d %d", l.CPUQuotaUS, l.CPUPeriodUS), true})
		}
		if l.NoSwap && l.MemoryBytes > 0 {
			out = append(out, limitItem{"memory.swap.max", "0", true})
		}
		if l.BlkioWeight > 0 {
			out = append(out, limitItem{"io.weight", strconv.Itoa(l.BlkioWeight), true})
		}
		return out
	}
	if l.CPUShares > 0 {
		out = append(out, limitItem{"cpu.shares", strconv.FormatInt(l.CPUShares, 10), true})
	}
	if l.CPUQuotaUS > 0 {
		out = append(out, limitItem{"cpu.cfs_period_us", strconv.FormatInt(l.CPUPeriodUS, 10), true},
			limitItem{"cpu.cfs_quota_us", strconv.FormatInt(l.CPUQuotaUS, 10), true})
	}
	if l.NoSwap && l.MemoryBytes > 0 {
		out = append(out, limitItem{"memory.memsw.limit_in_bytes", strconv.FormatInt(l.MemoryBytes, 10), true})
	}
	if l.BlkioWeight > 0 {
		out = append(out, limitItem{"blkio.weight", strconv.Itoa(l.BlkioWeight), true})
	}
	return out
}

// SetLimits applies limits to a running container's cgroups at once (a
// live change of limits.*). Limits that are off are reset to "unlimited".
// Memory is lowered last and raised first together with memory+swap, so the
// kernel never sees memory above memory+swap.
func (d *Driver) SetLimits(ctx context.Context, name string, l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	v2 := d.host.cgroup2
	var items []limitItem
	add := func(v1key, v2key, value string) {
		k := v1key
		if v2 {
			k = v2key
		}
		items = append(items, limitItem{k, value, true})
	}
	unlimited := "-1"
	if v2 {
		unlimited = "max"
	}
	mem := unlimited
	if l.MemoryBytes > 0 {
		mem = strconv.FormatInt(l.MemoryBytes, 10)
	}
	swap := unlimited
	if l.NoSwap && l.MemoryBytes > 0 {
		swap = mem
		if v2 {
			swap = "0"
		}
	}
	if !v2 {
		// memsw must stay >= memory: raise it before and lower it after.
		add("memory.memsw.limit_in_bytes", "", swap)
		add("memory.limit_in_bytes", "", mem)
		add("memory.memsw.limit_in_bytes", "", swap)
	} else {
		add("", "memory.max", mem)
		add("", "memory.swap.max", swap)
	}
	pids := "max"
	if l.Processes > 0 {
		pids = strconv.FormatInt(l.Processes, 10)
	}
	add("pids.max", "pids.max", pids)
	cpus := l.CPUs
	if cpus == "" {
		cpus = fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	}
	add("cpuset.cpus", "cpuset.cpus", cpus)
	shares := int64(1024)
	if l.CPUShares > 0 {
		shares = l.CPUShares
	}
	if v2 {
		add("", "cpu.weight", strconv.FormatInt(max(1, min(10000, shares*100/1024)), 10))
	} else {
		add("cpu.shares", "", strconv.FormatInt(shares, 10))
	}
	quota, period := int64(-1), int64(100000)
	switch {
	case l.CPUQuotaUS > 0:
		quota, period = l.CPUQuotaUS, l.CPUPeriodUS
	case l.CPUCount > 0:
		quota = int64(l.CPUCount) * period
	}
	if v2 {
		q := "max"
		if quota > 0 {
			q = strconv.FormatInt(quota, 10)
		}
		add("", "cpu.max", fmt.Sprintf("%s %d", q, period))
	} else {
		add("cpu.cfs_period_us", "", strconv.FormatInt(period, 10))
		add("cpu.cfs_quota_us", "", strconv.FormatInt(quota, 10))
	}
	if l.BlkioWeight > 0 {
		add("blkio.weight", "io.weight", strconv.Itoa(l.BlkioWeight))
	}
	return d.use(name, func(c *lxc.Container) error {
		if c.State() != lxc.RUNNING && c.State() != lxc.FROZEN {
			return fmt.Errorf("set limits of %q: %w", name, ErrNotRunning)
		}
		var errs []error
		for i, it := range items {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			err := c.SetCgroupItem(it.key, it.value)
			// The first memsw write may fail while memory is still above
			// the new value; the second one (after memory) is what counts.
			if err != nil && !(i == 0 && it.key == "memory.memsw.limit_in_bytes") {
				errs = append(errs, fmt.Errorf("%s = %s: %w", it.key, it.value, err))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("set limits of %q: %w", name, errors.Join(errs...))
		}
		return nil
	})
}

// CheckRaw asks liblxc whether raw config lines are valid, without any
// container: each line is set on a throwaway handle, so an unknown key or a
// bad value is reported when the config is set, not at the next start.
func CheckRaw(raw string) error {
	if hasBadChar(raw) {
		return fmt.Errorf("%w: raw.lxc contains a newline or NUL", ErrInvalidSpec)
	}
	if !rawKeyRe.MatchString(raw) {
		return fmt.Errorf("%w: raw.lxc %q is not a liblxc key = value line", ErrInvalidSpec, raw)
	}
	c, err := lxc.NewContainer("lxmgr-raw-check", "/nonexistent-lxmgr-raw-check")
	if err != nil {
		return fmt.Errorf("check raw.lxc: %w", err)
	}
	defer c.Release()
	key, value, _ := strings.Cut(raw, "=")
	if err := c.SetConfigItem(strings.TrimSpace(key), strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("%w: raw.lxc: liblxc refuses %q: %v", ErrInvalidSpec, raw, err)
	}
	return nil
}
