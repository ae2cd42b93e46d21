// Package client is the Go client of the lxmgr REST API. It speaks to lxmgrd
// over its unix socket, decodes LXD-style envelopes and maps error codes back
// to the api sentinel errors, so errors.Is(err, api.ErrNotFound) works.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/lxmgr/lxmgr/api"
)

// DefaultDir is the daemon's state directory when LXMGR_DIR is not set.
const DefaultDir = "/var/lib/lxmgr"

// DefaultSocket returns the socket path of the local daemon:
// $LXMGR_DIR/unix.socket, or /var/lib/lxmgr/unix.socket.
func DefaultSocket() string {
	dir := os.Getenv("LXMGR_DIR")
	if dir == "" {
		dir = DefaultDir
	}
	return filepath.Join(dir, "unix.socket")
}

// Client talks to one lxmgrd. It is safe for concurrent use.
type Client struct {
	socket string
	http   *http.Client
}

// Connect returns a client for the daemon listening on socketPath. It does
// not dial: the first request reports a missing daemon.
func Connect(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns: 4,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr}}
}

// Socket returns the socket path this client dials.
func (c *Client) Socket() string { return c.socket }

// request is one API call.
type request struct {
	method  string
	path    string // below /1.0, with query
	body    any    // JSON-encoded unless it is an io.Reader
	headers map[string]string
	etag    string
}

// do sends r and decodes the envelope. A non-error envelope is returned with
// the response's ETag. Error envelopes become *api.StatusError.
func (c *Client) do(ctx context.Context, r request) (*api.Response, string, error) {
	resp, err := c.raw(ctx, r)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	return decode(resp)
}

func (c *Client) raw(ctx context.Context, r request) (*http.Response, error) {
	var body io.Reader
	ctype := ""
	switch b := r.body.(type) {
	case nil:
	case io.Reader:
		body = b
		ctype = "application/octet-stream"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(buf)
		ctype = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, "http://lxmgr"+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.etag != "" {
		req.Header.Set("If-Match", r.etag)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("cannot reach lxmgrd at %s (is it running?): %w", c.socket, err)
	}
	return resp, nil
}

func decode(resp *http.Response) (*api.Response, string, error) {
	var env api.Response
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return nil, "", fmt.Errorf("decode response (HTTP %d): %w", resp.StatusCode, err)
	}
	if env.Type == api.ErrorResponse {
		return nil, "", statusError(&env, resp.StatusCode)
	}
	return &env, resp.Header.Get("ETag"), nil
}

// statusError is the error of an error envelope (the HTTP status when it
// carries no code).
func statusError(env *api.Response, httpStatus int) error {
	code := env.ErrorCode
	if code == 0 {
		code = httpStatus
	}
	return &api.StatusError{Code: code, Message: env.Error}
}

// get decodes the metadata of a sync GET into out and returns the ETag.
//
// The metadata is decoded straight into out in the one pass over the body:
// decoding the envelope first and its metadata after would scan a list of
// a thousand instances twice.
func (c *Client) get(ctx context.Context, path string, out any) (string, error) {
	if out == nil {
		_, etag, err := c.do(ctx, request{method: http.MethodGet, path: path})
		return etag, err
	}
	resp, err := c.raw(ctx, request{method: http.MethodGet, path: path})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("read response (HTTP %d): %w", resp.StatusCode, err)
	}
	env := struct {
		Type     api.ResponseType `json:"type"`
		Metadata any              `json:"metadata"`
	}{Metadata: out}
	if err := json.Unmarshal(body, &env); err != nil || env.Type == api.ErrorResponse {
		// An error reply (its metadata need not fit out), or a bad body.
		var plain api.Response
		if perr := json.Unmarshal(body, &plain); perr != nil {
			return "", fmt.Errorf("decode response (HTTP %d): %w", resp.StatusCode, perr)
		}
		if plain.Type == api.ErrorResponse {
			return "", statusError(&plain, resp.StatusCode)
		}
		return "", fmt.Errorf("decode %s: %w", path, err)
	}
	return resp.Header.Get("ETag"), nil
}

// sync sends a request expecting a sync reply.
func (c *Client) sync(ctx context.Context, r request) error {
	_, _, err := c.do(ctx, r)
	return err
}

// async sends a request expecting an operation.
func (c *Client) async(ctx context.Context, r request) (*Operation, error) {
	env, _, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	if env.Type != api.AsyncResponse {
		return nil, fmt.Errorf("expected an operation from %s %s, got %q", r.method, r.path, env.Type)
	}
	op := &Operation{c: c}
	if err := json.Unmarshal(env.Metadata, &op.Operation); err != nil {
		return nil, fmt.Errorf("decode operation: %w", err)
	}
	return op, nil
}

func esc(s string) string { return url.PathEscape(s) }

// GetServer returns the daemon's description (GET /1.0).
func (c *Client) GetServer(ctx context.Context) (api.Server, error) {
	var s api.Server
	_, err := c.get(ctx, "/1.0", &s)
	return s, err
}
