package test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroupText reads a file of a guest's v1 cgroup, trimmed.
func cgroupText(t *testing.T, ctrl, inst, file string) string {
	t.Helper()
	b, err := os.ReadFile(cgroupFile(ctrl, inst, file))
	if err != nil {
		t.Fatalf("read cgroup: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// hostIOWeightFile finds, independently of the daemon, which block I/O
// weight file this host's blkio cgroups have below the root ("" if none).
func hostIOWeightFile() string {
	for _, f := range []string{"blkio.weight", "blkio.bfq.weight"} {
		for _, pat := range []string{"/sys/fs/cgroup/blkio/" + f, "/sys/fs/cgroup/blkio/*/" + f} {
			if m, _ := filepath.Glob(pat); len(m) > 0 {
				return f
			}
		}
	}
	return ""
}

// TestDiskPriority: limits.disk.priority lands in the guest's blkio cgroup
// (the weight file this host has), at start and live; on a host without
// one it is refused with the key named and nothing changes.
func TestDiskPriority(t *testing.T) {
	cleanupInstance(t, "dp1")
	must(t, "launch", "busybox", "dp1", "--wait")
	file := hostIOWeightFile()
	t.Logf("host block I/O weight file: %q", file)
	if file == "" {
		before := must(t, "config", "show", "dp1")
		mustFail(t, `"limits.disk.priority"`, "config", "set", "dp1", "limits.disk.priority=5")
		if after := must(t, "config", "show", "dp1"); after != before {
			t.Fatalf("a refused priority changed the config:\n%s", after)
		}
		return
	}
	def := cgroupText(t, "blkio", "dp1", file)
	must(t, "config", "set", "dp1", "limits.disk.priority=5")
	if got := cgroupText(t, "blkio", "dp1", file); got != "505" {
		t.Fatalf("live: %s = %q, want 505", file, got)
	}
	must(t, "config", "unset", "dp1", "limits.disk.priority")
	if got := cgroupText(t, "blkio", "dp1", file); got != def {
		t.Fatalf("after unset: %s = %q, want the default %q", file, got, def)
	}
	// At start, from the rendered liblxc config.
	must(t, "config", "set", "dp1", "limits.disk.priority=10")
	must(t, "restart", "dp1", "--force")
	if got := cgroupText(t, "blkio", "dp1", file); got != "1000" {
		t.Fatalf("after a restart: %s = %q, want 1000", file, got)
	}
}

// TestCPUAllowanceAndMemoryForms: both forms of limits.cpu.allowance, a
// memory limit as a percentage of the host and limits.memory.swap=false
// reach the guest's cgroups, at start and live.
func TestCPUAllowanceAndMemoryForms(t *testing.T) {
	cleanupInstance(t, "ca1")
	must(t, "launch", "busybox", "ca1", "-c", "limits.cpu.allowance=25ms/100ms", "-c", "limits.memory=1%", "--wait")
	if q, p := cgroupText(t, "cpu", "ca1", "cpu.cfs_quota_us"), cgroupText(t, "cpu", "ca1", "cpu.cfs_period_us"); q != "25000" || p != "100000" {
		t.Errorf("25ms/100ms: quota %s period %s, want 25000 100000", q, p)
	}
	total := hostMemTotal(t)
	want := total / 100 / 4096 * 4096 // the kernel keeps whole pages
	if got := int64(readCgroup(t, "memory", "ca1", "memory.limit_in_bytes")); got != want {
		t.Errorf("limits.memory=1%%: memory.limit_in_bytes = %d, want %d (1%% of %d)", got, want, total)
	}
	// A percentage is a soft share of CPU time (LXD's meaning): the hard
	// quota goes and cpu.shares gets half the default weight.
	must(t, "config", "set", "ca1", "limits.cpu.allowance=50%")
	if s, q := cgroupText(t, "cpu", "ca1", "cpu.shares"), cgroupText(t, "cpu", "ca1", "cpu.cfs_quota_us"); s != "512" || q != "-1" {
		t.Errorf("50%%: cpu.shares %s quota %s, want 512 -1", s, q)
	}
	// The quota is really enforced: a busy loop gets about a quarter CPU.
	must(t, "config", "set", "ca1", "limits.cpu.allowance=25ms/100ms")
	before := cgroupUsage(t, "ca1")
	lxmgr(t, "exec", "ca1", "--", "timeout", "2", "sh", "-c", "while :; do :; done")
	if used := cgroupUsage(t, "ca1") - before; used > 900*time.Millisecond {
		t.Errorf("a busy loop used %v of CPU in 2 s under a 25%% quota", used)
	}
	memsw := "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
	if _, err := os.Stat(memsw); err != nil {
		mustFail(t, `"limits.memory.swap"`, "config", "set", "ca1", "limits.memory.swap=false")
		return
	}
	must(t, "config", "set", "ca1", "limits.memory=64MiB", "limits.memory.swap=false")
	if m, s := cgroupText(t, "memory", "ca1", "memory.limit_in_bytes"), cgroupText(t, "memory", "ca1", "memory.memsw.limit_in_bytes"); m != "67108864" || s != m {
		t.Errorf("swap=false: memory %s memsw %s, want both 67108864", m, s)
	}
	must(t, "config", "set", "ca1", "limits.memory=96MiB")
	if s := cgroupText(t, "memory", "ca1", "memory.memsw.limit_in_bytes"); s != "100663296" {
		t.Errorf("memsw after raising memory: %s, want 100663296", s)
	}
	must(t, "config", "unset", "ca1", "limits.memory.swap")
	if s := int64(readCgroup(t, "memory", "ca1", "memory.memsw.limit_in_bytes")); s < 1<<40 {
		t.Errorf("memsw after swap allowed again: %d, want unlimited", s)
	}
	// At start, from the rendered config.
	must(t, "config", "set", "ca1", "limits.memory.swap=false")
	must(t, "restart", "ca1", "--force")
	if s := cgroupText(t, "memory", "ca1", "memory.memsw.limit_in_bytes"); s != "100663296" {
		t.Errorf("memsw after a restart: %s, want 100663296", s)
	}
}

func cgroupUsage(t *testing.T, inst string) time.Duration {
	t.Helper()
	b, err := os.ReadFile(cgroupFile("cpuacct", inst, "cpuacct.usage"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(n)
}

func hostMemTotal(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n * 1024
		}
	}
	t.Fatal("no MemTotal")
	return 0
}

// TestLXCFSViews: lxcfs shows a fresh guest its own uptime (not the
// host's) and its own memory in /proc/meminfo.
func TestLXCFSViews(t *testing.T) {
	cleanupInstance(t, "lx1")
	must(t, "launch", "busybox", "lx1", "-c", "limits.memory=96MiB", "--wait")
	guest := firstFloat(t, must(t, "exec", "lx1", "--", "cat", "/proc/uptime"))
	b, _ := os.ReadFile("/proc/uptime")
	host := firstFloat(t, string(b))
	if guest > 60 || guest >= host/2 {
		t.Errorf("/proc/uptime in a guest started seconds ago: %.0f s (host %.0f s)", guest, host)
	}
	if out := must(t, "exec", "lx1", "--", "grep", "MemTotal", "/proc/meminfo"); !strings.Contains(out, " 98304 kB") {
		t.Errorf("/proc/meminfo in a 96 MiB guest: %q", out)
	}
	// (busybox's free asks sysinfo(2), which lxcfs does not cover; the
	// Debian guest's free reads /proc/meminfo: TestMemoryLimitOOMAndLiveChange.)
}

func firstFloat(t *testing.T, s string) float64 {
	t.Helper()
	f := strings.Fields(s)
	if len(f) == 0 {
		t.Fatalf("no number in %q", s)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAutostartDelay: boot.autostart.delay seconds pass between a guest's
// autostart and the next one's. ad-b (priority 90, delay 3) goes before ad-a
// (80): names sort opposite to the priorities.
func TestAutostartDelay(t *testing.T) {
	cleanupInstance(t, "ad-a", "ad-b")
	must(t, "create", "busybox", "ad-b", "-c", "boot.autostart=true", "-c", "boot.autostart.priority=90", "-c", "boot.autostart.delay=3")
	must(t, "create", "busybox", "ad-a", "-c", "boot.autostart=true", "-c", "boot.autostart.priority=80")
	if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for stateOf(t, "ad-a").Status != "Running" && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	log := suite.logTail(80)
	first, second := logTime(t, log, "msg=autostarted instance=ad-b"), logTime(t, log, `msg="instance started" instance=ad-a`)
	if gap := second.Sub(first); gap < 3*time.Second || gap > 8*time.Second {
		t.Fatalf("ad-a started %v after ad-b was autostarted, want boot.autostart.delay=3s:\n%s", gap, log)
	}
}

// logTime returns the time= of the last daemon log line containing what.
func logTime(t *testing.T, log, what string) time.Time {
	t.Helper()
	var found string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, what) {
			found = line
		}
	}
	ts, ok := strings.CutPrefix(found, "time=")
	ts, _, _ = strings.Cut(ts, " ")
	if !ok {
		t.Fatalf("no log line with %q:\n%s", what, log)
	}
	tm, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		t.Fatalf("log time %q: %v", ts, err)
	}
	return tm
}
