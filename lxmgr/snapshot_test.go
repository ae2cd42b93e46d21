package main

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

func TestSplitSnapshotArgs(t *testing.T) {
	cases := []struct {
		args    []string
		inst    string
		snaps   []string
		wantErr bool
	}{
		{[]string{"web1"}, "web1", nil, false},
		{[]string{"web1", "snap3"}, "web1", []string{"snap3"}, false},
		{[]string{"web1/snap3"}, "web1", []string{"snap3"}, false},
		{[]string{"web1", "a", "b"}, "web1", []string{"a", "b"}, false},
		{[]string{"web1/snap3", "x"}, "", nil, true},
		{[]string{"web1/"}, "", nil, true},
		{[]string{"/snap0"}, "", nil, true},
		{[]string{"web1/a/b"}, "", nil, true},
		{[]string{"web1", "a/b"}, "", nil, true},
		{[]string{"web1", ".."}, "", nil, true},
		{[]string{"web 1"}, "", nil, true},
		{nil, "", nil, true},
	}
	for _, c := range cases {
		inst, snaps, err := splitSnapshotArgs(c.args)
		if (err != nil) != c.wantErr {
			t.Errorf("%q: err = %v, wantErr %v", c.args, err, c.wantErr)
			continue
		}
		if !c.wantErr && (inst != c.inst || !slices.Equal(snaps, c.snaps)) {
			t.Errorf("%q: got %q %q, want %q %q", c.args, inst, snaps, c.inst, c.snaps)
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%q: %v does not wrap ErrInvalid", c.args, err)
		}
	}
}

func TestNextSnapshotName(t *testing.T) {
	snaps := func(names ...string) []api.InstanceSnapshot {
		var out []api.InstanceSnapshot
		for _, n := range names {
			out = append(out, api.InstanceSnapshot{Name: n})
		}
		return out
	}
	cases := []struct {
		existing []api.InstanceSnapshot
		want     string
	}{
		{nil, "snap0"},
		{snaps("snap0"), "snap1"},
		{snaps("snap0", "snap2"), "snap1"},
		{snaps("snap1", "before"), "snap0"},
		{snaps("web1/snap0", "web1/snap1"), "snap2"},
	}
	for _, c := range cases {
		if got := nextSnapshotName(c.existing); got != c.want {
			t.Errorf("%v: got %s, want %s", c.existing, got, c.want)
		}
	}
}

