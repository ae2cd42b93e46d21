package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// TestGetDecodes checks the one-pass decode of sync replies: metadata into
// the caller's value with the ETag, and error replies as StatusError even
// when their metadata does not fit that value.
func TestGetDecodes(t *testing.T) {
	bodies := map[string]struct {
		code int
		body string
	}{
		"/ok":       {200, `{"type":"sync","status":"Success","status_code":200,"metadata":[{"name":"a"},{"name":"b"}]}`},
		"/err":      {404, `{"type":"error","error":"instance \"x\" not found","error_code":404}`},
		"/err-meta": {400, `{"type":"error","error":"bad","error_code":400,"metadata":{"key":"v"}}`},
		"/bad":      {200, `{"type":"sync","metadata":{"name":"a"}}`},
		"/garbage":  {200, `not json`},
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies[r.URL.Path]
		w.Header().Set("ETag", `"e1"`)
		w.WriteHeader(b.code)
		w.Write([]byte(b.body))
	}))
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	c, ctx := Connect(sock), context.Background()

	var list []api.Instance
	etag, err := c.get(ctx, "/ok", &list)
	if err != nil || etag != `"e1"` || len(list) != 2 || list[1].Name != "b" {
		t.Fatalf("ok: %v %q %+v", err, etag, list)
	}
	for _, p := range []string{"/err", "/err-meta"} {
		var se *api.StatusError
		if _, err := c.get(ctx, p, &list); !errors.As(err, &se) || se.Code != bodies[p].code {
			t.Errorf("%s: err = %v, want a StatusError %d", p, err, bodies[p].code)
		}
	}
	for _, p := range []string{"/bad", "/garbage"} {
		if _, err := c.get(ctx, p, &list); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}
