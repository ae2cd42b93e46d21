package main

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestStorageCreateRequest(t *testing.T) {
	cases := []struct {
		name, driver string
		items        []string
		want         map[string]string
		wantErr      bool
	}{
		{"fast", "btrfs", []string{"size=8GiB"}, map[string]string{"size": "8GiB"}, false},
		{"data", "dir", []string{"source=/srv/lxmgr"}, map[string]string{"source": "/srv/lxmgr"}, false},
		{"data", "dir", nil, map[string]string{}, false},
		{"data", "dir", []string{"x.y=a=b", "x.y=c"}, map[string]string{"x.y": "c"}, false},
		{"data", "dir", []string{"size"}, nil, true},
		{"data", "dir", []string{"=1"}, nil, true},
		{"data", "", nil, nil, true},
		{"data", "../dir", nil, nil, true},
		{"a_b", "dir", nil, nil, true},
		{"../x", "dir", nil, nil, true},
		{"", "dir", nil, nil, true},
	}
	for _, c := range cases {
		req, err := storageCreateRequest(c.name, c.driver, "d", c.items)
		if (err != nil) != c.wantErr {
			t.Errorf("%s %s %q: err = %v, wantErr %v", c.name, c.driver, c.items, err, c.wantErr)
			continue
		}
		if !c.wantErr && (!maps.Equal(req.Config, c.want) || req.Name != c.name || req.Driver != c.driver || req.Description != "d") {
			t.Errorf("%s %s %q: request = %+v, want config %v", c.name, c.driver, c.items, req, c.want)
		}
	}
}

