package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/network"
)

// defaultNetwork is created on first start and given to the default
// profile as eth0.
const defaultNetwork = "lxmbr0"

// netState is the daemon's view of its managed networks: a lock that
// serialises every change to bridges, dnsmasq and the firewall, and a cache
// of DHCP leases read from dnsmasq's lease files (re-read when they change).
type netState struct {
	mu       sync.Mutex
	leases   sync.Map // network name -> leaseCache
	prefixes sync.Map // network name -> netip.Prefix of its gateway
}

type leaseCache struct {
	mtime  time.Time
	size   int64
	leases []network.Lease
	byMAC  map[string][]network.Lease // lower-case MAC
}

func (d *daemon) networkDir(name string) string { return filepath.Join(d.dir, "networks", name) }

// networks returns every managed network.
func (d *daemon) networkList(ctx context.Context) ([]db.Network, error) {
	var nets []db.Network
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		nets, err = tx.NetworkList(ctx)
		return err
	})
	return nets, err
}

// initNetworks brings every managed network up (adopting bridges and
// dnsmasq left by the previous run), creating the default network on the
// very first start, then installs the firewall rules.
func (d *daemon) initNetworks(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(d.dir, "networks"), 0o711); err != nil {
		return err
	}
	first, err := d.firstStart(ctx)
	if err != nil {
		return err
	}
	if first {
		if err := d.createDefaultNetwork(ctx); err != nil {
			return fmt.Errorf("create default network %s: %w", defaultNetwork, err)
		}
	}
	nets, err := d.networkList(ctx)
	if err != nil {
		return err
	}
	d.sweepNetworks(nets)
	for _, n := range nets {
		if err := d.applyNetwork(ctx, n); err != nil {
			// One broken network must not keep the daemon (and the guests
			// on other networks) down.
			slog.Error("network could not be brought up", "network", n.Name, "err", err)
		}
	}
	// Shaping devices of guests that stopped while the daemon was away.
	if pruned, err := network.PruneLinkLimits(); err != nil {
		slog.Warn("prune nic limits", "err", err)
	} else if len(pruned) > 0 {
		slog.Info("removed shaping of gone interfaces", "links", pruned)
	}
	return d.syncFirewall(ctx)
}

// firstStart records, once, that the daemon initialised this directory.
func (d *daemon) firstStart(ctx context.Context) (bool, error) {
	first := false
	err := d.db.Transaction(ctx, func(tx *db.Tx) error {
		cfg, err := tx.ConfigGet(ctx)
		if err != nil || cfg["volatile.initialised"] != "" {
			return err
		}
		first = true
		return tx.ConfigSet(ctx, "volatile.initialised", time.Now().UTC().Format(time.RFC3339))
	})
	return first, err
}

// createDefaultNetwork makes lxmbr0 on a free subnet with NAT and adds it
// to the default profile as eth0.
func (d *daemon) createDefaultNetwork(ctx context.Context) error {
	nets, err := d.networkList(ctx)
	if err != nil {
		return err
	}
	prefix, err := network.PickSubnet(takenSubnets(nets, ""))
	if err != nil {
		return err
	}
	n := db.Network{Name: defaultNetwork, Type: "bridge", Description: "Default lxmgr network",
		Config: map[string]string{"ipv4.address": prefix.String(), "ipv4.nat": "true"}}
	err = d.db.Transaction(ctx, func(tx *db.Tx) error {
		if err := tx.NetworkCreate(ctx, n); err != nil {
			return err
		}
		p, err := tx.ProfileGet(ctx, "default")
		if err != nil {
			return err
		}
		if _, ok := p.Devices["eth0"]; !ok {
			p.Devices["eth0"] = map[string]string{"type": "nic", "network": defaultNetwork, "name": "eth0"}
		}
		return tx.ProfileUpdate(ctx, p)
	})
	if err == nil {
		slog.Info("default network created", "network", defaultNetwork, "ipv4", prefix)
	}
	return err
}

