package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestListRowsDecode checks the table's partial decode: the columns read
// the same values as from a full decode, privileged flag included.
func TestListRowsDecode(t *testing.T) {
	body := `[{"name":"web1","type":"container","status":"Running","profiles":["default"],
		"config":{"user.x":"1"},"devices":{"eth0":{"type":"nic"}},
		"expanded_config":{"security.privileged":"true","limits.cpu":"1"},"expanded_devices":{"root":{"path":"/"}},
		"state":{"status":"Running","pid":42,"network":{"eth0":{"addresses":[{"family":"inet","address":"10.0.0.2"}]}}}},
		{"name":"db1","type":"container","status":"Stopped","expanded_config":{},"state":{"status":"Stopped"}}]`
	var rows []listRow
	if err := json.Unmarshal([]byte(body), &rows); err != nil {
		t.Fatal(err)
	}
	insts := fromListRows(rows)
	if len(insts) != 2 || insts[0].Name != "web1" || insts[0].State == nil || insts[0].State.Pid != 42 {
		t.Fatalf("decoded %+v", insts)
	}
	if got := instanceType(&insts[0]); got != "CONTAINER (PRIVILEGED)" {
		t.Errorf("type of web1 = %q", got)
	}
	if got := instanceType(&insts[1]); got != "CONTAINER" {
		t.Errorf("type of db1 = %q", got)
	}
	if insts[0].Config != nil || insts[0].ExpandedDevices != nil {
		t.Errorf("maps decoded: %v %v", insts[0].Config, insts[0].ExpandedDevices)
	}
	if len(insts[0].State.Network["eth0"].Addresses) != 1 || insts[0].Profiles[0] != "default" {
		t.Errorf("state/profiles lost: %+v", insts[0])
	}
}

// TestFilterNeedsConfig: the table skips decoding config only when no
// filter reads it.
func TestFilterNeedsConfig(t *testing.T) {
	for args, want := range map[string]bool{
		"":                         false,
		"web":                      false,
		"status=running name=web1": false,
		"State=Stopped":            false,
		"web user.site=a":          true,
	} {
		if got := parseFilters(strings.Fields(args)).needsConfig(); got != want {
			t.Errorf("%q: needsConfig = %v, want %v", args, got, want)
		}
	}
}
