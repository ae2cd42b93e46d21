package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// releaseWait is how long ReleaseLease waits for dnsmasq to drop the lease
// from its file: it rewrites the file as soon as it handled the packet.
const releaseWait = 2 * time.Second

// DHCP message constants (RFC 2131 section 2, RFC 2132 section 9).
const (
	bootRequest     = 1
	htypeEthernet   = 1
	optMessageType  = 53
	optServerID     = 54
	optClientID     = 61
	optEnd          = 255
	dhcpRelease     = 7
	bootpMinSize    = 300 // RFC 951's size; some servers drop shorter requests
	dhcpFixedLength = 236 // op .. file, before the magic cookie
)

// ReleaseLease makes the dnsmasq of dir drop lease l now, as the guest
// would when leaving the network: it sends a DHCPRELEASE (RFC 2131 4.4.6)
// for l.IP on behalf of l.MAC to server (the bridge's address, which
// dnsmasq uses as its server identifier) on port 67 out of bridge, then
// waits until dnsmasq has rewritten its lease file without the lease. Call
// it only once the guest's interface is gone: a DHCP client still running
// would simply take the address again at its next renewal. A lease dnsmasq
// does not know is left alone by dnsmasq, which is no error.
func ReleaseLease(ctx context.Context, dir, bridge string, server netip.Addr, l Lease) error {
	if err := ValidateName(bridge); err != nil {
		return err
	}
	pkt, err := releasePacket(server, l)
	if err != nil {
		return err
	}
	if pid, _ := running(dir); pid <= 0 {
		return fmt.Errorf("release lease of %s: no dnsmasq running for %s", l.IP, dir)
	}
	if err := sendOnDevice(ctx, bridge, netip.AddrPortFrom(server, 67), pkt); err != nil {
		return fmt.Errorf("release lease of %s: %w", l.IP, err)
	}
	path := filepath.Join(dir, leaseFile)
	// Our cache of the file may have been filled in the same clock tick as
	// dnsmasq's rewrite: make the next Leases read it again.
	defer func() {
		leaseCache.Lock()
		delete(leaseCache.m, path)
		leaseCache.Unlock()
	}()
	deadline := time.Now().Add(releaseWait)
	for {
		if !hasLease(path, l) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("release lease of %s (MAC %s): dnsmasq still holds it after %v (see %s)",
				l.IP, l.MAC, releaseWait, filepath.Join(dir, logFile))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// hasLease reports whether the lease file at path, read now (not from the
// cache), holds l's address for l's MAC.
func hasLease(path string, l Lease) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	ls, _ := parseLeases(b)
	for _, x := range ls {
		if x.IP == l.IP && strings.EqualFold(x.MAC, l.MAC) {
			return true
		}
	}
	return false
}

// releasePacket builds the DHCPRELEASE for l. The client identifier is
// sent exactly as the lease records it: dnsmasq finds a lease made with
// one only by that identifier.
func releasePacket(server netip.Addr, l Lease) ([]byte, error) {
	mac, err := net.ParseMAC(l.MAC)
	if err != nil || len(mac) != 6 {
		return nil, fmt.Errorf("%w: lease MAC %q is not an Ethernet address", ErrInvalid, l.MAC)
	}
	if !l.IP.Is4() || !server.Is4() {
		return nil, fmt.Errorf("%w: release of %s from %s: IPv4 only", ErrInvalid, l.IP, server)
	}
	var clientID []byte
	if l.ClientID != "" {
		clientID, err = hex.DecodeString(strings.ReplaceAll(l.ClientID, ":", ""))
		if err != nil || len(clientID) == 0 || len(clientID) > 255 {
			return nil, fmt.Errorf("%w: lease client id %q", ErrInvalid, l.ClientID)
		}
	}
	p := make([]byte, dhcpFixedLength, bootpMinSize)
	p[0], p[1], p[2] = bootRequest, htypeEthernet, 6
	if _, err := rand.Read(p[4:8]); err != nil { // xid: no reply is expected, any value does
		return nil, err
	}
	ciaddr := l.IP.As4()
	copy(p[12:16], ciaddr[:])      // ciaddr: the address given back
	copy(p[28:34], mac)            // chaddr
	p = append(p, 99, 130, 83, 99) // magic cookie (RFC 2132 section 2)
	p = append(p, optMessageType, 1, dhcpRelease)
	sid := server.As4()
	p = append(p, optServerID, 4)
	p = append(p, sid[:]...)
	if clientID != nil {
		p = append(p, optClientID, byte(len(clientID)))
		p = append(p, clientID...)
	}
	p = append(p, optEnd)
	for len(p) < bootpMinSize {
		p = append(p, 0) // pad options
	}
	return p, nil
}

// sendOnDevice sends one UDP datagram to dst from a socket bound to device.
// dst is the device's own address, so the kernel delivers the datagram
// through loopback, but it reports the bound device as the one it came in
// on: dnsmasq, listening only on the bridge, takes it as a packet from the
// bridge's segment.
func sendOnDevice(ctx context.Context, device string, dst netip.AddrPort, payload []byte) error {
	var serr error
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, device)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:0")
	if err != nil {
		return fmt.Errorf("socket on %s: %w", device, err)
	}
	defer pc.Close()
	pc.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := pc.WriteTo(payload, net.UDPAddrFromAddrPort(dst)); err != nil {
		return fmt.Errorf("send to %s on %s: %w", dst, device, err)
	}
	return nil
}
