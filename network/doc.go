// Package network will own lxmgr's managed bridges, per-bridge dnsmasq,
// firewall/NAT rules and port forwards (networking issue). Until it lands,
// guests are created without a network interface (lxc.net.0.type = empty).
package network
