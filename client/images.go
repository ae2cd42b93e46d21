package client

import (
	"context"
	"io"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetImages lists the images in the daemon's store.
func (c *Client) GetImages(ctx context.Context) ([]api.Image, error) {
	var out []api.Image
	_, err := c.get(ctx, "/1.0/images?recursion=1", &out)
	return out, err
}

// GetImage returns one image by fingerprint (or unique prefix).
func (c *Client) GetImage(ctx context.Context, fp string) (api.Image, error) {
	var img api.Image
	_, err := c.get(ctx, "/1.0/images/"+esc(fp), &img)
	return img, err
}

// BuildImage asks the daemon to build an image (debian/12, busybox).
func (c *Client) BuildImage(ctx context.Context, req api.ImagesPost) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodPost, path: "/1.0/images", body: req})
}

// DeleteImage removes an image by fingerprint or alias.
func (c *Client) DeleteImage(ctx context.Context, ref string) (*Operation, error) {
	return c.async(ctx, request{method: http.MethodDelete, path: "/1.0/images/" + esc(ref)})
}

// ImportImage uploads an LXD-format unified image tarball. fingerprint, if
// not "", is checked by the daemon against the upload.
func (c *Client) ImportImage(ctx context.Context, tarball io.Reader, filename, fingerprint string) (*Operation, error) {
	h := map[string]string{"X-LXD-filename": filename}
	if fingerprint != "" {
		h["X-LXD-fingerprint"] = fingerprint
	}
	return c.async(ctx, request{method: http.MethodPost, path: "/1.0/images", body: tarball, headers: h})
}

// CreateImageAlias points alias at the image with the given fingerprint.
func (c *Client) CreateImageAlias(ctx context.Context, alias, fingerprint, description string) error {
	body := map[string]string{"name": alias, "target": fingerprint, "description": description}
	return c.sync(ctx, request{method: http.MethodPost, path: "/1.0/images/aliases", body: body})
}
