package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// TestEnvironmentNamesOneRule: an environment.* name the schema accepts
// (not a shell identifier, but fine for execve) is also accepted by the
// driver and reaches the guest's init; one the schema refuses changes
// nothing.
func TestEnvironmentNamesOneRule(t *testing.T) {
	cleanupInstance(t, "env1")
	must(t, "create", "busybox", "env1")
	must(t, "config", "set", "env1", "environment.FOO-BAR=1", "environment.1X=2", "environment.a.b=3")
	before := must(t, "config", "show", "env1")
	// The CLI refuses blanks in a key itself; the daemon is asked directly.
	for _, key := range []string{"environment.A B", "environment.", "environment.X\tY", "environment.X\x1bY"} {
		err := suite.client().PatchInstance(context.Background(), "env1", map[string]any{"config": map[string]string{key: "1"}}, "")
		if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), strconv.Quote(key)) {
			t.Errorf("patch %q: err = %v, want 400 naming the key", key, err)
		}
	}
	mustFail(t, `"environment."`, "config", "set", "env1", "environment.=1")
	if after := must(t, "config", "show", "env1"); after != before {
		t.Fatalf("refused keys changed the config:\n%s", after)
	}
	must(t, "start", "env1")
	waitReady(t, "env1")
	environ := must(t, "exec", "env1", "--", "cat", "/proc/1/environ")
	for _, want := range []string{"FOO-BAR=1", "1X=2", "a.b=3"} {
		if !slicesContains(strings.Split(environ, "\x00"), want) {
			t.Errorf("guest init's environment lacks %q: %q", want, environ)
		}
	}
}

// TestUpdateRevertedWhenNotApplied: a change to a stopped guest whose
// liblxc config cannot be written fails and leaves the inventory as it was.
func TestUpdateRevertedWhenNotApplied(t *testing.T) {
	cleanupInstance(t, "rv1")
	must(t, "create", "busybox", "rv1", "-c", "user.a=1")
	before := must(t, "config", "show", "rv1")
	// A directory where the config file goes: the rename onto it fails.
	cfg := filepath.Join(suite.dir, "containers", "rv1", "config")
	saved, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cfg, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustFail(t, "not applied", "config", "set", "rv1", "user.a=2", "limits.processes=40")
	if after := must(t, "config", "show", "rv1"); after != before {
		t.Fatalf("a change that failed to apply stayed in the inventory:\n%s\nwant:\n%s", after, before)
	}
	os.RemoveAll(cfg)
	if err := os.WriteFile(cfg, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, "config", "set", "rv1", "user.a=2")
	if out := must(t, "config", "get", "rv1", "user.a"); strings.TrimSpace(out) != "2" {
		t.Fatalf("config get after a good change: %q", out)
	}
}
