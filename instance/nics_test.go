package instance

import (
	"reflect"
	"testing"
)

func TestConfiguredNICs(t *testing.T) {
	d := testDriver(hostInfo{})
	d.LXCPath = t.TempDir()
	if nics, err := d.ConfiguredNICs("web1"); err != nil || nics != nil {
		t.Fatalf("not defined: %v, %v", nics, err)
	}
	spec := baseSpec()
	if err := d.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if nics, err := d.ConfiguredNICs("web1"); err != nil || len(nics) != 0 {
		t.Fatalf("no nics (type empty): %+v, %v", nics, err)
	}
	spec.NICs = []NIC{
		{Name: "eth0", Bridge: "lxmbr0", HWAddr: "00:16:3E:00:00:01", HostName: "vethaaa"},
		{Name: "eth1", Bridge: "lan2", HWAddr: "00:16:3e:00:00:02", HostName: "vethbbb", MTU: 1400},
	}
	// A nic of raw.lxc's is the admin's, not one the daemon manages.
	spec.RawLXC = "lxc.net.2.type = veth\nlxc.net.2.link = lxmbr0\nlxc.net.2.hwaddr = 00:16:3e:00:00:03"
	if err := d.Create(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	nics, err := d.ConfiguredNICs("web1")
	if err != nil {
		t.Fatal(err)
	}
	want := []NIC{
		{Name: "eth0", Bridge: "lxmbr0", HWAddr: "00:16:3e:00:00:01", HostName: "vethaaa"},
		{Name: "eth1", Bridge: "lan2", HWAddr: "00:16:3e:00:00:02", HostName: "vethbbb"},
	}
	if !reflect.DeepEqual(nics, want) {
		t.Errorf("ConfiguredNICs = %+v, want %+v", nics, want)
	}
	if _, err := d.ConfiguredNICs("../x"); err == nil {
		t.Errorf("a bad name was read")
	}
}
