package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/profiles"
	"github.com/lxmgr/lxmgr/revert"
	"github.com/lxmgr/lxmgr/storage"
)

// poolUserKeys are the pool config keys a user may give, per driver; the
// daemon fills "source" (and, for a loop-backed btrfs pool, "loop.file")
// itself when they are absent.
var poolUserKeys = map[string]map[string]bool{
	"dir":   {"source": true},
	"btrfs": {"source": true, "size": true},
}

// poolConfig validates a new pool's config and fills the daemon's defaults.
func (d *daemon) poolConfig(name, driver string, cfg map[string]string) (map[string]string, error) {
	keys, ok := poolUserKeys[driver]
	if !ok {
		return nil, fmt.Errorf("%w: unknown storage driver %q (dir, btrfs)", api.ErrInvalid, driver)
	}
	out := map[string]string{}
	for k, v := range cfg {
		if !keys[k] {
			return nil, fmt.Errorf("%w: unknown config key %q for a %s pool", api.ErrInvalid, k, driver)
		}
		if strings.ContainsAny(v, "\n\r\x00") {
			return nil, fmt.Errorf("%w: config key %q: value contains a newline", api.ErrInvalid, k)
		}
		out[k] = v
	}
	if v := out["size"]; v != "" {
		if _, err := profiles.ParseBytes(v); err != nil {
			return nil, fmt.Errorf("%w: config key \"size\": %w", api.ErrInvalid, err)
		}
	}
	if src := out["source"]; src != "" {
		if !filepath.IsAbs(src) {
			return nil, fmt.Errorf("%w: source %q must be an absolute path", api.ErrInvalid, src)
		}
		if driver == "btrfs" && out["size"] != "" {
			return nil, fmt.Errorf("%w: a btrfs pool takes either source (an existing btrfs directory) or size (a loop file), not both", api.ErrInvalid)
		}
		return out, nil
	}
	out["source"] = filepath.Join(d.dir, "storage-pools", name)
	if driver == "btrfs" {
		if out["size"] == "" {
			out["size"] = "5GiB"
		}
		out["loop.file"] = filepath.Join(d.dir, "disks", name+".img")
	}
	return out, nil
}

func (d *daemon) poolToAPI(ctx context.Context, p db.Pool) (api.StoragePool, error) {
	used, err := d.poolUsedBy(ctx, p.Name)
	status := "Created"
	if _, perr := d.pool(p.Name); perr != nil {
		status = "Unavailable"
	}
	return api.StoragePool{StoragePoolPut: api.StoragePoolPut{Config: p.Config, Description: p.Description},
		Name: p.Name, Driver: p.Driver, Status: status, UsedBy: used}, err
}

// poolUsedBy lists what lives on a pool: instances, custom volumes and
// profiles whose root disk names it.
func (d *daemon) poolUsedBy(ctx context.Context, pool string) ([]string, error) {
	out := []string{}
	err := d.db.View(ctx, func(tx *db.Tx) error {
		insts, err := tx.InstanceList(ctx)
		if err != nil {
			return err
		}
		for _, i := range insts {
			if i.Pool == pool {
				out = append(out, "/1.0/instances/"+i.Name)
			}
		}
		vols, err := tx.VolumeList(ctx, pool)
		if err != nil {
			return err
		}
		for _, v := range vols {
			out = append(out, "/1.0/storage-pools/"+pool+"/volumes/custom/"+v.Name)
		}
		profs, err := tx.ProfileList(ctx)
		for _, p := range profs {
			for _, dev := range p.Devices {
				if dev["type"] == "disk" && dev["pool"] == pool {
					out = append(out, "/1.0/profiles/"+p.Name)
					break
				}
			}
		}
		return err
	})
	sort.Strings(out)
	return out, err
}

func (d *daemon) loadPool(ctx context.Context, name string) (db.Pool, error) {
	var p db.Pool
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		p, err = tx.PoolGet(ctx, name)
		return err
	})
	return p, err
}

func (d *daemon) poolsGet(w http.ResponseWriter, r *http.Request) {
	var pools []db.Pool
	err := d.db.View(r.Context(), func(tx *db.Tx) error {
		var err error
		pools, err = tx.PoolList(r.Context())
		return err
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(pools))
		for _, p := range pools {
			urls = append(urls, "/1.0/storage-pools/"+p.Name)
		}
		syncResponse(w, urls)
		return
	}
	out := make([]api.StoragePool, 0, len(pools))
	for _, p := range pools {
		a, err := d.poolToAPI(r.Context(), p)
		if err != nil {
			errorResponse(w, err)
			return
		}
		out = append(out, a)
	}
	syncResponse(w, out)
}