func TestStorageUnsetPatch(t *testing.T) {
	if got, err := unsetPatch([]string{"size", "volume.size"}, "k"); err != nil || !maps.Equal(got, map[string]string{"size": "", "volume.size": ""}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "size=1", "a b"} {
		if _, err := unsetPatch([]string{bad}, "k"); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestSpaceCells(t *testing.T) {
	cases := []struct {
		res               *api.StoragePoolResources
		used, total, free string
	}{
		{nil, "", "", ""},
		{&api.StoragePoolResources{Space: api.StoragePoolSpace{Used: 3 << 30, Total: 10 << 30}}, "3.00GiB", "10.00GiB", "7.00GiB"},
		{&api.StoragePoolResources{Space: api.StoragePoolSpace{Used: 512}}, "512B", "", ""},
		{&api.StoragePoolResources{Space: api.StoragePoolSpace{Used: 2 << 20, Total: 1 << 20}}, "2.00MiB", "1.00MiB", "0B"},
	}
	for _, c := range cases {
		u, tot, f := spaceCells(c.res)
		if u != c.used || tot != c.total || f != c.free {
			t.Errorf("%+v: got %q %q %q", c.res, u, tot, f)
		}
	}
}

func TestVolumeAttachDetachPatch(t *testing.T) {
	inst := fixtureInstance()
	inst.Devices["vol0"] = map[string]string{"type": "disk", "pool": "default", "source": "logs", "path": "/var/log/app"}
	inst.ExpandedDevices["shared"] = map[string]string{"type": "disk", "pool": "default", "source": "shared", "path": "/shared"}

	p, err := volumeAttachPatch(inst, "default", "data", "/srv/data", "data")
	want := map[string]string{"type": "disk", "pool": "default", "source": "data", "path": "/srv/data"}
	if err != nil || !maps.Equal(p.Devices["data"], want) || len(p.Devices) != 1 || p.Config != nil {
		t.Errorf("attach: %+v, %v", p, err)
	}
	if _, err := volumeAttachPatch(inst, "default", "data", "/srv", "http"); !errors.Is(err, api.ErrConflict) {
		t.Errorf("attach over an existing device: %v", err)
	}
	if _, err := volumeAttachPatch(inst, "default", "logs", "/logs", "logs"); !errors.Is(err, api.ErrConflict) {
		t.Errorf("attach twice: %v", err)
	}

	p, devs, err := volumeDetachPatch(inst, "default", "logs")
	if err != nil || len(devs) != 1 || devs[0] != "vol0" || p.Devices["vol0"] != nil || len(p.Devices) != 1 {
		t.Errorf("detach: %+v %v %v", p, devs, err)
	}
	if _, _, err := volumeDetachPatch(inst, "other", "logs"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("detach from another pool: %v", err)
	}
	if _, _, err := volumeDetachPatch(inst, "default", "shared"); !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "profile") {
		t.Errorf("detach a profile's volume: %v", err)
	}
}

func TestValidateMountPath(t *testing.T) {
	cases := map[string]bool{"/srv/data": true, "/a": true, "/": false, "//": false, "srv": false, "": false, "/a\nb": false}
	for p, ok := range cases {
		if err := validateMountPath(p); (err == nil) != ok {
			t.Errorf("validateMountPath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

func TestWriteStorageInfo(t *testing.T) {
	p := fixturePool()
	res := api.StoragePoolResources{Space: api.StoragePoolSpace{Used: 1 << 30, Total: 4 << 30}}
	var b bytes.Buffer
	writeStorageInfo(&b, &p, &res, nil, fixtureVolumes(), nil)
	for _, want := range []string{"Driver:      dir\n", "Used by:     2\n", "  source: /var/lib/lxmgr/storage-pools/default\n",
		"  Free:   3.00GiB\n", "  container (1): web1\n", "  custom (1): data\n", "  image (1): 0123abcd\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("info lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	writeStorageInfo(&b, &p, &res, errors.New("pool unavailable"), nil, errors.New("no\nvolumes"))
	if !strings.Contains(b.String(), "unknown (pool unavailable)") || !strings.Contains(b.String(), "unknown (no volumes)") {
		t.Errorf("errors not shown:\n%s", b.String())
	}
}

// cliCase is one command line run against the fake daemon: the last write
// it makes (method, path, body, If-Match) and what it prints.
type cliCase struct {
	name     string
	args     []string
	setup    func(*fakeDaemon)
	race     bool
	method   string   // "" = no write expected
	path     string   // of the last write
	body     string   // exact bodyString of the last write, if not ""
	bodyHas  []string // substrings of the bodyString
	ifMatch  string
	stdout   []string // substrings
	exitCode int
	stderr   string // substring of the one error line
}

func runCLICases(t *testing.T, cases []cliCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDaemon(t)
			f.raceNext = c.race
			if c.setup != nil {
				c.setup(f)
			}
			code, stdout, stderr := runCLI(t, f, "", c.args...)
			if code != c.exitCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.exitCode, stderr)
			}
			if c.stderr != "" && (!strings.Contains(stderr, c.stderr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout %q, want it to contain %q", stdout, s)
				}
			}
			if c.method == "" {
				for _, r := range f.reqs {
					if r.method != http.MethodGet {
						t.Errorf("unexpected write %s %s %s", r.method, r.path, bodyString(r))
					}
				}
				return
			}
			w := f.lastWrite(t)
			if w.method != c.method || w.path != c.path || (c.body != "" && bodyString(w) != c.body) {
				t.Errorf("request %s %s %s, want %s %s %s", w.method, w.path, bodyString(w), c.method, c.path, c.body)
			}
			for _, s := range c.bodyHas {
				if !strings.Contains(bodyString(w), s) {
					t.Errorf("body %s lacks %s", bodyString(w), s)
				}
			}
			if w.ifMatch != c.ifMatch {
				t.Errorf("%s sent If-Match %q, want %q", w.method, w.ifMatch, c.ifMatch)
			}
		})
	}
}

func TestStorageCLIAgainstFakeDaemon(t *testing.T) {
	withData := func(f *fakeDaemon) {
		f.inst.Devices["data"] = map[string]string{"type": "disk", "pool": "default", "source": "data", "path": "/srv"}
	}
	runCLICases(t, []cliCase{
		{name: "create (answered with an operation)", args: []string{"storage", "create", "fast", "btrfs", "size=8GiB"},
			method: "POST", path: "/1.0/storage-pools", body: `config={"size":"8GiB"};description="";driver="btrfs";name="fast";`,
			stdout: []string{"Storage pool fast created\n"}},
		{name: "create dir", args: []string{"storage", "create", "data", "dir", "source=/srv/lxmgr", "--description", "x"},
			method: "POST", path: "/1.0/storage-pools", body: `config={"source":"/srv/lxmgr"};description="x";driver="dir";name="data";`},
		{name: "create bad name", args: []string{"storage", "create", "a_b", "dir"}, exitCode: 1, stderr: "invalid storage pool name"},
		{name: "create no driver", args: []string{"storage", "create", "fast"}, exitCode: 1, stderr: "takes at least 2 arguments"},
		{name: "list csv", args: []string{"storage", "list", "-f", "csv"},
			stdout: []string{"default,dir,3.00GiB,10.00GiB,7.00GiB,2,Created\n", "broken,btrfs,,,,0,Unavailable\n"}},
		{name: "list table", args: []string{"storage", "list"},
			stdout: []string{"NAME     DRIVER  USED     TOTAL     FREE     USED BY  STATUS\n", "default  dir     3.00GiB  10.00GiB  7.00GiB  2        Created\n"}},
		{name: "list json", args: []string{"storage", "ls", "-f", "json"}, stdout: []string{`"resources": {`, `"total": 10737418240`, `"driver": "btrfs"`}},
		{name: "info", args: []string{"storage", "info", "default"},
			stdout: []string{"Driver:      dir\n", "  Total:  10.00GiB\n", "  custom (1): data\n"}},
		{name: "info missing", args: []string{"storage", "info", "nope"}, exitCode: 1, stderr: "storage info nope: not found"},
		{name: "show", args: []string{"storage", "show", "default"}, stdout: []string{"driver: dir\n", "description: main\n", "used_by:\n"}},
		{name: "set", args: []string{"storage", "set", "default", "size=2GiB"},
			method: "PATCH", path: "/1.0/storage-pools/default", body: `config={"size":"2GiB"};`, ifMatch: `"v1"`},
		{name: "unset", args: []string{"storage", "unset", "default", "source"},
			method: "PATCH", path: "/1.0/storage-pools/default", body: `config={"source":""};`, ifMatch: `"v1"`},
		{name: "set concurrent change", args: []string{"storage", "set", "default", "size=2GiB"}, race: true,
			method: "PATCH", path: "/1.0/storage-pools/default", ifMatch: `"v1"`,
			exitCode: 1, stderr: "update storage pool default: storage pool default was changed by someone else"},
		{name: "delete", args: []string{"storage", "delete", "default"}, method: "DELETE", path: "/1.0/storage-pools/default",
			stdout: []string{"Storage pool default deleted\n"}},
		{name: "volume create", args: []string{"storage", "volume", "create", "default", "data2", "size=2GiB"},
			method: "POST", path: "/1.0/storage-pools/default/volumes/custom",
			body: `config={"size":"2GiB"};description="";name="data2";type="custom";`, stdout: []string{"Storage volume data2 created in pool default\n"}},
		{name: "volume create bad name", args: []string{"storage", "volume", "create", "default", "a/b"}, exitCode: 1, stderr: "invalid storage volume name"},
		{name: "volume list", args: []string{"storage", "volume", "list", "default", "-f", "csv"},
			stdout: []string{"container,web1,1\ncustom,data,0\nimage,0123abcd,0\n"}},
		{name: "volume delete", args: []string{"storage", "volume", "delete", "default", "data"},
			method: "DELETE", path: "/1.0/storage-pools/default/volumes/custom/data"},
		{name: "volume attach", args: []string{"storage", "volume", "attach", "default", "data", "web1", "/srv/data"},
			method: "PATCH", path: "/1.0/instances/web1", ifMatch: `"v1"`,
			body:   `devices={"data":{"path":"/srv/data","pool":"default","source":"data","type":"disk"}};`,
			stdout: []string{"Volume default/data attached to web1 at /srv/data (device data)\n"}},
		{name: "volume attach named device", args: []string{"storage", "volume", "attach", "default", "data", "web1", "/srv/data", "vol0"},
			method: "PATCH", path: "/1.0/instances/web1", ifMatch: `"v1"`,
			body: `devices={"vol0":{"path":"/srv/data","pool":"default","source":"data","type":"disk"}};`},
		{name: "volume attach device exists", args: []string{"storage", "volume", "attach", "default", "data", "web1", "/srv", "http"},
			exitCode: 1, stderr: `already has a device "http"`},
		{name: "volume attach missing volume", args: []string{"storage", "volume", "attach", "default", "nope", "web1", "/srv"},
			exitCode: 1, stderr: "storage volume attach default/nope: not found"},
		{name: "volume attach relative path", args: []string{"storage", "volume", "attach", "default", "data", "web1", "srv"},
			exitCode: 1, stderr: "want an absolute path"},
		{name: "volume detach", args: []string{"storage", "volume", "detach", "default", "data", "web1"}, setup: withData,
			method: "PATCH", path: "/1.0/instances/web1", ifMatch: `"v1"`, body: `devices={"data":null};`,
			stdout: []string{"Volume default/data detached from web1 (device data removed)\n"}},
		{name: "volume detach not attached", args: []string{"storage", "volume", "detach", "default", "data", "web1"},
			exitCode: 1, stderr: "volume default/data is not attached to web1"},
	})
}
