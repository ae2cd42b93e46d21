package client

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestProfileAndAdminRequests(t *testing.T) {
	ctx := context.Background()
	desc := "web"
	cases := []struct {
		name string
		call func(c *Client) error
		want string
	}{
		{"create", func(c *Client) error {
			return c.CreateProfile(ctx, api.ProfilesPost{Name: "p1", ProfilePut: api.ProfilePut{Config: map[string]string{"limits.cpu": "1"}}})
		}, `POST /1.0/profiles {"config":{"limits.cpu":"1"},"description":"","devices":null,"name":"p1"}`},
		{"update fills empty maps", func(c *Client) error { return c.UpdateProfile(ctx, "p1", api.ProfilePut{}, `"e"`) },
			`PUT /1.0/profiles/p1 {"config":{},"description":"","devices":{}}`},
		{"patch config", func(c *Client) error {
			_, err := c.PatchProfile(ctx, "p1", ProfilePatch{Config: map[string]string{"a": "", "b": "2"}}, "")
			return err
		}, `PATCH /1.0/profiles/p1 {"config":{"a":"","b":"2"}}`},
		{"patch device removal and description", func(c *Client) error {
			_, err := c.PatchProfile(ctx, "p1", ProfilePatch{Devices: api.Devices{"eth1": nil}, Description: &desc}, "")
			return err
		}, `PATCH /1.0/profiles/p1 {"description":"web","devices":{"eth1":null}}`},
		{"rename", func(c *Client) error { return c.RenameProfile(ctx, "p1", "p2") }, `POST /1.0/profiles/p1 {"name":"p2"}`},
		{"delete", func(c *Client) error { return c.DeleteProfile(ctx, "p1") }, `DELETE /1.0/profiles/p1 `},
		{"list", func(c *Client) error { _, err := c.GetProfiles(ctx); return err }, `GET /1.0/profiles?recursion=1 `},
		{"shutdown default", func(c *Client) error { return c.Shutdown(ctx, 0) }, `PUT /internal/shutdown `},
		{"shutdown timeout", func(c *Client) error { return c.Shutdown(ctx, 30) }, `PUT /internal/shutdown?timeout=30 `},
		{"instance profiles", func(c *Client) error {
			_, err := c.PatchInstanceConfig(ctx, "web1", InstanceConfigPatch{Profiles: []string{"default", "p1"}}, "")
			return err
		}, `PATCH /1.0/instances/web1 {"profiles":["default","p1"]}`},
	}
	for _, c := range cases {
		rec, cl := newRecorder(t)
		if err := c.call(cl); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(rec.got) != 1 || rec.got[0] != c.want {
			t.Errorf("%s: requests %q, want %q", c.name, rec.got, c.want)
		}
	}
}

func TestProfilePatchIsEmpty(t *testing.T) {
	empty := ""
	cases := []struct {
		p    ProfilePatch
		want bool
	}{
		{ProfilePatch{}, true},
		{ProfilePatch{Config: map[string]string{}}, true},
		{ProfilePatch{Config: map[string]string{"a": ""}}, false},
		{ProfilePatch{Devices: api.Devices{"d": nil}}, false},
		{ProfilePatch{Description: &empty}, false},
	}
	for i, c := range cases {
		if got := c.p.IsEmpty(); got != c.want {
			t.Errorf("case %d: IsEmpty = %v", i, got)
		}
	}
	if !(InstanceConfigPatch{}).IsEmpty() || (InstanceConfigPatch{Profiles: []string{}}).IsEmpty() {
		t.Error("InstanceConfigPatch.IsEmpty ignores Profiles")
	}
}

// changeDaemon answers PATCH in sync and PUT with an operation, both
// reporting restart_required, and 412 to a stale If-Match.
func changeDaemon(t *testing.T, pending []string) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		meta := map[string]any{}
		if pending != nil {
			meta["restart_required"] = pending
		}
		switch {
		case r.Header.Get("If-Match") == `"old"`:
			w.WriteHeader(http.StatusPreconditionFailed)
			enc.Encode(api.Response{Type: api.ErrorResponse, ErrorCode: 412, Error: "precondition failed"})
		case r.Method == http.MethodPut:
			b, _ := json.Marshal(api.Operation{ID: "op1", StatusCode: api.Running})
			w.WriteHeader(http.StatusAccepted)
			enc.Encode(api.Response{Type: api.AsyncResponse, StatusCode: 100, Metadata: b})
		case r.URL.Path == "/1.0/operations/op1/wait":
			b, _ := json.Marshal(api.Operation{ID: "op1", StatusCode: api.Success, Metadata: meta})
			enc.Encode(api.Response{Type: api.SyncResponse, StatusCode: 200, Metadata: b})
		default:
			b, _ := json.Marshal(meta)
			enc.Encode(api.Response{Type: api.SyncResponse, StatusCode: 200, Metadata: b})
		}
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return Connect(sock)
}

func TestRestartRequired(t *testing.T) {
	ctx := context.Background()
	for _, pending := range [][]string{nil, {"limits.cpu", "eth0"}} {
		c := changeDaemon(t, pending)
		a, err := c.PatchInstanceConfig(ctx, "web1", InstanceConfigPatch{Config: map[string]string{"limits.cpu": "2"}}, `"v1"`)
		if err != nil || !slices.Equal(a.RestartRequired, pending) {
			t.Errorf("PATCH: %v, %v; want %v", a, err, pending)
		}
		a, err = c.ReplaceInstance(ctx, "web1", api.InstancePut{}, `"v1"`)
		if err != nil || !slices.Equal(a.RestartRequired, pending) {
			t.Errorf("PUT: %v, %v; want %v", a, err, pending)
		}
		var ce *ChangedError
		if _, err := c.ReplaceInstance(ctx, "web1", api.InstancePut{}, `"old"`); !errors.As(err, &ce) {
			t.Errorf("stale PUT: %v", err)
		}
		if _, err := c.PatchProfile(ctx, "p1", ProfilePatch{Config: map[string]string{"a": "1"}}, `"old"`); !errors.As(err, &ce) || ce.Kind != "profile" {
			t.Errorf("stale profile PATCH: %v", err)
		}
		a, err = c.PatchProfile(ctx, "p1", ProfilePatch{Config: map[string]string{"a": "1"}}, "")
		if err != nil || !slices.Equal(a.RestartRequired, pending) {
			t.Errorf("profile PATCH: %v, %v; want %v", a, err, pending)
		}
	}
	if a := appliedFromSync([]byte(`null`)); a.RestartRequired != nil {
		t.Errorf("null metadata: %v", a)
	}
	if a := appliedFromSync([]byte(`["x"]`)); a.RestartRequired != nil {
		t.Errorf("list metadata: %v", a)
	}
}
