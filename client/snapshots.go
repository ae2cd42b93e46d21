package client

import (
	"context"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetInstanceSnapshots lists the snapshots of an instance (recursion=1).
func (c *Client) GetInstanceSnapshots(ctx context.Context, name string) ([]api.InstanceSnapshot, error) {
	var out []api.InstanceSnapshot
	_, err := c.get(ctx, snapshotsPath(name)+"?recursion=1", &out)
	return out, err
}

// GetInstanceSnapshot returns one snapshot of an instance.
func (c *Client) GetInstanceSnapshot(ctx context.Context, name, snap string) (api.InstanceSnapshot, error) {
	var s api.InstanceSnapshot
	_, err := c.get(ctx, snapshotsPath(name)+"/"+esc(snap), &s)
	return s, err
}

// CreateInstanceSnapshot takes a snapshot of an instance.
func (c *Client) CreateInstanceSnapshot(ctx context.Context, name string, req api.InstanceSnapshotsPost) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPost, path: snapshotsPath(name), body: req})
}

// DeleteInstanceSnapshot removes one snapshot of an instance.
func (c *Client) DeleteInstanceSnapshot(ctx context.Context, name, snap string) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodDelete, path: snapshotsPath(name) + "/" + esc(snap)})
}

// RestoreInstanceSnapshot puts an instance back to the state of one of its
// snapshots. As in LXD it is a PUT of the instance carrying only "restore":
// the other fields are not sent, so nothing else is replaced.
func (c *Client) RestoreInstanceSnapshot(ctx context.Context, name, snap string) (*Operation, error) {
	body := map[string]string{"restore": snap}
	return c.async(ctx, request{method: http.MethodPut, path: "/1.0/instances/" + esc(name), body: body})
}

func snapshotsPath(name string) string { return "/1.0/instances/" + esc(name) + "/snapshots" }
