package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/instance"
)

func TestParseStat(t *testing.T) {
	rest := " 1 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %s 1000 10"
	for _, tc := range []struct {
		line, state string
		start       uint64
		ok          bool
	}{
		{"42 (lxmgrd) S" + fmt.Sprintf(rest, "12345"), "S", 12345, true},
		// A command name with spaces and ')' must not shift the fields.
		{"42 (a) b) Z c) Z" + fmt.Sprintf(rest, "777"), "Z", 777, true},
		{"42 (lxmgrd) S 1 2", "", 0, false},
		{"garbage", "", 0, false},
	} {
		state, start, ok := parseStat(tc.line)
		if state != tc.state || start != tc.start || ok != tc.ok {
			t.Errorf("parseStat(%q) = %q %d %v, want %q %d %v", tc.line, state, start, ok, tc.state, tc.start, tc.ok)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p := readProc(os.Getpid())
	if !p.alive || p.startTime == 0 || len(p.cmdline) == 0 {
		t.Fatalf("readProc(self) = %+v", p)
	}
	if q := readProc(0); q.alive {
		t.Errorf("pid 0 is alive: %+v", q)
	}
}

func TestAdoptable(t *testing.T) {
	const path = "/var/lib/lxmgr/proxies/web1/http.json"
	want := forkproxySpec{Instance: "web1", Device: "http", Listen: "tcp:0.0.0.0:80", Connect: "tcp:127.0.0.1:80", InitPid: 1000}
	rec := proxyRecord{forkproxySpec: want, Pid: 2000, StartTime: 555}
	proc := procInfo{alive: true, startTime: 555, cmdline: []string{"lxmgrd", forkproxyArg, path, "{}"}}
	with := func(f func(*forkproxySpec)) forkproxySpec { w := want; f(&w); return w }
	for _, tc := range []struct {
		name string
		want forkproxySpec
		proc procInfo
		ok   bool
	}{
		{"same forward, same process", want, proc, true},
		{"guest rebooted: new init", with(func(w *forkproxySpec) { w.InitPid = 1001 }), proc, false},
		{"listen changed", with(func(w *forkproxySpec) { w.Listen = "tcp:0.0.0.0:81" }), proc, false},
		{"connect changed", with(func(w *forkproxySpec) { w.Connect = "tcp:127.0.0.1:81" }), proc, false},
		{"process gone", want, procInfo{}, false},
		{"pid reused (other start time)", want, procInfo{alive: true, startTime: 556, cmdline: proc.cmdline}, false},
		{"pid reused by another program", want, procInfo{alive: true, startTime: 555, cmdline: []string{"sleep", "100"}}, false},
		{"another device's process", want, procInfo{alive: true, startTime: 555, cmdline: []string{"lxmgrd", forkproxyArg, "/var/lib/lxmgr/proxies/web1/dns.json"}}, false},
	} {
		if got := adoptable(rec, tc.want, path, tc.proc); got != tc.ok {
			t.Errorf("%s: adoptable = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestWantedProxies(t *testing.T) {
	devs := api.Devices{
		"eth0": {"type": "nic", "network": "lxmgrbr0"},
		"web":  {"type": "proxy", "listen": "tcp:0.0.0.0:8080", "connect": "tcp:127.0.0.1:80"},
		"dns":  {"type": "proxy", "listen": "udp:[::ffff:127.0.0.1]:53", "connect": "udp:127.0.0.1:53"},
	}
	got, err := wantedProxies("g1", runtimeState{Status: instance.StatusRunning, Pid: 42}, devs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["web"].InitPid != 42 || got["web"].Instance != "g1" || got["web"].Device != "web" {
		t.Errorf("running: %+v", got)
	}
	if got["dns"].Listen != "udp:127.0.0.1:53" {
		t.Errorf("listen not normalised (a record would never match): %q", got["dns"].Listen)
	}
	if got, _ := wantedProxies("g1", runtimeState{Status: instance.StatusStopped}, devs); len(got) != 0 {
		t.Errorf("stopped: %+v", got)
	}
	bad := api.Devices{"web": {"type": "proxy", "listen": "tcp:0.0.0.0:8080", "connect": "udp:127.0.0.1:80"}}
	if _, err := wantedProxies("g1", runtimeState{Status: instance.StatusRunning, Pid: 42}, bad); err == nil {
		t.Errorf("mismatched protocols accepted")
	}
}
