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

// limitItem is one cgroup file's value for a limit.
type limitItem struct {
	key, value string
}

// checkHost refuses limits that need a cgroup file the host lacks, naming
// the file, so that a limit is never silently dropped.
func checkHost(l Limits, f CgroupFiles) error {
	if l.BlkioWeight > 0 && f.IOWeight == "" {
		return unsupported("block I/O weight", IOWeightFiles(f.V2)...)
	}
	if l.NoSwap && l.MemoryBytes > 0 && f.SwapLimit == "" {
		return unsupported("no-swap memory limit (swap accounting is off)", SwapLimitFile(f.V2))
	}
	return nil
}

// limitItems returns the cgroup settings of the limits beyond memory, cpuset
// and pids (which the renderer writes directly), in the order they must be
// applied.
func limitItems(l Limits, f CgroupFiles) ([]limitItem, error) {
	if err := checkHost(l, f); err != nil {
		return nil, err
	}
	var out []limitItem
	if f.V2 {
		if l.CPUShares > 0 {
			out = append(out, limitItem{"cpu.weight", cpuWeight(l.CPUShares)})
		}
		if l.CPUQuotaUS > 0 {
			out = append(out, limitItem{"cpu.max", fmt.Sprintf("%d %d", l.CPUQuotaUS, l.CPUPeriodUS)})
		}
		if l.NoSwap && l.MemoryBytes > 0 {
			out = append(out, limitItem{f.SwapLimit, "0"})
		}
	} else {
		if l.CPUShares > 0 {
			out = append(out, limitItem{"cpu.shares", strconv.FormatInt(l.CPUShares, 10)})
		}
		if l.CPUQuotaUS > 0 {
			out = append(out, limitItem{"cpu.cfs_period_us", strconv.FormatInt(l.CPUPeriodUS, 10)},
				limitItem{"cpu.cfs_quota_us", strconv.FormatInt(l.CPUQuotaUS, 10)})
		}
		if l.NoSwap && l.MemoryBytes > 0 {
			out = append(out, limitItem{f.SwapLimit, strconv.FormatInt(l.MemoryBytes, 10)})
		}
	}
	if l.BlkioWeight > 0 {
		out = append(out, limitItem{f.IOWeight, strconv.Itoa(l.BlkioWeight)})
	}
	return out, nil
}

// cpuWeight turns v1 shares (1024 = normal) into a cgroup2 weight (1-10000,
// 100 = normal).
func cpuWeight(shares int64) string {
	return strconv.FormatInt(max(1, min(10000, shares*100/1024)), 10)
}

// liveItems returns every cgroup write of a live change of limits, limits
// that are off reset to "unlimited" (or the default weight). On v1, memsw
// is written around memory: it must stay >= memory, so it is raised before
// and lowered after (the first write may fail, see applyItems). Swap files
// are only written where the host has swap accounting.
func liveItems(l Limits, f CgroupFiles, ncpu int) ([]limitItem, error) {
	if err := checkHost(l, f); err != nil {
		return nil, err
	}
	var items []limitItem
	add := func(key, value string) { items = append(items, limitItem{key, value}) }
	unlimited := "-1"
	if f.V2 {
		unlimited = "max"
	}
	mem := unlimited
	if l.MemoryBytes > 0 {
		mem = strconv.FormatInt(l.MemoryBytes, 10)
	}
	swap := unlimited
	if l.NoSwap && l.MemoryBytes > 0 {
		swap = mem
		if f.V2 {
			swap = "0"
		}
	}
	switch {
	case f.V2:
		add("memory.max", mem)
		if f.SwapLimit != "" {
			add(f.SwapLimit, swap)
		}
	case f.SwapLimit != "":
		add(f.SwapLimit, swap)
		add("memory.limit_in_bytes", mem)
		add(f.SwapLimit, swap)
	default:
		add("memory.limit_in_bytes", mem)
	}
	pids := "max"
	if l.Processes > 0 {
		pids = strconv.FormatInt(l.Processes, 10)
	}
	add("pids.max", pids)
	cpus := l.CPUs
	if cpus == "" {
		cpus = fmt.Sprintf("0-%d", ncpu-1)
	}
	add("cpuset.cpus", cpus)
	shares := int64(1024)
	if l.CPUShares > 0 {
		shares = l.CPUShares
	}
	if f.V2 {
		add("cpu.weight", cpuWeight(shares))
	} else {
		add("cpu.shares", strconv.FormatInt(shares, 10))
	}
	quota, period := int64(-1), int64(100000)
	switch {
	case l.CPUQuotaUS > 0:
		quota, period = l.CPUQuotaUS, l.CPUPeriodUS
	case l.CPUCount > 0:
		quota = int64(l.CPUCount) * period
	}
	if f.V2 {
		q := "max"
		if quota > 0 {
			q = strconv.FormatInt(quota, 10)
		}
		add("cpu.max", fmt.Sprintf("%s %d", q, period))
	} else {
		add("cpu.cfs_period_us", strconv.FormatInt(period, 10))
		add("cpu.cfs_quota_us", strconv.FormatInt(quota, 10))
	}
	if f.IOWeight != "" {
		w := ioWeightDefault(f.IOWeight)
		if l.BlkioWeight > 0 {
			w = strconv.Itoa(l.BlkioWeight)
		}
		add(f.IOWeight, w)
	}
	return items, nil
}

// applyItems writes items in order with set. The first write of a v1 memsw
// limit may fail while memory is still above the new value; the second one
// (after memory) is what counts, so only that failure is forgiven.
func applyItems(ctx context.Context, items []limitItem, set func(key, value string) error) error {
	var errs []error
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := set(it.key, it.value)
		if err != nil && !(i == 0 && it.key == "memory.memsw.limit_in_bytes") {
			errs = append(errs, fmt.Errorf("%s = %s: %w", it.key, it.value, err))
		}
	}
	return errors.Join(errs...)
}

// Cgroups returns which optional cgroup files this host's guests have.
func (d *Driver) Cgroups() CgroupFiles { return d.host.cgroupFiles() }

// SetLimits applies limits to a running container's cgroups at once (a
// live change of limits.*). Limits that are off are reset to "unlimited".
// A limit the host cannot enforce gives ErrUnsupported and nothing is
// written.
func (d *Driver) SetLimits(ctx context.Context, name string, l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	items, err := liveItems(l, d.host.cgroupFiles(), runtime.NumCPU())
	if err != nil {
		return fmt.Errorf("set limits of %q: %w", name, err)
	}
	return d.use(name, func(c *lxc.Container) error {
		if c.State() != lxc.RUNNING && c.State() != lxc.FROZEN {
			return fmt.Errorf("set limits of %q: %w", name, ErrNotRunning)
		}
		if err := applyItems(ctx, items, c.SetCgroupItem); err != nil {
			return fmt.Errorf("set limits of %q: %w", name, err)
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
