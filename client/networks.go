package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetNetworks lists the networks with their configuration (recursion=1).
func (c *Client) GetNetworks(ctx context.Context) ([]api.Network, error) {
	var out []api.Network
	_, err := c.get(ctx, "/1.0/networks?recursion=1", &out)
	return out, err
}

// GetNetworkNames lists network names (the daemon answers with URLs; this
// strips them to the last path element).
func (c *Client) GetNetworkNames(ctx context.Context) ([]string, error) {
	var urls []string
	if _, err := c.get(ctx, "/1.0/networks", &urls); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(urls))
	for _, u := range urls {
		names = append(names, lastPathElem(u))
	}
	return names, nil
}

// GetNetwork returns one network and its ETag, to be passed back to
// UpdateNetwork or PatchNetwork so that a concurrent change is refused.
func (c *Client) GetNetwork(ctx context.Context, name string) (api.Network, string, error) {
	var n api.Network
	etag, err := c.get(ctx, networkPath(name), &n)
	return n, etag, err
}

// CreateNetwork creates a managed network.
func (c *Client) CreateNetwork(ctx context.Context, req api.NetworksPost) error {
	return c.apply(ctx, request{method: http.MethodPost, path: "/1.0/networks", body: req})
}

// UpdateNetwork replaces a network's config and description (PUT). With a
// non-empty etag the daemon refuses the change when the network changed
// since it was read: the error is then a *ChangedError.
func (c *Client) UpdateNetwork(ctx context.Context, name string, put api.NetworkPut, etag string) error {
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	err := c.apply(ctx, request{method: http.MethodPut, path: networkPath(name), body: put, etag: etag})
	return changed("network", name, err)
}

// PatchNetwork merges config keys into a network (PATCH); a key with an
// empty value is removed. Only the given keys are touched: the description
// is left alone. etag may be ""; a stale one gives a *ChangedError.
func (c *Client) PatchNetwork(ctx context.Context, name string, config map[string]string, etag string) error {
	if config == nil {
		config = map[string]string{}
	}
	body := map[string]any{"config": config}
	err := c.apply(ctx, request{method: http.MethodPatch, path: networkPath(name), body: body, etag: etag})
	return changed("network", name, err)
}

// RenameNetwork renames a network.
func (c *Client) RenameNetwork(ctx context.Context, name, newName string) error {
	return c.apply(ctx, request{method: http.MethodPost, path: networkPath(name), body: api.NetworkPost{Name: newName}})
}

// DeleteNetwork removes a network that no instance or profile uses.
func (c *Client) DeleteNetwork(ctx context.Context, name string) error {
	return c.apply(ctx, request{method: http.MethodDelete, path: networkPath(name)})
}

// GetNetworkState returns the runtime state of a network's bridge
// (link state, MTU, addresses, counters).
func (c *Client) GetNetworkState(ctx context.Context, name string) (api.NetworkState, error) {
	var st api.NetworkState
	_, err := c.get(ctx, networkPath(name)+"/state", &st)
	return st, err
}

// GetNetworkLeases returns the DHCP leases and reservations of a network.
func (c *Client) GetNetworkLeases(ctx context.Context, name string) ([]api.NetworkLease, error) {
	var out []api.NetworkLease
	_, err := c.get(ctx, networkPath(name)+"/leases", &out)
	return out, err
}

func networkPath(name string) string { return "/1.0/networks/" + esc(name) }

// apply sends a request that changes something. The network endpoints
// answer synchronously, but LXD answers some changes with an operation; an
// operation is waited for here so the caller sees one outcome either way.
func (c *Client) apply(ctx context.Context, r request) error {
	env, _, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if env.Type != api.AsyncResponse {
		return nil
	}
	op, err := c.operationFrom(env)
	if err != nil {
		return err
	}
	return op.Wait(ctx)
}

// operationFrom decodes the operation of an async envelope.
func (c *Client) operationFrom(env *api.Response) (*Operation, error) {
	op := &Operation{c: c}
	if err := json.Unmarshal(env.Metadata, &op.Operation); err != nil {
		return nil, fmt.Errorf("decode operation: %w", err)
	}
	return op, nil
}
