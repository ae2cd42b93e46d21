package client

import (
	"context"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// InstanceConfigPatch is a merge into an instance's own config and devices
// (PATCH /1.0/instances/{name}). Fields left nil are not sent.
type InstanceConfigPatch struct {
	// Config holds keys to set; an empty value removes the key.
	Config map[string]string
	// Devices holds devices to add or replace whole, by name; a nil device
	// removes it.
	Devices api.Devices
	// Profiles, when not nil, replaces the instance's list of profiles.
	Profiles []string
}

// IsEmpty reports whether the patch would change nothing.
func (p InstanceConfigPatch) IsEmpty() bool {
	return len(p.Config) == 0 && len(p.Devices) == 0 && p.Profiles == nil
}

// body is the PATCH body: only the fields the patch touches, so that the
// daemon leaves profiles, description and the rest alone. A nil device is
// encoded as null, which the daemon reads as "remove".
func (p InstanceConfigPatch) body() map[string]any {
	b := map[string]any{}
	if p.Config != nil {
		b["config"] = p.Config
	}
	if p.Devices != nil {
		b["devices"] = p.Devices
	}
	if p.Profiles != nil {
		b["profiles"] = p.Profiles
	}
	return b
}

// PatchInstanceConfig merges p into an instance. With a non-empty etag the
// daemon refuses the change when the instance changed since it was read:
// the error is then a *ChangedError. The result says which changes a
// running instance only picks up at its next start.
func (c *Client) PatchInstanceConfig(ctx context.Context, name string, p InstanceConfigPatch, etag string) (Applied, error) {
	a, err := c.change(ctx, request{method: http.MethodPatch, path: "/1.0/instances/" + esc(name), body: p.body(), etag: etag})
	return a, changed("instance", name, err)
}

// ModifyInstanceConfig reads an instance, lets change compute a patch from
// what it read, and sends that patch with the ETag of the read (If-Match).
// A change someone else made in between is therefore refused with a
// *ChangedError rather than silently merged with or overwritten. An empty
// patch sends nothing. Errors of change are returned as they are.
func (c *Client) ModifyInstanceConfig(ctx context.Context, name string, change func(api.Instance) (InstanceConfigPatch, error)) (Applied, error) {
	inst, etag, err := c.GetInstance(ctx, name)
	if err != nil {
		return Applied{}, err
	}
	p, err := change(inst)
	if err != nil {
		return Applied{}, err
	}
	if p.IsEmpty() {
		return Applied{}, nil
	}
	return c.PatchInstanceConfig(ctx, name, p, etag)
}
