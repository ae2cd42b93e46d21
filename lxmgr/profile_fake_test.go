package main

import (
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"

	"github.com/lxmgr/lxmgr/api"
)

// The fake daemon's profile endpoints, kept like lxmgrd keeps them:
// "default" (root disk and eth0, used by web1; it cannot be deleted),
// "web" (a config key, unused) and "ssh" (a proxy device, used by web1).

func fixtureProfiles() map[string]api.Profile {
	return map[string]api.Profile{
		"default": {Name: "default", UsedBy: []string{"/1.0/instances/web1"}, ProfilePut: api.ProfilePut{
			Config: map[string]string{}, Description: "Default profile",
			Devices: api.Devices{
				"root": {"type": "disk", "path": "/", "pool": "default", "size": "1GiB"},
				"eth0": {"type": "nic", "network": "lxmbr0", "name": "eth0"},
			}}},
		"web": {Name: "web", ProfilePut: api.ProfilePut{
			Config: map[string]string{"limits.memory": "256MiB"}, Description: "small web guests", Devices: api.Devices{},
		}},
		"ssh": {Name: "ssh", UsedBy: []string{"/1.0/instances/web1"}, ProfilePut: api.ProfilePut{
			Config: map[string]string{}, Devices: api.Devices{"ssh": {"type": "proxy", "listen": "tcp:0.0.0.0:2222", "connect": "tcp:127.0.0.1:22"}},
		}},
	}
}

// appliedMeta is the metadata of an answer to a change of the instance.
func (f *fakeDaemon) appliedMeta() map[string]any {
	if f.restartRequired == nil {
		return nil
	}
	return map[string]any{"restart_required": f.restartRequired}
}

// serveProfiles answers /1.0/profiles and /internal/shutdown; false means
// not found. f.mu is held.
func (f *fakeDaemon) serveProfiles(r *http.Request, req fakeRequest, reply func(int, any)) bool {
	if r.URL.Path == "/internal/shutdown" && r.Method == http.MethodPut {
		reply(200, nil)
		return true
	}
	if r.URL.Path == "/1.0/profiles" {
		switch r.Method {
		case http.MethodGet:
			names := sortedKeys(f.profiles)
			out := make([]api.Profile, 0, len(names))
			for _, n := range names {
				out = append(out, f.profiles[n])
			}
			reply(200, out)
		case http.MethodPost:
			var p api.ProfilesPost
			remarshalRaw(req.body, &p)
			if _, ok := f.profiles[p.Name]; ok {
				reply(http.StatusConflict, fmt.Sprintf("profile %s already exists", p.Name))
				return true
			}
			f.profiles[p.Name] = api.Profile{Name: p.Name, ProfilePut: p.ProfilePut}
			reply(200, nil)
		default:
			return false
		}
		return true
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/1.0/profiles/")
	if !ok {
		return false
	}
	prof, exists := f.profiles[name]
	if !exists {
		reply(404, "not found")
		return true
	}
	switch r.Method {
	case http.MethodGet:
		reply(200, prof)
		return true
	case http.MethodPut:
		var put api.ProfilePut
		remarshalRaw(req.body, &put)
		prof.ProfilePut = put
	case http.MethodPatch:
		var put api.ProfilePut
		remarshalRaw(req.body, &put)
		prof.Config, prof.Devices = maps.Clone(prof.Config), maps.Clone(prof.Devices)
		for k, v := range put.Config {
			if v == "" {
				delete(prof.Config, k)
			} else {
				prof.Config[k] = v
			}
		}
		for k, d := range put.Devices {
			if d == nil {
				delete(prof.Devices, k)
			} else {
				prof.Devices[k] = d
			}
		}
		if _, ok := req.body["description"]; ok {
			prof.Description = put.Description
		}
	case http.MethodPost:
		var post api.ProfilesPost
		remarshalRaw(req.body, &post)
		if _, ok := f.profiles[post.Name]; ok {
			reply(http.StatusConflict, fmt.Sprintf("profile %s already exists", post.Name))
			return true
		}
		delete(f.profiles, name)
		prof.Name = post.Name
		name = post.Name
	case http.MethodDelete:
		switch {
		case name == "default":
			reply(http.StatusForbidden, "the default profile cannot be deleted")
		case len(prof.UsedBy) > 0:
			reply(http.StatusConflict, fmt.Sprintf("profile %s is used by %d instances", name, len(prof.UsedBy)))
		default:
			delete(f.profiles, name)
			f.version++
			reply(200, nil)
		}
		return true
	default:
		return false
	}
	f.profiles[name] = prof
	f.version++
	if r.Method == http.MethodPost {
		reply(200, nil)
	} else {
		reply(200, f.appliedMeta())
	}
	return true
}

// profileNames lists the fake's profiles.
func (f *fakeDaemon) profileNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	names := sortedKeys(f.profiles)
	sort.Strings(names)
	return names
}
