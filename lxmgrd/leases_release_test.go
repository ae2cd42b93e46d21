package main

import (
	"reflect"
	"testing"

	"github.com/lxmgr/lxmgr/instance"
)

func TestGoneNICs(t *testing.T) {
	a := nicInfo{device: "eth0", network: "n1", bridge: "n1", hwaddr: "00:16:3e:00:00:01"}
	b := nicInfo{device: "eth1", network: "n2", bridge: "n2", hwaddr: "00:16:3e:00:00:02"}
	moved := a
	moved.network, moved.bridge = "n2", "n2"
	newMAC := a
	newMAC.hwaddr = "00:16:3e:00:00:09"
	renamed := a
	renamed.device, renamed.name = "lan", "lan"
	// The last run's nic from the liblxc config, on a managed bridge
	// named as a parent: the same place, so not gone.
	ran := driverNICs("web1", []instance.NIC{{Name: "eth0", Bridge: "n1", HWAddr: "00:16:3E:00:00:01"}})
	parent := nicInfo{device: "eth0", bridge: "n1", hwaddr: "00:16:3e:00:00:01"}
	tests := []struct {
		name          string
		before, after []nicInfo
		want          []nicInfo
	}{
		{"unchanged", []nicInfo{a, b}, []nicInfo{a, b}, nil},
		{"deleted", []nicInfo{a, b}, nil, []nicInfo{a, b}},
		{"one removed", []nicInfo{a, b}, []nicInfo{b}, []nicInfo{a}},
		{"moved to another network", []nicInfo{a}, []nicInfo{moved}, []nicInfo{a}},
		{"new MAC", []nicInfo{a}, []nicInfo{newMAC}, []nicInfo{a}},
		{"device renamed, same MAC and network", []nicInfo{a}, []nicInfo{renamed}, nil},
		{"ran with, still there", ran, []nicInfo{a}, nil},
		{"ran with, now as parent", ran, []nicInfo{parent}, nil},
		{"ran with, removed since", ran, []nicInfo{b}, ran},
	}
	for _, tt := range tests {
		if got := goneNICs(tt.before, tt.after); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: goneNICs = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if ran[0].hwaddr != "00:16:3e:00:00:01" || ran[0].bridge != "n1" || ran[0].instance != "web1" {
		t.Errorf("driverNICs: %+v", ran[0])
	}
}
