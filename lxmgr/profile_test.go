package main

import (
	"bytes"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

// profileYAML is a profile as 'profile show' prints it.
const profileYAML = `config:
  limits.cpu: "2"
description: imported
devices:
  eth1:
    name: eth1
    network: lxm0
    type: nic
name: %s
used_by: []
`

func TestProfileCLIAgainstFakeDaemon(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		stdin    string
		setup    func(f *fakeDaemon)
		race     bool
		method   string // "" = no write expected
		path     string
		body     string
		stdout   string // substring
		exitCode int
		stderr   string // substring of the one stderr line
		profiles string // the fake's profiles afterwards, when set
	}{
		{name: "create", args: []string{"profile", "create", "web2", "--description", "d"},
			method: "POST", path: "/1.0/profiles", body: `config={};description="d";devices={};name="web2";`,
			stdout: "Profile web2 created", profiles: "default,ssh,web,web2"},
		{name: "create existing", args: []string{"profile", "create", "web"},
			method: "POST", path: "/1.0/profiles", exitCode: 1, stderr: "create profile web: profile web already exists",
			body: `config={};description="";devices={};name="web";`},
		{name: "create bad name", args: []string{"profile", "create", "a/b"}, exitCode: 1, stderr: "invalid profile name"},
		{name: "copy", args: []string{"profile", "copy", "web", "web2"},
			method: "POST", path: "/1.0/profiles", body: `config={"limits.memory":"256MiB"};description="small web guests";devices={};name="web2";`,
			stdout: "Profile web copied to web2"},
		{name: "copy missing", args: []string{"profile", "copy", "nope", "web2"}, exitCode: 1, stderr: "copy profile nope: not found"},
		{name: "rename", args: []string{"profile", "rename", "web", "www"},
			method: "POST", path: "/1.0/profiles/web", body: `name="www";`, stdout: "Profile web renamed to www", profiles: "default,ssh,www"},
		{name: "rename default", args: []string{"profile", "rename", "default", "x"}, exitCode: 1, stderr: "cannot be renamed"},
		{name: "delete", args: []string{"profile", "delete", "web"},
			method: "DELETE", path: "/1.0/profiles/web", stdout: "Profile web deleted", profiles: "default,ssh"},
		{name: "delete default", args: []string{"profile", "delete", "default"},
			method: "DELETE", path: "/1.0/profiles/default", exitCode: 1, stderr: "the default profile cannot be deleted"},
		{name: "delete used", args: []string{"profile", "rm", "ssh"},
			method: "DELETE", path: "/1.0/profiles/ssh", exitCode: 1, stderr: "is used by 1 instances (see 'lxmgr profile show ssh'"},
		{name: "set", args: []string{"profile", "set", "web", "limits.cpu=2", "limits.memory=512MiB"},
			method: "PATCH", path: "/1.0/profiles/web", body: `config={"limits.cpu":"2","limits.memory":"512MiB"};`},
		{name: "set restart required", args: []string{"profile", "set", "ssh", "limits.cpu=2"},
			setup:  func(f *fakeDaemon) { f.restartRequired = []string{"web1: limits.cpu"} },
			method: "PATCH", path: "/1.0/profiles/ssh", body: `config={"limits.cpu":"2"};`,
			stderr: "Some changes take effect at the next restart: web1: limits.cpu"},
		{name: "set key value", args: []string{"profile", "set", "web", "user.note", "a=b c"},
			method: "PATCH", path: "/1.0/profiles/web", body: `config={"user.note":"a=b c"};`},
		{name: "set concurrent change", args: []string{"profile", "set", "web", "limits.cpu=2"}, race: true,
			exitCode: 1, stderr: "profile set web: profile web was changed by someone else"},
		{name: "set missing profile", args: []string{"profile", "set", "nope", "a=1"}, exitCode: 1, stderr: "profile set nope: not found"},
		{name: "unset", args: []string{"profile", "unset", "web", "limits.memory"},
			method: "PATCH", path: "/1.0/profiles/web", body: `config={"limits.memory":""};`},
		{name: "unset bad key", args: []string{"profile", "unset", "web", "a=b"}, exitCode: 1, stderr: "want a config key"},
		{name: "device add", args: []string{"profile", "device", "add", "web", "eth1", "nic", "network=lxm0", "name=eth1"},
			method: "PATCH", path: "/1.0/profiles/web", body: `devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};`,
			stdout: "Device eth1 added to profile web"},
		{name: "device add existing", args: []string{"profile", "device", "add", "default", "root", "disk"},
			exitCode: 1, stderr: `profile default already has a device "root"`},
		{name: "device remove", args: []string{"profile", "device", "remove", "default", "eth0"},
			method: "PATCH", path: "/1.0/profiles/default", body: `devices={"eth0":null};`, stdout: "Device eth0 removed from profile default"},
		{name: "device remove missing", args: []string{"profile", "device", "rm", "web", "eth0"},
			exitCode: 1, stderr: `profile web has no device "eth0"`},
		{name: "device show", args: []string{"profile", "device", "show", "default"},
			stdout: "root:\n  path: /\n  pool: default\n  size: 1GiB\n  type: disk\n"},
		{name: "device set", args: []string{"profile", "device", "set", "default", "root", "size=2GiB", "pool="},
			method: "PATCH", path: "/1.0/profiles/default", body: `devices={"root":{"path":"/","size":"2GiB","type":"disk"}};`},
		{name: "device set type", args: []string{"profile", "device", "set", "default", "root", "type=nic"},
			exitCode: 1, stderr: "cannot change"},
		{name: "show", args: []string{"profile", "show", "web"},
			stdout: "config:\n  limits.memory: 256MiB\ndescription: small web guests\ndevices: {}\nname: web\nused_by: []\n"},
		{name: "edit from stdin", args: []string{"profile", "edit", "web"},
			stdin:  "config:\n  limits.cpu: 2\ndescription: e\ndevices:\n  d:\n    type: disk\n    source: /srv\n    path: /srv\nname: web\nused_by: []\n",
			method: "PUT", path: "/1.0/profiles/web", body: `config={"limits.cpu":"2"};description="e";devices={"d":{"path":"/srv","source":"/srv","type":"disk"}};`},
		{name: "edit unknown key", args: []string{"profile", "edit", "web"}, stdin: "config: {}\nconfg: {}\n",
			exitCode: 1, stderr: "field confg is unknown (editable: config, description, devices)"},
		{name: "edit device without type", args: []string{"profile", "edit", "web"}, stdin: "devices:\n  d:\n    path: /srv\n",
			exitCode: 1, stderr: `device "d" has no type`},
		{name: "edit concurrent change", args: []string{"profile", "edit", "web"}, stdin: "config: {}\n", race: true,
			exitCode: 1, stderr: "profile web was changed by someone else"},
		{name: "add to instance", args: []string{"profile", "add", "web1", "web"},
			method: "PATCH", path: "/1.0/instances/web1", body: `profiles=["default","web"];`, stdout: "Profile web added to web1"},
		{name: "add present", args: []string{"profile", "add", "web1", "default"}, exitCode: 1, stderr: "instance web1 already has profile default"},
		{name: "remove from instance", args: []string{"profile", "remove", "web1", "default"},
			method: "PATCH", path: "/1.0/instances/web1", body: `profiles=[];`, stdout: "Profile default removed from web1"},
		{name: "remove absent", args: []string{"profile", "remove", "web1", "web"}, exitCode: 1, stderr: "instance web1 does not have profile web"},
		{name: "add concurrent change", args: []string{"profile", "add", "web1", "web"}, race: true,
			exitCode: 1, stderr: "instance web1 was changed by someone else"},
		{name: "import new", args: []string{"profile", "import", "-"}, stdin: strings.Replace(profileYAML, "%s", "imp", 1),
			method: "POST", path: "/1.0/profiles", stdout: "Profile imp created",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};name="imp";`},
		{name: "import --name", args: []string{"profile", "import", "-", "--name", "other"}, stdin: strings.Replace(profileYAML, "%s", "web", 1),
			method: "POST", path: "/1.0/profiles", stdout: "Profile other created",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};name="other";`},
		{name: "import existing", args: []string{"profile", "import", "-"}, stdin: strings.Replace(profileYAML, "%s", "web", 1),
			method: "POST", path: "/1.0/profiles", exitCode: 1, stderr: "profile web already exists (use --force to replace it)",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};name="web";`},
		{name: "import --force existing", args: []string{"profile", "import", "--force", "-"}, stdin: strings.Replace(profileYAML, "%s", "web", 1),
			method: "PUT", path: "/1.0/profiles/web", stdout: "Profile web replaced",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};`},
		{name: "import --force restart required", args: []string{"profile", "import", "--force", "-"},
			setup:  func(f *fakeDaemon) { f.restartRequired = []string{"web1: eth1"} },
			stdin:  strings.Replace(profileYAML, "%s", "web", 1),
			method: "PUT", path: "/1.0/profiles/web", stdout: "Profile web replaced", stderr: "next restart: web1: eth1",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};`},
		{name: "import --force new", args: []string{"profile", "import", "--force", "-"}, stdin: strings.Replace(profileYAML, "%s", "imp", 1),
			method: "POST", path: "/1.0/profiles", stdout: "Profile imp created",
			body: `config={"limits.cpu":"2"};description="imported";devices={"eth1":{"name":"eth1","network":"lxm0","type":"nic"}};name="imp";`},
		{name: "import --force concurrent change", args: []string{"profile", "import", "--force", "-"}, race: true,
			stdin: strings.Replace(profileYAML, "%s", "web", 1), exitCode: 1, stderr: "profile web was changed by someone else"},
		{name: "import without name", args: []string{"profile", "import", "-"}, stdin: "config: {}\n", exitCode: 1, stderr: "has no name"},
		{name: "import missing file", args: []string{"profile", "import", "/nonexistent/p.yaml"}, exitCode: 1, stderr: "no such file"},
		{name: "config edit from stdin", args: []string{"config", "edit", "web1"},
			setup: func(f *fakeDaemon) {
				f.inst.Architecture = "x86_64"
				f.inst.Config["volatile.eth0.hwaddr"] = "00:16:3e:00:00:01"
				f.inst.Config["image.os"] = "debian"
			},
			stdin: "config:\n  limits.memory: 128MiB\n  volatile.eth0.hwaddr: 00:16:3e:ff:ff:ff\n  volatile.new: x\n" +
				"devices: {}\nprofiles: [default, web]\ndescription: d\nephemeral: true\nname: web1\n",
			method: "PUT", path: "/1.0/instances/web1", stderr: "Kept as they were (managed by lxmgrd): image.os, volatile.eth0.hwaddr, volatile.new",
			body: `architecture="x86_64";config={"image.os":"debian","limits.memory":"128MiB","volatile.eth0.hwaddr":"00:16:3e:00:00:01"};` +
				`description="d";devices={};ephemeral=true;profiles=["default","web"];stateful=false;`},
		{name: "config edit restart required", args: []string{"config", "edit", "web1"},
			setup:  func(f *fakeDaemon) { f.restartRequired = []string{"limits.cpu", "eth0"} },
			stdin:  "config:\n  limits.cpu: 2\ndevices: {}\nprofiles: [default]\n",
			method: "PUT", path: "/1.0/instances/web1", stderr: "Some changes take effect at the next restart: limits.cpu, eth0",
			body: `architecture="";config={"limits.cpu":"2"};description="";devices={};ephemeral=false;profiles=["default"];stateful=false;`},
		{name: "config edit unknown key", args: []string{"config", "edit", "web1"}, stdin: "config: {}\nprofile: [x]\n",
			exitCode: 1, stderr: "field profile is unknown (editable: architecture, config, devices, ephemeral, profiles, description)"},
		{name: "config edit concurrent change", args: []string{"config", "edit", "web1"}, stdin: "config: {}\n", race: true,
			exitCode: 1, stderr: "instance web1 was changed by someone else"},
		{name: "config set restart required", args: []string{"config", "set", "web1", "limits.cpu=2"},
			setup:  func(f *fakeDaemon) { f.restartRequired = []string{"limits.cpu"} },
			method: "PATCH", path: "/1.0/instances/web1", body: `config={"limits.cpu":"2"};`,
			stderr: "Some changes take effect at the next restart: limits.cpu"},
		{name: "config show is the edit document", args: []string{"config", "show", "web1"},
			stdout: "config:\n  limits.memory: 64MiB\ndevices:\n  http:\n    connect: tcp:127.0.0.1:80\n    listen: tcp:0.0.0.0:80\n    type: proxy\nephemeral: false\nprofiles:\n  - default\ndescription: \"\"\n"},
		{name: "device override", args: []string{"config", "device", "override", "web1", "root", "size=4GiB"},
			method: "PATCH", path: "/1.0/instances/web1", body: `devices={"root":{"path":"/","pool":"default","size":"4GiB","type":"disk"}};`,
			stdout: "Device root overridden for web1"},
		{name: "device override own device", args: []string{"config", "device", "override", "web1", "http", "listen=tcp:0.0.0.0:81"},
			exitCode: 1, stderr: `instance web1 already has its own device "http"`},
		{name: "device override unknown", args: []string{"config", "device", "override", "web1", "eth9"},
			exitCode: 1, stderr: `no profile of instance web1 (default) provides a device "eth9"`},
		{name: "admin shutdown", args: []string{"admin", "shutdown", "--timeout", "30"},
			method: "PUT", path: "/internal/shutdown?timeout=30", stdout: "lxmgrd stopped all guests and is shutting down\n"},
		{name: "admin shutdown default timeout", args: []string{"admin", "shutdown"},
			method: "PUT", path: "/internal/shutdown", stdout: "lxmgrd stopped all guests and is shutting down\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeDaemon(t)
			if c.setup != nil {
				c.setup(f)
			}
			f.raceNext = c.race
			code, stdout, stderr := runCLI(t, f, c.stdin, c.args...)
			if code != c.exitCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.exitCode, stderr)
			}
			if c.stderr != "" && (!strings.Contains(stderr, c.stderr) || strings.Count(stderr, "\n") != 1) {
				t.Errorf("stderr %q, want one line containing %q", stderr, c.stderr)
			}
			if c.stderr == "" && stderr != "" {
				t.Errorf("unexpected stderr %q", stderr)
			}
			if !strings.Contains(stdout, c.stdout) {
				t.Errorf("stdout %q, want it to contain %q", stdout, c.stdout)
			}
			if c.profiles != "" {
				if got := strings.Join(f.profileNames(), ","); got != c.profiles {
					t.Errorf("profiles afterwards %s, want %s", got, c.profiles)
				}
			}
			if c.method == "" {
				for _, r := range f.reqs {
					if r.method != http.MethodGet && !c.race {
						t.Errorf("unexpected write %s %s", r.method, r.path)
					}
				}
				return
			}
			w := f.lastWrite(t)
			if w.method != c.method || w.path != c.path || bodyString(w) != c.body {
				t.Errorf("request %s %s %s\nwant    %s %s %s", w.method, w.path, bodyString(w), c.method, c.path, c.body)
			}
			if (w.method == "PATCH" || w.method == "PUT") && !strings.HasPrefix(w.path, "/internal/") && w.ifMatch != `"v1"` {
				t.Errorf("%s sent If-Match %q, want the ETag of the read", w.method, w.ifMatch)
			}
		})
	}
}

func TestProfileEditInEditor(t *testing.T) {
	f := newFakeDaemon(t)
	p := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nsed -i 's/256MiB/512MiB/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VISUAL", p)
	ctx := t.Context()
	c := fakeClient(f)
	prof, etag, err := c.GetProfile(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	text, err := profileEditTemplate(prof)
	if err != nil {
		t.Fatal(err)
	}
	flow := editFlow[api.ProfilePut]{kind: "profile", name: "web",
		template: func() ([]byte, error) { return text, nil },
		parse: func(data []byte) (api.ProfilePut, error) {
			_, put, err := parseProfileYAML(data)
			return put, err
		},
		save: func(put api.ProfilePut) error { return c.UpdateProfile(ctx, "web", put, etag) },
	}
	if err := flow.inEditor(ctx); err != nil {
		t.Fatal(err)
	}
	w := f.lastWrite(t)
	if w.method != "PUT" || w.ifMatch != `"v1"` || bodyString(w) != `config={"limits.memory":"512MiB"};description="small web guests";devices={};` {
		t.Errorf("request %s If-Match %s %s", w.method, w.ifMatch, bodyString(w))
	}
}

func TestParseProfileYAML(t *testing.T) {
	full := api.Profile{Name: "web", UsedBy: []string{"/1.0/instances/web1"}, ProfilePut: api.ProfilePut{
		Config:      map[string]string{"limits.memory": "256MiB", "security.nesting": "true"},
		Description: "small web guests",
		Devices:     api.Devices{"eth0": {"type": "nic", "network": "lxm0", "name": "eth0", "mtu": "1400"}},
	}}
	var shown bytes.Buffer
	if err := writeYAML(&shown, full); err != nil {
		t.Fatal(err)
	}
	tmpl, err := profileEditTemplate(full)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		in       string
		wantName string
		want     api.ProfilePut
		wantErr  string
	}{
		{"show output round trip", shown.String(), "web", full.ProfilePut, ""},
		{"editor template round trip", string(tmpl), "web", full.ProfilePut, ""},
		{"scalars read as strings", "name: p\nconfig:\n  security.nesting: true\n  limits.cpu: 2\ndevices:\n  eth0:\n    type: nic\n    mtu: 1500\n", "p",
			api.ProfilePut{Config: map[string]string{"security.nesting": "true", "limits.cpu": "2"}, Devices: api.Devices{"eth0": {"type": "nic", "mtu": "1500"}}}, ""},
		{"sections left out are emptied", "description: only\n", "",
			api.ProfilePut{Config: map[string]string{}, Description: "only", Devices: api.Devices{}}, ""},
		{"used_by ignored", "name: p\nused_by: [a, b]\n", "p", api.ProfilePut{Config: map[string]string{}, Devices: api.Devices{}}, ""},
		{"unknown field", "config: {}\nconfg: {}\n", "", api.ProfilePut{}, "field confg is unknown (editable: config, description, devices)"},
		{"expanded field of an instance", "expanded_config: {}\n", "", api.ProfilePut{}, "expanded_config is unknown"},
		{"config not a map", "config: [a, b]\n", "", api.ProfilePut{}, "parse profile yaml"},
		{"device not a map", "devices:\n  eth0: nic\n", "", api.ProfilePut{}, "parse profile yaml"},
		{"device without type", "devices:\n  eth0:\n    network: lxm0\n", "", api.ProfilePut{}, `device "eth0" has no type`},
		{"null device", "devices:\n  eth0:\n", "", api.ProfilePut{}, `device "eth0" has no type`},
		{"bad device name", "devices:\n  ../x:\n    type: disk\n", "", api.ProfilePut{}, "invalid device name"},
		{"bad config key", "config:\n  \"a b\": x\n", "", api.ProfilePut{}, "config key"},
		{"name not a string", "name: [a]\n", "", api.ProfilePut{}, "parse profile yaml"},
		{"empty", "  \n", "", api.ProfilePut{}, "empty"},
		{"only comments", "# nothing\n", "", api.ProfilePut{}, "empty"},
		{"two documents", "description: a\n---\ndescription: b\n", "", api.ProfilePut{}, "one document"},
		{"not yaml", "config: {\n", "", api.ProfilePut{}, "parse profile yaml"},
	}
	for _, c := range cases {
		name, got, err := parseProfileYAML([]byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error spans lines: %q", c.name, err)
			}
			continue
		}
		if err != nil || name != c.wantName || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q %+v, %v; want %q %+v", c.name, name, got, err, c.wantName, c.want)
		}
	}
}

func TestProfileImportRequest(t *testing.T) {
	cases := []struct {
		in, flag, want string
		wantErr        error
	}{
		{"name: web\n", "", "web", nil},
		{"name: web\n", "other", "other", nil},
		{"config: {}\n", "named", "named", nil},
		{"config: {}\n", "", "", api.ErrInvalid},
		{"name: a/b\n", "", "", api.ErrInvalid},
		{"name: a/b\n", "ok", "ok", nil},
		{"name: web\n", "bad name", "", api.ErrInvalid},
	}
	for _, c := range cases {
		req, err := profileImportRequest([]byte(c.in), c.flag)
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%q --name %q: err = %v, want %v", c.in, c.flag, err, c.wantErr)
			}
			continue
		}
		if err != nil || req.Name != c.want || req.Config == nil || req.Devices == nil {
			t.Errorf("%q --name %q: %+v, %v; want name %q", c.in, c.flag, req, err, c.want)
		}
	}
}

func TestProfileInstanceLists(t *testing.T) {
	inst := api.Instance{Name: "web1", InstancePut: api.InstancePut{Profiles: []string{"default", "web"}}}
	if got, err := profileAddList(inst, "ssh"); err != nil || !slices.Equal(got, []string{"default", "web", "ssh"}) {
		t.Errorf("add: %v, %v", got, err)
	}
	if !slices.Equal(inst.Profiles, []string{"default", "web"}) {
		t.Errorf("add changed the instance's list: %v", inst.Profiles)
	}
	if _, err := profileAddList(inst, "web"); !errors.Is(err, api.ErrConflict) {
		t.Errorf("add present: %v", err)
	}
	if got, err := profileRemoveList(inst, "default"); err != nil || !slices.Equal(got, []string{"web"}) {
		t.Errorf("remove: %v, %v", got, err)
	}
	if got, err := profileRemoveList(api.Instance{InstancePut: api.InstancePut{Profiles: []string{"x"}}}, "x"); err != nil || got == nil || len(got) != 0 {
		t.Errorf("remove last: %#v, %v (want an empty, non-nil list so that it is sent)", got, err)
	}
	if _, err := profileRemoveList(inst, "ssh"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("remove absent: %v", err)
	}
}

func TestParseInstanceYAML(t *testing.T) {
	orig := api.Instance{Name: "web1", InstancePut: api.InstancePut{
		Architecture: "x86_64", Stateful: true, Profiles: []string{"default"},
		Config:  map[string]string{"limits.memory": "64MiB", "volatile.idmap.base": "1000000", "image.os": "debian"},
		Devices: api.Devices{"http": {"type": "proxy", "listen": "tcp:0.0.0.0:80", "connect": "tcp:127.0.0.1:80"}},
	}}
	var shown bytes.Buffer
	if err := writeYAML(&shown, instanceDocOf(orig, false)); err != nil {
		t.Fatal(err)
	}
	tmpl, err := instanceEditTemplate(orig)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		in          string
		want        api.InstancePut
		wantIgnored []string
		wantErr     string
	}{
		{"show output round trip", shown.String(), orig.InstancePut, nil, ""},
		{"editor template round trip", string(tmpl), orig.InstancePut, nil, ""},
		{"read-only keys kept", "config:\n  volatile.idmap.base: \"0\"\n  volatile.x: y\nprofiles: []\n",
			api.InstancePut{Architecture: "x86_64", Stateful: true, Profiles: []string{}, Devices: api.Devices{},
				Config: map[string]string{"volatile.idmap.base": "1000000", "image.os": "debian"}},
			[]string{"image.os", "volatile.idmap.base", "volatile.x"}, ""},
		{"architecture given", "architecture: aarch64\nprofiles: [a]\nephemeral: true\n",
			api.InstancePut{Architecture: "aarch64", Stateful: true, Profiles: []string{"a"}, Ephemeral: true, Devices: api.Devices{},
				Config: map[string]string{"volatile.idmap.base": "1000000", "image.os": "debian"}},
			[]string{"image.os", "volatile.idmap.base"}, ""},
		{"read-only api fields accepted", "name: x\nstatus: Running\nexpanded_config: {a: b}\nstateful: false\nprofiles: [default]\n" +
			"config: {volatile.idmap.base: \"1000000\", image.os: debian}\n",
			api.InstancePut{Architecture: "x86_64", Stateful: true, Profiles: []string{"default"}, Devices: api.Devices{},
				Config: map[string]string{"volatile.idmap.base": "1000000", "image.os": "debian"}}, nil, ""},
		{"unknown key", "config: {}\nprofile: [x]\n", api.InstancePut{}, nil, "field profile is unknown"},
		{"bad profile name", "profiles: [a/b]\n", api.InstancePut{}, nil, "invalid profile name"},
		{"device without type", "devices:\n  d:\n    path: /x\n", api.InstancePut{}, nil, "has no type"},
		{"empty", "# only comments\n", api.InstancePut{}, nil, "empty"},
	}
	for _, c := range cases {
		got, err := parseInstanceYAML(orig, []byte(c.in))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got.put, c.want) || !slices.Equal(got.ignored, c.wantIgnored) {
			t.Errorf("%s: got %+v ignored %v, %v\nwant %+v ignored %v", c.name, got.put, got.ignored, err, c.want, c.wantIgnored)
		}
	}
	if !maps.Equal(orig.Config, map[string]string{"limits.memory": "64MiB", "volatile.idmap.base": "1000000", "image.os": "debian"}) {
		t.Errorf("parse changed the instance read: %v", orig.Config)
	}
}

func TestDeviceOverridePatch(t *testing.T) {
	inst := fixtureInstance()
	got, err := deviceOverridePatch(inst, "root", map[string]string{"size": "4GiB", "pool": ""})
	if err != nil || !maps.Equal(got, map[string]string{"type": "disk", "path": "/", "size": "4GiB"}) {
		t.Errorf("override root = %v, %v", got, err)
	}
	if _, ok := inst.ExpandedDevices["root"]["size"]; ok {
		t.Error("override changed the expanded device")
	}
	if _, err := deviceOverridePatch(inst, "http", nil); !errors.Is(err, api.ErrConflict) {
		t.Errorf("own device: %v", err)
	}
	if _, err := deviceOverridePatch(inst, "nope", nil); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := deviceOverridePatch(inst, "root", map[string]string{"type": "nic"}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("type change: %v", err)
	}
}

func TestInfoPrivileged(t *testing.T) {
	for _, priv := range []string{"", "false", "true"} {
		inst := api.InstanceFull{Instance: api.Instance{Name: "p1", ExpandedConfig: map[string]string{"security.privileged": priv}}}
		var b bytes.Buffer
		writeInfo(&b, &inst)
		want := priv == "true"
		if got := strings.Contains(b.String(), "Privileged:    yes (guest root is host root)\n"); got != want {
			t.Errorf("privileged=%q: info shows the flag: %v\n%s", priv, got, b.String())
		}
		if got := strings.Contains(b.String(), "Type:          CONTAINER (PRIVILEGED)\n"); got != want {
			t.Errorf("privileged=%q: type flagged: %v\n%s", priv, got, b.String())
		}
		_, rows := instanceRows([]api.InstanceFull{inst}, []column{columns[4]})
		if got := rows[0][0] == "CONTAINER (PRIVILEGED)"; got != want {
			t.Errorf("privileged=%q: list TYPE %q", priv, rows[0][0])
		}
	}
}

// TestHelpEverywhere walks the whole command tree: every command's --help
// exits 0 with a usage text, prints nothing on stderr and asks the daemon
// nothing.
func TestHelpEverywhere(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(slices.Clone(path), sub.Name()))
		}
	}
	walk(newRootCmd(), nil)
	// The tree has some 90 commands; a walk finding few means it broke.
	if len(paths) < 80 {
		t.Fatalf("walked %d commands, want the whole tree", len(paths))
	}
	t.Logf("%d commands", len(paths))
	f := newFakeDaemon(t)
	for _, path := range paths {
		code, stdout, stderr := runCLI(t, f, "", append(path, "--help")...)
		if code != 0 || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("%v --help: exit %d, stdout %q, stderr %q", path, code, stdout, stderr)
		}
	}
	if len(f.reqs) != 0 {
		t.Errorf("--help sent %d requests to the daemon", len(f.reqs))
	}
}
