package main

import (
	"fmt"
	"maps"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
)

// limitsFrom turns the limits.* keys of an expanded config into cgroup
// limits. Keys the host cannot enforce (files names which optional cgroup
// files it has) are errors here, so a limit is never silently dropped.
func limitsFrom(cfg map[string]string, inst db.Instance, files instance.CgroupFiles) (instance.Limits, error) {
	var l instance.Limits
	bad := func(key string, err error) error {
		return fmt.Errorf("%w: config key %q: %w", api.ErrInvalid, key, err)
	}
	var err error
	if v := cfg["limits.memory"]; v != "" {
		if l.MemoryBytes, err = memoryLimit(v); err != nil {
			return l, bad("limits.memory", err)
		}
	}
	if cfg["limits.memory.swap"] == "false" {
		if files.SwapLimit == "" {
			return l, bad("limits.memory.swap", fmt.Errorf("not supported on this host: its memory cgroups have no %s (swap accounting is off; the kernel needs swapaccount=1)", instance.SwapLimitFile(files.V2)))
		}
		l.NoSwap = true
	}
	if v := cfg["limits.processes"]; v != "" {
		if l.Processes, err = strconv.ParseInt(v, 10, 64); err != nil {
			return l, bad("limits.processes", err)
		}
	}
	if v := cfg["limits.cpu"]; v != "" {
		if l.CPUs, err = cpuSet(v, inst.ID); err != nil {
			return l, bad("limits.cpu", err)
		}
	}
	if v := cfg["limits.cpu.allowance"]; v != "" {
		a, err := profiles.ParseCPUAllowance(v)
		if err != nil {
			return l, bad("limits.cpu.allowance", err)
		}
		if a.Percent > 0 {
			l.CPUShares = int64(1024 * a.Percent / 100)
		} else {
			l.CPUQuotaUS, l.CPUPeriodUS = a.QuotaUS, a.PeriodUS
		}
	}
	if v := cfg["limits.disk.priority"]; v != "" {
		p, err := strconv.Atoi(v)
		if err != nil {
			return l, bad("limits.disk.priority", err)
		}
		if files.IOWeight == "" {
			return l, bad("limits.disk.priority", fmt.Errorf("not supported on this host: its cgroups have none of %s (no I/O scheduler with weights, such as BFQ, is available)", strings.Join(instance.IOWeightFiles(files.V2), ", ")))
		}
		l.BlkioWeight = 10 + p*99
	}
	if cfg["security.idmap.isolated"] == "false" {
		return l, bad("security.idmap.isolated", fmt.Errorf("lxmgr always gives each guest its own id range; \"false\" is not supported"))
	}
	return l, nil
}

// cpuSet turns limits.cpu into a cpuset: a set ("0-1,3") is kept, a count N
// becomes N CPUs starting at an offset derived from the instance's id, so
// guests with limits.cpu=1 spread over the host's CPUs instead of all
// sitting on CPU 0.
func cpuSet(v string, id int64) (string, error) {
	c, err := profiles.ParseCPU(v)
	if err != nil {
		return "", err
	}
	host := runtime.NumCPU()
	if c.Count == 0 {
		for _, n := range c.Set {
			if n >= host {
				return "", fmt.Errorf("CPU %d does not exist (the host has CPUs 0-%d)", n, host-1)
			}
		}
		return c.String(), nil
	}
	if c.Count > host {
		return "", fmt.Errorf("%d CPUs asked, the host has %d", c.Count, host)
	}
	cpus := make([]string, 0, c.Count)
	for i := range c.Count {
		cpus = append(cpus, strconv.Itoa(int((id+int64(i))%int64(host))))
	}
	return strings.Join(cpus, ","), nil
}

// liveKeys are config keys whose change needs no restart: limits go to the
// cgroups at once, the rest is only read by the daemon.
func liveKey(k string) bool {
	return strings.HasPrefix(k, "limits.") || strings.HasPrefix(k, "user.") || strings.HasPrefix(k, "boot.") ||
		strings.HasPrefix(k, "volatile.") || strings.HasPrefix(k, "snapshots.") || k == "security.protection.delete"
}

// restartRequired lists what changed between two expanded configs and
// device sets that a running guest only picks up at its next start.
func restartRequired(oldCfg, newCfg map[string]string, oldDevs, newDevs api.Devices) []string {
	var out []string
	keys := map[string]bool{}
	for k := range oldCfg {
		keys[k] = true
	}
	for k := range newCfg {
		keys[k] = true
	}
	for k := range keys {
		if oldCfg[k] != newCfg[k] && !liveKey(k) {
			out = append(out, k)
		}
	}
	names := map[string]bool{}
	for n := range oldDevs {
		names[n] = true
	}
	for n := range newDevs {
		names[n] = true
	}
	for n := range names {
		o, nw := oldDevs[n], newDevs[n]
		if maps.Equal(o, nw) {
			continue
		}
		// Port forwards and nic limits apply live.
		if o["type"] == "proxy" || nw["type"] == "proxy" || (o["type"] == "nic" && nw["type"] == "nic" && onlyLimitsDiffer(o, nw)) {
			continue
		}
		out = append(out, "devices."+n)
	}
	sort.Strings(out)
	return out
}

func onlyLimitsDiffer(a, b map[string]string) bool {
	for k := range a {
		if a[k] != b[k] && !strings.HasPrefix(k, "limits.") {
			return false
		}
	}
	for k := range b {
		if a[k] != b[k] && !strings.HasPrefix(k, "limits.") {
			return false
		}
	}
	return true
}
