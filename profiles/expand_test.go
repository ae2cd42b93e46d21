package profiles

import (
	"maps"
	"reflect"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestExpand(t *testing.T) {
	p1 := api.Profile{Name: "default", ProfilePut: api.ProfilePut{
		Config:  map[string]string{"limits.cpu": "1", "limits.memory": "256MiB", "user.a": "p1"},
		Devices: api.Devices{"root": {"type": "disk", "path": "/", "pool": "default", "size": "1GiB"}},
	}}
	p2 := api.Profile{Name: "big", ProfilePut: api.ProfilePut{
		Config: map[string]string{"limits.cpu": "4", "user.b": "p2"},
		Devices: api.Devices{
			"root": {"type": "disk", "path": "/", "pool": "fast"},
			"data": {"type": "disk", "source": "/srv", "path": "/srv"},
		},
	}}
	local := map[string]string{"limits.memory": "1GiB", "user.a": "local"}
	localDevs := api.Devices{"data": {"type": "disk", "source": "/mnt", "path": "/mnt"}}

	tests := []struct {
		name     string
		profiles []api.Profile
		cfg      map[string]string
		devs     api.Devices
		wantCfg  map[string]string
		wantDevs api.Devices
	}{
		{
			name:     "nothing",
			wantCfg:  map[string]string{},
			wantDevs: api.Devices{},
		},
		{
			name:     "one profile",
			profiles: []api.Profile{p1},
			wantCfg:  p1.Config,
			wantDevs: p1.Devices,
		},
		{
			name:     "later profile wins, devices replaced whole",
			profiles: []api.Profile{p1, p2},
			wantCfg:  map[string]string{"limits.cpu": "4", "limits.memory": "256MiB", "user.a": "p1", "user.b": "p2"},
			wantDevs: api.Devices{"root": {"type": "disk", "path": "/", "pool": "fast"}, "data": {"type": "disk", "source": "/srv", "path": "/srv"}},
		},
		{
			name:     "local overrides both",
			profiles: []api.Profile{p1, p2},
			cfg:      local,
			devs:     localDevs,
			wantCfg:  map[string]string{"limits.cpu": "4", "limits.memory": "1GiB", "user.a": "local", "user.b": "p2"},
			wantDevs: api.Devices{"root": {"type": "disk", "path": "/", "pool": "fast"}, "data": {"type": "disk", "source": "/mnt", "path": "/mnt"}},
		},
		{
			name:     "order matters",
			profiles: []api.Profile{p2, p1},
			wantCfg:  map[string]string{"limits.cpu": "1", "limits.memory": "256MiB", "user.a": "p1", "user.b": "p2"},
			wantDevs: api.Devices{"root": {"type": "disk", "path": "/", "pool": "default", "size": "1GiB"}, "data": {"type": "disk", "source": "/srv", "path": "/srv"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before1, before2 := maps.Clone(p1.Config), maps.Clone(p2.Devices["root"])
			cfg, devs := Expand(tt.profiles, tt.cfg, tt.devs)
			if !reflect.DeepEqual(cfg, tt.wantCfg) {
				t.Errorf("config = %v, want %v", cfg, tt.wantCfg)
			}
			if !reflect.DeepEqual(devs, tt.wantDevs) {
				t.Errorf("devices = %v, want %v", devs, tt.wantDevs)
			}
			// The result must not alias the inputs.
			cfg["user.a"] = "changed"
			for _, d := range devs {
				d["pool"] = "changed"
			}
			if !maps.Equal(p1.Config, before1) || !maps.Equal(p2.Devices["root"], before2) || local["user.a"] != "local" || localDevs["data"]["pool"] != "" {
				t.Error("Expand's result aliases its inputs")
			}
		})
	}
}

func TestDefault(t *testing.T) {
	d := Default()
	if d.Name != "default" || d.Description != "Default lxmgr profile" {
		t.Errorf("unexpected default profile %+v", d)
	}
	if err := ValidateDevices(d.Devices); err != nil {
		t.Errorf("default devices invalid: %v", err)
	}
	if err := ValidateConfig(d.Config); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
	d.Devices["root"]["pool"] = "x"
	if Default().Devices["root"]["pool"] != "default" {
		t.Error("Default shares its maps between calls")
	}
}
