package network

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// serveTCP accepts until the listener is closed.
func (px *proxy) serveTCP() {
	defer px.wg.Done()
	for {
		c, err := px.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of fds and the like: back off instead of spinning.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !px.track(c) {
			c.Close()
			return
		}
		px.wg.Add(1)
		go px.forwardTCP(c)
	}
}

// forwardTCP copies both ways; each direction's EOF is passed on as a
// half-close so protocols that shut down one side keep working.
func (px *proxy) forwardTCP(c net.Conn) {
	defer px.wg.Done()
	defer px.untrack(c)
	up, err := px.dial()
	if err != nil {
		return // guest not running or refusing: drop the client
	}
	if !px.track(up) {
		up.Close()
		return
	}
	defer px.untrack(up)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(up, c) }()
	go func() { defer wg.Done(); pipe(c, up) }()
	wg.Wait()
}

// pipe copies src to dst, then half-closes dst's write side.
func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok && err == nil {
		tc.CloseWrite()
		return
	}
	// An error on one side ends the whole connection.
	dst.Close()
	src.Close()
}

// udpSession is one UDP client's connected socket in the guest's namespace.
type udpSession struct {
	conn net.Conn
	last atomic.Int64 // unix nanoseconds of the client's last datagram
}

// serveUDP reads client datagrams until the socket is closed, keeping one
// session per client address; replies go back from the listen address.
func (px *proxy) serveUDP() {
	defer px.wg.Done()
	pc := px.pc.(*net.UDPConn)
	var mu sync.Mutex
	sessions := map[netip.AddrPort]*udpSession{}
	buf := make([]byte, 64*1024)
	for {
		n, from, err := pc.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		mu.Lock()
		s := sessions[from]
		mu.Unlock()
		if s == nil {
			up, err := px.dial()
			if err != nil {
				continue // guest not running: drop the datagram
			}
			if !px.track(up) {
				up.Close()
				return
			}
			s = &udpSession{conn: up}
			mu.Lock()
			sessions[from] = s
			mu.Unlock()
			px.wg.Add(1)
			go func() {
				defer px.wg.Done()
				px.udpReplies(pc, from, s)
				mu.Lock()
				delete(sessions, from)
				mu.Unlock()
				px.untrack(up)
			}()
		}
		s.last.Store(time.Now().UnixNano())
		s.conn.Write(buf[:n])
	}
}

// udpReplies sends the guest's replies to the client until the session has
// been idle for px.idle or is closed.
func (px *proxy) udpReplies(pc *net.UDPConn, client netip.AddrPort, s *udpSession) {
	buf := make([]byte, 64*1024)
	for {
		s.conn.SetReadDeadline(time.Now().Add(px.idle))
		n, err := s.conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() &&
				time.Since(time.Unix(0, s.last.Load())) < px.idle {
				continue // the client is still sending
			}
			return
		}
		if _, err := pc.WriteToUDPAddrPort(buf[:n], client); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}
