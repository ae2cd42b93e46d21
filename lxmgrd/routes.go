package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lxmgr/lxmgr/api"
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
	return logRequests(envelopeUnrouted(mux))
}

// envelopeUnrouted answers requests no route takes (an unknown path: 404, a
// known path with another method: 405, with its Allow header) with the
// API's error envelope instead of ServeMux's plain text, so that clients
// decode every answer the same way.
func envelopeUnrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values h reads
			return
		}
		rec := &statusOnly{header: http.Header{}}
		h.ServeHTTP(rec, r)
		code, msg := rec.code, "not found"
		switch code {
		case http.StatusMethodNotAllowed:
			msg = fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path)
			w.Header().Set("Allow", rec.header.Get("Allow"))
		case http.StatusNotFound, 0:
			code, msg = http.StatusNotFound, "no such API path: "+r.URL.Path
		default:
			msg = http.StatusText(code)
		}
		writeJSON(w, code, api.Response{Type: api.ErrorResponse, Error: msg, ErrorCode: code})
	})
}

// statusOnly is a ResponseWriter that keeps the status code and headers of
// ServeMux's own error answers and drops their text.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(b), nil
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		slog.Debug("request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	})
}
