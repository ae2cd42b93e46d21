package profiles

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadyProfilesAreValid checks the ready-made profiles shipped in
// profiles/ready (for `lxmgr profile import`): each parses strictly and
// passes validation.
func TestReadyProfilesAreValid(t *testing.T) {
	files, err := filepath.Glob("ready/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("ready profiles: %v %v", files, err)
	}
	byName := map[string]map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseYAML(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := ValidateUserConfig(p.Config); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if err := ValidateDevices(p.Devices); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		byName[strings.TrimSuffix(filepath.Base(f), ".yaml")] = p.Config
	}
	s := byName["small-site"]
	if s["limits.cpu"] != "1" || s["limits.memory"] != "256MiB" || s["limits.processes"] != "200" {
		t.Fatalf("small-site: %v", s)
	}
	if byName["nesting"]["security.nesting"] != "true" {
		t.Fatalf("nesting: %v", byName["nesting"])
	}
}
