package client

import (
	"context"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetInstances lists every instance with its state (recursion=2).
func (c *Client) GetInstances(ctx context.Context) ([]api.InstanceFull, error) {
	var out []api.InstanceFull
	_, err := c.get(ctx, "/1.0/instances?recursion=2", &out)
	return out, err
}

// GetInstancesInto decodes the same list as GetInstances into out, a
// pointer to a slice of the caller's own type: a caller that needs a few
// fields of a thousand instances can leave the rest undecoded.
func (c *Client) GetInstancesInto(ctx context.Context, out any) error {
	_, err := c.get(ctx, "/1.0/instances?recursion=2", out)
	return err
}

// GetInstanceNames lists instance names (recursion=0 gives URLs; this strips them).
func (c *Client) GetInstanceNames(ctx context.Context) ([]string, error) {
	var urls []string
	if _, err := c.get(ctx, "/1.0/instances", &urls); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(urls))
	for _, u := range urls {
		names = append(names, lastPathElem(u))
	}
	return names, nil
}

// GetInstance returns one instance and its ETag.
func (c *Client) GetInstance(ctx context.Context, name string) (api.Instance, string, error) {
	var inst api.Instance
	etag, err := c.get(ctx, "/1.0/instances/"+esc(name), &inst)
	return inst, etag, err
}

// GetInstanceFull returns one instance with its state.
func (c *Client) GetInstanceFull(ctx context.Context, name string) (api.InstanceFull, error) {
	var inst api.InstanceFull
	_, err := c.get(ctx, "/1.0/instances/"+esc(name)+"?recursion=1", &inst)
	return inst, err
}

// GetInstanceState returns the runtime state of an instance.
func (c *Client) GetInstanceState(ctx context.Context, name string) (api.InstanceState, error) {
	var st api.InstanceState
	_, err := c.get(ctx, "/1.0/instances/"+esc(name)+"/state", &st)
	return st, err
}

// CreateInstance creates (and with req.Start, starts) an instance.
func (c *Client) CreateInstance(ctx context.Context, req api.InstancesPost) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPost, path: "/1.0/instances", body: req})
}

// UpdateInstance replaces an instance's config (PUT). etag may be "".
func (c *Client) UpdateInstance(ctx context.Context, name string, put api.InstancePut, etag string) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPut, path: "/1.0/instances/" + esc(name), body: put, etag: etag})
}

// PatchInstance merges fields into an instance's config (PATCH).
func (c *Client) PatchInstance(ctx context.Context, name string, patch map[string]any, etag string) error {
	return c.sync(ctx, request{method: http.MethodPatch, path: "/1.0/instances/" + esc(name), body: patch, etag: etag})
}

// RenameInstance renames a stopped instance.
func (c *Client) RenameInstance(ctx context.Context, name, newName string) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPost, path: "/1.0/instances/" + esc(name), body: api.InstancePost{Name: newName}})
}

// DeleteInstance deletes a stopped instance; force stops it first.
func (c *Client) DeleteInstance(ctx context.Context, name string, force bool) (*Operation, error) {
	p := "/1.0/instances/" + esc(name)
	if force {
		p += "?force=1"
	}
	return c.async(ctx, request{method: http.MethodDelete, path: p})
}

// UpdateInstanceState starts, stops, restarts, freezes or unfreezes an instance.
func (c *Client) UpdateInstanceState(ctx context.Context, name string, put api.InstanceStatePut) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPut, path: "/1.0/instances/" + esc(name) + "/state", body: put})
}

func lastPathElem(u string) string {
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '/' {
			return u[i+1:]
		}
	}
	return u
}