func (d *daemon) poolGet(w http.ResponseWriter, r *http.Request) {
	p, err := d.loadPool(r.Context(), r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	out, err := d.poolToAPI(r.Context(), p)
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponseETag(w, out, etagOf([]any{p.Config, p.Description}))
}

// poolsPost creates a pool: driver set up (a btrfs loop file made,
// formatted and mounted), then recorded; undone if a step fails.
func (d *daemon) poolsPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req api.StoragePoolsPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := api.ValidateName("storage pool", req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	cfg, err := d.poolConfig(req.Name, req.Driver, req.Config)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if _, err := d.loadPool(ctx, req.Name); err == nil {
		errorResponse(w, fmt.Errorf("%w: storage pool %q already exists", api.ErrConflict, req.Name))
		return
	}
	if lf := cfg["loop.file"]; lf != "" {
		if err := os.MkdirAll(filepath.Dir(lf), 0o700); err != nil {
			errorResponse(w, err)
			return
		}
	}
	drv, err := storage.New(req.Name, req.Driver, cfg)
	if err != nil {
		errorResponse(w, fmt.Errorf("%w: storage pool %q: %w", api.ErrInvalid, req.Name, err))
		return
	}
	rev := revert.New()
	defer rev.Fail()
	if err := drv.Init(ctx); err != nil {
		errorResponse(w, fmt.Errorf("set up storage pool %q: %w", req.Name, err))
		return
	}
	rev.Add(func() {
		if err := drv.Delete(context.Background()); err != nil {
			slog.Error("revert: delete pool", "pool", req.Name, "err", err)
		}
	})
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		if err := tx.PoolCreate(ctx, req.Name, req.Driver, cfg); err != nil {
			return err
		}
		if req.Description == "" {
			return nil
		}
		p, err := tx.PoolGet(ctx, req.Name)
		if err != nil {
			return err
		}
		p.Description = req.Description
		return tx.PoolUpdate(ctx, p)
	})
	if err != nil {
		errorResponse(w, err)
		return
	}
	d.poolsMu.Lock()
	d.pools[req.Name] = drv
	d.poolsMu.Unlock()
	rev.Success()
	slog.Info("storage pool created", "pool", req.Name, "driver", req.Driver)
	w.Header().Set("Location", "/1.0/storage-pools/"+req.Name)
	emptySync(w)
}

// poolPatch changes a pool: only a loop-backed btrfs pool's size can grow.
func (d *daemon) poolPatch(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		errorResponse(w, err)
		return
	}
	var put api.StoragePoolPut
	if err := remarshal(raw, &put); err != nil {
		errorResponse(w, err)
		return
	}
	p, err := d.loadPool(ctx, r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	if err := checkETag(r, etagOf([]any{p.Config, p.Description})); err != nil {
		errorResponse(w, err)
		return
	}
	drv, err := d.pool(p.Name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	cfg := maps.Clone(p.Config)
	for k, v := range put.Config {
		if v == cfg[k] {
			continue
		}
		if k != "size" || cfg["loop.file"] == "" {
			errorResponse(w, fmt.Errorf("%w: config key %q of pool %q cannot be changed (only \"size\" of a loop-backed pool can grow)", api.ErrInvalid, k, p.Name))
			return
		}
		size, err := profiles.ParseBytes(v)
		if err != nil {
			errorResponse(w, fmt.Errorf("%w: config key \"size\": %w", api.ErrInvalid, err))
			return
		}
		if err := drv.Grow(ctx, size); err != nil {
			errorResponse(w, fmt.Errorf("grow pool %q: %w", p.Name, err))
			return
		}
		cfg[k] = v
	}
	p.Config = cfg
	if _, ok := raw["description"]; ok {
		p.Description = put.Description
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.PoolUpdate(ctx, p) }); err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

// poolDelete removes an unused pool with everything the driver made.
func (d *daemon) poolDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	used, err := d.poolUsedBy(ctx, name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if len(used) > 0 {
		errorResponse(w, fmt.Errorf("%w: storage pool %q is in use (by %s)", errBusy, name, strings.Join(used, ", ")))
		return
	}
	drv, err := d.pool(name)
	if err != nil {
		errorResponse(w, err)
		return
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.PoolDelete(ctx, name) }); err != nil {
		errorResponse(w, err)
		return
	}
	d.poolsMu.Lock()
	delete(d.pools, name)
	d.poolsMu.Unlock()
	if err := drv.Delete(ctx); err != nil {
		errorResponse(w, fmt.Errorf("storage pool %q removed from the inventory, but cleaning its data failed: %w", name, err))
		return
	}
	slog.Info("storage pool deleted", "pool", name)
	emptySync(w)
}

func (d *daemon) poolResourcesGet(w http.ResponseWriter, r *http.Request) {
	drv, err := d.pool(r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	u, err := drv.PoolUsage(r.Context())
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponse(w, api.StoragePoolResources{Space: api.StoragePoolSpace{Used: u.Used, Total: u.Total}})
}
