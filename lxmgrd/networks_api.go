package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/network"
	"github.com/lxmgr/lxmgr/revert"
)

func (d *daemon) networkToAPI(ctx context.Context, n db.Network) (api.Network, error) {
	used, err := d.networkUsedBy(ctx, n.Name)
	if used == nil {
		used = []string{}
	}
	status := "Created"
	if _, err := network.Link(n.Name); err != nil {
		status = "Errored"
	}
	return api.Network{NetworkPut: api.NetworkPut{Config: n.Config, Description: n.Description},
		Name: n.Name, Type: n.Type, Managed: true, Status: status, UsedBy: used}, err
}

func networkETag(n db.Network) string { return etagOf([]any{n.Config, n.Description}) }

func (d *daemon) networksGet(w http.ResponseWriter, r *http.Request) {
	nets, err := d.networkList(r.Context())
	if err != nil {
		errorResponse(w, err)
		return
	}
	if recursion(r) == 0 {
		urls := make([]string, 0, len(nets))
		for _, n := range nets {
			urls = append(urls, "/1.0/networks/"+n.Name)
		}
		syncResponse(w, urls)
		return
	}
	out := make([]api.Network, 0, len(nets))
	for _, n := range nets {
		a, err := d.networkToAPI(r.Context(), n)
		if err != nil {
			errorResponse(w, err)
			return
		}
		out = append(out, a)
	}
	syncResponse(w, out)
}

func (d *daemon) loadNetwork(ctx context.Context, name string) (db.Network, error) {
	var n db.Network
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		n, err = tx.NetworkGet(ctx, name)
		return err
	})
	return n, err
}

func (d *daemon) networkGet(w http.ResponseWriter, r *http.Request) {
	n, err := d.loadNetwork(r.Context(), r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	out, err := d.networkToAPI(r.Context(), n)
	if err != nil {
		errorResponse(w, err)
		return
	}
	syncResponseETag(w, out, networkETag(n))
}

// resolveNetworkConfig validates a network's config and fills in a free
// subnet for "auto" (or a missing ipv4.address). Overlaps with the host's
// addresses and routes, or with other managed networks, are refused.
func (d *daemon) resolveNetworkConfig(ctx context.Context, name string, cfg map[string]string) error {
	if err := network.ValidateConfig(cfg); err != nil {
		return err
	}
	nets, err := d.networkList(ctx)
	if err != nil {
		return err
	}
	taken := takenSubnets(nets, name)
	if v := cfg["ipv4.address"]; v == "" || v == "auto" {
		p, err := network.PickSubnet(taken)
		if err != nil {
			return err
		}
		cfg["ipv4.address"] = p.String()
	}
	gw, err := network.Subnet(cfg["ipv4.address"])
	if err != nil {
		return err
	}
	if gw.IsValid() {
		if err := network.CheckFree(gw.Masked(), name, taken); err != nil {
			return err
		}
	}
	return network.ValidateConfig(cfg)
}

// networksPost creates a managed network: row, bridge, dnsmasq, firewall;
// undone step by step if any of them fails.
func (d *daemon) networksPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req api.NetworksPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := network.ValidateName(req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	if req.Type != "" && req.Type != "bridge" {
		errorResponse(w, fmt.Errorf("%w: network type %q is not supported (only \"bridge\")", api.ErrInvalid, req.Type))
		return
	}
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	cfg := orEmpty(maps.Clone(req.Config))
	if err := d.resolveNetworkConfig(ctx, req.Name, cfg); err != nil {
		errorResponse(w, err)
		return
	}
	if _, err := network.Link(req.Name); err == nil {
		errorResponse(w, fmt.Errorf("%w: an interface called %q already exists on the host", api.ErrConflict, req.Name))
		return
	}
	if err := d.refuseHostName(ctx, req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	n := db.Network{Name: req.Name, Description: req.Description, Type: "bridge", Config: cfg}
	rev := revert.New()
	defer rev.Fail()
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.NetworkCreate(ctx, n) }); err != nil {
		errorResponse(w, err)
		return
	}
	rev.Add(func() {
		d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.NetworkDelete(context.Background(), n.Name) })
	})
	rev.Add(func() { d.teardownNetwork(n.Name) })
	if err := d.applyNetwork(ctx, n); err != nil {
		errorResponse(w, fmt.Errorf("bring up network %q: %w", n.Name, err))
		return
	}
	if err := d.syncFirewall(ctx); err != nil {
		errorResponse(w, fmt.Errorf("firewall for network %q: %w", n.Name, err))
		return
	}
	rev.Success()
	slog.Info("network created", "network", n.Name, "ipv4", cfg["ipv4.address"], "nat", cfg["ipv4.nat"])
	w.Header().Set("Location", "/1.0/networks/"+n.Name)
	emptySync(w)
}

