package main

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// The fake daemon's storage, snapshot and copy endpoints: pool "default"
// with the custom volume "data", instance web1 with snapshots snap0 and
// snap2, and operations that finish at once (op "op1").

func fixturePool() api.StoragePool {
	return api.StoragePool{
		StoragePoolPut: api.StoragePoolPut{Config: map[string]string{"source": "/var/lib/lxmgr/storage-pools/default"}, Description: "main"},
		Name:           "default", Driver: "dir", Status: "Created",
		UsedBy: []string{"/1.0/instances/web1", "/1.0/profiles/default"},
	}
}

func fixtureSnapshots() []api.InstanceSnapshot {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	return []api.InstanceSnapshot{
		{Name: "snap2", CreatedAt: t0.Add(time.Hour), Size: 3 << 20},
		{Name: "snap0", CreatedAt: t0},
	}
}

func fixtureVolumes() []api.StorageVolume {
	return []api.StorageVolume{
		{Name: "web1", Type: "container", UsedBy: []string{"/1.0/instances/web1"}},
		{Name: "data", Type: "custom", Config: map[string]string{"size": "1GiB"}},
		{Name: "0123abcd", Type: "image"},
	}
}

// replyAsync answers with a running operation, as lxmgrd does for
// anything slow.
func replyAsync(w http.ResponseWriter) {
	op, _ := json.Marshal(api.Operation{ID: "op1", Class: api.OperationClassTask, Status: "Running", StatusCode: api.Running})
	w.Header().Set("Location", "/1.0/operations/op1")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(api.Response{Type: api.AsyncResponse, StatusCode: int(api.OperationCreated), Operation: "/1.0/operations/op1", Metadata: op})
}

// serveStorage answers the requests the main switch does not know; false
// means not found. f.mu is held.
func (f *fakeDaemon) serveStorage(w http.ResponseWriter, r *http.Request, req fakeRequest, reply func(int, any)) bool {
	switch r.Method + " " + r.URL.Path {
	case "GET /1.0/operations/op1/wait":
		reply(200, api.Operation{ID: "op1", Status: "Success", StatusCode: api.Success, Metadata: f.appliedMeta()})
	case "GET /1.0/storage-pools":
		reply(200, []api.StoragePool{f.pool, {Name: "broken", Driver: "btrfs", Status: "Unavailable"}})
	case "GET /1.0/storage-pools/default":
		reply(200, f.pool)
	case "GET /1.0/storage-pools/default/resources":
		reply(200, api.StoragePoolResources{Space: api.StoragePoolSpace{Used: 3 << 30, Total: 10 << 30}})
	case "GET /1.0/storage-pools/default/volumes":
		reply(200, fixtureVolumes())
	case "GET /1.0/storage-pools/default/volumes/custom/data":
		reply(200, fixtureVolumes()[1])
	case "PATCH /1.0/storage-pools/default":
		var p api.StoragePoolPut
		remarshalRaw(req.body, &p)
		for k, v := range p.Config {
			if v == "" {
				delete(f.pool.Config, k)
			} else {
				f.pool.Config[k] = v
			}
		}
		f.version++
		reply(200, nil)
	case "POST /1.0/storage-pools", "POST /1.0/instances/web1/snapshots", "DELETE /1.0/instances/web1/snapshots/snap0",
		"DELETE /1.0/instances/web1/snapshots/snap2", "PUT /1.0/instances/web1", "POST /1.0/instances":
		replyAsync(w)
	case "DELETE /1.0/storage-pools/default", "POST /1.0/storage-pools/default/volumes/custom",
		"DELETE /1.0/storage-pools/default/volumes/custom/data":
		reply(200, nil)
	case "GET /1.0/instances/web1/snapshots":
		reply(200, f.snaps)
	default:
		return false
	}
	return true
}
