package main

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestParseKeyValues(t *testing.T) {
	cases := []struct {
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{nil, map[string]string{}, false},
		{[]string{"a=b"}, map[string]string{"a": "b"}, false},
		{[]string{"a=b=c"}, map[string]string{"a": "b=c"}, false},
		{[]string{"a="}, map[string]string{"a": ""}, false},
		{[]string{"a=1", "a=2"}, map[string]string{"a": "2"}, false},
		{[]string{"limits.memory=64MiB", "user.x=y z"}, map[string]string{"limits.memory": "64MiB", "user.x": "y z"}, false},
		{[]string{"novalue"}, nil, true},
		{[]string{"=v"}, nil, true},
		{[]string{"a b=c"}, nil, true},
	}
	for _, c := range cases {
		got, err := parseKeyValues("config", c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("parseKeyValues(%q) err = %v, wantErr %v", c.in, err, c.wantErr)
			continue
		}
		if !c.wantErr && !maps.Equal(got, c.want) {
			t.Errorf("parseKeyValues(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSplitInstancePath(t *testing.T) {
	cases := []struct {
		in         string
		name, path string
		wantErr    bool
	}{
		{"web1/etc/hosts", "web1", "/etc/hosts", false},
		{"web1//etc//hosts", "web1", "/etc/hosts", false},
		{"web1/root/", "web1", "/root/", false},
		{"web1/", "", "", true},
		{"web1/.", "web1", "/", false},
		{"web1/../../etc/passwd", "web1", "/etc/passwd", false},
		{"web1", "", "", true},
		{"/etc/hosts", "", "", true},
		{"bad.name/etc", "", "", true},
		{"../x", "", "", true},
	}
	for _, c := range cases {
		name, p, err := splitInstancePath(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("splitInstancePath(%q) err = %v, wantErr %v", c.in, err, c.wantErr)
			continue
		}
		if name != c.name || p != c.path {
			t.Errorf("splitInstancePath(%q) = %q, %q; want %q, %q", c.in, name, p, c.name, c.path)
		}
	}
}

func TestParseMode(t *testing.T) {
	cases := []struct {
		in      string
		want    uint32
		wantErr bool
	}{
		{"0644", 0o644, false},
		{"755", 0o755, false},
		{"4755", 0o4755, false},
		{"0", 0, false},
		{"888", 0, true},
		{"17777", 0, true},
		{"rw", 0, true},
		{"", 0, true},
	}
	for _, c := range cases {
		got, err := parseMode(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("parseMode(%q) = %o, %v; want %o, err %v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestCreateRequestProfiles(t *testing.T) {
	cases := []struct {
		name    string
		flags   createFlags
		want    []string
		wantErr bool
	}{
		{"default list", createFlags{}, nil, false},
		{"replace", createFlags{profiles: []string{"a", "b"}}, []string{"a", "b"}, false},
		{"none", createFlags{noProfiles: true}, []string{}, false},
		{"both", createFlags{noProfiles: true, profiles: []string{"a"}}, nil, true},
		{"bad profile", createFlags{profiles: []string{"a/b"}}, nil, true},
	}
	for _, c := range cases {
		req, err := c.flags.request("busybox", "web1", true)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: err = %v, wantErr %v", c.name, err, c.wantErr)
			continue
		}
		if c.wantErr {
			continue
		}
		if !reflect.DeepEqual(req.Profiles, c.want) || (req.Profiles == nil) != (c.want == nil) {
			t.Errorf("%s: profiles = %#v, want %#v", c.name, req.Profiles, c.want)
		}
		if req.Source.Alias != "busybox" || req.Name != "web1" || !req.Start {
			t.Errorf("%s: request = %+v", c.name, req)
		}
	}
}

func TestCreateRequestValidates(t *testing.T) {
	f := createFlags{config: []string{"limits.memory=64MiB"}, wait: true}
	req, err := f.request("debian/12", "web1", true)
	if err != nil || req.Config["limits.memory"] != "64MiB" || !req.WaitReady {
		t.Fatalf("request = %+v, %v", req, err)
	}
	if req, _ := f.request("debian/12", "web1", false); req.WaitReady || req.Start {
		t.Errorf("create must not start or wait: %+v", req)
	}
	for _, bad := range []string{"foo.bar", "", "1x", "a b"} {
		if _, err := f.request("busybox", bad, true); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("name %q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestExecInteractive(t *testing.T) {
	cases := []struct {
		flags         execFlags
		stdin, stdout bool
		want, wantErr bool
	}{
		{execFlags{}, true, true, true, false},
		{execFlags{}, true, false, false, false},
		{execFlags{}, false, true, false, false},
		{execFlags{forceInteractive: true}, false, false, true, false},
		{execFlags{forceNonInteract: true}, true, true, false, false},
		{execFlags{forceInteractive: true, forceNonInteract: true}, true, true, false, true},
	}
	for i, c := range cases {
		got, err := c.flags.interactive(c.stdin, c.stdout)
		if got != c.want || (err != nil) != c.wantErr {
			t.Errorf("case %d: interactive = %v, %v; want %v, err %v", i, got, err, c.want, c.wantErr)
		}
	}
}

// TestRunErrorsOneLine checks that command-line mistakes fail before any
// request (no daemon here) with exactly one "Error:" line and exit code 1.
func TestRunErrorsOneLine(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"rename", "a"}, "takes 2 arguments"},
		{[]string{"launch", "busybox", "foo.bar"}, "invalid instance name"},
		{[]string{"launch", "busybox", "a1", "-c", "novalue"}, "want key=value"},
		{[]string{"start", "1bad"}, "must not start with a digit"},
		{[]string{"nosuchcmd"}, `unknown command "nosuchcmd"`},
		{[]string{"image", "nosuch"}, `unknown command "nosuch"`},
		{[]string{"list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"list", "--format", "xml"}, `unknown format "xml"`},
		{[]string{"list", "-c", "nz"}, `unknown column "z"`},
		{[]string{"file", "pull", "web1", "x"}, "want NAME/PATH"},
		{[]string{"exec", "web1"}, "at least 2 arguments"},
		{[]string{"list", "--socket", "/nonexistent/lxmgr.sock"}, "cannot reach lxmgrd"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		code := run(context.Background(), c.args, &stderr)
		out := stderr.String()
		if code != 1 {
			t.Errorf("%q: exit %d, want 1", c.args, code)
		}
		if !strings.HasPrefix(out, "Error: ") || strings.Count(out, "\n") != 1 || !strings.Contains(out, c.want) {
			t.Errorf("%q: stderr %q, want one Error line containing %q", c.args, out, c.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	in := "unknown command \"lsit\" for \"lxmgr\"\n\nDid you mean this?\n\tlist\n"
	if got := oneLine(in); got != `unknown command "lsit" for "lxmgr" Did you mean this? list` {
		t.Errorf("oneLine = %q", got)
	}
}
