package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/network"
	"github.com/lxmgr/lxmgr/profiles"
)

// nicInfo is one nic of one instance, resolved from its expanded devices.
type nicInfo struct {
	instance, device string
	network          string // managed network ("" when on a parent bridge)
	bridge           string
	name             string // interface name in the guest
	hostName         string // host side of the veth pair
	hwaddr           string
	ipv4             netip.Addr // static address, if any
}

// nicsOf resolves the nic devices of an instance, sorted by device name.
func nicsOf(inst db.Instance, devs api.Devices) []nicInfo {
	var out []nicInfo
	for dname, dev := range devs {
		if dev["type"] != "nic" {
			continue
		}
		n := nicInfo{instance: inst.Name, device: dname, network: dev["network"], bridge: dev["parent"], name: dev["name"]}
		if n.bridge == "" {
			n.bridge = n.network
		}
		if n.name == "" {
			n.name = dname
		}
		n.hostName = dev["host_name"]
		if n.hostName == "" {
			n.hostName = hostVeth(inst.Name, dname)
		}
		n.hwaddr = dev["hwaddr"]
		if n.hwaddr == "" {
			n.hwaddr = inst.Config[hwaddrKey(dname)]
		}
		// One notation for every comparison (duplicates, leases, dnsmasq's
		// hosts, liblxc): a MAC may be written 00-16-3E-.. or 0016.3e...
		if mac, err := profiles.CanonicalMAC(n.hwaddr); err == nil {
			n.hwaddr = mac
		} else {
			n.hwaddr = strings.ToLower(n.hwaddr)
		}
		n.ipv4, _ = netip.ParseAddr(dev["ipv4.address"])
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].device < out[j].device })
	return out
}

func hwaddrKey(device string) string { return "volatile." + device + ".hwaddr" }

// hostVeth names the host side of a nic's veth pair, stably for a given
// instance name and device (at most 15 characters).
func hostVeth(inst, device string) string {
	sum := sha256.Sum256([]byte(inst + "/" + device))
	return "veth" + hex.EncodeToString(sum[:])[:11]
}

// allNICs resolves the nics of every instance (two queries).
func (d *daemon) allNICs(ctx context.Context) ([]nicInfo, error) {
	var out []nicInfo
	err := d.db.View(ctx, func(tx *db.Tx) error {
		var err error
		out, err = allNICsTx(ctx, tx, "")
		return err
	})
	return out, err
}

// nicMemo keeps the nics resolved from each instance row, keyed by the
// row's text and by the text of all profiles, so that allNICsTx decodes
// only rows that changed. Checking a new guest's nics against all others
// otherwise decodes every row on every create: a tenth of the host's CPU
// at 600 guests. Being keyed by content, it can never go stale, also not
// across a rolled-back transaction or a second daemon in one process.
var nicMemo struct {
	sync.Mutex
	profiles string
	rows     map[string]nicMemoEntry // by instance name
}

type nicMemoEntry struct {
	raw     db.InstanceRaw
	nics    []nicInfo
	proxies []proxyInfo
}

// proxyInfo is one proxy device of one instance, its addresses parsed.
type proxyInfo struct {
	instance, device string
	spec             network.ProxySpec
}

// proxiesOf resolves the proxy devices of expanded devices, sorted by
// device name; one that does not parse is left out (validation refuses it).
func proxiesOf(instName string, devs api.Devices) []proxyInfo {
	var out []proxyInfo
	for _, dev := range proxyDevices(devs) {
		spec, err := network.ParseProxy(devs[dev]["listen"], devs[dev]["connect"])
		if err == nil {
			out = append(out, proxyInfo{instance: instName, device: dev, spec: spec})
		}
	}
	return out
}

// allNICsTx resolves the nics of every instance but skip.
func allNICsTx(ctx context.Context, tx *db.Tx, skip string) ([]nicInfo, error) {
	var out []nicInfo
	err := eachInstanceDevs(ctx, tx, skip, func(e nicMemoEntry) { out = append(out, e.nics...) })
	return out, err
}

