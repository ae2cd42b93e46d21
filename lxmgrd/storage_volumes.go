package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/profiles"
)

// volumeUsedBy lists the instances and profiles whose disk devices attach
// the custom volume pool/vol.
func (d *daemon) volumeUsedBy(ctx context.Context, pool, vol string) ([]string, error) {
	insts, err := d.instanceList(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, ie := range insts {
		for _, dev := range ie.devs {
			if dev["type"] == "disk" && dev["pool"] == pool && dev["source"] == vol && dev["path"] != "/" {
				out = append(out, "/1.0/instances/"+ie.inst.Name)
				break
			}
		}
	}
	profs, err := d.profileList(ctx)
	for _, p := range profs {
		for _, dev := range p.Devices {
			if dev["type"] == "disk" && dev["pool"] == pool && dev["source"] == vol {
				out = append(out, "/1.0/profiles/"+p.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out, err
}

func (d *daemon) profileList(ctx context.Context) ([]api.Profile, error) {
	var out []api.Profile
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		out, err = tx.ProfileList(ctx)
		return err
	})
	return out, err
}

// volumesGet lists a pool's instance and custom volumes.
func (d *daemon) volumesGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pool := r.PathValue("name")
	if _, err := d.pool(pool); err != nil {
		errorResponse(w, err)
		return
	}
	var insts []db.Instance
	var vols []db.CustomVolume
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		var err error
		if insts, err = tx.InstanceList(ctx); err != nil {
			return err
		}
		vols, err = tx.VolumeList(ctx, pool)
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	out := []api.StorageVolume{}
	for _, i := range insts {
		if i.Pool == pool {
			out = append(out, api.StorageVolume{Name: i.Name, Type: "container", Config: map[string]string{},
				UsedBy: []string{"/1.0/instances/" + i.Name}, ContentType: "filesystem"})
		}
	}
	for _, v := range vols {
		used, err := d.volumeUsedBy(ctx, pool, v.Name)
		if err != nil {
			errorResponse(w, err)
			return
		}
		out = append(out, api.StorageVolume{Name: v.Name, Type: "custom", Config: v.Config, Description: v.Description,
			UsedBy: used, ContentType: "filesystem"})
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(out))
		for _, v := range out {
			urls = append(urls, "/1.0/storage-pools/"+pool+"/volumes/"+v.Type+"/"+v.Name)
		}
		syncResponse(w, urls)
		return
	}
	syncResponse(w, out)
}

func (d *daemon) customVolumeGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pool, name := r.PathValue("name"), r.PathValue("vol")
	var found *db.CustomVolume
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		vols, err := tx.VolumeList(ctx, pool)
		for i := range vols {
			if vols[i].Name == name {
				found = &vols[i]
			}
		}
		return err
	})
	if err == nil && found == nil {
		err = fmt.Errorf("%w: storage volume %q on pool %q", api.ErrNotFound, name, pool)
	}
	if err != nil {
		errorResponse(w, err)
		return
	}
	used, err := d.volumeUsedBy(ctx, pool, name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponse(w, api.StorageVolume{Name: name, Type: "custom", Config: found.Config, Description: found.Description, UsedBy: used, ContentType: "filesystem"})
}

// customVolumesPost creates an empty custom volume (with a quota if "size").
func (d *daemon) customVolumesPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	poolName := r.PathValue("name")
	var req api.StorageVolumesPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := api.ValidateName("storage volume", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	if req.Type != "" && req.Type != "custom" {
		errorResponse(w, fmt.Errorf("%w: only custom volumes can be created (got type %q)", api.ErrInvalid, req.Type))
		return
	}
	var size int64
	for k, v := range req.Config {
		if k != "size" {
			errorResponse(w, fmt.Errorf("%w: unknown storage volume config key %q (only \"size\")", api.ErrInvalid, k))
			return
		}
		var err error
		if size, err = profiles.ParseBytes(v); err != nil {
			errorResponse(w, fmt.Errorf("%w: config key \"size\": %w", api.ErrInvalid, err))
			return
		}
	}
	pool, err := d.pool(poolName)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if size > 0 && !pool.Capabilities().Quotas {
		errorResponse(w, fmt.Errorf("%w: size: quotas are not supported by storage pool %q (driver %s)", api.ErrInvalid, poolName, pool.Driver()))
		return
	}
	unlock, err := d.locks.lock(ctx, "volume/"+poolName+"/"+req.Name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer unlock()
	v := db.CustomVolume{Pool: poolName, Name: req.Name, Description: req.Description, Config: orEmpty(req.Config)}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.VolumeCreate(ctx, v) }); err != nil {
		errorResponse(w, err)
		return
	}
	if err := pool.CreateCustom(ctx, req.Name, size); err != nil {
		d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.VolumeDelete(context.Background(), poolName, req.Name) })
		errorResponse(w, fmt.Errorf("create storage volume %q: %w", req.Name, err))
		return
	}
	slog.Info("storage volume created", "pool", poolName, "volume", req.Name, "size", size)
	emptySync(w)
}

// customVolumeDelete removes a custom volume that nothing attaches.
func (d *daemon) customVolumeDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	poolName, name := r.PathValue("name"), r.PathValue("vol")
	pool, err := d.pool(poolName)
	if err != nil {
		errorResponse(w, err)
		return
	}
	unlock, err := d.locks.lock(ctx, "volume/"+poolName+"/"+name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	defer unlock()
	used, err := d.volumeUsedBy(ctx, poolName, name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if len(used) > 0 {
		errorResponse(w, fmt.Errorf("%w: storage volume %q is attached (to %s); detach it first", errBusy, name, strings.Join(used, ", ")))
		return
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.VolumeDelete(ctx, poolName, name) }); err != nil {
		errorResponse(w, err)
		return
	}
	if err := pool.DeleteCustom(ctx, name); err != nil {
		errorResponse(w, fmt.Errorf("delete storage volume %q: %w", name, err))
		return
	}
	emptySync(w)
}