// teardownNetwork removes a network's dnsmasq, bridge and files (each step
// tolerates what is already gone) and rewrites the firewall; failures are
// logged (it undoes a failed create).
func (d *daemon) teardownNetwork(name string) {
	if err := d.stopNetwork(name); err != nil {
		slog.Error("tear down network", "network", name, "err", err)
	}
	d.forgetNetwork(name)
}

// stopNetwork stops a network's dnsmasq and deletes its bridge. It runs
// before the network leaves the inventory, so that a failure (or a crash)
// here leaves a row that the next start or a retry brings back or removes.
func (d *daemon) stopNetwork(name string) error {
	if err := network.StopDNSMasq(d.networkDir(name)); err != nil {
		return fmt.Errorf("stop dnsmasq of network %q: %w", name, err)
	}
	if err := network.DeleteBridge(name); err != nil {
		return fmt.Errorf("delete bridge of network %q: %w", name, err)
	}
	return nil
}

// forgetNetwork drops a stopped network's files and cached state and
// rewrites the firewall from the inventory. What fails here is logged: the
// next start removes directories of networks not in the inventory and
// rewrites the firewall.
func (d *daemon) forgetNetwork(name string) {
	if err := os.RemoveAll(d.networkDir(name)); err != nil {
		slog.Error("remove network directory", "network", name, "err", err)
	}
	d.net.prefixes.Delete(name)
	d.net.leases.Delete(name)
	if err := d.syncFirewall(context.Background()); err != nil {
		slog.Error("sync firewall", "err", err)
	}
}

// networkPut replaces (PUT) or merges (PATCH) a network's config and
// re-applies it. Leases are kept; guests keep their MACs.
func (d *daemon) networkPut(w http.ResponseWriter, r *http.Request) { d.networkUpdate(w, r, true) }

func (d *daemon) networkPatch(w http.ResponseWriter, r *http.Request) { d.networkUpdate(w, r, false) }

func (d *daemon) networkUpdate(w http.ResponseWriter, r *http.Request, replace bool) {
	ctx := r.Context()
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		errorResponse(w, err)
		return
	}
	var put api.NetworkPut
	if err := remarshal(raw, &put); err != nil {
		errorResponse(w, err)
		return
	}
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	n, err := d.loadNetwork(ctx, r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	if err := checkETag(r, networkETag(n)); err != nil {
		errorResponse(w, fmt.Errorf("%w: network %q changed since it was read", err, n.Name))
		return
	}
	old := n
	cfg := maps.Clone(n.Config)
	if replace {
		cfg = orEmpty(maps.Clone(put.Config))
		n.Description = put.Description
	} else {
		for k, v := range put.Config {
			if v == "" {
				delete(cfg, k)
			} else {
				cfg[k] = v
			}
		}
		if _, ok := raw["description"]; ok {
			n.Description = put.Description
		}
	}
	if err := d.resolveNetworkConfig(ctx, n.Name, cfg); err != nil {
		errorResponse(w, err)
		return
	}
	n.Config = cfg
	if err := d.checkReservations(ctx, n); err != nil {
		errorResponse(w, err)
		return
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.NetworkUpdate(ctx, n) }); err != nil {
		errorResponse(w, err)
		return
	}
	if err := d.applyNetwork(ctx, n); err != nil {
		// Put the old config back and bring it up again.
		d.db.Transaction(context.Background(), func(tx *db.Tx) error { return tx.NetworkUpdate(context.Background(), old) })
		d.applyNetwork(context.Background(), old)
		errorResponse(w, fmt.Errorf("apply network %q: %w", n.Name, err))
		return
	}
	if err := d.syncFirewall(ctx); err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

// checkReservations refuses a subnet change that would leave a guest's
// static address outside the network.
func (d *daemon) checkReservations(ctx context.Context, n db.Network) error {
	gw, err := network.Subnet(n.Config["ipv4.address"])
	if err != nil {
		return err
	}
	nics, err := d.allNICs(ctx)
	if err != nil {
		return err
	}
	for _, nic := range nics {
		if nic.network == n.Name && nic.ipv4.IsValid() && (!gw.IsValid() || !gw.Masked().Contains(nic.ipv4)) {
			return fmt.Errorf("%w: instance %q has static address %s, outside the new subnet", api.ErrConflict, nic.instance, nic.ipv4)
		}
	}
	return nil
}