// allProxiesTx resolves the proxy devices of every instance but skip.
func allProxiesTx(ctx context.Context, tx *db.Tx, skip string) ([]proxyInfo, error) {
	var out []proxyInfo
	err := eachInstanceDevs(ctx, tx, skip, func(e nicMemoEntry) { out = append(out, e.proxies...) })
	return out, err
}

// eachInstanceDevs calls f with the resolved nics and proxies of every
// instance but skip, in inventory order.
func eachInstanceDevs(ctx context.Context, tx *db.Tx, skip string, f func(nicMemoEntry)) error {
	raws, err := tx.InstanceRawList(ctx)
	if err != nil {
		return err
	}
	profs, err := tx.ProfileList(ctx)
	if err != nil {
		return err
	}
	profKey, err := json.Marshal(profs)
	if err != nil {
		return err
	}
	byName := map[string]api.Profile{}
	for _, p := range profs {
		byName[p.Name] = p
	}
	nicMemo.Lock()
	defer nicMemo.Unlock()
	if nicMemo.rows == nil || nicMemo.profiles != string(profKey) {
		nicMemo.profiles, nicMemo.rows = string(profKey), map[string]nicMemoEntry{}
	}
	seen := make(map[string]bool, len(raws))
	for _, r := range raws {
		seen[r.Name] = true
		if r.Name == skip {
			continue
		}
		e, ok := nicMemo.rows[r.Name]
		if !ok || e.raw != r {
			inst, err := r.Decode()
			if err != nil {
				return err
			}
			ps := make([]api.Profile, 0, len(inst.Profiles))
			for _, n := range inst.Profiles {
				ps = append(ps, byName[n])
			}
			_, devs := expand(inst, ps)
			e = nicMemoEntry{raw: r, nics: nicsOf(inst, devs), proxies: proxiesOf(inst.Name, devs)}
			nicMemo.rows[r.Name] = e
		}
		f(e)
	}
	for name := range nicMemo.rows {
		if !seen[name] {
			delete(nicMemo.rows, name)
		}
	}
	return nil
}

// checkProxyClash refuses proxy devices of an instance (expanded devices)
// whose listen addresses overlap each other or a proxy of another
// instance, running or not: both could never be bound at once.
func checkProxyClash(ctx context.Context, tx *db.Tx, instName string, devs api.Devices) error {
	mine := proxiesOf(instName, devs)
	for i, a := range mine {
		for _, b := range mine[:i] {
			if network.ListenOverlap(a.spec, b.spec) {
				return fmt.Errorf("%w: proxy devices %q and %q both listen on %s", api.ErrConflict, b.device, a.device, a.spec.Listen)
			}
		}
	}
	if len(mine) == 0 {
		return nil
	}
	others, err := allProxiesTx(ctx, tx, instName)
	if err != nil {
		return err
	}
	for _, a := range mine {
		for _, o := range others {
			if network.ListenOverlap(a.spec, o.spec) {
				return fmt.Errorf("%w: device %q: listen address %s is already in use by device %q of instance %q (%s)", api.ErrConflict, a.device, a.spec.Listen, o.device, o.instance, o.spec.Listen)
			}
		}
	}
	return nil
}

// leaseHolderFunc returns the MAC holding a live DHCP lease of ip on a
// network, or "".
type leaseHolderFunc func(network string, ip netip.Addr) string

