package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

func TestRenderTable(t *testing.T) {
	cases := []struct {
		name   string
		header []string
		rows   [][]string
		want   string
	}{
		{"empty", []string{"NAME", "STATUS"}, nil, "NAME  STATUS\n"},
		{"aligned", []string{"NAME", "STATUS", "X"}, [][]string{{"a", "RUNNING", "1"}, {"longer-name", "STOPPED", "22"}},
			"NAME         STATUS   X\na            RUNNING  1\nlonger-name  STOPPED  22\n"},
		{"no trailing blanks", []string{"A", "B"}, [][]string{{"xyz", ""}}, "A    B\nxyz\n"},
		{"short row", []string{"A", "B", "C"}, [][]string{{"1"}}, "A  B  C\n1\n"},
		{"runes", []string{"N", "D"}, [][]string{{"ä", "x"}, {"ab", "y"}}, "N   D\nä   x\nab  y\n"},
		{"newline in cell", []string{"N", "D"}, [][]string{{"a\nb", "c"}}, "N    D\na b  c\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := renderTable(&b, c.header, c.rows); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("%s:\ngot:\n%s\nwant:\n%s", c.name, b.String(), c.want)
		}
	}
}

func TestWriteOutput(t *testing.T) {
	header := []string{"NAME", "DESCRIPTION"}
	rows := [][]string{{"a", "plain"}, {"b", "with, comma"}}
	data := []map[string]string{{"name": "a"}}
	cases := []struct {
		format string
		want   string
	}{
		{formatCSV, "a,plain\nb,\"with, comma\"\n"},
		{formatTable, "NAME  DESCRIPTION\na     plain\nb     with, comma\n"},
		{formatJSON, "[\n  {\n    \"name\": \"a\"\n  }\n]\n"},
		{formatYAML, "- name: a\n"},
	}
	for _, c := range cases {
		var b bytes.Buffer
		if err := writeOutput(&b, c.format, header, rows, data); err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if b.String() != c.want {
			t.Errorf("%s: got %q, want %q", c.format, b.String(), c.want)
		}
	}
	if err := checkFormat("xml"); err == nil {
		t.Error("checkFormat(xml) accepted")
	}
}

// fixture returns a small instance list as the daemon sends it.
func fixture() []api.InstanceFull {
	mk := func(name, status string, cfg map[string]string, st *api.InstanceState) api.InstanceFull {
		return api.InstanceFull{
			Instance: api.Instance{
				InstancePut: api.InstancePut{Profiles: []string{"default", "web"}},
				Name:        name, Type: "container", Status: status,
				ExpandedConfig: cfg, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			},
			State: st,
		}
	}
	running := &api.InstanceState{
		Status: "Running", Pid: 42, Ready: true, Memory: api.InstanceStateMemory{Usage: 3 << 20},
		Network: map[string]api.InstanceStateNetwork{
			"lo":   {Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "127.0.0.1", Scope: "local"}}},
			"eth1": {Addresses: []api.InstanceStateNetworkAddress{{Family: "inet", Address: "10.0.4.2", Scope: "global"}}},
			"eth0": {Addresses: []api.InstanceStateNetworkAddress{
				{Family: "inet", Address: "10.0.3.5", Scope: "global"},
				{Family: "inet6", Address: "fe80::1", Scope: "link"},
				{Family: "inet6", Address: "fd00::5", Scope: "global"},
			}},
		},
	}
	return []api.InstanceFull{
		mk("web1", "Running", map[string]string{"image.os": "Debian"}, running),
		mk("web2", "Stopped", map[string]string{"security.privileged": "true"}, &api.InstanceState{Status: "Stopped"}),
		mk("db1", "Frozen", map[string]string{"image.os": "Debian"}, nil),
	}
}

