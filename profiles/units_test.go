package profiles

import (
	"slices"
	"testing"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"4096", 4096, true},
		{"10B", 10, true},
		{"1kB", 1000, true},
		{"1KB", 1000, true},
		{"1KiB", 1024, true},
		{"64MiB", 64 << 20, true},
		{"2MB", 2e6, true},
		{"3GiB", 3 << 30, true},
		{"1GB", 1e9, true},
		{"1TiB", 1 << 40, true},
		{"7EiB", 7 << 60, true},
		{"8EiB", 0, false},
		{"", 0, false},
		{"MiB", 0, false},
		{"1.5GiB", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1 MiB", 0, false},
		{"1mib", 0, false},
		{"1XB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseMemoryLimit(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"50%", 500, true},
		{"1KiB", 1024, true},
		{"0", 0, false},
		{"x", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseMemoryLimit(tt.in, 1000)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMemoryLimit(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in    string
		count int
		set   []int
		str   string
		ok    bool
	}{
		{"2", 2, nil, "2", true},
		{"0-1,3", 0, []int{0, 1, 3}, "0-1,3", true},
		{"3,1-2,2", 0, []int{1, 2, 3}, "1-3", true},
		{"5-5", 0, []int{5}, "5", true},
		{"0", 0, nil, "", false},
		{"1-", 0, nil, "", false},
		{",", 0, nil, "", false},
		{"2-1", 0, nil, "", false},
		{"0-8192", 0, nil, "", false},
	}
	for _, tt := range tests {
		got, err := ParseCPU(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseCPU(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if got.Count != tt.count || !slices.Equal(got.Set, tt.set) || got.String() != tt.str {
			t.Errorf("ParseCPU(%q) = %+v (%s), want count %d set %v (%s)", tt.in, got, got, tt.count, tt.set, tt.str)
		}
	}
}

func TestParseCPUAllowance(t *testing.T) {
	tests := []struct {
		in   string
		want CPUAllowance
		ok   bool
	}{
		{"50%", CPUAllowance{Percent: 50}, true},
		{"25ms/100ms", CPUAllowance{QuotaUS: 25000, PeriodUS: 100000}, true},
		{"0ms/100ms", CPUAllowance{}, false},
		{"25ms", CPUAllowance{}, false},
		{"ms/100ms", CPUAllowance{}, false},
	}
	for _, tt := range tests {
		got, err := ParseCPUAllowance(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseCPUAllowance(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
