package main

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/network"
)

// TestAllNICsFollowsChanges checks that the memo behind allNICsTx never
// answers from stale rows: a changed instance, a changed profile and a
// deleted instance all show at once.
func TestAllNICsFollowsChanges(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tx := func(fn func(tx *db.Tx) error) {
		t.Helper()
		if err := d.Transaction(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	nics := func(skip string) map[string]nicInfo {
		t.Helper()
		out := map[string]nicInfo{}
		tx(func(tx *db.Tx) error {
			list, err := allNICsTx(ctx, tx, skip)
			for _, n := range list {
				out[n.instance+"/"+n.device] = n
			}
			return err
		})
		return out
	}
	tx(func(tx *db.Tx) error {
		return tx.ProfileCreate(ctx, api.Profile{Name: "p1", ProfilePut: api.ProfilePut{Config: map[string]string{},
			Devices: api.Devices{"eth0": {"type": "nic", "network": "net1"}}}})
	})
	for i, name := range []string{"a", "b"} {
		inst := db.Instance{Name: name, Type: "container", CreationState: "created", IdmapBase: int64(i + 1),
			Config: map[string]string{"volatile.eth0.hwaddr": "00:16:3e:00:00:0" + name}, Devices: api.Devices{}, Profiles: []string{"p1"}}
		tx(func(tx *db.Tx) error { return tx.InstanceCreate(ctx, &inst) })
	}
	got := nics("")
	if len(got) != 2 || got["a/eth0"].network != "net1" || got["b/eth0"].hwaddr != "00:16:3e:00:00:0b" {
		t.Fatalf("nics = %+v", got)
	}
	if got := nics("a"); len(got) != 1 || got["b/eth0"].instance != "b" {
		t.Fatalf("nics skipping a = %+v", got)
	}

	// An instance's own device and MAC change.
	tx(func(tx *db.Tx) error {
		in, err := tx.InstanceGet(ctx, "a")
		if err != nil {
			return err
		}
		in.Config["volatile.eth0.hwaddr"] = "00:16:3e:00:00:aa"
		in.Devices = api.Devices{"eth0": {"type": "nic", "network": "net1", "ipv4.address": "10.0.0.5"}}
		return tx.InstanceUpdate(ctx, in)
	})
	got = nics("")
	if a := got["a/eth0"]; a.hwaddr != "00:16:3e:00:00:aa" || a.ipv4.String() != "10.0.0.5" {
		t.Fatalf("after an instance change: %+v", a)
	}

	// A profile change reaches every instance using it.
	tx(func(tx *db.Tx) error {
		return tx.ProfileUpdate(ctx, api.Profile{Name: "p1", ProfilePut: api.ProfilePut{Config: map[string]string{},
			Devices: api.Devices{"eth0": {"type": "nic", "network": "net2"}}}})
	})
	if got := nics(""); got["b/eth0"].network != "net2" || got["a/eth0"].network != "net1" {
		t.Fatalf("after a profile change: %+v", got)
	}

	// A deleted instance is gone.
	tx(func(tx *db.Tx) error { return tx.InstanceDelete(ctx, "b") })
	if got := nics(""); len(got) != 1 {
		t.Fatalf("after a delete: %+v", got)
	}
}

// nicTestDB opens an inventory with one network, net1 (10.9.0.1/24).
func nicTestDB(t *testing.T) (*db.DB, func(fn func(tx *db.Tx) error) error) {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tx := func(fn func(tx *db.Tx) error) error { return d.Transaction(ctx, fn) }
	if err := tx(func(tx *db.Tx) error {
		return tx.NetworkCreate(ctx, db.Network{Name: "net1", Type: "bridge", Config: map[string]string{"ipv4.address": "10.9.0.1/24"}})
	}); err != nil {
		t.Fatal(err)
	}
	return d, tx
}

// createNICInstance stores an instance with the given own devices through
// prepareNICs, as a create does.
func createNICInstance(t *testing.T, tx func(fn func(tx *db.Tx) error) error, name string, base int64, devs api.Devices) error {
	return createNICInstanceLeased(t, tx, name, base, devs, nil)
}

func createNICInstanceLeased(t *testing.T, tx func(fn func(tx *db.Tx) error) error, name string, base int64, devs api.Devices, leased leaseHolderFunc) error {
	t.Helper()
	ctx := context.Background()
	inst := db.Instance{Name: name, Type: "container", CreationState: "created", IdmapBase: base,
		Config: map[string]string{}, Devices: devs, Profiles: []string{}}
	return tx(func(tx *db.Tx) error {
		if err := prepareNICs(ctx, tx, &inst, devs, leased); err != nil {
			return err
		}
		return tx.InstanceCreate(ctx, &inst)
	})
}

// TestPrepareNICsMACNotation checks that a MAC is compared in one notation:
// the same address written with dashes, in upper case or Cisco-style is a
// duplicate, and a refused instance leaves nothing stored.
func TestPrepareNICsMACNotation(t *testing.T) {
	_, tx := nicTestDB(t)
	nic := func(mac string) api.Devices {
		return api.Devices{"eth0": {"type": "nic", "network": "net1", "hwaddr": mac}}
	}
	if err := createNICInstance(t, tx, "a", 1, nic("00:16:3e:aa:bb:cc")); err != nil {
		t.Fatal(err)
	}
	for i, mac := range []string{"00-16-3E-AA-BB-CC", "0016.3eaa.bbcc", "00:16:3E:AA:BB:CC"} {
		err := createNICInstance(t, tx, "b", int64(i+2), nic(mac))
		if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), `instance "a"`) {
			t.Errorf("MAC %s: err = %v, want a conflict naming instance a", mac, err)
		}
	}
	var stored []db.Instance
	tx(func(tx *db.Tx) error {
		var err error
		stored, err = tx.InstanceList(context.Background())
		return err
	})
	if len(stored) != 1 {
		t.Fatalf("refused creates stored %d instances, want 1", len(stored))
	}
	// Another notation of a free address is stored and used canonically.
	if err := createNICInstance(t, tx, "c", 9, nic("00-16-3E-AA-BB-CD")); err != nil {
		t.Fatal(err)
	}
	tx(func(tx *db.Tx) error {
		list, err := allNICsTx(context.Background(), tx, "")
		for _, n := range list {
			if n.instance == "c" && n.hwaddr != "00:16:3e:aa:bb:cd" {
				t.Errorf("hwaddr of c = %q, want the colon form", n.hwaddr)
			}
		}
		return err
	})
}

