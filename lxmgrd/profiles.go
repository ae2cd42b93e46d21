package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
)

func (d *daemon) profilesGet(w http.ResponseWriter, r *http.Request) {
	var list []api.Profile
	err := d.db.View(r.Context(), func(tx *db.Tx) error {
		var err error
		list, err = tx.ProfileList(r.Context())
		if err != nil {
			return err
		}
		for i := range list {
			if list[i].UsedBy, err = usedBy(r, tx, list[i].Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(list))
		for _, p := range list {
			urls = append(urls, "/1.0/profiles/"+p.Name)
		}
		syncResponse(w, urls)
		return
	}
	syncResponse(w, list)
}

func usedBy(r *http.Request, tx *db.Tx, name string) ([]string, error) {
	names, err := tx.ProfileUsedBy(r.Context(), name)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, "/1.0/instances/"+n)
	}
	return out, err
}

func (d *daemon) profileGet(w http.ResponseWriter, r *http.Request) {
	var p api.Profile
	err := d.db.View(r.Context(), func(tx *db.Tx) error {
		var err error
		if p, err = tx.ProfileGet(r.Context(), r.PathValue("name")); err != nil {
			return err
		}
		p.UsedBy, err = usedBy(r, tx, p.Name)
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponseETag(w, p, etagOf(p.ProfilePut))
}

// validateProfile checks a profile's config and devices.
func validateProfile(put api.ProfilePut) error {
	if err := profiles.ValidateUserConfig(put.Config); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if err := profiles.ValidateDevices(put.Devices); err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	if raw := put.Config["raw.lxc"]; raw != "" {
		return instance.CheckRaw(raw)
	}
	return nil
}

func (d *daemon) profilesPost(w http.ResponseWriter, r *http.Request) {
	var req api.ProfilesPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := api.ValidateName("profile", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	if err := validateProfile(req.ProfilePut); err != nil {
		errorResponse(w, err)
		return
	}
	p := api.Profile{ProfilePut: req.ProfilePut, Name: req.Name}
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		if err := checkNetworkRefs(r.Context(), tx, p.Devices); err != nil {
			return err
		}
		return tx.ProfileCreate(r.Context(), p)
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	w.Header().Set("Location", "/1.0/profiles/"+req.Name)
	emptySync(w)
}

// profilePut replaces a profile (PUT).
func (d *daemon) profilePut(w http.ResponseWriter, r *http.Request) {
	var put api.ProfilePut
	if err := decodeBody(r, &put); err != nil {
		errorResponse(w, err)
		return
	}
	d.updateProfile(w, r, func(cur *api.Profile) { cur.ProfilePut = put })
}

// profilePatch merges into a profile: config keys ("" unsets), devices by
// name (null removes), the description if present.
func (d *daemon) profilePatch(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		errorResponse(w, err)
		return
	}
	var patch api.ProfilePut
	if err := remarshal(raw, &patch); err != nil {
		errorResponse(w, err)
		return
	}
	d.updateProfile(w, r, func(cur *api.Profile) {
		cur.Config, cur.Devices = mergePatch(cur.Config, cur.Devices, api.InstancePut{Config: patch.Config, Devices: patch.Devices})
		if _, ok := raw["description"]; ok {
			cur.Description = patch.Description
		}
	})
}

// updateProfile applies mutate to a profile after checking the ETag, and
// re-validates every instance that uses it with the new profile, all in one
// transaction: a change that would break one of them is refused whole.
// Running instances get the live part (limits, forwards) at once.
func (d *daemon) updateProfile(w http.ResponseWriter, r *http.Request, mutate func(*api.Profile)) {
	ctx := r.Context()
	name := r.PathValue("name")
	type affected struct {
		inst          db.Instance
		oldCfg, cfg   map[string]string
		oldDevs, devs api.Devices
		oldNICs       []nicInfo
	}
	var users []affected
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		cur, err := tx.ProfileGet(ctx, name)
		if err != nil {
			return err
		}
		if err := checkETag(r, etagOf(cur.ProfilePut)); err != nil {
			return fmt.Errorf("%w: profile %q changed since it was read", err, name)
		}
		orig, err := tx.ProfileGet(ctx, name) // own maps: mutate may change cur's in place
		if err != nil {
			return err
		}
		mutate(&cur)
		if err := validateProfile(cur.ProfilePut); err != nil {
			return err
		}
		if err := checkNetworkRefs(ctx, tx, cur.Devices); err != nil {
			return err
		}
		userNames, err := tx.ProfileUsedBy(ctx, name)
		if err != nil {
			return err
		}
		// Stored first, inside the transaction, so that each user's nics
		// and forwards are checked against the others as they will be
		// with the new profile; any refusal below rolls it back.
		if err := tx.ProfileUpdate(ctx, cur); err != nil {
			return err
		}
		for _, u := range userNames {
			inst, err := tx.InstanceGet(ctx, u)
			if err != nil {
				return err
			}
			// The transaction already holds the new profile.
			newProfs, err := profilesFor(ctx, tx, inst.Profiles)
			if err != nil {
				return err
			}
			oldProfs := make([]api.Profile, len(newProfs))
			for i, p := range newProfs {
				oldProfs[i] = p
				if p.Name == name {
					oldProfs[i] = orig
				}
			}
			a := affected{inst: inst}
			a.oldCfg, a.oldDevs = expand(inst, oldProfs)
			a.oldNICs = nicsOf(inst, a.oldDevs) // before prepareNICs drops gone MACs
			a.cfg, a.devs = expand(inst, newProfs)
			if err := d.checkExpanded(ctx, tx, inst, a.cfg, a.devs); err != nil {
				return fmt.Errorf("profile %q: instance %q: %w", name, u, err)
			}
			if (a.cfg["security.privileged"] == "true") != (inst.IdmapBase == 0) {
				return fmt.Errorf("%w: profile %q would change security.privileged of instance %q", api.ErrInvalid, name, u)
			}
			if pool, _ := rootPool(a.devs); pool != inst.Pool {
				return fmt.Errorf("%w: profile %q would move instance %q's root disk to pool %q", api.ErrInvalid, name, u, pool)
			}
			// The same nic and forward checks as a change of the
			// instance itself; a new nic gets its MAC now.
			before := maps.Clone(inst.Config)
			if err := prepareNICs(ctx, tx, &inst, a.devs, d.leaseHolder); err != nil {
				return fmt.Errorf("profile %q: instance %q: %w", name, u, err)
			}
			if err := checkProxyClash(ctx, tx, inst.Name, a.devs); err != nil {
				return fmt.Errorf("profile %q: instance %q: %w", name, u, err)
			}
			if d.cache.get(inst.Name).Status != instance.StatusStopped {
				if err := d.checkNewProxies(a.devs, a.oldDevs); err != nil {
					return fmt.Errorf("profile %q: instance %q: %w", name, u, err)
				}
			}
			if !maps.Equal(before, inst.Config) {
				if err := tx.InstanceUpdate(ctx, inst); err != nil {
					return err
				}
				a.inst = inst
				a.cfg, a.devs = expand(inst, newProfs)
			}
			users = append(users, a)
		}
		return nil
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	// The profile may add or change nics of its instances.
	nets, _ := d.networkList(ctx)
	netNames := make([]string, 0, len(nets))
	for _, n := range nets {
		netNames = append(netNames, n.Name)
	}
	d.reloadNetworks(ctx, netNames...)
	later := []string{}
	for _, a := range users {
		if d.cache.get(a.inst.Name).Status == instance.StatusStopped {
			// Running guests give back the leases of nics that left
			// when they stop.
			d.releaseLeases(ctx, a.inst.Name, goneNICs(a.oldNICs, nicsOf(a.inst, a.devs)))
			continue
		}
		if err := d.applyLive(ctx, a.inst, a.cfg, a.devs); err != nil {
			errorResponse(w, fmt.Errorf("profile %q saved, but applying it to running instance %q failed: %w", name, a.inst.Name, err))
			return
		}
		for _, k := range restartRequired(a.oldCfg, a.cfg, a.oldDevs, a.devs) {
			later = append(later, a.inst.Name+": "+k)
		}
	}
	syncResponse(w, map[string]any{"restart_required": later})
}

// profilePost renames a profile (the instances using it follow).
func (d *daemon) profilePost(w http.ResponseWriter, r *http.Request) {
	var req api.InstancePost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	name := r.PathValue("name")
	if name == "default" {
		errorResponse(w, fmt.Errorf("%w: the default profile cannot be renamed", api.ErrForbidden))
		return
	}
	if err := api.ValidateName("profile", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error { return tx.ProfileRename(r.Context(), name, req.Name) })
	if err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

func (d *daemon) profileDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "default" {
		errorResponse(w, fmt.Errorf("%w: the default profile cannot be deleted", api.ErrForbidden))
		return
	}
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		users, err := tx.ProfileUsedBy(r.Context(), name)
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: profile %q is in use (by %s)", errBusy, name, strings.Join(users, ", "))
		}
		if err := tx.ProfileDelete(r.Context(), name); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}