// prepareNICs checks the nics of inst (with its expanded devices) against
// every other instance and the networks, and gives each nic without a MAC
// a new one in volatile.<dev>.hwaddr. It runs inside the transaction that
// stores inst, so two creates cannot take the same MAC or address. With
// leased, a static address must also not be leased to another MAC right now
// (dnsmasq would not hand it over until that lease ends).
func prepareNICs(ctx context.Context, tx *db.Tx, inst *db.Instance, devs api.Devices, leased leaseHolderFunc) error {
	if err := checkNetworkRefs(ctx, tx, devs); err != nil {
		return err
	}
	others, err := allNICsTx(ctx, tx, inst.Name)
	if err != nil {
		return err
	}
	usedMAC := map[string]string{}
	usedIP := map[string]string{}
	usedHost := map[string]string{}
	for _, o := range others {
		usedHost[o.hostName] = o.instance
		if o.hwaddr != "" {
			usedMAC[o.hwaddr] = o.instance
		}
		if o.ipv4.IsValid() {
			usedIP[o.network+"/"+o.ipv4.String()] = o.instance
		}
	}
	// Drop MACs of devices that are gone.
	for k := range inst.Config {
		if dev, ok := strings.CutSuffix(strings.TrimPrefix(k, "volatile."), ".hwaddr"); ok && strings.HasPrefix(k, "volatile.") {
			if d, exists := devs[dev]; !exists || d["type"] != "nic" {
				delete(inst.Config, k)
			}
		}
	}
	nics := nicsOf(*inst, devs)
	own := map[string]bool{}
	for _, n := range nics {
		own[n.hwaddr] = true
	}
	for _, n := range nics {
		if n.hwaddr == "" {
			mac, err := newMAC(usedMAC)
			if err != nil {
				return err
			}
			inst.Config[hwaddrKey(n.device)] = mac
			n.hwaddr = mac
		}
		if owner, dup := usedMAC[n.hwaddr]; dup {
			return fmt.Errorf("%w: device %q: MAC address %s is already used by instance %q", api.ErrConflict, n.device, n.hwaddr, owner)
		}
		usedMAC[n.hwaddr] = inst.Name
		if owner, dup := usedHost[n.hostName]; dup {
			return fmt.Errorf("%w: device %q: host_name %q is already used by instance %q", api.ErrConflict, n.device, n.hostName, owner)
		}
		usedHost[n.hostName] = inst.Name
		if _, err := tx.NetworkGet(ctx, n.hostName); err == nil {
			return fmt.Errorf("%w: device %q: host_name %q is the name of a managed network", api.ErrConflict, n.device, n.hostName)
		}
		if n.ipv4.IsValid() {
			if err := checkStaticIP(ctx, tx, n); err != nil {
				return err
			}
			key := n.network + "/" + n.ipv4.String()
			if owner, dup := usedIP[key]; dup {
				return fmt.Errorf("%w: device %q: address %s is already used by instance %q", api.ErrConflict, n.device, n.ipv4, owner)
			}
			usedIP[key] = inst.Name
			if leased == nil {
				continue
			}
			if mac := leased(n.network, n.ipv4); mac != "" && !own[mac] {
				holder := "MAC " + mac
				if owner, ok := usedMAC[mac]; ok {
					holder = fmt.Sprintf("instance %q (MAC %s)", owner, mac)
				}
				return fmt.Errorf("%w: device %q: address %s is leased to %s on network %q", api.ErrConflict, n.device, n.ipv4, holder, n.network)
			}
		}
	}
	return nil
}

