package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// echoServers starts TCP and UDP echo servers on 127.0.0.1:7 inside g;
// they exist only there, so an answer proves the dial happened in g.
func echoServers(t *testing.T, g *guestNetns) {
	var ln net.Listener
	var pc net.PacketConn
	var err error
	g.do(func() {
		if ln, err = net.Listen("tcp", "127.0.0.1:7"); err == nil {
			pc, err = net.ListenPacket("udp", "127.0.0.1:7")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() // echo until the client half-closes
		}
	}()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
}

func TestProxy(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	guest := newGuestNetns(t)
	echoServers(t, guest)
	var stopped atomic.Bool
	target := func() (string, error) {
		if stopped.Load() {
			return "", errors.New("guest not running")
		}
		return guest.path, nil
	}
	p := NewProxies()
	p.UDPIdle = 300 * time.Millisecond
	t.Cleanup(p.StopAll)
	spec, err := ParseProxy("tcp:127.0.0.1:18080", "tcp:127.0.0.1:7")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("web1/http", spec, target); err != nil {
		t.Fatal(err)
	}

	// TCP both ways, with a half-close from the client.
	for i := range 3 {
		start := time.Now()
		c, err := net.Dial("tcp", "127.0.0.1:18080")
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		msg := strings.Repeat("hello ", 1000*(i+1))
		go func() { c.Write([]byte(msg)); c.(*net.TCPConn).CloseWrite() }()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != msg {
			t.Fatalf("tcp round trip %d: %d bytes, %v", i, len(got), err)
		}
		t.Logf("tcp round trip of %d bytes: %v", len(msg), time.Since(start))
	}

	// The listen address is taken: by another proxy, and for CheckListen.
	other := ProxySpec{Listen: "tcp:127.0.0.1:18080", Connect: "tcp:127.0.0.1:9"}
	err = p.Start("web2/http", other, target)
	if !errors.Is(err, ErrConflict) || !errors.Is(err, api.ErrConflict) ||
		!strings.Contains(err.Error(), "listen address tcp:127.0.0.1:18080 is already in use") {
		t.Errorf("second bind: %v", err)
	}
	if err := CheckListen(other); !errors.Is(err, ErrConflict) {
		t.Errorf("CheckListen on a used address: %v", err)
	}
	if err := p.Check("web1/http", spec); err != nil {
		t.Errorf("Check of the proxy's own address: %v", err)
	}
	if err := CheckListen(ProxySpec{"tcp:127.0.0.1:18081", "tcp:127.0.0.1:7"}); err != nil {
		t.Errorf("CheckListen on a free address: %v", err)
	}
	if err := CheckListen(ProxySpec{"tcp:10.99.99.99:80", "tcp:127.0.0.1:7"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("CheckListen on a foreign address: %v", err)
	}

	// Guest not running: the connection is dropped.
	stopped.Store(true)
	c, err := net.Dial("tcp", "127.0.0.1:18080")
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("read %d bytes from a dropped connection", n)
	}
	c.Close()
	stopped.Store(false)

	// UDP: per-client sessions, replies from the listen address.
	uspec, _ := ParseProxy("udp:127.0.0.1:18053", "udp:127.0.0.1:7")
	if err := p.Start("web1/dns", uspec, target); err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"a", "b"} {
		u, err := net.Dial("udp", "127.0.0.1:18053")
		if err != nil {
			t.Fatal(err)
		}
		u.SetDeadline(time.Now().Add(3 * time.Second))
		for i := range 3 {
			msg := client + strings.Repeat("x", i)
			u.Write([]byte(msg))
			buf := make([]byte, 100)
			n, err := u.Read(buf)
			if err != nil || string(buf[:n]) != "echo:"+msg {
				t.Fatalf("udp %s: %q, %v", client, buf[:n], err)
			}
		}
		u.Close()
	}
	if err := CheckListen(uspec); !errors.Is(err, ErrConflict) {
		t.Errorf("CheckListen udp in use: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // past UDPIdle: sessions end
	p.mu.Lock()
	px := p.m["web1/dns"]
	p.mu.Unlock()
	px.mu.Lock()
	n := len(px.conns)
	px.mu.Unlock()
	if n != 0 {
		t.Errorf("%d upstream sockets left after the idle timeout", n)
	}

	// Replacing a key stops the old one first; Stop frees the address.
	if err := p.Start("web1/http", spec, target); err != nil {
		t.Errorf("restart under the same key: %v", err)
	}
	if len(p.List()) != 2 {
		t.Errorf("List = %v", p.List())
	}
	if err := p.Stop("web1/http"); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop("web1/http"); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := CheckListen(spec); err != nil {
		t.Errorf("address still bound after Stop: %v", err)
	}
	p.StopAll()
	if err := CheckListen(uspec); err != nil {
		t.Errorf("udp address still bound after StopAll: %v", err)
	}
}

// TestProxyStopClosesConnections: an open forwarded connection ends with Stop.
func TestProxyStopClosesConnections(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	guest := newGuestNetns(t)
	echoServers(t, guest)
	p := NewProxies()
	spec, _ := ParseProxy("tcp:127.0.0.1:18080", "tcp:127.0.0.1:7")
	if err := p.Start("k", spec, func() (string, error) { return guest.path, nil }); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", "127.0.0.1:18080")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("x"))
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.StopAll(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("StopAll hangs on an open connection")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Errorf("connection still open after StopAll")
	}
}

func TestListenOverlap(t *testing.T) {
	spec := func(l string) ProxySpec {
		t.Helper()
		s, err := ParseProxy(l, strings.SplitN(l, ":", 2)[0]+":127.0.0.1:80")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"tcp:0.0.0.0:8080", "tcp:0.0.0.0:8080", true},
		{"tcp:0.0.0.0:8080", "tcp:127.0.0.1:8080", true},
		{"tcp:[::]:8080", "tcp:10.0.0.1:8080", true},
		{"tcp:[::ffff:10.0.0.1]:8080", "tcp:10.0.0.1:8080", true},
		{"tcp:10.0.0.1:8080", "tcp:10.0.0.2:8080", false},
		{"tcp:0.0.0.0:8080", "tcp:0.0.0.0:8081", false},
		{"tcp:0.0.0.0:8080", "udp:0.0.0.0:8080", false},
	} {
		if got := ListenOverlap(spec(c.a), spec(c.b)); got != c.want {
			t.Errorf("ListenOverlap(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := ListenOverlap(spec(c.b), spec(c.a)); got != c.want {
			t.Errorf("ListenOverlap(%s, %s) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

// TestProxyStartOn serves a forward on a socket bound before (as lxmgrd
// binds it and hands it to its forkproxy child), dialling through an
// already open namespace fd (/proc/self/fd/N, as the child does), and
// refuses a socket of the wrong protocol.
func TestProxyStartOn(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	guest := newGuestNetns(t)
	echoServers(t, guest)
	ns, err := os.Open(guest.path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	target := func() (string, error) { return fmt.Sprintf("/proc/self/fd/%d", ns.Fd()), nil }
	spec, _ := ParseProxy("tcp:127.0.0.1:18085", "tcp:127.0.0.1:7")
	p := NewProxies()
	t.Cleanup(p.StopAll)

	pc, err := net.ListenPacket("udp", "127.0.0.1:18085")
	if err != nil {
		t.Fatal(err)
	}
	uf, _ := pc.(*net.UDPConn).File()
	pc.Close()
	if err := p.StartOn("k", spec, uf, target); !errors.Is(err, ErrInvalid) {
		t.Errorf("a UDP socket for a TCP forward: %v, want ErrInvalid", err)
	}
	uf.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:18085")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := ln.(*net.TCPListener).File()
	ln.Close() // the proxy must hold its own copy of the socket
	if err := p.StartOn("k", spec, f, target); err != nil {
		t.Fatal(err)
	}
	f.Close()
	c, err := net.Dial("tcp", "127.0.0.1:18085")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write([]byte("ping"))
	c.(*net.TCPConn).CloseWrite()
	if got, err := io.ReadAll(c); err != nil || string(got) != "ping" {
		t.Errorf("through the inherited socket: %q, %v", got, err)
	}
}