func TestCopyRequest(t *testing.T) {
	cases := []struct {
		src, dst string
		profiles []string
		source   string
		wantErr  bool
	}{
		{"web1", "web2", nil, "web1", false},
		{"web1/snap0", "web2", []string{"default"}, "web1/snap0", false},
		{"web1/", "web2", nil, "", true},
		{"web1/a/b", "web2", nil, "", true},
		{"web1/snap0", "web2/x", nil, "", true},
		{"../x", "web2", nil, "", true},
		{"web1", "web2", []string{"a b"}, "", true},
	}
	for _, c := range cases {
		req, err := copyRequest(c.src, c.dst, c.profiles, true)
		if (err != nil) != c.wantErr {
			t.Errorf("%s %s: err = %v, wantErr %v", c.src, c.dst, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if req.Source != (api.InstanceSource{Type: "copy", Source: c.source}) || req.Name != c.dst || !req.Start ||
			!slices.Equal(req.Profiles, c.profiles) || (c.profiles == nil) != (req.Profiles == nil) {
			t.Errorf("%s %s: request %+v", c.src, c.dst, req)
		}
	}
}

func TestParseDeviceOverrides(t *testing.T) {
	cases := []struct {
		items   []string
		want    map[string]map[string]string
		wantErr bool
	}{
		{[]string{"root,size=2GiB"}, map[string]map[string]string{"root": {"size": "2GiB"}}, false},
		{[]string{"root,size=2GiB,pool=fast", "eth0,network=lxm0", "root,size=3GiB"},
			map[string]map[string]string{"root": {"size": "3GiB", "pool": "fast"}, "eth0": {"network": "lxm0"}}, false},
		{[]string{"data,type=disk,source=/srv,path=/srv,readonly="},
			map[string]map[string]string{"data": {"type": "disk", "source": "/srv", "path": "/srv", "readonly": ""}}, false},
		{[]string{"root"}, nil, true},
		{[]string{"root,"}, nil, true},
		{[]string{"root,size"}, nil, true},
		{[]string{",size=1"}, nil, true},
		{[]string{"../x,size=1"}, nil, true},
	}
	for _, c := range cases {
		got, err := parseDeviceOverrides(c.items)
		if (err != nil) != c.wantErr {
			t.Errorf("%q: err = %v, wantErr %v", c.items, err, c.wantErr)
			continue
		}
		if !c.wantErr && !maps.EqualFunc(got, c.want, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
			t.Errorf("%q: got %v, want %v", c.items, got, c.want)
		}
	}
}

func TestInstanceDevices(t *testing.T) {
	base := api.Devices{
		"root": {"type": "disk", "path": "/", "pool": "slow", "size": "1GiB"},
		"eth0": {"type": "nic", "network": "lxmbr0", "name": "eth0"},
	}
	cases := []struct {
		name    string
		flags   createFlags
		base    api.Devices
		want    api.Devices
		wantErr bool
	}{
		{"-s only, no profile root", createFlags{storage: "fast"}, nil,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "fast"}}, false},
		{"-s keeps the profile root's keys", createFlags{storage: "fast"}, base,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "fast", "size": "1GiB"}}, false},
		{"-d root without -s keeps the profile's pool", createFlags{devices: []string{"root,size=2GiB"}}, base,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "slow", "size": "2GiB"}}, false},
		{"-d root, no profile root: default pool", createFlags{devices: []string{"root,size=2GiB"}}, nil,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "default", "size": "2GiB"}}, false},
		{"-s and -d root", createFlags{storage: "fast", devices: []string{"root,size=2GiB"}}, nil,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "fast", "size": "2GiB"}}, false},
		{"empty value removes a key", createFlags{devices: []string{"root,size="}}, base,
			api.Devices{"root": {"type": "disk", "path": "/", "pool": "slow"}}, false},
		{"profile nic override", createFlags{devices: []string{"eth0,network=lxm0"}}, base,
			api.Devices{"eth0": {"type": "nic", "network": "lxm0", "name": "eth0"}}, false},
		{"new device with type", createFlags{devices: []string{"data,type=disk,source=/srv,path=/srv"}}, base,
			api.Devices{"data": {"type": "disk", "source": "/srv", "path": "/srv"}}, false},
		{"new device without type", createFlags{devices: []string{"data,source=/srv"}}, base, nil, true},
		{"root made not a disk", createFlags{devices: []string{"root,type=nic"}}, base, nil, true},
		{"root moved", createFlags{devices: []string{"root,path=/x"}}, base, nil, true},
	}
	for _, c := range cases {
		got, err := c.flags.instanceDevices(c.base)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", c.name, err, c.wantErr)
			continue
		}
		if !c.wantErr && !maps.EqualFunc(got, c.want, func(a, b map[string]string) bool { return maps.Equal(a, b) }) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
	if base["root"]["size"] != "1GiB" || base["root"]["pool"] != "slow" {
		t.Errorf("the profile's devices were changed: %v", base)
	}
}

func TestCreateFlagsCheckDevices(t *testing.T) {
	cases := []struct {
		flags   createFlags
		wantErr bool
	}{
		{createFlags{}, false},
		{createFlags{storage: "fast", devices: []string{"root,size=2GiB"}}, false},
		{createFlags{storage: "fast", devices: []string{"root,pool=fast"}}, false},
		{createFlags{storage: "fast", devices: []string{"root,pool=slow"}}, true},
		{createFlags{storage: "a/b"}, true},
		{createFlags{devices: []string{"root"}}, true},
	}
	for _, c := range cases {
		_, err := c.flags.request("busybox", "web1", true)
		if (err != nil) != c.wantErr {
			t.Errorf("%+v: err = %v, wantErr %v", c.flags, err, c.wantErr)
		}
	}
}

