package instance

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fakeTree makes files (paths relative to a new root, "" content) and
// returns the root.
func fakeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestProbeCgroupFiles(t *testing.T) {
	tests := []struct {
		name  string
		v2    bool
		files []string
		want  CgroupFiles
	}{
		{"v1 cfq weight on the root", false, []string{"blkio/blkio.weight", "memory/memory.memsw.limit_in_bytes"},
			CgroupFiles{IOWeight: "blkio.weight", SwapLimit: "memory.memsw.limit_in_bytes"}},
		// BFQ's weight is not on the root cgroup; this host has it only below.
		{"v1 bfq weight below the root only", false, []string{"blkio/blkio.bfq.io_service_bytes", "blkio/lxc.pivot/blkio.bfq.weight", "memory/memory.limit_in_bytes"},
			CgroupFiles{IOWeight: "blkio.bfq.weight"}},
		{"v1 both weights: blkio.weight first", false, []string{"blkio/x/blkio.bfq.weight", "blkio/blkio.weight"},
			CgroupFiles{IOWeight: "blkio.weight"}},
		{"v1 no weight, no swap accounting", false, []string{"blkio/blkio.throttle.read_bps_device", "blkio/lxc.pivot/blkio.reset_stats", "memory/memory.limit_in_bytes"},
			CgroupFiles{}},
		{"v2 io.weight below the root", true, []string{"cgroup.controllers", "system.slice/io.weight", "system.slice/memory.swap.max"},
			CgroupFiles{V2: true, IOWeight: "io.weight", SwapLimit: "memory.swap.max"}},
		{"v2 bfq only", true, []string{"cgroup.controllers", "user.slice/io.bfq.weight", "user.slice/memory.max"},
			CgroupFiles{V2: true, IOWeight: "io.bfq.weight"}},
		{"v2 nothing", true, []string{"cgroup.controllers"}, CgroupFiles{V2: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeTree(t, tt.files...)
			if got := probeCgroupFiles(root, tt.v2); got != tt.want {
				t.Fatalf("probeCgroupFiles = %+v, want %+v", got, tt.want)
			}
			// The probe child is gone again.
			probes, _ := filepath.Glob(filepath.Join(root, "*", "lxmgr-probe.*"))
			more, _ := filepath.Glob(filepath.Join(root, "lxmgr-probe.*"))
			if len(probes)+len(more) > 0 {
				t.Errorf("probe cgroups left behind: %v %v", probes, more)
			}
		})
	}
}

func TestRenderLimitItems(t *testing.T) {
	v1 := hostInfo{files: CgroupFiles{IOWeight: "blkio.bfq.weight", SwapLimit: "memory.memsw.limit_in_bytes"}}
	v2 := hostInfo{cgroup2: true, files: CgroupFiles{IOWeight: "io.weight", SwapLimit: "memory.swap.max"}}
	l := Limits{MemoryBytes: 64 << 20, NoSwap: true, CPUShares: 512, CPUQuotaUS: 25000, CPUPeriodUS: 100000, BlkioWeight: 505}
	for _, c := range []struct {
		host hostInfo
		want map[string][]string
	}{
		{v1, map[string][]string{
			"lxc.cgroup.memory.limit_in_bytes":       {"67108864"},
			"lxc.cgroup.memory.memsw.limit_in_bytes": {"67108864"},
			"lxc.cgroup.cpu.shares":                  {"512"},
			"lxc.cgroup.cpu.cfs_quota_us":            {"25000"},
			"lxc.cgroup.cpu.cfs_period_us":           {"100000"},
			"lxc.cgroup.blkio.bfq.weight":            {"505"},
			"lxc.cgroup.blkio.weight":                nil,
		}},
		{v2, map[string][]string{
			"lxc.cgroup2.memory.max":      {"67108864"},
			"lxc.cgroup2.memory.swap.max": {"0"},
			"lxc.cgroup2.cpu.weight":      {"50"},
			"lxc.cgroup2.cpu.max":         {"25000 100000"},
			"lxc.cgroup2.io.weight":       {"505"},
		}},
	} {
		spec := baseSpec()
		spec.Limits = l
		cfg, err := testDriver(c.host).Render(spec)
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range c.want {
			if got := lines(cfg, k); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("v2=%v %s = %q, want %q", c.host.cgroup2, k, got, want)
			}
		}
	}
	// Without the files, the limits are refused, not dropped.
	for _, l := range []Limits{{BlkioWeight: 10}, {MemoryBytes: 1 << 30, NoSwap: true}} {
		spec := baseSpec()
		spec.Limits = l
		if _, err := testDriver(hostInfo{}).Render(spec); !errors.Is(err, ErrUnsupported) {
			t.Errorf("render %+v without the cgroup file: err = %v, want ErrUnsupported", l, err)
		}
	}
}

