package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestExecSessionCloseReleases: a closed session holds no connection and
// takes no new one (a finished exec operation stays listed for minutes).
func TestExecSessionCloseReleases(t *testing.T) {
	sess := newExecSession(true) // streams "0" and "control"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if !sess.attach(r.URL.Query().Get("secret"), ws) {
			ws.Close()
		}
	}))
	defer srv.Close()
	dial := func(stream string) *websocket.Conn {
		t.Helper()
		url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?secret=" + sess.secrets[stream]
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c0 := dial("0")
	defer c0.Close()
	cc := dial("control")
	defer cc.Close()
	<-sess.connected
	sess.close()
	sess.mu.Lock()
	n := len(sess.conns)
	sess.mu.Unlock()
	if n != 0 {
		t.Errorf("closed session still holds %d connections", n)
	}
	// The server side is closed: the client's read fails.
	if _, _, err := c0.ReadMessage(); err == nil {
		t.Error("stream 0 still open after close")
	}
	if sess.attach(sess.secrets["0"], nil) {
		t.Error("a closed session accepted a stream")
	}
}
