package main

import (
	"fmt"
	"net/http"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/profiles"
)

func (d *daemon) profilesGet(w http.ResponseWriter, r *http.Request) {
	var list []api.Profile
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
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
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
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

// profilePut replaces a profile. Running guests pick the change up at their
// next start.
func (d *daemon) profilePut(w http.ResponseWriter, r *http.Request) {
	var put api.ProfilePut
	if err := decodeBody(r, &put); err != nil {
		errorResponse(w, err)
		return
	}
	if err := validateProfile(put); err != nil {
		errorResponse(w, err)
		return
	}
	name := r.PathValue("name")
	err := d.db.Transaction(r.Context(), func(tx *db.Tx) error {
		cur, err := tx.ProfileGet(r.Context(), name)
		if err != nil {
			return err
		}
		if err := checkETag(r, etagOf(cur.ProfilePut)); err != nil {
			return err
		}
		if err := checkNetworkRefs(r.Context(), tx, put.Devices); err != nil {
			return err
		}
		cur.ProfilePut = put
		return tx.ProfileUpdate(r.Context(), cur)
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	// The profile may add or change nics of its instances.
	nets, _ := d.networkList(r.Context())
	names := make([]string, 0, len(nets))
	for _, n := range nets {
		names = append(names, n.Name)
	}
	d.reloadNetworks(r.Context(), names...)
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
			return fmt.Errorf("%w: profile %q is used by %v", errBusy, name, users)
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
