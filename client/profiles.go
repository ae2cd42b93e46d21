package client

import (
	"context"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// GetProfiles lists profiles.
func (c *Client) GetProfiles(ctx context.Context) ([]api.Profile, error) {
	var out []api.Profile
	_, err := c.get(ctx, "/1.0/profiles?recursion=1", &out)
	return out, err
}

// GetProfile returns one profile and its ETag, to be passed back to
// UpdateProfile or PatchProfile so that a concurrent change is refused.
func (c *Client) GetProfile(ctx context.Context, name string) (api.Profile, string, error) {
	var p api.Profile
	etag, err := c.get(ctx, profilePath(name), &p)
	return p, etag, err
}

// CreateProfile creates a profile.
func (c *Client) CreateProfile(ctx context.Context, p api.ProfilesPost) error {
	return c.apply(ctx, request{method: http.MethodPost, path: "/1.0/profiles", body: p})
}

// UpdateProfile replaces a profile (PUT). etag may be ""; a stale one gives
// a *ChangedError and nothing is saved.
func (c *Client) UpdateProfile(ctx context.Context, name string, put api.ProfilePut, etag string) error {
	_, err := c.ReplaceProfile(ctx, name, put, etag)
	return err
}

// ReplaceProfile is UpdateProfile that also returns what the daemon
// reported: the changes that running instances using the profile only
// pick up at their next start ("web1: limits.cpu").
func (c *Client) ReplaceProfile(ctx context.Context, name string, put api.ProfilePut, etag string) (Applied, error) {
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	if put.Devices == nil {
		put.Devices = api.Devices{}
	}
	a, err := c.change(ctx, request{method: http.MethodPut, path: profilePath(name), body: put, etag: etag})
	return a, changed("profile", name, err)
}

// ProfilePatch is a merge into a profile (PATCH /1.0/profiles/{name}).
// Fields left nil are not sent, so the daemon leaves them alone.
type ProfilePatch struct {
	// Config holds keys to set; an empty value removes the key.
	Config map[string]string
	// Devices holds devices to add or replace whole, by name; a nil device
	// removes it.
	Devices api.Devices
	// Description, when not nil, replaces the description.
	Description *string
}

// IsEmpty reports whether the patch would change nothing.
func (p ProfilePatch) IsEmpty() bool {
	return len(p.Config) == 0 && len(p.Devices) == 0 && p.Description == nil
}

// body is the PATCH body: only the fields the patch touches. A nil device
// is encoded as null, which the daemon reads as "remove".
func (p ProfilePatch) body() map[string]any {
	b := map[string]any{}
	if p.Config != nil {
		b["config"] = p.Config
	}
	if p.Devices != nil {
		b["devices"] = p.Devices
	}
	if p.Description != nil {
		b["description"] = *p.Description
	}
	return b
}

// PatchProfile merges p into a profile. etag may be ""; a stale one gives a
// *ChangedError and nothing is saved. The result lists the changes that
// running instances using the profile only pick up at their next start.
func (c *Client) PatchProfile(ctx context.Context, name string, p ProfilePatch, etag string) (Applied, error) {
	a, err := c.change(ctx, request{method: http.MethodPatch, path: profilePath(name), body: p.body(), etag: etag})
	return a, changed("profile", name, err)
}

// ModifyProfile reads a profile, lets change compute a patch from what it
// read, and sends that patch with the ETag of the read (If-Match), so a
// change someone else made in between is refused with a *ChangedError
// rather than merged blindly. An empty patch sends nothing. Errors of
// change are returned as they are.
func (c *Client) ModifyProfile(ctx context.Context, name string, change func(api.Profile) (ProfilePatch, error)) (Applied, error) {
	prof, etag, err := c.GetProfile(ctx, name)
	if err != nil {
		return Applied{}, err
	}
	p, err := change(prof)
	if err != nil {
		return Applied{}, err
	}
	if p.IsEmpty() {
		return Applied{}, nil
	}
	return c.PatchProfile(ctx, name, p, etag)
}

// RenameProfile renames a profile; the instances using it follow.
func (c *Client) RenameProfile(ctx context.Context, name, newName string) error {
	return c.apply(ctx, request{method: http.MethodPost, path: profilePath(name), body: map[string]string{"name": newName}})
}

// DeleteProfile removes a profile that no instance uses. The daemon never
// deletes "default" (api.ErrForbidden) nor a used profile (api.ErrConflict).
func (c *Client) DeleteProfile(ctx context.Context, name string) error {
	return c.apply(ctx, request{method: http.MethodDelete, path: profilePath(name)})
}

func profilePath(name string) string { return "/1.0/profiles/" + esc(name) }
