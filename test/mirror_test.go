package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// debootstrapMirrorHost reads the host of debootstrap's own default mirror
// from the installed debootstrap: the repo names no mirror, and this is the
// one a plain `lxmgr image build debian/12` uses.
func debootstrapMirrorHost() (string, error) {
	f, err := os.Open("/usr/sbin/debootstrap")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "DEF_MIRROR=")
		if !ok {
			continue
		}
		u, err := url.Parse(strings.Trim(v, `"'`))
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("debootstrap's DEF_MIRROR %q: not a URL", v)
		}
		return u.Host, nil
	}
	return "", fmt.Errorf("no DEF_MIRROR in /usr/sbin/debootstrap")
}

// mirrorProxy is a forward HTTP proxy for the daemon under test, whose
// network namespace has no route out: it listens on the namespace's
// loopback and passes plain GET and HEAD requests for debootstrap's default
// mirror host, and nothing else, on from the host's namespace.
type mirrorProxy struct {
	host string
	l    net.Listener
}

// startMirrorProxy starts the proxy on 127.0.0.1 inside netns.
func startMirrorProxy(netns string) (*mirrorProxy, error) {
	host, err := debootstrapMirrorHost()
	if err != nil {
		return nil, err
	}
	l, err := listenInNetns(netns)
	if err != nil {
		return nil, err
	}
	p := &mirrorProxy{host: host, l: l}
	go http.Serve(l, p)
	return p, nil
}

// URL is the proxy's address as seen from the namespace.
func (p *mirrorProxy) URL() string { return "http://" + p.l.Addr().String() }

func (p *mirrorProxy) Close() { p.l.Close() }

func (p *mirrorProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || r.URL.Scheme != "http" || r.URL.Host != p.host {
		http.Error(w, "only GET/HEAD to "+p.host+" is forwarded", http.StatusForbidden)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, h := range []string{"Range", "If-Modified-Since", "If-None-Match", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// listenInNetns opens a TCP listener on 127.0.0.1 inside the named network
// namespace. A socket stays in the namespace it was made in, so only the
// thread making it needs to switch; that thread is never switched back but
// dropped (its goroutine ends locked to it).
func listenInNetns(netns string) (net.Listener, error) {
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		f, err := os.Open("/run/netns/" + netns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("enter netns %s: %w", netns, err)}
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ch <- result{l, err}
	}()
	r := <-ch
	return r.l, r.err
}
