package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Lease is one DHCP lease from a network's dnsmasq. A zero Expiry means an
// infinite lease; Hostname is "" when the client sent none. ClientID is the
// client identifier (option 61) as the lease file writes it ("01:00:16:..."),
// "" when the client sent none: a release must quote it to be recognised.
type Lease struct {
	MAC, Hostname, ClientID string
	IP                      netip.Addr
	Expiry                  time.Time
}

// Live reports whether the lease still holds at now: dnsmasq leaves an
// expired lease in its file until it next rewrites it.
func (l Lease) Live(now time.Time) bool { return l.Expiry.IsZero() || now.Before(l.Expiry) }

// leaseCache keeps the last parse of each lease file, keyed by path, so
// listing hundreds of guests does not re-read an unchanged file.
var leaseCache = struct {
	sync.Mutex
	m map[string]cachedLeases
}{m: map[string]cachedLeases{}}

type cachedLeases struct {
	mtime  time.Time
	size   int64
	leases []Lease
}

// Leases returns the IPv4 leases in dir's dnsmasq lease file; a missing file
// is no leases. The parse is cached by the file's mtime and size, so calling
// it on every list is cheap. The caller may modify the returned slice.
func Leases(dir string) ([]Lease, error) {
	path := filepath.Join(dir, leaseFile)
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	leaseCache.Lock()
	c, ok := leaseCache.m[path]
	leaseCache.Unlock()
	if ok && c.mtime.Equal(st.ModTime()) && c.size == st.Size() {
		return slices.Clone(c.leases), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("leases: %w", err)
	}
	ls, err := parseLeases(b)
	if err != nil {
		return nil, fmt.Errorf("leases %s: %w", path, err)
	}
	leaseCache.Lock()
	leaseCache.m[path] = cachedLeases{st.ModTime(), st.Size(), ls}
	leaseCache.Unlock()
	return slices.Clone(ls), nil
}

// parseLeases parses dnsmasq's lease file: "expiry mac ip hostname
// client-id" per line, hostname "*" when unknown. The "duid" line and IPv6
// leases are skipped; so are malformed lines, as dnsmasq may be rewriting
// the file while we read it.
func parseLeases(b []byte) ([]Lease, error) {
	var out []Lease
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] == "duid" {
			continue
		}
		exp, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		ip, err := netip.ParseAddr(f[2])
		if err != nil || !ip.Is4() {
			continue
		}
		mac, err := net.ParseMAC(f[1])
		if err != nil {
			continue
		}
		l := Lease{MAC: mac.String(), IP: ip}
		if f[3] != "*" {
			l.Hostname = f[3]
		}
		if exp > 0 {
			l.Expiry = time.Unix(exp, 0)
		}
		if len(f) > 4 && f[4] != "*" {
			l.ClientID = f[4]
		}
		out = append(out, l)
	}
	return out, sc.Err()
}
