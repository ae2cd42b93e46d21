package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
)

func TestLimitsFrom(t *testing.T) {
	total, err := hostMemory()
	if err != nil {
		t.Fatal(err)
	}
	full := instance.CgroupFiles{IOWeight: "blkio.bfq.weight", SwapLimit: "memory.memsw.limit_in_bytes"}
	tests := []struct {
		name  string
		cfg   map[string]string
		files instance.CgroupFiles
		want  instance.Limits
	}{
		{"nothing", map[string]string{}, full, instance.Limits{}},
		{"memory in bytes, no swap", map[string]string{"limits.memory": "64MiB", "limits.memory.swap": "false"}, full,
			instance.Limits{MemoryBytes: 64 << 20, NoSwap: true}},
		{"swap allowed", map[string]string{"limits.memory": "64MiB", "limits.memory.swap": "true"}, instance.CgroupFiles{},
			instance.Limits{MemoryBytes: 64 << 20}},
		{"memory as a percentage of the host", map[string]string{"limits.memory": "10%"}, full,
			instance.Limits{MemoryBytes: total / 100 * 10}},
		// A percentage is a soft share (LXD's meaning), a time slice a hard quota.
		{"allowance as a share", map[string]string{"limits.cpu.allowance": "50%"}, full, instance.Limits{CPUShares: 512}},
		{"allowance as a quota", map[string]string{"limits.cpu.allowance": "25ms/100ms"}, full, instance.Limits{CPUQuotaUS: 25000, CPUPeriodUS: 100000}},
		{"processes and cpu set", map[string]string{"limits.processes": "50", "limits.cpu": "0-0"}, full, instance.Limits{Processes: 50, CPUs: "0"}},
		{"disk priority", map[string]string{"limits.disk.priority": "5"}, full, instance.Limits{BlkioWeight: 505}},
		{"disk priority extremes", map[string]string{"limits.disk.priority": "10"}, instance.CgroupFiles{V2: true, IOWeight: "io.weight"}, instance.Limits{BlkioWeight: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := limitsFrom(tt.cfg, db.Instance{ID: 1}, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("limitsFrom = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLimitsFromRefusesWhatTheHostLacks(t *testing.T) {
	for _, c := range []struct {
		cfg   map[string]string
		files instance.CgroupFiles
		key   string
		names string // the missing file(s) the message names
	}{
		{map[string]string{"limits.disk.priority": "3"}, instance.CgroupFiles{}, "limits.disk.priority", "blkio.weight, blkio.bfq.weight"},
		{map[string]string{"limits.disk.priority": "3"}, instance.CgroupFiles{V2: true}, "limits.disk.priority", "io.weight, io.bfq.weight"},
		{map[string]string{"limits.memory": "1GiB", "limits.memory.swap": "false"}, instance.CgroupFiles{}, "limits.memory.swap", "memory.memsw.limit_in_bytes"},
		{map[string]string{"limits.memory.swap": "false"}, instance.CgroupFiles{V2: true}, "limits.memory.swap", "memory.swap.max"},
		{map[string]string{"limits.cpu": "0,4000"}, instance.CgroupFiles{}, "limits.cpu", "does not exist"},
	} {
		_, err := limitsFrom(c.cfg, db.Instance{ID: 1}, c.files)
		if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), `"`+c.key+`"`) || !strings.Contains(err.Error(), c.names) {
			t.Errorf("limitsFrom(%v) = %v, want 400 naming %q and %q", c.cfg, err, c.key, c.names)
		}
	}
}
