package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProxyTarget returns the network namespace to dial a proxy's Connect
// address in (a guest's /proc/<pid>/ns/net). It is called for every new
// connection (every new UDP client), since the guest may have restarted; an
// error means the guest is not running and the connection is dropped.
type ProxyTarget func() (netnsPath string, err error)

// ProxySpec is a validated port forward: Listen is bound in the daemon's
// namespace, Connect is dialled in the guest's. Both are "proto:ip:port"
// with the same proto, tcp or udp; IPv6 addresses are bracketed.
type ProxySpec struct{ Listen, Connect string }

// ParseProxy validates a proxy device's listen and connect addresses and
// returns them as a ProxySpec (normalised). Hosts must be IP literals:
// nothing is resolved. Errors wrap ErrInvalid.
func ParseProxy(listen, connect string) (ProxySpec, error) {
	lp, la, err := parseEndpoint("listen", listen)
	if err != nil {
		return ProxySpec{}, err
	}
	cp, ca, err := parseEndpoint("connect", connect)
	if err != nil {
		return ProxySpec{}, err
	}
	if lp != cp {
		return ProxySpec{}, fmt.Errorf("%w: proxy listen is %s but connect is %s: the protocols must match", ErrInvalid, lp, cp)
	}
	return ProxySpec{Listen: lp + ":" + la.String(), Connect: cp + ":" + ca.String()}, nil
}

// parseEndpoint parses "tcp:1.2.3.4:80" or "udp:[::1]:53".
func parseEndpoint(what, s string) (string, netip.AddrPort, error) {
	bad := func(why string) (string, netip.AddrPort, error) {
		return "", netip.AddrPort{}, fmt.Errorf("%w: proxy %s %q: %s", ErrInvalid, what, s, why)
	}
	proto, rest, ok := strings.Cut(s, ":")
	if !ok || (proto != "tcp" && proto != "udp") {
		return bad("must start with tcp: or udp:")
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return bad("not host:port")
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || addr.Zone() != "" {
		return bad("host must be an IP address")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return bad("port must be 1 to 65535")
	}
	return proto, netip.AddrPortFrom(addr.Unmap(), uint16(n)), nil
}

// ListenOverlap reports whether two proxies could not both bind their
// listen addresses: the same protocol and port, and the same address or
// either one a wildcard (0.0.0.0 or ::, which also takes IPv4 by default).
// Both specs must come from ParseProxy.
func ListenOverlap(a, b ProxySpec) bool {
	pa, aa := split(a.Listen)
	pb, ab := split(b.Listen)
	if pa != pb {
		return false
	}
	x, err1 := netip.ParseAddrPort(aa)
	y, err2 := netip.ParseAddrPort(ab)
	if err1 != nil || err2 != nil {
		return a.Listen == b.Listen
	}
	if x.Port() != y.Port() {
		return false
	}
	return x.Addr() == y.Addr() || x.Addr().IsUnspecified() || y.Addr().IsUnspecified()
}

// split returns the proto and address of a parsed endpoint.
func split(s string) (string, string) {
	p, a, _ := strings.Cut(s, ":")
	return p, a
}

// Proxies is a registry of running port forwards, keyed by instance and
// device name (the key format is the caller's). It is safe for concurrent
// use. lxmgrd runs each forward in its own process (lxmgrd forkproxy) so
// that it outlives the daemon; that process serves it through a Proxies.
type Proxies struct {
	mu sync.Mutex
	m  map[string]*proxy
	// UDPIdle ends a UDP client's session after this long without traffic
	// from the client (default 60s).
	UDPIdle time.Duration
	// DialTimeout bounds connecting to the guest (default 10s).
	DialTimeout time.Duration
}

// NewProxies returns an empty registry.
func NewProxies() *Proxies {
	return &Proxies{m: map[string]*proxy{}, UDPIdle: 60 * time.Second, DialTimeout: 10 * time.Second}
}

// proxy is one running forward.
type proxy struct {
	spec   ProxySpec
	target ProxyTarget
	idle   time.Duration
	dialTO time.Duration

	mu     sync.Mutex
	closed bool
	ln     net.Listener   // tcp
	pc     net.PacketConn // udp
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// Start binds spec's listen address in the current (daemon's) namespace and
// forwards every connection to spec's connect address dialled inside the
// namespace target returns at that moment. A listen address in use is
// ErrConflict. A running proxy under key is stopped first.
func (p *Proxies) Start(key string, spec ProxySpec, target ProxyTarget) error {
	return p.start(key, spec, nil, target)
}

// StartOn is Start on a socket bound elsewhere: f is a listening TCP socket
// or a bound UDP socket (matching spec's protocol), typically inherited from
// the process that bound it so that a bind error was reported there. f is
// not closed; the proxy uses a duplicate of it.
func (p *Proxies) StartOn(key string, spec ProxySpec, f *os.File, target ProxyTarget) error {
	if f == nil {
		return fmt.Errorf("%w: no socket to serve %s on", ErrInvalid, spec.Listen)
	}
	return p.start(key, spec, f, target)
}

// start binds spec's listen address, or takes over the socket f when given.
func (p *Proxies) start(key string, spec ProxySpec, f *os.File, target ProxyTarget) error {
	spec, err := ParseProxy(spec.Listen, spec.Connect)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old := p.m[key]; old != nil {
		delete(p.m, key)
		old.stop()
	}
	px := &proxy{spec: spec, target: target, idle: p.UDPIdle, dialTO: p.DialTimeout, conns: map[net.Conn]struct{}{}}
	if px.idle <= 0 {
		px.idle = 60 * time.Second
	}
	if px.dialTO <= 0 {
		px.dialTO = 10 * time.Second
	}
	proto, addr := split(spec.Listen)
	switch {
	case f != nil:
		if err := px.adopt(proto, f); err != nil {
			return err
		}
	case proto == "tcp":
		if px.ln, err = net.Listen("tcp", addr); err != nil {
			return bindError(spec, err)
		}
	default:
		if px.pc, err = net.ListenPacket("udp", addr); err != nil {
			return bindError(spec, err)
		}
	}
	px.wg.Add(1)
	if proto == "tcp" {
		go px.serveTCP()
	} else {
		go px.serveUDP()
	}
	p.m[key] = px
	return nil
}

// adopt takes an inherited socket as px's listener, refusing one of the
// wrong kind (a UDP socket for a TCP forward would otherwise fail late).
func (px *proxy) adopt(proto string, f *os.File) error {
	if proto == "tcp" {
		ln, err := net.FileListener(f)
		if err != nil {
			return fmt.Errorf("%w: inherited socket for %s: %w", ErrInvalid, px.spec.Listen, err)
		}
		if _, ok := ln.(*net.TCPListener); !ok {
			ln.Close()
			return fmt.Errorf("%w: inherited socket for %s is not a TCP listener", ErrInvalid, px.spec.Listen)
		}
		px.ln = ln
		return nil
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return fmt.Errorf("%w: inherited socket for %s: %w", ErrInvalid, px.spec.Listen, err)
	}
	if _, ok := pc.(*net.UDPConn); !ok {
		pc.Close()
		return fmt.Errorf("%w: inherited socket for %s is not a UDP socket", ErrInvalid, px.spec.Listen)
	}
	px.pc = pc
	return nil
}

// bindError maps a bind failure to the package's sentinels.
func bindError(spec ProxySpec, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("%w: listen address %s is already in use", ErrConflict, spec.Listen)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("%w: listen address %s is not an address of this host", ErrInvalid, spec.Listen)
	}
	return fmt.Errorf("listen on %s: %w", spec.Listen, err)
}

// Stop stops the proxy under key: it closes the listener and every
// forwarded connection and waits for them. No such proxy is success.
func (p *Proxies) Stop(key string) error {
	p.mu.Lock()
	px := p.m[key]
	delete(p.m, key)
	p.mu.Unlock()
	if px != nil {
		px.stop()
	}
	return nil
}

// StopAll stops every proxy (daemon shutdown).
func (p *Proxies) StopAll() {
	p.mu.Lock()
	all := p.m
	p.m = map[string]*proxy{}
	p.mu.Unlock()
	for _, px := range all {
		px.stop()
	}
}

// List returns the specs of the running proxies by key.
func (p *Proxies) List() map[string]ProxySpec {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]ProxySpec, len(p.m))
	for k, px := range p.m {
		out[k] = px.spec
	}
	return out
}

