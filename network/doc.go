// Package network owns lxmgr's managed networks on the host side: Linux
// bridges (through netlink), one dnsmasq per bridge for DHCP and DNS, the
// daemon's own nftables table "lxmgr" (NAT and forwarding) and userspace port
// forwards (proxy devices).
//
// It does not import the daemon, the database or the instance driver: the
// daemon resolves names, subnets and guest network namespaces and hands this
// package plain values. Everything set up here is either adoptable (bridges,
// a running dnsmasq found through its pid file) or rebuilt from the desired
// state (the firewall table, proxies) after a daemon restart, and every piece
// has a remove function for which "already gone" is success.
//
// All netlink, dnsmasq and nft operations act on the network namespace of the
// calling thread; in production that is the daemon's namespace.
//
// Addresses are netip values. A network's ipv4.address is carried as a
// netip.Prefix whose Addr is the gateway (the bridge's address) and whose
// Masked() is the subnet, e.g. 10.1.2.1/24.
package network
