package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// TestSyncResponseSplice checks that the spliced sync envelope is the one
// encoding api.Response gives, ETag included.
func TestSyncResponseSplice(t *testing.T) {
	meta := []map[string]any{{"name": "a", "config": map[string]string{"k": "v <&>"}}, {"name": "b"}}
	w := httptest.NewRecorder()
	syncResponseETag(w, meta, `"abc"`)
	if w.Code != 200 || w.Header().Get("ETag") != `"abc"` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("code %d, headers %v", w.Code, w.Header())
	}
	var got api.Response
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	raw, _ := json.Marshal(meta)
	want := api.Response{Type: api.SyncResponse, Status: api.Success.String(), StatusCode: int(api.Success), Metadata: raw}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestLeasesByMAC checks the per-MAC index of a network's leases: any
// case of the MAC finds them, and a rewritten leases file is read again.
func TestLeasesByMAC(t *testing.T) {
	d := &daemon{dir: t.TempDir()}
	dir := d.networkDir("n1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "dnsmasq.leases")
	write := func(s string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	write("1900000000 00:16:3e:aa:bb:cc 10.0.0.5 a *\n1900000000 00:16:3e:00:00:01 10.0.0.6 b *\n", now.Add(-time.Minute))
	if got := d.leasesByMAC("n1", "00:16:3E:AA:BB:CC"); len(got) != 1 || got[0].IP.String() != "10.0.0.5" {
		t.Fatalf("leases of aa:bb:cc = %+v", got)
	}
	if got := d.leasesByMAC("n1", "00:16:3e:00:00:02"); len(got) != 0 {
		t.Fatalf("leases of an unknown MAC = %+v", got)
	}
	write("1900000000 00:16:3e:aa:bb:cc 10.0.0.7 a *\n", now)
	if got := d.leasesByMAC("n1", "00:16:3e:aa:bb:cc"); len(got) != 1 || got[0].IP.String() != "10.0.0.7" {
		t.Fatalf("after the rewrite: %+v", got)
	}
	if got := d.leasesByMAC("missing", "00:16:3e:aa:bb:cc"); got != nil {
		t.Fatalf("network without leases: %+v", got)
	}
}

// TestUnroutedEnvelope checks that unknown paths and wrong methods get the
// error envelope with 404 and 405, and that routed requests still reach
// their handler with their path values.
func TestUnroutedEnvelope(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /1.0/things/{name}", func(w http.ResponseWriter, r *http.Request) { syncResponse(w, r.PathValue("name")) })
	h := envelopeUnrouted(mux)
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/1.0/nothing", 404, ""},
		{"GET", "/2.0", 404, ""},
		{"DELETE", "/1.0/things/a", 405, "GET, HEAD"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		var got api.Response
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", c.method, c.path, w.Body.String(), err)
		}
		if w.Code != c.code || got.Type != api.ErrorResponse || got.ErrorCode != c.code || got.Error == "" {
			t.Errorf("%s %s: %d %+v, want %d error envelope", c.method, c.path, w.Code, got, c.code)
		}
		if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: headers %v", c.method, c.path, w.Header())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/1.0/things/x1", nil))
	var got api.Response
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 || string(got.Metadata) != `"x1"` {
		t.Errorf("routed request: %d %s", w.Code, w.Body.String())
	}
}
