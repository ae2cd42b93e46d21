package main

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestNetworkCreateRequest(t *testing.T) {
	cases := []struct {
		name    string
		items   []string
		want    map[string]string
		wantErr bool
	}{
		{"lxm0", nil, map[string]string{}, false},
		{"lxm0", []string{"ipv4.address=10.5.0.1/24", "ipv4.nat=true"},
			map[string]string{"ipv4.address": "10.5.0.1/24", "ipv4.nat": "true"}, false},
		{"lan1", []string{"ipv4.dhcp.ranges=10.6.0.100-10.6.0.200", "dns.domain=lan", "raw.x=a=b"},
			map[string]string{"ipv4.dhcp.ranges": "10.6.0.100-10.6.0.200", "dns.domain": "lan", "raw.x": "a=b"}, false},
		{"lxm0", []string{"ipv4.nat"}, nil, true},
		{"lxm0", []string{"=true"}, nil, true},
		{"lxm0", []string{"ipv4 nat=true"}, nil, true},
		{"bad.name", nil, nil, true},
		{"../x", nil, nil, true},
		{"averyveryverylongname", nil, nil, true},
		{"", nil, nil, true},
	}
	for _, c := range cases {
		req, err := networkCreateRequest(c.name, "bridge", "desc", c.items)
		if (err != nil) != c.wantErr {
			t.Errorf("%s %q: err = %v, wantErr %v", c.name, c.items, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if !maps.Equal(req.Config, c.want) || req.Name != c.name || req.Type != "bridge" || req.Description != "desc" {
			t.Errorf("%s %q: request = %+v, want config %v", c.name, c.items, req, c.want)
		}
	}
}

func TestValidateNetworkName(t *testing.T) {
	cases := map[string]bool{
		"lxm0": true, "a": true, strings.Repeat("b", 15): true, strings.Repeat("b", 16): false,
		"eth0.1": false, "a/b": false, "a b": false, "-x": false, "1x": false, "": false,
	}
	for name, ok := range cases {
		err := validateNetworkName(name)
		if (err == nil) != ok {
			t.Errorf("validateNetworkName(%q) = %v, want ok=%v", name, err, ok)
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("validateNetworkName(%q) = %v, does not wrap ErrInvalid", name, err)
		}
	}
}

func TestNetworkUnsetPatch(t *testing.T) {
	got, err := unsetPatch([]string{"dns.domain", "ipv4.nat"}, "k")
	if err != nil || !maps.Equal(got, map[string]string{"dns.domain": "", "ipv4.nat": ""}) {
		t.Errorf("unsetPatch = %v, %v", got, err)
	}
	for _, bad := range []string{"", "a=b", "a b"} {
		if _, err := unsetPatch([]string{bad}, "k"); err == nil {
			t.Errorf("unsetPatch(%q) accepted", bad)
		}
	}
}

func TestParseNetworkYAML(t *testing.T) {
	full := api.Network{
		NetworkPut: api.NetworkPut{
			Config:      map[string]string{"ipv4.address": "10.5.0.1/24", "ipv4.nat": "true", "bridge.mtu": "1400"},
			Description: "lab bridge",
		},
		Name: "lxm0", Type: "bridge", Managed: true, Status: "Created", UsedBy: []string{"/1.0/instances/web1"},
	}
	var shown bytes.Buffer
	if err := writeYAML(&shown, full); err != nil {
		t.Fatal(err)
	}
	tmpl, err := networkEditTemplate(full)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		in      string
		want    api.NetworkPut
		wantErr string
	}{
		{"show output round trip", shown.String(), full.NetworkPut, ""},
		{"editor template round trip", string(tmpl), full.NetworkPut, ""},
		{"scalars read as strings", "config:\n  ipv4.nat: true\n  bridge.mtu: 1500\n",
			api.NetworkPut{Config: map[string]string{"ipv4.nat": "true", "bridge.mtu": "1500"}}, ""},
		{"read-only fields ignored", "name: other\ntype: macvlan\nmanaged: false\nstatus: Errored\nused_by: [x]\ndescription: d\n",
			api.NetworkPut{Config: map[string]string{}, Description: "d"}, ""},
		{"no config clears it", "description: only\n", api.NetworkPut{Config: map[string]string{}, Description: "only"}, ""},
		{"unknown field", "config: {}\nconfg: {}\n", api.NetworkPut{}, "confg"},
		{"config not a map", "config: [a, b]\n", api.NetworkPut{}, "parse network yaml"},
		{"empty", "  \n", api.NetworkPut{}, "empty"},
		{"only comments", "# nothing\n", api.NetworkPut{}, "empty"},
		{"two documents", "description: a\n---\ndescription: b\n", api.NetworkPut{}, "one document"},
	}
	for _, c := range cases {
		got, err := parseNetworkYAML([]byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error spans lines: %q", c.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestNetworkRows(t *testing.T) {
	nets := []api.Network{
		{NetworkPut: api.NetworkPut{Config: map[string]string{"ipv4.address": "10.5.0.1/24", "ipv4.nat": "true"}},
			Name: "lxm0", Type: "bridge", Managed: true, Status: "Created", UsedBy: []string{"a", "b"}},
		{Name: "eth0", Type: "physical", Status: ""},
	}
	header, rows := networkRows(nets)
	if got := strings.Join(header, "|"); got != "NAME|TYPE|MANAGED|IPV4|NAT|USED BY|STATUS" {
		t.Errorf("header = %q", got)
	}
	want := []string{"lxm0|bridge|yes|10.5.0.1/24|true|2|Created", "eth0|physical|no|||0|"}
	for i, w := range want {
		if got := strings.Join(rows[i], "|"); got != w {
			t.Errorf("row %d = %q, want %q", i, got, w)
		}
	}
}

func TestWriteNetworkInfo(t *testing.T) {
	n := api.Network{Name: "lxm0", Type: "bridge", Managed: true, Status: "Created",
		UsedBy: []string{"/1.0/instances/web1", "/1.0/profiles/default?project=p1", "weird"}}
	st := api.NetworkState{
		State: "up", Mtu: 1500, Hwaddr: "00:16:3e:00:00:01",
		Addresses: []api.NetworkStateAddress{{Family: "inet", Address: "10.5.0.1", Netmask: "24", Scope: "global"}},
		Counters:  api.NetworkStateCounters{BytesReceived: 3 << 20, BytesSent: 512, PacketsReceived: 1234567, PacketsSent: 12},
	}
	leases := []api.NetworkLease{
		{Hostname: "web2", Hwaddr: "00:16:3e:00:00:03", Address: "10.5.0.20", Type: "static"},
		{Hostname: "web3", Hwaddr: "00:16:3e:00:00:04", Address: "10.5.0.9", Type: "dynamic"},
		{Hostname: "evil\x1b[2J", Hwaddr: "00:16:3e:00:00:02", Address: "10.5.0.10", Type: "dynamic"},
	}
	var b bytes.Buffer
	writeNetworkInfo(&b, &n, &st, nil, leases, nil)
	out := b.String()
	for _, want := range []string{
		"State:        up", "MTU:          1500", "inet:  10.5.0.1/24 (global)",
		"Bytes received:    3.00MiB", "Packets received:  1.23M", "Packets sent:      12",
		"HOSTNAME  MAC", "evil?[2J  00:16:3e:00:00:02  10.5.0.10  dynamic",
		"- web1 (instance)", "- default (profile, project p1)", "- weird",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("info passes a terminal escape through:\n%q", out)
	}
	if !(strings.Index(out, "10.5.0.9 ") < strings.Index(out, "10.5.0.10") && strings.Index(out, "10.5.0.10") < strings.Index(out, "10.5.0.20")) {
		t.Errorf("leases not sorted by address:\n%s", out)
	}

	b.Reset()
	writeNetworkInfo(&b, &api.Network{Name: "x"}, &api.NetworkState{}, errors.New("bridge missing"), nil, errors.New("no leases\nat all"))
	out = b.String()
	for _, want := range []string{"State:        unknown (bridge missing)", "unavailable (no leases at all)", "Used by:\n  nothing"} {
		if !strings.Contains(out, want) {
			t.Errorf("degraded info lacks %q:\n%s", want, out)
		}
	}
}