// Check is CheckListen, except that the listen address of the proxy
// running under key does not count as taken (a device being updated).
func (p *Proxies) Check(key string, spec ProxySpec) error {
	p.mu.Lock()
	px := p.m[key]
	p.mu.Unlock()
	if px != nil && px.spec.Listen == spec.Listen {
		return nil
	}
	return CheckListen(spec)
}

// CheckListen returns an error (ErrConflict when in use) if spec's listen
// address cannot be bound right now: it binds and closes at once.
func CheckListen(spec ProxySpec) error {
	spec, err := ParseProxy(spec.Listen, spec.Connect)
	if err != nil {
		return err
	}
	proto, addr := split(spec.Listen)
	if proto == "tcp" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return bindError(spec, err)
		}
		return ln.Close()
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return bindError(spec, err)
	}
	return pc.Close()
}

// stop closes everything and waits for the forwarding goroutines.
func (px *proxy) stop() {
	px.mu.Lock()
	px.closed = true
	if px.ln != nil {
		px.ln.Close()
	}
	if px.pc != nil {
		px.pc.Close()
	}
	for c := range px.conns {
		c.Close()
	}
	px.mu.Unlock()
	px.wg.Wait()
}

// track registers a connection so stop closes it; false when stopping.
func (px *proxy) track(c net.Conn) bool {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.closed {
		return false
	}
	px.conns[c] = struct{}{}
	return true
}

func (px *proxy) untrack(c net.Conn) {
	px.mu.Lock()
	delete(px.conns, c)
	px.mu.Unlock()
	c.Close()
}

// dial connects to the connect address inside the target's namespace.
func (px *proxy) dial() (net.Conn, error) {
	nsPath, err := px.target()
	if err != nil {
		return nil, err
	}
	proto, addr := split(px.spec.Connect)
	var c net.Conn
	err = inNetns(nsPath, func() error {
		var err error
		// The socket is created on this thread, so in the guest's
		// namespace; the connect may finish on the netpoller later.
		c, err = net.DialTimeout(proto, addr, px.dialTO)
		return err
	})
	return c, err
}

// ListenFile binds spec's listen address in the current namespace and
// returns the socket as a file, to be handed to the process that serves it
// (Proxies.StartOn there). A listen address in use is ErrConflict, as for
// Start: binding here keeps that error synchronous and clear.
func ListenFile(spec ProxySpec) (*os.File, error) {
	spec, err := ParseProxy(spec.Listen, spec.Connect)
	if err != nil {
		return nil, err
	}
	proto, addr := split(spec.Listen)
	if proto == "tcp" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, bindError(spec, err)
		}
		defer ln.Close() // the file is a duplicate that stays bound
		return ln.(*net.TCPListener).File()
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, bindError(spec, err)
	}
	defer pc.Close()
	return pc.(*net.UDPConn).File()
}
