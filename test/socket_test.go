package test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// rawAPI sends one request to the daemon's socket without the client
// package and decodes the envelope, whatever the status.
func rawAPI(t *testing.T, method, path string) (int, api.Response) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(suite.dir, "unix.socket"))
	}}}
	req, err := http.NewRequest(method, "http://lxmgrd"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env api.Response
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON envelope: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, env
}

// TestSocketModeAndGroup: the API socket is 0660 and belongs to the lxmgr
// group (scripts/setup.sh creates it), so membership grants access.
func TestSocketModeAndGroup(t *testing.T) {
	fi, err := os.Stat(filepath.Join(suite.dir, "unix.socket"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a 0660 socket", fi.Mode())
	}
	g, err := user.LookupGroup("lxmgr")
	if err != nil {
		t.Fatalf("no lxmgr group (scripts/setup.sh makes it): %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if strconv.Itoa(int(st.Gid)) != g.Gid || st.Uid != 0 {
		t.Errorf("socket owner %d:%d, want 0:%s (lxmgr)", st.Uid, st.Gid, g.Gid)
	}
}

// TestStaleSocketReplaced: a daemon killed outright leaves its socket file;
// the next one replaces it and answers.
func TestStaleSocketReplaced(t *testing.T) {
	sock := filepath.Join(suite.dir, "unix.socket")
	if err := suite.stopDaemon(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); err != nil {
		suite.startDaemon()
		t.Fatalf("no stale socket after a SIGKILL: %v", err)
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Fatal("the stale socket still answers")
	}
	if err := suite.startDaemon(); err != nil {
		t.Fatal(err)
	}
	must(t, "list")
}

// TestUnknownRouteEnvelope: unknown paths and wrong methods answer with the
// error envelope, as every other error does.
func TestUnknownRouteEnvelope(t *testing.T) {
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/1.0/no-such-thing", 404},
		{"DELETE", "/1.0", 405},
		{"PATCH", "/1.0/instances", 405},
	} {
		code, env := rawAPI(t, c.method, c.path)
		if code != c.code || env.Type != api.ErrorResponse || env.ErrorCode != c.code || env.Error == "" {
			t.Errorf("%s %s: %d %+v, want a %d error envelope", c.method, c.path, code, env, c.code)
		}
	}
}

// TestOperationCancelOverHTTP cancels a create that waits for a boot that
// cannot finish (a second nic no DHCP client asks a lease for) with DELETE
// /1.0/operations/{id}; the operation ends as cancelled.
func TestOperationCancelOverHTTP(t *testing.T) {
	cleanupInstance(t, "cancel1")
	ctx := context.Background()
	c := suite.client()
	op, err := c.CreateInstance(ctx, api.InstancesPost{
		Name: "cancel1", Source: api.InstanceSource{Alias: "busybox"}, WaitReady: true,
		InstancePut: api.InstancePut{Devices: api.Devices{"eth1": {"type": "nic", "network": "lxmbr0"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until it is waiting for the boot.
	deadline := time.Now().Add(time.Minute)
	for {
		got, err := c.GetOperation(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Metadata["progress"] == "waiting for boot to finish" {
			break
		}
		if got.StatusCode != api.Running || time.Now().After(deadline) {
			t.Fatalf("create never got to wait for the boot: %+v", got.Operation)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, env := rawAPI(t, "DELETE", "/1.0/operations/"+op.ID); code != 200 || env.Type != api.SyncResponse {
		t.Fatalf("DELETE operation: %d %+v", code, env)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	op.Wait(wctx)
	got, err := c.GetOperation(ctx, op.ID)
	if err != nil || got.StatusCode != api.Cancelled || got.MayCancel {
		t.Fatalf("operation after cancel: %+v %v", got, err)
	}
	// A finished operation cannot be cancelled again.
	if code, env := rawAPI(t, "DELETE", "/1.0/operations/"+op.ID); code != 409 || env.Type != api.ErrorResponse {
		t.Fatalf("DELETE of a finished operation: %d %+v", code, env)
	}
}
