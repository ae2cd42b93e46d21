package client

import (
	"context"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetStoragePools lists the storage pools with their configuration
// (recursion=1).
func (c *Client) GetStoragePools(ctx context.Context) ([]api.StoragePool, error) {
	var out []api.StoragePool
	_, err := c.get(ctx, "/1.0/storage-pools?recursion=1", &out)
	return out, err
}

// GetStoragePool returns one pool and its ETag, to be passed back to
// PatchStoragePool so that a concurrent change is refused.
func (c *Client) GetStoragePool(ctx context.Context, name string) (api.StoragePool, string, error) {
	var p api.StoragePool
	etag, err := c.get(ctx, poolPath(name), &p)
	return p, etag, err
}

// CreateStoragePool creates a storage pool. The daemon may answer at once or
// with an operation; either way this returns when the pool exists or failed.
func (c *Client) CreateStoragePool(ctx context.Context, req api.StoragePoolsPost) error {
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	return c.apply(ctx, request{method: http.MethodPost, path: "/1.0/storage-pools", body: req})
}

// PatchStoragePool merges config keys into a pool (PATCH); a key with an
// empty value is removed. Only the config is sent, so the description is
// left alone. etag may be ""; a stale one gives a *ChangedError.
func (c *Client) PatchStoragePool(ctx context.Context, name string, config map[string]string, etag string) error {
	if config == nil {
		config = map[string]string{}
	}
	body := map[string]any{"config": config}
	err := c.apply(ctx, request{method: http.MethodPatch, path: poolPath(name), body: body, etag: etag})
	return changed("storage pool", name, err)
}

// DeleteStoragePool removes a pool that holds no volume and that no profile
// uses.
func (c *Client) DeleteStoragePool(ctx context.Context, name string) error {
	return c.apply(ctx, request{method: http.MethodDelete, path: poolPath(name)})
}

// GetStoragePoolResources returns the space used and available in a pool.
func (c *Client) GetStoragePoolResources(ctx context.Context, name string) (api.StoragePoolResources, error) {
	var res api.StoragePoolResources
	_, err := c.get(ctx, poolPath(name)+"/resources", &res)
	return res, err
}

// GetStorageVolumes lists every volume of a pool, of all types (instance
// root filesystems, images and custom volumes).
func (c *Client) GetStorageVolumes(ctx context.Context, pool string) ([]api.StorageVolume, error) {
	var out []api.StorageVolume
	_, err := c.get(ctx, poolPath(pool)+"/volumes?recursion=1", &out)
	return out, err
}

// GetStorageVolume returns one custom volume of a pool and its ETag.
func (c *Client) GetStorageVolume(ctx context.Context, pool, name string) (api.StorageVolume, string, error) {
	var v api.StorageVolume
	etag, err := c.get(ctx, customVolumePath(pool, name), &v)
	return v, etag, err
}

// CreateStorageVolume creates a custom volume in a pool (req.Type defaults
// to "custom"). It returns when the volume exists or creating it failed.
func (c *Client) CreateStorageVolume(ctx context.Context, pool string, req api.StorageVolumesPost) error {
	if req.Type == "" {
		req.Type = "custom"
	}
	if req.Config == nil {
		req.Config = map[string]string{}
	}
	return c.apply(ctx, request{method: http.MethodPost, path: poolPath(pool) + "/volumes/custom", body: req})
}

// DeleteStorageVolume removes a custom volume that no instance uses.
func (c *Client) DeleteStorageVolume(ctx context.Context, pool, name string) error {
	return c.apply(ctx, request{method: http.MethodDelete, path: customVolumePath(pool, name)})
}

func poolPath(name string) string { return "/1.0/storage-pools/" + esc(name) }

func customVolumePath(pool, name string) string {
	return poolPath(pool) + "/volumes/custom/" + esc(name)
}
