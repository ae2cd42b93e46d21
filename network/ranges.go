package network

import (
	"fmt"
	"net/netip"
	"strings"
)

// Range is an inclusive range of IPv4 addresses handed out by DHCP.
type Range struct{ Start, End netip.Addr }

// String renders r as "start-end", the config syntax.
func (r Range) String() string { return r.Start.String() + "-" + r.End.String() }

// parseRangeList parses "a-b[,c-d]" without looking at a subnet.
func parseRangeList(v string) ([]Range, error) {
	var out []Range
	for _, part := range strings.Split(v, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("range %q is not start-end", part)
		}
		start, err1 := netip.ParseAddr(strings.TrimSpace(a))
		end, err2 := netip.ParseAddr(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || !start.Is4() || !end.Is4() {
			return nil, fmt.Errorf("range %q: not two IPv4 addresses", part)
		}
		if end.Less(start) {
			return nil, fmt.Errorf("range %q ends before it starts", part)
		}
		out = append(out, Range{start, end})
	}
	return out, nil
}

// ParseRanges parses an ipv4.dhcp.ranges value and checks that every range
// lies inside gw's subnet (excluding its network and broadcast addresses) and
// does not contain the gateway gw.Addr().
func ParseRanges(v string, gw netip.Prefix) ([]Range, error) {
	rs, err := parseRangeList(v)
	if err != nil {
		return nil, err
	}
	subnet := gw.Masked()
	for _, r := range rs {
		if !subnet.Contains(r.Start) || !subnet.Contains(r.End) ||
			r.Start == subnet.Addr() || r.End == broadcast(gw) {
			return nil, fmt.Errorf("range %s is not inside the hosts of subnet %s", r, subnet)
		}
		if !gw.Addr().Less(r.Start) && !r.End.Less(gw.Addr()) {
			return nil, fmt.Errorf("range %s contains the gateway %s", r, gw.Addr())
		}
	}
	return rs, nil
}

// DefaultRanges returns every host address of gw's subnet except the
// gateway: one range, or two when the gateway is in the middle.
func DefaultRanges(gw netip.Prefix) []Range {
	first := gw.Masked().Addr().Next()
	last := broadcast(gw).Prev()
	g := gw.Addr()
	var out []Range
	if first.Less(g) {
		out = append(out, Range{first, g.Prev()})
	}
	if g.Less(last) {
		out = append(out, Range{g.Next(), last})
	}
	return out
}

// DHCPRanges returns the DHCP ranges a network's config asks for: nil when
// the network has no IPv4 address or ipv4.dhcp is false, the parsed
// ipv4.dhcp.ranges, or DefaultRanges. The config must have been validated
// and ipv4.address resolved.
func DHCPRanges(cfg map[string]string) ([]Range, error) {
	gw, err := Subnet(cfg[KeyIPv4Address])
	if err != nil || !gw.IsValid() {
		return nil, err
	}
	on, err := ParseBool(cfg[KeyIPv4DHCP], true)
	if err != nil {
		return nil, fmt.Errorf("%w: config %s: %v", ErrInvalid, KeyIPv4DHCP, err)
	}
	if !on {
		return nil, nil
	}
	if v := cfg[KeyDHCPRanges]; v != "" {
		rs, err := ParseRanges(v, gw)
		if err != nil {
			return nil, fmt.Errorf("%w: config %s: %v", ErrInvalid, KeyDHCPRanges, err)
		}
		return rs, nil
	}
	return DefaultRanges(gw), nil
}