// checkStaticIP wants a static address inside the network's subnet, not
// its gateway, network or broadcast address.
func checkStaticIP(ctx context.Context, tx *db.Tx, n nicInfo) error {
	if n.network == "" {
		return fmt.Errorf("%w: device %q: ipv4.address needs a managed network", api.ErrInvalid, n.device)
	}
	net, err := tx.NetworkGet(ctx, n.network)
	if err != nil {
		return err
	}
	gw, err := network.Subnet(net.Config["ipv4.address"])
	if err != nil || !gw.IsValid() {
		return fmt.Errorf("%w: device %q: network %q has no IPv4 subnet", api.ErrInvalid, n.device, n.network)
	}
	subnet := gw.Masked()
	last := lastAddr(subnet)
	switch {
	case !subnet.Contains(n.ipv4):
		return fmt.Errorf("%w: device %q: address %s is outside network %q (%s)", api.ErrInvalid, n.device, n.ipv4, n.network, subnet)
	case n.ipv4 == gw.Addr():
		return fmt.Errorf("%w: device %q: address %s is the gateway of network %q", api.ErrConflict, n.device, n.ipv4, n.network)
	case n.ipv4 == subnet.Addr() || n.ipv4 == last:
		return fmt.Errorf("%w: device %q: address %s is the network or broadcast address of %s", api.ErrInvalid, n.device, n.ipv4, subnet)
	}
	return nil
}

// lastAddr returns the broadcast address of an IPv4 prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	hostBits := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= (1 << hostBits) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// newMAC returns a random MAC in LXD's 00:16:3e prefix not in used.
func newMAC(used map[string]string) (string, error) {
	for range 100 {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		mac := net.HardwareAddr{0x00, 0x16, 0x3e, b[0], b[1], b[2]}.String()
		if _, taken := used[mac]; !taken {
			return mac, nil
		}
	}
	return "", fmt.Errorf("could not find a free MAC address")
}

// checkHostNames fails when a nic's host_name is taken by an interface on
// the host. The guest is stopped, so its own veths do not exist: whatever
// holds the name belongs to someone else, and liblxc's error would not say.
func checkHostNames(inst db.Instance, profs []api.Profile) error {
	_, devs := expand(inst, profs)
	for _, n := range nicsOf(inst, devs) {
		if devs[n.device]["host_name"] == "" {
			continue
		}
		if _, err := network.Link(n.hostName); err == nil {
			return fmt.Errorf("%w: device %q: host_name %q: an interface of that name already exists on the host", api.ErrConflict, n.device, n.hostName)
		}
	}
	return nil
}

// specNICs turns an instance's nics into the driver's veth definitions.
func specNICs(inst db.Instance, devs api.Devices) []instance.NIC {
	var out []instance.NIC
	for _, n := range nicsOf(inst, devs) {
		mtu := 0
		fmt.Sscan(devs[n.device]["mtu"], &mtu)
		out = append(out, instance.NIC{Name: n.name, Bridge: n.bridge, HWAddr: n.hwaddr, HostName: n.hostName, MTU: mtu})
	}
	return out
}

// networkState builds the network part of an instance's state: addresses
// from the DHCP leases, or, for a nic without a live lease (no DHCP on its
// network, a parent bridge, an address set inside the guest), from the
// guest's interface read through netlink in the namespace of its init pid;
// with counters, the host side's counters. Nothing enters the guest.
func (d *daemon) networkState(inst db.Instance, devs api.Devices, pid int, counters bool) map[string]api.InstanceStateNetwork {
	out := map[string]api.InstanceStateNetwork{}
	for _, n := range nicsOf(inst, devs) {
		st := api.InstanceStateNetwork{Hwaddr: n.hwaddr, HostName: n.hostName, State: "up", Type: "broadcast", Addresses: []api.InstanceStateNetworkAddress{}}
		if n.network != "" {
			for _, l := range d.leasesByMAC(n.network, n.hwaddr) {
				if l.IP.IsValid() {
					st.Addresses = append(st.Addresses, api.InstanceStateNetworkAddress{Family: "inet", Address: l.IP.String(), Netmask: d.netmaskOf(n.network), Scope: "global"})
				}
			}
		}
		if len(st.Addresses) == 0 && pid > 0 {
			for _, p := range d.guestAddrs.get(pid, n.name) {
				fam := "inet"
				if p.Addr().Is6() {
					fam = "inet6"
				}
				st.Addresses = append(st.Addresses, api.InstanceStateNetworkAddress{Family: fam, Address: p.Addr().String(), Netmask: strconv.Itoa(p.Bits()), Scope: "global"})
			}
		}
		if counters {
			if ls, err := network.Link(st.HostName); err == nil {
				// The host side receives what the guest sends.
				st.Counters = &api.InstanceStateNetworkCounters{BytesReceived: ls.TxBytes, BytesSent: ls.RxBytes, PacketsReceived: ls.TxPackets, PacketsSent: ls.RxPackets}
			} else {
				st.State = "down"
			}
		}
		out[n.name] = st
	}
	return out
}