// fakeCgroup is one guest's cgroup in a fake tree; set writes a file the
// way SetCgroupItem does, and like the kernel it refuses files that do not
// exist and (v1) a memory limit above memory+swap.
type fakeCgroup struct {
	root string
	v2   bool
}

func (f fakeCgroup) path(key string) string {
	if f.v2 {
		return filepath.Join(f.root, "lxc.payload.g", key)
	}
	ctrl, _, _ := strings.Cut(key, ".")
	return filepath.Join(f.root, ctrl, "lxc.payload.g", key)
}

func (f fakeCgroup) read(key string) string {
	b, _ := os.ReadFile(f.path(key))
	return string(b)
}

func limitOf(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return math.MaxInt64
	}
	return n
}

func (f fakeCgroup) set(key, value string) error {
	if !f.v2 {
		switch key {
		case "memory.limit_in_bytes":
			if sw := f.read("memory.memsw.limit_in_bytes"); sw != "" && limitOf(value) > limitOf(sw) {
				return syscall.EINVAL
			}
		case "memory.memsw.limit_in_bytes":
			if limitOf(value) < limitOf(f.read("memory.limit_in_bytes")) {
				return syscall.EINVAL
			}
		}
	}
	fh, err := os.OpenFile(f.path(key), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = fh.WriteString(value)
	return err
}

// newFakeCgroup makes a guest cgroup holding files, each with value.
func newFakeCgroup(t *testing.T, v2 bool, files map[string]string) fakeCgroup {
	f := fakeCgroup{root: t.TempDir(), v2: v2}
	for k, v := range files {
		os.MkdirAll(filepath.Dir(f.path(k)), 0o755)
		if err := os.WriteFile(f.path(k), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func v1Files(swap bool) map[string]string {
	m := map[string]string{
		"memory.limit_in_bytes": "-1", "pids.max": "max", "cpuset.cpus": "0-1", "cpu.shares": "1024",
		"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "blkio.bfq.weight": "100",
	}
	if swap {
		m["memory.memsw.limit_in_bytes"] = "-1"
	}
	return m
}

func TestSetLimitsV1(t *testing.T) {
	files := CgroupFiles{IOWeight: "blkio.bfq.weight", SwapLimit: "memory.memsw.limit_in_bytes"}
	cg := newFakeCgroup(t, false, v1Files(true))
	apply := func(l Limits) error {
		items, err := liveItems(l, files, 2)
		if err != nil {
			return err
		}
		return applyItems(context.Background(), items, cg.set)
	}
	check := func(want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := cg.read(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	}
	// Down to 64 MiB without swap, then up to 256 MiB: memsw must follow
	// memory both ways without ever being below it.
	if err := apply(Limits{MemoryBytes: 64 << 20, NoSwap: true, Processes: 50, CPUs: "1", CPUShares: 512, BlkioWeight: 505}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"memory.limit_in_bytes": "67108864", "memory.memsw.limit_in_bytes": "67108864", "pids.max": "50",
		"cpuset.cpus": "1", "cpu.shares": "512", "cpu.cfs_quota_us": "-1", "blkio.bfq.weight": "505"})
	if err := apply(Limits{MemoryBytes: 256 << 20, NoSwap: true, CPUQuotaUS: 25000, CPUPeriodUS: 100000}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"memory.limit_in_bytes": "268435456", "memory.memsw.limit_in_bytes": "268435456", "pids.max": "max",
		"cpuset.cpus": "0-1", "cpu.shares": "1024", "cpu.cfs_quota_us": "25000", "cpu.cfs_period_us": "100000", "blkio.bfq.weight": "100"})
	// Swap allowed again, a CPU count as a quota.
	if err := apply(Limits{MemoryBytes: 128 << 20, CPUCount: 1}); err != nil {
		t.Fatal(err)
	}
	check(map[string]string{"memory.limit_in_bytes": "134217728", "memory.memsw.limit_in_bytes": "-1", "cpu.cfs_quota_us": "100000"})
}

func TestSetLimitsV1WithoutSwapAccounting(t *testing.T) {
	files := CgroupFiles{IOWeight: "blkio.bfq.weight"}
	cg := newFakeCgroup(t, false, v1Files(false))
	// No memsw file: nothing may be written to it (the fake, like the
	// kernel, fails a write to a missing file).
	items, err := liveItems(Limits{MemoryBytes: 64 << 20, Processes: 20}, files, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyItems(context.Background(), items, cg.set); err != nil {
		t.Fatal(err)
	}
	if got := cg.read("memory.limit_in_bytes"); got != "67108864" {
		t.Errorf("memory.limit_in_bytes = %q", got)
	}
	if _, err := liveItems(Limits{MemoryBytes: 64 << 20, NoSwap: true}, files, 2); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "memory.memsw.limit_in_bytes") {
		t.Errorf("no-swap without swap accounting: err = %v, want ErrUnsupported naming memsw", err)
	}
	if _, err := liveItems(Limits{BlkioWeight: 10}, CgroupFiles{}, 2); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "blkio.bfq.weight") {
		t.Errorf("weight without a weight file: err = %v, want ErrUnsupported naming the files", err)
	}
}

func TestSetLimitsV2(t *testing.T) {
	files := CgroupFiles{V2: true, IOWeight: "io.bfq.weight", SwapLimit: "memory.swap.max"}
	cg := newFakeCgroup(t, true, map[string]string{
		"memory.max": "max", "memory.swap.max": "max", "pids.max": "max", "cpuset.cpus": "", "cpu.weight": "100",
		"cpu.max": "max 100000", "io.bfq.weight": "default 100",
	})
	items, err := liveItems(Limits{MemoryBytes: 64 << 20, NoSwap: true, Processes: 50, CPUs: "0", CPUShares: 2048, CPUQuotaUS: 50000, CPUPeriodUS: 100000, BlkioWeight: 109}, files, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := applyItems(context.Background(), items, cg.set); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"memory.max": "67108864", "memory.swap.max": "0", "pids.max": "50", "cpuset.cpus": "0",
		"cpu.weight": "200", "cpu.max": "50000 100000", "io.bfq.weight": "109"} {
		if got := cg.read(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Everything off again.
	items, _ = liveItems(Limits{}, files, 2)
	if err := applyItems(context.Background(), items, cg.set); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"memory.max": "max", "memory.swap.max": "max", "pids.max": "max", "cpuset.cpus": "0-1",
		"cpu.weight": "100", "cpu.max": "max 100000", "io.bfq.weight": "100"} {
		if got := cg.read(k); got != v {
			t.Errorf("reset: %s = %q, want %q", k, got, v)
		}
	}
	// No swap accounting on v2: memory.swap.max is left alone.
	cg2 := newFakeCgroup(t, true, map[string]string{"memory.max": "max", "pids.max": "max", "cpuset.cpus": "", "cpu.weight": "100", "cpu.max": "max 100000"})
	items, _ = liveItems(Limits{MemoryBytes: 1 << 30}, CgroupFiles{V2: true}, 2)
	if err := applyItems(context.Background(), items, cg2.set); err != nil {
		t.Fatalf("v2 without swap or io files: %v", err)
	}
}
