package main

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestParseConfigSet(t *testing.T) {
	cases := []struct {
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{[]string{"limits.memory=256MiB"}, map[string]string{"limits.memory": "256MiB"}, false},
		{[]string{"a=1", "b=2"}, map[string]string{"a": "1", "b": "2"}, false},
		{[]string{"limits.memory", "256MiB"}, map[string]string{"limits.memory": "256MiB"}, false},
		{[]string{"user.note", "a=b c"}, map[string]string{"user.note": "a=b c"}, false},
		{[]string{"user.note", ""}, map[string]string{"user.note": ""}, false},
		{[]string{"a=1", "b"}, nil, true},
		{[]string{"limits.memory"}, nil, true},
		{[]string{"a", "b", "c"}, nil, true},
		{[]string{"a b", "c"}, nil, true},
	}
	for _, c := range cases {
		got, err := parseConfigSet(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("parseConfigSet(%q) err = %v, wantErr %v", c.in, err, c.wantErr)
			continue
		}
		if !c.wantErr && !maps.Equal(got, c.want) {
			t.Errorf("parseConfigSet(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseDeviceAdd(t *testing.T) {
	cases := []struct {
		args      []string
		inst, dev string
		want      map[string]string
		wantErr   bool
	}{
		{[]string{"web1", "http", "proxy", "listen=tcp:0.0.0.0:80", "connect=tcp:127.0.0.1:80"}, "web1", "http",
			map[string]string{"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"}, false},
		{[]string{"web1", "data", "disk", "source=/srv/web1", "path=/srv"}, "web1", "data",
			map[string]string{"type": "disk", "source": "/srv/web1", "path": "/srv"}, false},
		{[]string{"web1", "eth1", "nic", "type=nic", "network=lxm0"}, "web1", "eth1",
			map[string]string{"type": "nic", "network": "lxm0"}, false},
		{[]string{"web1", "my_dev.2", "none"}, "web1", "my_dev.2", map[string]string{"type": "none"}, false},
		{[]string{"web1", "eth1", "nic", "type=disk"}, "", "", nil, true},
		{[]string{"web1", "http"}, "", "", nil, true},
		{[]string{"bad.name", "http", "proxy"}, "", "", nil, true},
		{[]string{"web1", "../x", "disk"}, "", "", nil, true},
		{[]string{"web1", "a/b", "disk"}, "", "", nil, true},
		{[]string{"web1", "..", "disk"}, "", "", nil, true},
		{[]string{"web1", "http", ""}, "", "", nil, true},
		{[]string{"web1", "http", "proxy", "listen"}, "", "", nil, true},
	}
	for _, c := range cases {
		inst, dev, got, err := parseDeviceAdd(c.args)
		if (err != nil) != c.wantErr {
			t.Errorf("parseDeviceAdd(%q) err = %v, wantErr %v", c.args, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if inst != c.inst || dev != c.dev || !maps.Equal(got, c.want) {
			t.Errorf("parseDeviceAdd(%q) = %q, %q, %v; want %q, %q, %v", c.args, inst, dev, got, c.inst, c.dev, c.want)
		}
	}
}

// fixtureInstance has a local config key and device, and one of each that
// only a profile sets.
func fixtureInstance() api.Instance {
	return api.Instance{
		InstancePut: api.InstancePut{
			Config:   map[string]string{"limits.memory": "64MiB"},
			Devices:  api.Devices{"http": {"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"}},
			Profiles: []string{"default"},
		},
		Name:           "web1",
		ExpandedConfig: map[string]string{"limits.memory": "64MiB", "limits.cpu": "1"},
		ExpandedDevices: api.Devices{
			"http": {"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"},
			"root": {"type": "disk", "path": "/", "pool": "default"},
		},
	}
}

func TestConfigUnsetPatch(t *testing.T) {
	inst := fixtureInstance()
	cases := []struct {
		keys    []string
		want    map[string]string
		wantErr error
	}{
		{[]string{"limits.memory"}, map[string]string{"limits.memory": ""}, nil},
		{[]string{"user.never.set"}, map[string]string{}, nil},
		{[]string{"limits.cpu"}, nil, api.ErrInvalid},
		{[]string{"a=b"}, nil, nil},
	}
	for _, c := range cases {
		got, err := configUnsetPatch(inst, c.keys)
		if c.want == nil {
			if err == nil || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Errorf("configUnsetPatch(%q) err = %v, want %v", c.keys, err, c.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("configUnsetPatch(%q) = %v, %v; want %v", c.keys, got, err, c.want)
		}
	}
}

func TestDeviceSetPatch(t *testing.T) {
	inst := fixtureInstance()
	got, err := deviceSetPatch(inst, "http", map[string]string{"listen": "tcp:0.0.0.0:8080", "connect": "", "bind": "host"})
	want := map[string]string{"type": "proxy", "listen": "tcp:0.0.0.0:8080", "bind": "host"}
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("deviceSetPatch = %v, %v; want %v", got, err, want)
	}
	if inst.Devices["http"]["connect"] == "" {
		t.Error("deviceSetPatch changed the instance it read")
	}
	if _, err := deviceSetPatch(inst, "http", map[string]string{"type": "disk"}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("type change: err = %v", err)
	}
	if _, err := deviceSetPatch(inst, "root", map[string]string{"size": "1GiB"}); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "profile") {
		t.Errorf("profile device: err = %v", err)
	}
	if _, err := deviceSetPatch(inst, "nope", map[string]string{"a": "b"}); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("missing device: err = %v", err)
	}
}

func TestLayoutRows(t *testing.T) {
	cols, err := parseColumns("n4d")
	if err != nil {
		t.Fatal(err)
	}
	rows := [][]string{
		{"web1", "10.0.3.5 (eth0)\n10.0.4.2 (eth1)", "two\nlines"},
		{"web2", "-", "x"},
	}
	var b bytes.Buffer
	if err := renderTable(&b, []string{"NAME", "IPV4", "DESCRIPTION"}, layoutRows(formatTable, cols, rows)); err != nil {
		t.Fatal(err)
	}
	want := "NAME  IPV4             DESCRIPTION\n" +
		"web1  10.0.3.5 (eth0)  two lines\n" +
		"      10.0.4.2 (eth1)\n" +
		"web2  -                x\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	csvRows := layoutRows(formatCSV, cols, rows)
	if got := strings.Join(csvRows[0], "|"); got != "web1|10.0.3.5 (eth0),10.0.4.2 (eth1)|two\nlines" {
		t.Errorf("csv row = %q", got)
	}
	if rows[0][1] != "10.0.3.5 (eth0)\n10.0.4.2 (eth1)" {
		t.Error("layoutRows changed its input")
	}
}

func TestWriteInstanceNetwork(t *testing.T) {
	var b bytes.Buffer
	writeInstanceNetwork(&b, map[string]api.InstanceStateNetwork{
		"eth0": {Type: "broadcast", State: "up", Hwaddr: "00:16:3e:aa:bb:cc", HostName: "vethA1B2",
			Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "10.0.3.5", Netmask: "24", Scope: "global"}}},
		"lo": {Type: "loopback", State: "up", Counters: &api.InstanceStateNetworkCounters{BytesReceived: 2048, PacketsSent: 1500}},
	})
	want := "\nNetwork:\n" +
		"  eth0:\n" +
		"    Type:             broadcast\n" +
		"    State:            UP\n" +
		"    Host interface:   vethA1B2\n" +
		"    MAC address:      00:16:3e:aa:bb:cc\n" +
		"    IP addresses:\n" +
		"      inet:  10.0.3.5/24 (global)\n" +
		"  lo:\n" +
		"    Type:             loopback\n" +
		"    State:            UP\n" +
		"    Bytes received:   2.00KiB\n" +
		"    Bytes sent:       0B\n" +
		"    Packets received: 0\n" +
		"    Packets sent:     1.50k\n"
	if b.String() != want {
		t.Errorf("network section:\n%s\nwant:\n%s", b.String(), want)
	}
}
