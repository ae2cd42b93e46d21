package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestInstanceConfigPatchBody(t *testing.T) {
	cases := []struct {
		name  string
		patch InstanceConfigPatch
		want  string
		empty bool
	}{
		{"nothing", InstanceConfigPatch{}, `{}`, true},
		{"config only", InstanceConfigPatch{Config: map[string]string{"a": "1", "b": ""}}, `{"config":{"a":"1","b":""}}`, false},
		{"device removal is null", InstanceConfigPatch{Devices: api.Devices{"http": nil}}, `{"devices":{"http":null}}`, false},
		{"device add", InstanceConfigPatch{Devices: api.Devices{"d": {"type": "disk"}}}, `{"devices":{"d":{"type":"disk"}}}`, false},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.patch.body())
		if err != nil || string(b) != c.want {
			t.Errorf("%s: body %s, %v; want %s", c.name, b, err, c.want)
		}
		if c.patch.IsEmpty() != c.empty {
			t.Errorf("%s: IsEmpty = %v", c.name, !c.empty)
		}
	}
}

func TestChanged(t *testing.T) {
	stale := &api.StatusError{Code: 412, Message: "precondition failed: instance changed"}
	err := changed("instance", "web1", fmt.Errorf("wrapped: %w", stale))
	var ce *ChangedError
	if !errors.As(err, &ce) || !errors.Is(err, api.ErrPrecondition) || !strings.Contains(err.Error(), "instance web1 was changed") {
		t.Errorf("412: %v", err)
	}
	other := &api.StatusError{Code: 404, Message: "not found"}
	if got := changed("instance", "web1", other); got != other {
		t.Errorf("404 became %v", got)
	}
	if changed("instance", "web1", nil) != nil {
		t.Error("nil became an error")
	}
}