// takenSubnets lists the subnets of managed networks other than skip.
func takenSubnets(nets []db.Network, skip string) []netip.Prefix {
	var out []netip.Prefix
	for _, n := range nets {
		if n.Name == skip {
			continue
		}
		if p, err := network.Subnet(n.Config["ipv4.address"]); err == nil && p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}

// applyNetwork makes the bridge and dnsmasq of n match its config.
func (d *daemon) applyNetwork(ctx context.Context, n db.Network) error {
	gw, err := network.Subnet(n.Config["ipv4.address"])
	if err != nil {
		return err
	}
	mtu, err := network.MTU(n.Config)
	if err != nil {
		return err
	}
	if err := network.EnsureBridge(n.Name, gw, mtu); err != nil {
		return err
	}
	if err := d.recordBridge(n.Name); err != nil {
		return err
	}
	d.net.prefixes.Store(n.Name, gw)
	if !gw.IsValid() {
		return network.StopDNSMasq(d.networkDir(n.Name))
	}
	m, err := d.dnsmasqFor(ctx, n, gw)
	if err != nil {
		return err
	}
	return m.Start(ctx)
}

// bridgeMarker is the file in a network's directory recording the interface
// index of its bridge: the proof, once the network is gone from the
// inventory, that a bridge of that name is still the one the daemon made
// (a host bridge of the same name made later has another index).
const bridgeMarker = "bridge.ifindex"

// recordBridge writes the bridge's index into its network's directory.
func (d *daemon) recordBridge(name string) error {
	st, err := network.Link(name)
	if err != nil {
		return err
	}
	dir := d.networkDir(name)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	path := filepath.Join(dir, bridgeMarker)
	text := strconv.Itoa(st.Index) + "\n"
	if old, err := os.ReadFile(path); err == nil && string(old) == text {
		return nil
	}
	if err := os.WriteFile(path+".tmp", []byte(text), 0o644); err != nil {
		return fmt.Errorf("record bridge of network %q: %w", name, err)
	}
	return os.Rename(path+".tmp", path)
}

// sweepNetworks removes what the daemon set up for networks that are no
// longer in the inventory (a crash or failure in the middle of a delete or
// rename): the dnsmasq of each such directory under networks/, the bridge
// when the directory proves it is the one the daemon made, and the
// directory. A bridge without that proof is the host's and stays.
func (d *daemon) sweepNetworks(nets []db.Network) {
	known := map[string]bool{}
	for _, n := range nets {
		known[n.Name] = true
	}
	ents, err := os.ReadDir(filepath.Join(d.dir, "networks"))
	if err != nil {
		slog.Warn("look for leftover networks", "err", err)
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || known[name] || network.ValidateName(name) != nil {
			continue
		}
		dir := d.networkDir(name)
		if err := network.StopDNSMasq(dir); err != nil {
			slog.Error("leftover network: stop dnsmasq", "network", name, "err", err)
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, bridgeMarker)); err == nil {
			index, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			if err := network.DeleteOwnedBridge(name, index); err != nil {
				slog.Warn("leftover network: bridge left alone", "network", name, "err", err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			slog.Error("leftover network: remove directory", "network", name, "err", err)
			continue
		}
		slog.Info("removed leftover of a deleted network", "network", name)
	}
}

// dnsmasqFor describes the dnsmasq of a network with its current guests.
func (d *daemon) dnsmasqFor(ctx context.Context, n db.Network, gw netip.Prefix) (network.DNSMasq, error) {
	ranges, err := network.DHCPRanges(n.Config)
	if err != nil {
		return network.DNSMasq{}, err
	}
	hosts, err := d.networkHosts(ctx, n.Name)
	if err != nil {
		return network.DNSMasq{}, err
	}
	dir := d.networkDir(n.Name)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return network.DNSMasq{}, err
	}
	return network.DNSMasq{Network: n.Name, Bridge: n.Name, Dir: dir, Domain: network.Domain(n.Config),
		Gateway: gw, Ranges: ranges, Hosts: hosts}, nil
}

// networkHosts lists the DHCP hosts of a network: every nic of every
// instance on it, by MAC, with the instance's name and static address.
func (d *daemon) networkHosts(ctx context.Context, netName string) ([]network.Host, error) {
	nics, err := d.allNICs(ctx)
	if err != nil {
		return nil, err
	}
	var hosts []network.Host
	for _, nic := range nics {
		if nic.network != netName || nic.hwaddr == "" {
			continue
		}
		hosts = append(hosts, network.Host{MAC: nic.hwaddr, Name: nic.instance, IP: nic.ipv4})
	}
	sort.Slice(hosts, func(i, j int) bool { return hosts[i].MAC < hosts[j].MAC })
	return hosts, nil
}

// reloadNetworks refreshes the DHCP hosts of the named networks (after an
// instance was created, changed, renamed or deleted).
func (d *daemon) reloadNetworks(ctx context.Context, names ...string) {
	d.net.mu.Lock()
	defer d.net.mu.Unlock()
	for _, name := range dedupe(names) {
		var n db.Network
		err := d.db.Transaction(ctx, func(tx *db.Tx) error {
			var err error
			n, err = tx.NetworkGet(ctx, name)
			return err
		})
		if err != nil {
			continue // an unmanaged parent bridge, or gone
		}
		gw, err := network.Subnet(n.Config["ipv4.address"])
		if err != nil || !gw.IsValid() {
			continue
		}
		m, err := d.dnsmasqFor(ctx, n, gw)
		if err == nil {
			err = m.Reload(ctx)
		}
		if err != nil {
			slog.Error("reload dhcp hosts", "network", name, "err", err)
		}
	}
}

func dedupe(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// syncFirewall rewrites the daemon's nftables table from all networks.
func (d *daemon) syncFirewall(ctx context.Context) error {
	nets, err := d.networkList(ctx)
	if err != nil {
		return err
	}
	var rules []network.NATRule
	for _, n := range nets {
		gw, err := network.Subnet(n.Config["ipv4.address"])
		if err != nil || !gw.IsValid() {
			continue
		}
		nat, _ := network.ParseBool(n.Config["ipv4.nat"], false)
		rules = append(rules, network.NATRule{Network: n.Name, Bridge: n.Name, Subnet: gw.Masked(), Masquerade: nat})
	}
	return network.SyncFirewall(ctx, rules)
}

// leasesOf returns a network's live DHCP leases, re-reading dnsmasq's lease
// file only when it changed.
func (d *daemon) leasesOf(netName string) []network.Lease {
	return liveLeases(d.leaseCacheOf(netName).leases, time.Now())
}

// leasesByMAC returns the network's live leases of one MAC (any case): a
// list looks up every instance's nics, which must not scan all leases each.
func (d *daemon) leasesByMAC(netName, mac string) []network.Lease {
	return liveLeases(d.leaseCacheOf(netName).byMAC[strings.ToLower(mac)], time.Now())
}

// leaseHolder returns the MAC that holds a live lease of ip on a network,
// or "" when none does.
func (d *daemon) leaseHolder(netName string, ip netip.Addr) string {
	for _, l := range d.leasesOf(netName) {
		if l.IP == ip {
			return l.MAC
		}
	}
	return ""
}

// liveLeases drops the expired leases of ls; the cached slice is never
// modified (it is shared).
func liveLeases(ls []network.Lease, now time.Time) []network.Lease {
	for i, l := range ls {
		if !l.Live(now) {
			out := slices.Clone(ls[:i])
			for _, l := range ls[i+1:] {
				if l.Live(now) {
					out = append(out, l)
				}
			}
			return out
		}
	}
	return ls
}

// leaseCacheOf returns the network's parsed leases file, parsed again only
// when the file changed.
func (d *daemon) leaseCacheOf(netName string) leaseCache {
	path := filepath.Join(d.networkDir(netName), "dnsmasq.leases")
	st, err := os.Stat(path)
	if err != nil {
		return leaseCache{}
	}
	if c, ok := d.net.leases.Load(netName); ok {
		lc := c.(leaseCache)
		if lc.mtime.Equal(st.ModTime()) && lc.size == st.Size() {
			return lc
		}
	}
	leases, err := network.Leases(d.networkDir(netName))
	if err != nil {
		return leaseCache{}
	}
	lc := leaseCache{mtime: st.ModTime(), size: st.Size(), leases: leases, byMAC: make(map[string][]network.Lease, len(leases))}
	for _, l := range leases {
		k := strings.ToLower(l.MAC)
		lc.byMAC[k] = append(lc.byMAC[k], l)
	}
	d.net.leases.Store(netName, lc)
	return lc
}

// netmaskOf returns the prefix length of a network's subnet ("24").
func (d *daemon) netmaskOf(netName string) string {
	if p, ok := d.net.prefixes.Load(netName); ok {
		return fmt.Sprint(p.(netip.Prefix).Bits())
	}
	return ""
}

// networkUsedBy lists the instances and profiles whose devices use the
// network, as API URLs.
func (d *daemon) networkUsedBy(ctx context.Context, name string) ([]string, error) {
	var out []string
	nics, err := d.allNICs(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, nic := range nics {
		if nic.network == name && !seen[nic.instance] {
			seen[nic.instance] = true
			out = append(out, "/1.0/instances/"+nic.instance)
		}
	}
	err = d.db.View(ctx, func(tx *db.Tx) error {
		profs, err := tx.ProfileList(ctx)
		for _, p := range profs {
			for _, dev := range p.Devices {
				if dev["type"] == "nic" && dev["network"] == name {
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

// checkNetworkRefs fails when a nic of devs names a network that does not
// exist (parent bridges are the admin's business).
func checkNetworkRefs(ctx context.Context, tx *db.Tx, devs api.Devices) error {
	for name, dev := range devs {
		if dev["type"] != "nic" || dev["network"] == "" {
			continue
		}
		if _, err := tx.NetworkGet(ctx, dev["network"]); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return fmt.Errorf("%w: device %q: network %q does not exist", api.ErrInvalid, name, dev["network"])
			}
			return err
		}
	}
	return nil
}

// dhcpEnabled reports whether a managed network hands out addresses.
func (d *daemon) dhcpEnabled(ctx context.Context, netName string) bool {
	if _, ok := d.net.prefixes.Load(netName); !ok {
		return false
	}
	var n db.Network
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		n, err = tx.NetworkGet(ctx, netName)
		return err
	})
	if err != nil {
		return false
	}
	ranges, err := network.DHCPRanges(n.Config)
	return err == nil && len(ranges) > 0
}
