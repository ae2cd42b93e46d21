package main

import (
	"net/http"
	"strconv"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
)

// recursion returns the ?recursion= level (0 when absent or invalid).
func recursion(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("recursion"))
	return n
}

// instancesGet lists instances from the inventory and the state cache: two
// queries, no per-guest call into liblxc or the guest.
func (d *daemon) instancesGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var insts []db.Instance
	byName := map[string]api.Profile{}
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		if insts, err = tx.InstanceList(ctx); err != nil {
			return err
		}
		profs, err := tx.ProfileList(ctx)
		for _, p := range profs {
			byName[p.Name] = p
		}
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	rec := recursion(r)
	if rec == 0 {
		urls := make([]string, 0, len(insts))
		for _, inst := range insts {
			urls = append(urls, "/1.0/instances/"+inst.Name)
		}
		syncResponse(w, urls)
		return
	}
	out := make([]api.InstanceFull, 0, len(insts))
	for _, inst := range insts {
		profs := make([]api.Profile, 0, len(inst.Profiles))
		for _, n := range inst.Profiles {
			profs = append(profs, byName[n])
		}
		full := api.InstanceFull{Instance: d.toAPI(inst, profs)}
		if rec >= 2 {
			full.State = d.stateOf(inst, full.ExpandedDevices, false)
		}
		out = append(out, full)
	}
	if rec == 1 {
		plain := make([]api.Instance, len(out))
		for i := range out {
			plain[i] = out[i].Instance
		}
		syncResponse(w, plain)
		return
	}
	syncResponse(w, out)
}

func (d *daemon) instanceGet(w http.ResponseWriter, r *http.Request) {
	inst, profs, err := d.loadInstance(r.Context(), r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	out := api.InstanceFull{Instance: d.toAPI(inst, profs)}
	if recursion(r) >= 1 {
		out.State = d.stateOf(inst, out.ExpandedDevices, true)
	}
	syncResponseETag(w, out, instanceETag(inst))
}
