package client

import (
	"context"
	"net/http"
	"strconv"
)

// Shutdown asks the daemon to stop every guest cleanly, in
// boot.stop.priority order, and then exit (PUT /internal/shutdown), as
// done when the host powers off. It returns once the daemon reports that
// all guests are stopped and it is about to exit. timeout is the time in
// seconds the daemon gives each guest to halt before killing it; 0 leaves
// the daemon's default.
func (c *Client) Shutdown(ctx context.Context, timeout int) error {
	p := "/internal/shutdown"
	if timeout > 0 {
		p += "?timeout=" + strconv.Itoa(timeout)
	}
	return c.apply(ctx, request{method: http.MethodPut, path: p})
}

// SetServerConfig sets server config keys (PATCH /1.0); an empty value
// unsets a key.
func (c *Client) SetServerConfig(ctx context.Context, cfg map[string]string) error {
	return c.sync(ctx, request{method: http.MethodPatch, path: "/1.0", body: map[string]any{"config": cfg}})
}