func TestInstanceRows(t *testing.T) {
	cols, err := parseColumns(defaultColumns)
	if err != nil {
		t.Fatal(err)
	}
	header, rows := instanceRows(fixture(), cols)
	wantHeader := []string{"NAME", "STATUS", "IPV4", "TYPE", "READY", "PROFILES"}
	if strings.Join(header, "|") != strings.Join(wantHeader, "|") {
		t.Errorf("header = %v", header)
	}
	want := [][]string{
		{"web1", "RUNNING", "10.0.3.5 (eth0)\n10.0.4.2 (eth1)", "CONTAINER", "yes", "default,web"},
		{"web2", "STOPPED", "-", "CONTAINER (PRIVILEGED)", "no", "default,web"},
		{"db1", "FROZEN", "-", "CONTAINER", "no", "default,web"},
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
	cols, _ = parseColumns("n6pm")
	_, rows = instanceRows(fixture()[:1], cols)
	if got := strings.Join(rows[0], "|"); got != "web1|fd00::5 (eth0)|42|3.00MiB" {
		t.Errorf("n6pm row = %q", got)
	}
}

func TestParseColumns(t *testing.T) {
	cases := []struct {
		spec    string
		want    string
		wantErr bool
	}{
		{"ns4trP", "NAME STATUS IPV4 TYPE READY PROFILES", false},
		{"name,status", "NAME STATUS", false},
		{"NAME, Memory", "NAME MEMORY", false},
		{"ns,pid", "NAME STATUS PID", false},
		{"pP", "PID PROFILES", false},
		{"nx", "", true},
		{"bogus", "", true},
		{",", "", true},
	}
	for _, c := range cases {
		cols, err := parseColumns(c.spec)
		if (err != nil) != c.wantErr {
			t.Errorf("parseColumns(%q) err = %v", c.spec, err)
			continue
		}
		var got []string
		for _, col := range cols {
			got = append(got, col.header)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("parseColumns(%q) = %v, want %s", c.spec, got, c.want)
		}
	}
}

func TestListJSONAndCSV(t *testing.T) {
	insts := filterInstances(fixture(), parseFilters([]string{"web"}))
	var b bytes.Buffer
	cols, _ := parseColumns(defaultColumns)
	header, rows := instanceRows(insts, cols)
	if err := writeOutput(&b, formatJSON, header, rows, insts); err != nil {
		t.Fatal(err)
	}
	var back []api.InstanceFull
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("json output does not decode: %v\n%s", err, b.String())
	}
	if len(back) != 2 || back[0].Name != "web1" || back[0].State == nil || back[0].State.Pid != 42 {
		t.Errorf("json round trip = %+v", back)
	}

	b.Reset()
	empty := filterInstances(fixture(), parseFilters([]string{"nomatch"}))
	if err := writeOutput(&b, formatJSON, header, nil, empty); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("empty json list = %q, want []", b.String())
	}

	b.Reset()
	if err := writeOutput(&b, formatCSV, header, layoutRows(formatCSV, cols, rows), insts); err != nil {
		t.Fatal(err)
	}
	want := "web1,RUNNING,\"10.0.3.5 (eth0),10.0.4.2 (eth1)\",CONTAINER,yes,\"default,web\"\n" +
		"web2,STOPPED,-,CONTAINER (PRIVILEGED),no,\"default,web\"\n"
	if b.String() != want {
		t.Errorf("csv:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestImageAndProfileRows(t *testing.T) {
	_, rows := imageRows([]api.Image{{
		Fingerprint: "7e10574e14b55a59a6e4d955414e1cdb",
		Size:        3 << 19,
		Aliases:     []api.ImageAlias{{Name: "busybox"}, {Name: "bb"}},
		Properties:  map[string]string{"description": "BusyBox 1.35.0"},
	}})
	if got := strings.Join(rows[0], "|"); got != "busybox,bb|7e10574e14b5|BusyBox 1.35.0|1.50MiB|" {
		t.Errorf("image row = %q", got)
	}
	_, rows = profileRows([]api.Profile{{Name: "default", UsedBy: []string{"/1.0/instances/a", "/1.0/instances/b"},
		ProfilePut: api.ProfilePut{Description: "Default"}}})
	if got := strings.Join(rows[0], "|"); got != "default|Default|2" {
		t.Errorf("profile row = %q", got)
	}
}