// TestPrepareNICsLeasedAddress checks that a static address held by a live
// lease of another MAC is refused, naming the holder, while the nic's own
// lease and a free address are fine.
func TestPrepareNICsLeasedAddress(t *testing.T) {
	_, tx := nicTestDB(t)
	if err := createNICInstance(t, tx, "a", 1, api.Devices{"eth0": {"type": "nic", "network": "net1", "hwaddr": "00:16:3e:00:00:0a"}}); err != nil {
		t.Fatal(err)
	}
	leases := map[string]string{"net1/10.9.0.50": "00:16:3e:00:00:0a", "net1/10.9.0.60": "00:16:3e:00:00:0b", "net1/10.9.0.70": "00:16:3e:99:99:99"}
	leased := func(network string, ip netip.Addr) string { return leases[network+"/"+ip.String()] }
	static := func(ip string) api.Devices {
		return api.Devices{"eth0": {"type": "nic", "network": "net1", "hwaddr": "00-16-3E-00-00-0B", "ipv4.address": ip}}
	}
	for _, c := range []struct{ ip, want string }{
		{"10.9.0.50", `instance "a" (MAC 00:16:3e:00:00:0a)`},
		{"10.9.0.70", "MAC 00:16:3e:99:99:99"},
	} {
		err := createNICInstanceLeased(t, tx, "b", 2, static(c.ip), leased)
		if !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), "leased to "+c.want) {
			t.Errorf("static %s: err = %v, want a conflict naming %s", c.ip, err, c.want)
		}
	}
	// Its own lease (same MAC, other notation) is no conflict.
	if err := createNICInstanceLeased(t, tx, "b", 2, static("10.9.0.60"), leased); err != nil {
		t.Fatalf("static address leased to the nic itself: %v", err)
	}
}

