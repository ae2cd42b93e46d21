package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// recorder is a daemon that records each request and answers every write
// with an operation (async true) or at once, and every GET with meta.
type recorder struct {
	mu    sync.Mutex
	async bool
	meta  any
	got   []string // "METHOD URI BODY"
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	enc := json.NewEncoder(w)
	if r.URL.Path == "/1.0/operations/op1/wait" {
		b, _ := json.Marshal(api.Operation{ID: "op1", StatusCode: api.Failure, Err: "disk full", Metadata: map[string]any{"error_code": 409.0}})
		enc.Encode(api.Response{Type: api.SyncResponse, StatusCode: 200, Metadata: b})
		return
	}
	rec.got = append(rec.got, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	if r.Method != http.MethodGet && rec.async {
		b, _ := json.Marshal(api.Operation{ID: "op1", StatusCode: api.Running})
		w.WriteHeader(http.StatusAccepted)
		enc.Encode(api.Response{Type: api.AsyncResponse, StatusCode: 100, Operation: "/1.0/operations/op1", Metadata: b})
		return
	}
	b, _ := json.Marshal(rec.meta)
	enc.Encode(api.Response{Type: api.SyncResponse, StatusCode: 200, Metadata: b})
}

func newRecorder(t *testing.T) (*recorder, *Client) {
	t.Helper()
	rec := &recorder{}
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(rec.serve))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return rec, Connect(sock)
}

func TestStorageAndSnapshotRequests(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		call func(c *Client) error
		want string
	}{
		{"create pool", func(c *Client) error {
			return c.CreateStoragePool(ctx, api.StoragePoolsPost{Name: "fast", Driver: "btrfs"})
		}, `POST /1.0/storage-pools {"config":{},"description":"","name":"fast","driver":"btrfs"}`},
		{"patch pool", func(c *Client) error { return c.PatchStoragePool(ctx, "fast", map[string]string{"size": ""}, `"e"`) },
			`PATCH /1.0/storage-pools/fast {"config":{"size":""}}`},
		{"delete pool", func(c *Client) error { return c.DeleteStoragePool(ctx, "fast") }, `DELETE /1.0/storage-pools/fast `},
		{"pools", func(c *Client) error { _, err := c.GetStoragePools(ctx); return err }, `GET /1.0/storage-pools?recursion=1 `},
		{"resources", func(c *Client) error { _, err := c.GetStoragePoolResources(ctx, "fast"); return err },
			`GET /1.0/storage-pools/fast/resources `},
		{"volumes", func(c *Client) error { _, err := c.GetStorageVolumes(ctx, "fast"); return err },
			`GET /1.0/storage-pools/fast/volumes?recursion=1 `},
		{"create volume", func(c *Client) error {
			return c.CreateStorageVolume(ctx, "fast", api.StorageVolumesPost{Name: "data", Config: map[string]string{"size": "1GiB"}})
		}, `POST /1.0/storage-pools/fast/volumes/custom {"name":"data","type":"custom","config":{"size":"1GiB"},"description":""}`},
		{"get volume", func(c *Client) error { _, _, err := c.GetStorageVolume(ctx, "fast", "data"); return err },
			`GET /1.0/storage-pools/fast/volumes/custom/data `},
		{"delete volume", func(c *Client) error { return c.DeleteStorageVolume(ctx, "fast", "data") },
			`DELETE /1.0/storage-pools/fast/volumes/custom/data `},
		{"snapshots", func(c *Client) error { _, err := c.GetInstanceSnapshots(ctx, "web1"); return err },
			`GET /1.0/instances/web1/snapshots?recursion=1 `},
		{"snapshot", func(c *Client) error { _, err := c.GetInstanceSnapshot(ctx, "web1", "snap0"); return err },
			`GET /1.0/instances/web1/snapshots/snap0 `},
	}
	for _, c := range cases {
		rec, cl := newRecorder(t)
		if err := c.call(cl); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if len(rec.got) != 1 || rec.got[0] != c.want {
			t.Errorf("%s: sent %q, want %q", c.name, rec.got, c.want)
		}
	}
}

func TestSnapshotOperations(t *testing.T) {
	ctx := context.Background()
	rec, c := newRecorder(t)
	rec.async = true
	ops := []struct {
		start func() (*Operation, error)
		want  string
	}{
		{func() (*Operation, error) {
			return c.CreateInstanceSnapshot(ctx, "web1", api.InstanceSnapshotsPost{Name: "s1"})
		},
			`POST /1.0/instances/web1/snapshots {"name":"s1","stateful":false}`},
		{func() (*Operation, error) { return c.DeleteInstanceSnapshot(ctx, "web1", "s1") }, `DELETE /1.0/instances/web1/snapshots/s1 `},
		{func() (*Operation, error) { return c.RestoreInstanceSnapshot(ctx, "web1", "s1") }, `PUT /1.0/instances/web1 {"restore":"s1"}`},
	}
	for i, o := range ops {
		op, err := o.start()
		if err != nil || op.ID != "op1" {
			t.Fatalf("%d: %v %+v", i, err, op)
		}
		if got := rec.got[len(rec.got)-1]; got != o.want {
			t.Errorf("%d: sent %q, want %q", i, got, o.want)
		}
	}
	// A pool created through an operation waits for it and returns its
	// failure, mapped back to the sentinel.
	err := c.CreateStoragePool(ctx, api.StoragePoolsPost{Name: "fast", Driver: "btrfs"})
	if err == nil || err.Error() != "disk full" || !errors.Is(err, api.ErrConflict) {
		t.Errorf("failed operation: %v", err)
	}
}