func TestWriteInfoDisksAndSnapshots(t *testing.T) {
	i := api.InstanceFull{Instance: api.Instance{Name: "web1", Status: "Stopped"},
		State: &api.InstanceState{Status: "Stopped", Disk: map[string]api.InstanceStateDisk{"root": {Usage: 5 << 20}, "data": {Usage: 0}}}}
	var b bytes.Buffer
	writeInfo(&b, &i)
	writeInfoSnapshots(&b, fixtureSnapshots(), nil)
	out := b.String()
	for _, want := range []string{"\nDisk:\n  data:                0B\n  root:                5.00MiB\n", "\nSnapshots:\n  snap0  "} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "snap0") > strings.Index(out, "snap2") {
		t.Errorf("snapshots not oldest first:\n%s", out)
	}
	b.Reset()
	writeInfoSnapshots(&b, nil, errors.New("boom"))
	if b.String() != "\nSnapshots: unknown (boom)\n" {
		t.Errorf("got %q", b.String())
	}
	b.Reset()
	writeInfoSnapshots(&b, nil, nil)
	if b.String() != "" {
		t.Errorf("no snapshots printed %q", b.String())
	}
}

func TestSnapshotRows(t *testing.T) {
	snaps := fixtureSnapshots()
	sortSnapshots(snaps)
	_, rows := snapshotRows(snaps)
	if len(rows) != 2 || rows[0][0] != "snap0" || rows[0][2] != "" || rows[1][0] != "snap2" || rows[1][2] != "3.00MiB" ||
		rows[0][1] != time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Local().Format("2006-01-02 15:04:05 MST") {
		t.Errorf("rows %q", rows)
	}
}