func TestLiveLeases(t *testing.T) {
	now := time.Now()
	ls := []network.Lease{{MAC: "a", Expiry: now.Add(time.Minute)}, {MAC: "b", Expiry: now.Add(-time.Second)}, {MAC: "c"}}
	got := liveLeases(ls, now)
	if len(got) != 2 || got[0].MAC != "a" || got[1].MAC != "c" {
		t.Fatalf("liveLeases = %+v, want a and c (c never expires)", got)
	}
	if ls[1].MAC != "b" {
		t.Fatal("liveLeases modified its input")
	}
}

// TestCheckProxyClash checks that overlapping listen addresses are refused
// on one instance and across instances, running or not.
func TestCheckProxyClash(t *testing.T) {
	_, tx := nicTestDB(t)
	ctx := context.Background()
	proxy := func(listen string) map[string]string {
		return map[string]string{"type": "proxy", "listen": listen, "connect": "tcp:127.0.0.1:80"}
	}
	a := db.Instance{Name: "a", Type: "container", CreationState: "created", IdmapBase: 1,
		Config: map[string]string{}, Devices: api.Devices{"web": proxy("tcp:0.0.0.0:8080")}, Profiles: []string{}}
	if err := tx(func(tx *db.Tx) error { return tx.InstanceCreate(ctx, &a) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		devs api.Devices
		want string
	}{
		{api.Devices{"www": proxy("tcp:127.0.0.1:8080")}, `in use by device "web" of instance "a"`},
		{api.Devices{"p1": proxy("tcp:10.0.0.1:9000"), "p2": proxy("tcp:0.0.0.0:9000")}, `proxy devices "p1" and "p2" both listen`},
		{api.Devices{"ok": proxy("tcp:0.0.0.0:8081"), "udp": {"type": "proxy", "listen": "udp:0.0.0.0:8080", "connect": "udp:127.0.0.1:53"}}, ""},
	} {
		err := tx(func(tx *db.Tx) error { return checkProxyClash(ctx, tx, "b", c.devs) })
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.devs, err)
		case c.want != "" && (!errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: err = %v, want a conflict with %q", c.devs, err, c.want)
		}
	}
	// An instance's own devices are not counted twice.
	if err := tx(func(tx *db.Tx) error { return checkProxyClash(ctx, tx, "a", a.Devices) }); err != nil {
		t.Errorf("a against itself: %v", err)
	}
}

// TestPrepareNICsHostName checks that a nic's host_name is unique among all
// guests' veths (given or generated) and is no managed network's name.
func TestPrepareNICsHostName(t *testing.T) {
	_, tx := nicTestDB(t)
	nic := func(host string) api.Devices {
		return api.Devices{"eth0": {"type": "nic", "network": "net1", "host_name": host}}
	}
	if err := createNICInstance(t, tx, "a", 1, nic("vetha")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ host, want string }{
		{"vetha", `host_name "vetha" is already used by instance "a"`},
		{"net1", "name of a managed network"},
	} {
		if err := createNICInstance(t, tx, "b", 2, nic(c.host)); !errors.Is(err, api.ErrConflict) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("host_name %s: err = %v, want %q", c.host, err, c.want)
		}
	}
	// A generated name counts too.
	if err := createNICInstance(t, tx, "c", 3, api.Devices{"eth0": {"type": "nic", "network": "net1"}}); err != nil {
		t.Fatal(err)
	}
	gen := hostVeth("c", "eth0")
	if err := createNICInstance(t, tx, "b", 2, nic(gen)); !errors.Is(err, api.ErrConflict) {
		t.Errorf("host_name %s (c's generated veth): err = %v, want a conflict", gen, err)
	}
	if err := createNICInstance(t, tx, "b", 2, nic("vethb")); err != nil {
		t.Fatal(err)
	}
}
