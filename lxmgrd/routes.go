package main

import (
	"log/slog"
	"net/http"
	"time"
)

// routes maps the REST API (LXD's paths) to handlers.
func (d *daemon) routes() http.Handler {
	mux := http.NewServeMux()
	h := map[string]http.HandlerFunc{
		"GET /{$}":                                              func(w http.ResponseWriter, r *http.Request) { syncResponse(w, []string{"/1.0"}) },
		"GET /1.0":                                              d.serverGet,
		"PATCH /1.0":                                            d.serverPatch,
		"PUT /1.0":                                              d.serverPut,
		"GET /1.0/instances":                                    d.instancesGet,
		"POST /1.0/instances":                                   d.instancesPost,
		"GET /1.0/instances/{name}":                             d.instanceGet,
		"PUT /1.0/instances/{name}":                             d.instancePut,
		"PATCH /1.0/instances/{name}":                           d.instancePatch,
		"POST /1.0/instances/{name}":                            d.instancePost,
		"DELETE /1.0/instances/{name}":                          d.instanceDelete,
		"GET /1.0/instances/{name}/state":                       d.instanceStateGet,
		"PUT /1.0/instances/{name}/state":                       d.instanceStatePut,
		"POST /1.0/instances/{name}/exec":                       d.instanceExecPost,
		"GET /1.0/instances/{name}/files":                       d.instanceFileGet,
		"POST /1.0/instances/{name}/files":                      d.instanceFilePost,
		"DELETE /1.0/instances/{name}/files":                    d.instanceFileDelete,
		"GET /1.0/operations":                                   d.operationsGet,
		"GET /1.0/operations/{id}":                              d.operationGet,
		"DELETE /1.0/operations/{id}":                           d.operationDelete,
		"GET /1.0/operations/{id}/wait":                         d.operationWait,
		"GET /1.0/operations/{id}/websocket":                    d.operationWebsocket,
		"GET /1.0/images":                                       d.imagesGet,
		"POST /1.0/images":                                      d.imagesPost,
		"GET /1.0/images/{fingerprint}":                         d.imageGet,
		"DELETE /1.0/images/{fingerprint}":                      d.imageDelete,
		"POST /1.0/images/aliases":                              d.imageAliasesPost,
		"DELETE /1.0/images/aliases/{name...}":                  d.imageAliasDelete,
		"GET /1.0/networks":                                     d.networksGet,
		"POST /1.0/networks":                                    d.networksPost,
		"GET /1.0/networks/{name}":                              d.networkGet,
		"PUT /1.0/networks/{name}":                              d.networkPut,
		"PATCH /1.0/networks/{name}":                            d.networkPatch,
		"POST /1.0/networks/{name}":                             d.networkPost,
		"DELETE /1.0/networks/{name}":                           d.networkDelete,
		"GET /1.0/networks/{name}/state":                        d.networkStateGet,
		"GET /1.0/networks/{name}/leases":                       d.networkLeasesGet,
		"GET /1.0/storage-pools":                                d.poolsGet,
		"POST /1.0/storage-pools":                               d.poolsPost,
		"GET /1.0/storage-pools/{name}":                         d.poolGet,
		"PATCH /1.0/storage-pools/{name}":                       d.poolPatch,
		"DELETE /1.0/storage-pools/{name}":                      d.poolDelete,
		"GET /1.0/storage-pools/{name}/resources":               d.poolResourcesGet,
		"GET /1.0/storage-pools/{name}/volumes":                 d.volumesGet,
		"POST /1.0/storage-pools/{name}/volumes/custom":         d.customVolumesPost,
		"GET /1.0/storage-pools/{name}/volumes/custom/{vol}":    d.customVolumeGet,
		"DELETE /1.0/storage-pools/{name}/volumes/custom/{vol}": d.customVolumeDelete,
		"GET /1.0/instances/{name}/snapshots":                   d.snapshotsGet,
		"POST /1.0/instances/{name}/snapshots":                  d.snapshotsPost,
		"GET /1.0/instances/{name}/snapshots/{snap}":            d.snapshotGet,
		"DELETE /1.0/instances/{name}/snapshots/{snap}":         d.snapshotDelete,
		"PUT /internal/shutdown":                                d.internalShutdown,
		"GET /1.0/doctor":                                       d.doctorGet,
		"GET /1.0/profiles":                                     d.profilesGet,
		"POST /1.0/profiles":                                    d.profilesPost,
		"GET /1.0/profiles/{name}":                              d.profileGet,
		"PATCH /1.0/profiles/{name}":                            d.profilePatch,
		"POST /1.0/profiles/{name}":                             d.profilePost,
		"PUT /1.0/profiles/{name}":                              d.profilePut,
		"DELETE /1.0/profiles/{name}":                           d.profileDelete,
	}
	for pattern, fn := range h {
		mux.HandleFunc(pattern, fn)
	}
	return logRequests(mux)
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		slog.Debug("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}