func TestSnapshotCopyLaunchCLIAgainstFakeDaemon(t *testing.T) {
	snapPath := "/1.0/instances/web1/snapshots"
	runCLICases(t, []cliCase{
		{name: "snapshot picks the first free name", args: []string{"snapshot", "web1"},
			method: "POST", path: snapPath, body: `name="snap1";stateful=false;`, stdout: []string{"Snapshot snap1 of web1 created\n"}},
		{name: "snapshot named", args: []string{"snapshot", "web1", "snap3"}, method: "POST", path: snapPath, body: `name="snap3";stateful=false;`},
		{name: "snapshot NAME/SNAP", args: []string{"snapshot", "web1/before"}, method: "POST", path: snapPath, body: `name="before";stateful=false;`},
		{name: "snapshot create", args: []string{"snapshot", "create", "web1"}, method: "POST", path: snapPath, body: `name="snap1";stateful=false;`},
		{name: "snapshot create of an instance called list", args: []string{"snapshot", "create", "list", "s1"},
			method: "POST", path: "/1.0/instances/list/snapshots", exitCode: 1, stderr: "snapshot list/s1: not found"},
		{name: "snapshot bad name", args: []string{"snapshot", "web1", "a.b"}, exitCode: 1, stderr: "invalid snapshot name"},
		{name: "snapshot too many args", args: []string{"snapshot", "web1", "a", "b"}, exitCode: 1, stderr: "takes 0 to 2 arguments, got 3"},
		{name: "snapshot bare shows help", args: []string{"snapshot"}, stdout: []string{"Available Commands:"}},
		{name: "snapshot list", args: []string{"snapshot", "list", "web1"}, stdout: []string{"NAME   TAKEN AT", "3.00MiB\n"}},
		{name: "snapshot list csv", args: []string{"snapshot", "list", "web1", "-f", "csv"}, stdout: []string{"snap0,"}},
		{name: "snapshot list json", args: []string{"snapshot", "list", "web1", "-f", "json"}, stdout: []string{`"name": "snap0"`}},
		{name: "snapshot restore", args: []string{"snapshot", "restore", "web1", "snap0"},
			method: "PUT", path: "/1.0/instances/web1", body: `restore="snap0";`, stdout: []string{"Instance web1 restored from snapshot snap0\n"}},
		{name: "snapshot restore NAME/SNAP", args: []string{"snapshot", "restore", "web1/snap0"},
			method: "PUT", path: "/1.0/instances/web1", body: `restore="snap0";`},
		{name: "snapshot restore no snap", args: []string{"snapshot", "restore", "web1"}, exitCode: 1, stderr: "takes 2 arguments"},
		{name: "snapshot delete", args: []string{"snapshot", "delete", "web1", "snap0", "snap2"},
			method: "DELETE", path: snapPath + "/snap2", stdout: []string{"Snapshot snap0 of web1 deleted\nSnapshot snap2 of web1 deleted\n"}},
		{name: "snapshot delete NAME/SNAP", args: []string{"snapshot", "delete", "web1/snap0"}, method: "DELETE", path: snapPath + "/snap0"},
		{name: "snapshot delete no snap", args: []string{"snapshot", "delete", "web1"}, exitCode: 1, stderr: "takes at least 2 arguments"},
		{name: "copy", args: []string{"copy", "web1", "web2"}, method: "POST", path: "/1.0/instances",
			bodyHas: []string{`name="web2";`, `profiles=null;`, `source={"type":"copy","source":"web1"};`, `start=false;`},
			stdout:  []string{"Copied web1 to web2\n"}},
		{name: "copy snapshot, started, profiles", args: []string{"copy", "web1/snap0", "web2", "--start", "-p", "default", "-p", "extra"},
			method: "POST", path: "/1.0/instances",
			bodyHas: []string{`profiles=["default","extra"];`, `source={"type":"copy","source":"web1/snap0"};`, `start=true;`},
			stdout:  []string{"Copied web1/snap0 to web2 and started it\n"}},
		{name: "copy bad source", args: []string{"copy", "web1/", "web2"}, exitCode: 1, stderr: "snapshot name is empty"},
		{name: "launch -s", args: []string{"launch", "busybox", "t1", "-s", "fast"}, method: "POST", path: "/1.0/instances",
			bodyHas: []string{`devices={"root":{"path":"/","pool":"fast","size":"1GiB","type":"disk"}};`, `source={"type":"image","alias":"busybox"};`}},
		{name: "create -d root", args: []string{"create", "busybox", "t1", "-d", "root,size=2GiB"}, method: "POST", path: "/1.0/instances",
			bodyHas: []string{`devices={"root":{"path":"/","pool":"default","size":"2GiB","type":"disk"}};`, `start=false;`}},
		{name: "launch --storage without profiles", args: []string{"launch", "busybox", "t1", "--no-profiles", "--storage", "fast"},
			method: "POST", path: "/1.0/instances", bodyHas: []string{`devices={"root":{"path":"/","pool":"fast","type":"disk"}};`, `profiles=[];`}},
		{name: "launch -d profile nic", args: []string{"launch", "busybox", "t1", "-d", "eth0,network=lxm0"}, method: "POST", path: "/1.0/instances",
			bodyHas: []string{`devices={"eth0":{"name":"eth0","network":"lxm0","type":"nic"}};`}},
		{name: "launch -d unknown device", args: []string{"launch", "busybox", "t1", "-d", "data,source=/srv"}, exitCode: 1,
			stderr: `create t1: invalid request: device "data" is not in the instance's profiles`},
		{name: "launch -s with missing profile", args: []string{"launch", "busybox", "t1", "-s", "fast", "-p", "nope"}, exitCode: 1,
			stderr: "create t1: profile nope: not found"},
		{name: "launch without -s sends no devices", args: []string{"launch", "busybox", "t1"}, method: "POST", path: "/1.0/instances",
			bodyHas: []string{`devices=null;`}},
		{name: "info shows snapshots", args: []string{"info", "web1"}, stdout: []string{"\nSnapshots:\n  snap0  "}},
	})
}
