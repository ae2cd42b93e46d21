package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/image"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/storage"
)

// errBusy is returned when an instance is in a state that forbids the request
// (running when it must be stopped, or the other way round).
var errBusy = errors.New("busy")

// errorCodes is the one table mapping internal errors to HTTP codes. Order
// matters only where an error wraps several sentinels: the first match wins.
var errorCodes = []struct {
	err  error
	code int
}{
	{api.ErrNotFound, http.StatusNotFound},
	{db.ErrNotFound, http.StatusNotFound},
	{image.ErrUnknownImage, http.StatusNotFound},
	{instance.ErrNotFound, http.StatusNotFound},
	{api.ErrConflict, http.StatusConflict},
	{db.ErrExists, http.StatusConflict},
	{storage.ErrExists, http.StatusConflict},
	{errBusy, http.StatusConflict},
	{instance.ErrRunning, http.StatusConflict},
	{instance.ErrNotRunning, http.StatusConflict},
	{api.ErrInvalid, http.StatusBadRequest},
	{db.ErrAmbiguous, http.StatusBadRequest},
	{profiles.ErrUnknownKey, http.StatusBadRequest},
	{profiles.ErrInvalidValue, http.StatusBadRequest},
	{profiles.ErrInvalidDevice, http.StatusBadRequest},
	{profiles.ErrUnsupportedDevice, http.StatusBadRequest},
	{instance.ErrInvalidSpec, http.StatusBadRequest},
	{storage.ErrInvalidName, http.StatusBadRequest},
	{image.ErrUnsafeTarball, http.StatusBadRequest},
	{image.ErrFingerprintMismatch, http.StatusBadRequest},
	{storage.ErrNotSupported, http.StatusBadRequest},
	{storage.ErrPoolFull, http.StatusInsufficientStorage},
	{api.ErrForbidden, http.StatusForbidden},
	{api.ErrPrecondition, http.StatusPreconditionFailed},
}

// codeFor returns the HTTP status code for err.
func codeFor(err error) int {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// syncResponse writes a sync envelope with metadata.
func syncResponse(w http.ResponseWriter, metadata any) {
	syncResponseETag(w, metadata, "")
}

func syncResponseETag(w http.ResponseWriter, metadata any, etag string) {
	raw, err := json.Marshal(metadata)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	// The envelope is spliced around the metadata bytes: encoding an
	// api.Response would check and compact them all again (a fifth of a
	// list of 500 instances).
	env, err := json.Marshal(api.Response{Type: api.SyncResponse, Status: api.Success.String(), StatusCode: int(api.Success)})
	if err != nil {
		errorResponse(w, err)
		return
	}
	body := make([]byte, 0, len(env)+len(raw)+16)
	body = append(body, env[:len(env)-1]...)
	body = append(body, `,"metadata":`...)
	body = append(body, raw...)
	body = append(body, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil {
		slog.Debug("write response", "err", err)
	}
}

// emptySync answers a sync request that returns nothing.
func emptySync(w http.ResponseWriter) { syncResponse(w, map[string]any{}) }

// asyncResponse writes the 202 envelope of a new operation.
func asyncResponse(w http.ResponseWriter, op *operation) {
	snap := op.snapshot()
	raw, _ := json.Marshal(snap)
	w.Header().Set("Location", snap.Location)
	writeJSON(w, http.StatusAccepted, api.Response{
		Type: api.AsyncResponse, Status: api.OperationCreated.String(), StatusCode: int(api.OperationCreated),
		Operation: snap.Location, Metadata: raw,
	})
}

// errorResponse writes an error envelope, the code taken from the table.
func errorResponse(w http.ResponseWriter, err error) {
	code := codeFor(err)
	if code == http.StatusInternalServerError {
		slog.Error("request failed", "err", err)
	}
	writeJSON(w, code, api.Response{Type: api.ErrorResponse, Error: err.Error(), ErrorCode: code})
}

// etagOf hashes the JSON form of v; PUT/PATCH compare it with If-Match.
func etagOf(v any) string {
	raw, _ := json.Marshal(v)
	sum := sha256.Sum256(raw)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// checkETag refuses the request when If-Match is set and differs.
func checkETag(r *http.Request, current string) error {
	want := r.Header.Get("If-Match")
	if want == "" || want == current {
		return nil
	}
	return api.ErrPrecondition
}

// decodeBody reads a JSON request body strictly.
func decodeBody(r *http.Request, v any) error {
	// Unknown fields are accepted: LXD clients send fields we do not use.
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: invalid request body: %v", api.ErrInvalid, err)
	}
	return nil
}
