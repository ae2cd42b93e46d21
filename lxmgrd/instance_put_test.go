package main

import (
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
)

// The saved row an update reverts to must not see the update's edits,
// which mergePatch makes in place.
func TestCloneInstanceIsDeep(t *testing.T) {
	inst := db.Instance{Name: "a", Config: map[string]string{"user.x": "1"}, Devices: api.Devices{"eth0": {"type": "nic"}}, Profiles: []string{"default"}}
	saved := cloneInstance(inst)
	inst.Config, inst.Devices = mergePatch(inst.Config, inst.Devices, api.InstancePut{
		Config: map[string]string{"user.x": "2", "user.y": "3"}, Devices: api.Devices{"eth0": nil},
	})
	inst.Profiles[0] = "other"
	if saved.Config["user.x"] != "1" || len(saved.Config) != 1 || saved.Devices["eth0"]["type"] != "nic" || saved.Profiles[0] != "default" {
		t.Fatalf("saved row changed with the edit: %+v", saved)
	}
}
