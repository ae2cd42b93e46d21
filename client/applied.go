package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
)

// Applied is what the daemon says about a change to an instance (or to a
// profile, for the instances using it) once it saved it.
type Applied struct {
	// RestartRequired lists the config keys and device names that a
	// running instance only picks up at its next start; empty when
	// everything took effect (or the instance is stopped). For a profile
	// each entry names the instance too ("web1: limits.cpu").
	RestartRequired []string
}

// restartRequiredKey is the metadata key, of a sync answer to a PATCH or
// of the operation of a PUT, that lists the changes waiting for a restart.
const restartRequiredKey = "restart_required"

// appliedFromSync reads the metadata of a sync answer. Metadata that is
// not an object, or has no list under the key, means nothing is pending:
// a daemon that does not report it is not an error.
func appliedFromSync(meta json.RawMessage) Applied {
	var m struct {
		RestartRequired []string `json:"restart_required"`
	}
	if len(meta) == 0 || json.Unmarshal(meta, &m) != nil {
		return Applied{}
	}
	return Applied{RestartRequired: m.RestartRequired}
}

// appliedFromOperation reads the metadata of a finished operation.
func appliedFromOperation(meta map[string]any) Applied {
	list, _ := meta[restartRequiredKey].([]any)
	var a Applied
	for _, v := range list {
		if s, ok := v.(string); ok && s != "" {
			a.RestartRequired = append(a.RestartRequired, s)
		}
	}
	return a
}

// change sends a request that changes an instance or a profile and
// returns what the daemon reported about it, waiting for the operation if it answered with
// one.
func (c *Client) change(ctx context.Context, r request) (Applied, error) {
	env, _, err := c.do(ctx, r)
	if err != nil {
		return Applied{}, err
	}
	if env.Type != api.AsyncResponse {
		return appliedFromSync(env.Metadata), nil
	}
	op, err := c.operationFrom(env)
	if err != nil {
		return Applied{}, err
	}
	if err := op.Wait(ctx); err != nil {
		return Applied{}, err
	}
	return appliedFromOperation(op.Metadata), nil
}

// ReplaceInstance replaces an instance's config, devices, profiles,
// description and ephemeral flag (PUT) and waits until the daemon applied
// it. With a non-empty etag a change made since the read is refused with a
// *ChangedError and nothing is saved.
func (c *Client) ReplaceInstance(ctx context.Context, name string, put api.InstancePut, etag string) (Applied, error) {
	if put.Config == nil {
		put.Config = map[string]string{}
	}
	if put.Devices == nil {
		put.Devices = api.Devices{}
	}
	if put.Profiles == nil {
		put.Profiles = []string{}
	}
	a, err := c.change(ctx, request{method: http.MethodPut, path: "/1.0/instances/" + esc(name), body: put, etag: etag})
	return a, changed("instance", name, err)
}