// networkPost renames an unused network.
func (d *daemon) networkPost(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req api.NetworkPost
	if err := decodeBody(r, &req); err != nil {
		errorResponse(w, err)
		return
	}
	if err := network.ValidateName(req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	n, err := d.loadNetwork(ctx, r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	if err := d.refuseInUse(ctx, n.Name, "renamed"); err != nil {
		errorResponse(w, err)
		return
	}
	if _, err := network.Link(req.Name); err == nil {
		errorResponse(w, fmt.Errorf("%w: an interface called %q already exists on the host", api.ErrConflict, req.Name))
		return
	}
	if err := d.refuseHostName(ctx, req.Name); err != nil {
		errorResponse(w, err)
		return
	}
	// Down first, then the inventory: whatever fails leaves a row that
	// describes what is (or what the next start brings up).
	if err := d.stopNetwork(n.Name); err != nil {
		d.reapplyAfterFailure(n)
		errorResponse(w, err)
		return
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.NetworkRename(ctx, n.Name, req.Name) }); err != nil {
		d.reapplyAfterFailure(n)
		errorResponse(w, err)
		return
	}
	d.forgetNetwork(n.Name)
	n.Name = req.Name
	if err := d.applyNetwork(ctx, n); err != nil {
		errorResponse(w, fmt.Errorf("bring up network %q: %w", n.Name, err))
		return
	}
	if err := d.syncFirewall(ctx); err != nil {
		errorResponse(w, err)
		return
	}
	emptySync(w)
}

// refuseHostName fails when a nic's host_name (of a guest that may be
// stopped, so without its veth) is the name a bridge would take.
func (d *daemon) refuseHostName(ctx context.Context, name string) error {
	nics, err := d.allNICs(ctx)
	if err != nil {
		return err
	}
	for _, n := range nics {
		if n.hostName == name {
			return fmt.Errorf("%w: %q is the host_name of device %q of instance %q", api.ErrConflict, name, n.device, n.instance)
		}
	}
	return nil
}

// refuseInUse fails when instances or profiles use the network.
func (d *daemon) refuseInUse(ctx context.Context, name, verb string) error {
	used, err := d.networkUsedBy(ctx, name)
	if err != nil {
		return err
	}
	if len(used) > 0 {
		return fmt.Errorf("%w: network %q is in use and cannot be %s (used by %s)", errBusy, name, verb, strings.Join(used, ", "))
	}
	return nil
}

func (d *daemon) networkDelete(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	n, err := d.loadNetwork(ctx, r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	if err := d.refuseInUse(ctx, n.Name, "deleted"); err != nil {
		errorResponse(w, err)
		return
	}
	// Down first, then the inventory (see networkPost).
	if err := d.stopNetwork(n.Name); err != nil {
		d.reapplyAfterFailure(n)
		errorResponse(w, err)
		return
	}
	if err := d.db.Transaction(ctx, func(tx *db.Tx) error { return tx.NetworkDelete(ctx, n.Name) }); err != nil {
		d.reapplyAfterFailure(n)
		errorResponse(w, err)
		return
	}
	d.forgetNetwork(n.Name)
	slog.Info("network deleted", "network", n.Name)
	emptySync(w)
}

// reapplyAfterFailure brings a network that is still in the inventory
// back up after a delete or rename failed half-way.
func (d *daemon) reapplyAfterFailure(n db.Network) {
	if err := d.applyNetwork(context.Background(), n); err != nil {
		slog.Error("bring network back up after a failed change", "network", n.Name, "err", err)
	}
}

func (d *daemon) networkStateGet(w http.ResponseWriter, r *http.Request) {
	n, err := d.loadNetwork(r.Context(), r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	ls, err := network.Link(n.Name)
	if err != nil {
		errorResponse(w, fmt.Errorf("network %q: bridge: %w", n.Name, err))
		return
	}
	st := api.NetworkState{Hwaddr: ls.HWAddr, Mtu: ls.MTU, State: "down", Type: "broadcast", Addresses: []api.NetworkStateAddress{},
		Counters: api.NetworkStateCounters{BytesReceived: ls.RxBytes, BytesSent: ls.TxBytes, PacketsReceived: ls.RxPackets, PacketsSent: ls.TxPackets}}
	if ls.Up {
		st.State = "up"
	}
	for _, a := range ls.Addresses {
		fam := "inet"
		if a.Addr().Is6() {
			fam = "inet6"
		}
		st.Addresses = append(st.Addresses, api.NetworkStateAddress{Family: fam, Address: a.Addr().String(), Netmask: fmt.Sprint(a.Bits()), Scope: "global"})
	}
	syncResponse(w, st)
}

// networkLeasesGet lists the network's leases and its static reservations.
func (d *daemon) networkLeasesGet(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	n, err := d.loadNetwork(ctx, r.PathValue("name"))
	if err != nil {
		errorResponse(w, err)
		return
	}
	nics, err := d.allNICs(ctx)
	if err != nil {
		errorResponse(w, err)
		return
	}
	out := []api.NetworkLease{}
	seen := map[string]bool{}
	for _, nic := range nics {
		if nic.network == n.Name && nic.ipv4.IsValid() {
			out = append(out, api.NetworkLease{Hostname: nic.instance, Hwaddr: nic.hwaddr, Address: nic.ipv4.String(), Type: "static", Location: "none"})
			seen[nic.hwaddr+nic.ipv4.String()] = true
		}
	}
	for _, l := range d.leasesOf(n.Name) {
		if seen[strings.ToLower(l.MAC)+l.IP.String()] {
			continue
		}
		out = append(out, api.NetworkLease{Hostname: l.Hostname, Hwaddr: l.MAC, Address: l.IP.String(), Type: "dynamic", Location: "none"})
	}
	syncResponse(w, out)
}
