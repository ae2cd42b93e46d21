package profiles

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// byteUnits maps a suffix to its multiplier. Decimal units are powers of
// 1000, binary ones powers of 1024, as in LXD.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longer suffixes first so "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50}, {"EiB", 1 << 60},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}, {"EB", 1e18},
	{"B", 1},
}

// ParseBytes parses a byte size: a non-negative integer optionally followed
// by a unit (B, kB, MB, GB, TB, PB, EB, KiB, MiB, GiB, TiB, PiB, EiB), e.g.
// "512MiB" or "1GB" or "4096". It refuses fractions, signs, spaces and
// values that overflow int64.
func ParseBytes(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	if num == "" || strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("invalid byte size %q: want an integer with an optional unit such as MiB or GB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid byte size %q: out of range", s)
	}
	return n * mult, nil
}

// ParseMemoryLimit resolves a limits.memory value to bytes; a percentage
// ("50%") is taken of hostTotal, the host's memory in bytes.
func ParseMemoryLimit(s string, hostTotal int64) (int64, error) {
	if err := validMemory(s); err != nil {
		return 0, fmt.Errorf("invalid memory limit %q: %w", s, err)
	}
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		n, _ := strconv.ParseInt(pct, 10, 64)
		return hostTotal / 100 * n, nil
	}
	return ParseBytes(s)
}

// maxCPU bounds CPU numbers so a value like "0-999999999" cannot make the
// parser allocate without limit; Linux's NR_CPUS tops out at 8192.
const maxCPU = 8192

// CPULimit is a parsed limits.cpu: either a count of CPUs the instance may
// use (Count > 0, Set nil) or a pinned set of CPU numbers (Set sorted and
// without duplicates, Count 0).
type CPULimit struct {
	Count int
	Set   []int
}

// String returns the count, or the set in the canonical cpuset form
// ("0-1,3") that cgroups and liblxc accept.
func (c CPULimit) String() string {
	if c.Set == nil {
		return strconv.Itoa(c.Count)
	}
	var b strings.Builder
	for i := 0; i < len(c.Set); {
		j := i
		for j+1 < len(c.Set) && c.Set[j+1] == c.Set[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j == i {
			fmt.Fprintf(&b, "%d", c.Set[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", c.Set[i], c.Set[j])
		}
		i = j + 1
	}
	return b.String()
}

// ParseCPU parses limits.cpu. A plain integer is a count (at least 1); a
// value with "-" or "," is a CPU set ("0-1,3"); as in LXD a single pinned
// CPU is written as a range ("3-3").
func ParseCPU(s string) (CPULimit, error) {
	if !strings.ContainsAny(s, "-,") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxCPU {
			return CPULimit{}, fmt.Errorf("invalid cpu limit %q: want a count in [1, %d] or a set like \"0-1,3\"", s, maxCPU)
		}
		return CPULimit{Count: n}, nil
	}
	seen := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := parseCPUNum(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = parseCPUNum(hi)
		}
		if err1 != nil || err2 != nil || b < a {
			return CPULimit{}, fmt.Errorf("invalid cpu set %q: bad element %q", s, part)
		}
		for c := a; c <= b; c++ {
			seen[c] = true
		}
	}
	set := make([]int, 0, len(seen))
	for c := range seen {
		set = append(set, c)
	}
	sort.Ints(set)
	return CPULimit{Set: set}, nil
}

func parseCPUNum(s string) (int, error) {
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("not a cpu number")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n >= maxCPU {
		return 0, fmt.Errorf("cpu number out of range")
	}
	return n, nil
}

// CPUAllowance is a parsed limits.cpu.allowance: either a soft share in
// percent (Percent > 0) or a hard CFS quota and period in microseconds.
type CPUAllowance struct {
	Percent  int
	QuotaUS  int64
	PeriodUS int64
}

// ParseCPUAllowance parses "50%" (1..100) or "25ms/100ms" (quota >= 1ms,
// period in [1ms, 1000ms], as the kernel's CFS bandwidth control allows).
func ParseCPUAllowance(s string) (CPUAllowance, error) {
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		if err := validPercent(pct, 1, 100); err != nil {
			return CPUAllowance{}, fmt.Errorf("invalid cpu allowance %q: %w", s, err)
		}
		n, _ := strconv.Atoi(pct)
		return CPUAllowance{Percent: n}, nil
	}
	q, p, ok := strings.Cut(s, "/")
	quota, err1 := parseMS(q)
	period, err2 := parseMS(p)
	if !ok || err1 != nil || err2 != nil || quota < 1 || period < 1 || period > 1000 || quota > 1000*period {
		return CPUAllowance{}, fmt.Errorf("invalid cpu allowance %q: want \"N%%\" or \"25ms/100ms\" (period 1ms to 1000ms)", s)
	}
	return CPUAllowance{QuotaUS: quota * 1000, PeriodUS: period * 1000}, nil
}

func parseMS(s string) (int64, error) {
	n, ok := strings.CutSuffix(s, "ms")
	if !ok || n == "" || strings.IndexFunc(n, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("want milliseconds like 25ms")
	}
	return strconv.ParseInt(n, 10, 64)
}