// guestAddrTTL is how long a netlink read of a guest's addresses is reused:
// short enough that list shows a new address within a second, long enough
// that listing hundreds of guests in a row opens one socket per guest at
// most once.
const guestAddrTTL = 500 * time.Millisecond

// guestAddrCache keeps recent netlink reads of guests' interface addresses,
// keyed by init pid and interface name (a restarted guest has a new pid).
type guestAddrCache struct {
	mu    sync.Mutex
	m     map[guestAddrKey]guestAddrEntry
	swept time.Time
}

type guestAddrKey struct {
	pid    int
	ifname string
}

type guestAddrEntry struct {
	at    time.Time
	addrs []netip.Prefix
}

// get returns the addresses of ifname in the network namespace of pid,
// read at most guestAddrTTL ago; nil when they cannot be read (the guest
// just stopped, no such interface).
func (c *guestAddrCache) get(pid int, ifname string) []netip.Prefix {
	now := time.Now()
	k := guestAddrKey{pid, ifname}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < guestAddrTTL {
		return e.addrs
	}
	addrs, err := network.GuestAddresses(fmt.Sprintf("/proc/%d/ns/net", pid), ifname)
	if err != nil {
		addrs = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[guestAddrKey]guestAddrEntry{}
	}
	c.m[k] = guestAddrEntry{at: now, addrs: addrs}
	// Entries of stopped guests would otherwise stay forever.
	if now.Sub(c.swept) > 10*time.Second {
		for k, e := range c.m {
			if now.Sub(e.at) > guestAddrTTL {
				delete(c.m, k)
			}
		}
		c.swept = now
	}
	return addrs
}

// applyNICLimits shapes the host side of each nic with limits.ingress /
// limits.egress (traffic into / out of the guest) and clears the shaping of
// nics without limits. The veths exist only while the guest runs, so this
// runs after every start and after a live change.
func applyNICLimits(inst db.Instance, devs api.Devices) error {
	for _, n := range nicsOf(inst, devs) {
		dev := devs[n.device]
		var in, out int64
		var err error
		if v := dev["limits.ingress"]; v != "" {
			if in, err = profiles.ParseBitRate(v); err != nil {
				return fmt.Errorf("device %q: %w", n.device, err)
			}
		}
		if v := dev["limits.egress"]; v != "" {
			if out, err = profiles.ParseBitRate(v); err != nil {
				return fmt.Errorf("device %q: %w", n.device, err)
			}
		}
		link := n.hostName
		if in == 0 && out == 0 {
			if err := network.ClearLinkLimits(link); err != nil {
				return fmt.Errorf("device %q: clear limits: %w", n.device, err)
			}
			continue
		}
		if err := network.SetLinkLimits(link, in, out); err != nil {
			return fmt.Errorf("device %q: limits: %w", n.device, err)
		}
	}
	return nil
}

// clearNICLimits removes the shaping of an instance's nics (and the helper
// devices it needs) once the guest stopped.
func clearNICLimits(inst db.Instance, devs api.Devices) {
	for _, n := range nicsOf(inst, devs) {
		if devs[n.device]["limits.ingress"] == "" && devs[n.device]["limits.egress"] == "" {
			continue
		}
		if err := network.ClearLinkLimits(n.hostName); err != nil {
			slog.Warn("clear nic limits", "instance", inst.Name, "device", n.device, "err", err)
		}
	}
}
