package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// TestConfigUpdates covers PATCH/PUT with ETags and validation on a stopped
// instance, and that the change reaches the rendered liblxc config.
func TestConfigUpdates(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	cleanupInstance(t, "cfg1")
	must(t, "create", "busybox", "cfg1")

	_, etag, err := c.GetInstance(ctx, "cfg1")
	if err != nil || etag == "" {
		t.Fatalf("get: etag %q, err %v", etag, err)
	}
	if err := c.PatchInstance(ctx, "cfg1", map[string]any{"config": map[string]string{"limits.memory": "128MiB", "user.note": "x"}}, etag); err != nil {
		t.Fatalf("patch: %v", err)
	}
	// The old ETag is stale now.
	err = c.PatchInstance(ctx, "cfg1", map[string]any{"config": map[string]string{"user.note": "y"}}, etag)
	if !errors.Is(err, api.ErrPrecondition) {
		t.Fatalf("patch with a stale ETag: %v, want 412", err)
	}
	inst, _, _ := c.GetInstance(ctx, "cfg1")
	if inst.Config["limits.memory"] != "128MiB" || inst.Config["user.note"] != "x" {
		t.Fatalf("config after patch: %v", inst.Config)
	}
	conf, _ := os.ReadFile(filepath.Join(suite.dir, "containers/cfg1/config"))
	if !strings.Contains(string(conf), "134217728") {
		t.Errorf("memory limit not rendered into the liblxc config:\n%s", conf)
	}
	bad := []map[string]string{
		{"limits.bogus": "1"},
		{"limits.memory": "-5"},
		{"limits.processes": "many"},
		{"user.x": "a\nb"},
		{"volatile.base_image": "abc"},
		{"raw.lxc": "lxc.init.cmd = /x\nlxc.foo = 1"},
	}
	for _, cfg := range bad {
		if err := c.PatchInstance(ctx, "cfg1", map[string]any{"config": cfg}, ""); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("patch %v: err = %v, want 400", cfg, err)
		}
	}
	after, _, _ := c.GetInstance(ctx, "cfg1")
	if len(after.Config) != len(inst.Config) || after.Config["limits.memory"] != "128MiB" {
		t.Fatalf("refused patches changed the config: %v", after.Config)
	}
	// PUT replaces user config but keeps the daemon's own keys.
	put := after.InstancePut
	put.Config = map[string]string{"limits.processes": "100"}
	op, err := c.UpdateInstance(ctx, "cfg1", put, "")
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	final, _, _ := c.GetInstance(ctx, "cfg1")
	if final.Config["limits.memory"] != "" || final.Config["limits.processes"] != "100" || final.Config["volatile.base_image"] == "" {
		t.Fatalf("config after put: %v", final.Config)
	}
	must(t, "start", "cfg1")
	if out := must(t, "exec", "cfg1", "--", "cat", "/sys/fs/cgroup/pids/pids.max"); strings.TrimSpace(out) != "100" {
		t.Errorf("pids.max seen in the guest: %q, want 100", out)
	}
}

func TestProfilesAPI(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	if err := c.DeleteProfile(ctx, "default"); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("delete default profile: %v, want 403", err)
	}
	out := must(t, "profile", "show", "default")
	if !strings.Contains(out, "pool: default") || !strings.Contains(out, "path: /") {
		t.Fatalf("default profile lacks its root disk:\n%s", out)
	}
	if err := c.CreateProfile(ctx, api.ProfilesPost{Name: "bad/name"}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("profile with a bad name: %v", err)
	}
	if err := c.CreateProfile(ctx, api.ProfilesPost{Name: "p1", ProfilePut: api.ProfilePut{Config: map[string]string{"nope.key": "1"}}}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("profile with an unknown key: %v", err)
	}
	if err := c.CreateProfile(ctx, api.ProfilesPost{Name: "p1", ProfilePut: api.ProfilePut{Config: map[string]string{"limits.processes": "300"}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DeleteProfile(context.Background(), "p1") })
	cleanupInstance(t, "prof1")
	must(t, "create", "busybox", "prof1", "-p", "default", "-p", "p1")
	if err := c.DeleteProfile(ctx, "p1"); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("delete of a used profile: %v, want 409", err)
	}
	full, err := c.GetInstanceFull(ctx, "prof1")
	if err != nil || full.ExpandedConfig["limits.processes"] != "300" {
		t.Fatalf("expanded config: %v %v", full.ExpandedConfig, err)
	}
	if list := must(t, "profile", "list"); !strings.Contains(list, "p1") {
		t.Fatalf("profile list:\n%s", list)
	}
	// A PUT with a stale ETag is refused (412) and changes nothing.
	prof, etag, err := c.GetProfile(ctx, "p1")
	if err != nil || etag == "" {
		t.Fatalf("get profile: etag %q, err %v", etag, err)
	}
	put := prof.ProfilePut
	put.Config = map[string]string{"limits.processes": "200"}
	if err := c.UpdateProfile(ctx, "p1", put, etag); err != nil {
		t.Fatalf("put with the current ETag: %v", err)
	}
	put.Config = map[string]string{"limits.processes": "100"}
	if err := c.UpdateProfile(ctx, "p1", put, etag); !errors.Is(err, api.ErrPrecondition) {
		t.Fatalf("put with a stale ETag: %v, want 412", err)
	}
	if prof, _, _ := c.GetProfile(ctx, "p1"); prof.Config["limits.processes"] != "200" {
		t.Fatalf("profile after the refused put: %v", prof.Config)
	}
}

func TestOperationsAPI(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	cleanupInstance(t, "op1")
	op, err := c.CreateInstance(ctx, api.InstancesPost{Name: "op1", Source: api.InstanceSource{Alias: "busybox"}})
	if err != nil {
		t.Fatal(err)
	}
	if op.ID == "" || op.Resources["instances"][0] != "/1.0/instances/op1" {
		t.Fatalf("operation: %+v", op.Operation)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetOperation(ctx, op.ID)
	if err != nil || got.StatusCode != api.Success {
		t.Fatalf("get operation: %+v %v", got, err)
	}
	ops, err := c.GetOperations(ctx)
	if err != nil || len(ops) == 0 {
		t.Fatalf("list operations: %d %v", len(ops), err)
	}
	if _, err := c.GetOperation(ctx, "no-such-op"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("missing operation: %v", err)
	}
	// A failed operation carries its error and code.
	op, err = c.UpdateInstanceState(ctx, "op1", api.InstanceStatePut{Action: "stop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "not running") {
		t.Fatalf("stop of a stopped instance: %v", err)
	}
	if _, err := c.UpdateInstanceState(ctx, "op1", api.InstanceStatePut{Action: "explode"}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("bad action: %v", err)
	}
}
