package network

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Config keys of a managed network.
const (
	KeyIPv4Address = "ipv4.address"     // gateway CIDR ("10.1.2.1/24"), "auto" or "none"
	KeyIPv4NAT     = "ipv4.nat"         // bool, default false
	KeyIPv4DHCP    = "ipv4.dhcp"        // bool, default true
	KeyDHCPRanges  = "ipv4.dhcp.ranges" // "a-b[,c-d]" inside the subnet
	KeyIPv6Address = "ipv6.address"     // only "none": IPv6 is not managed
	KeyDNSDomain   = "dns.domain"       // DNS domain of the guests, default "lxmgr"
	KeyBridgeMTU   = "bridge.mtu"       // 576..9000
)

// DefaultDomain is the DNS domain of a network without dns.domain.
const DefaultDomain = "lxmgr"

// configKeys maps each known key to its value check. The check of
// ipv4.dhcp.ranges needs the address, so it is done after the loop.
var configKeys = map[string]func(v string) error{
	KeyIPv4Address: func(v string) error { _, err := parseAddress(v); return err },
	KeyIPv4NAT:     func(v string) error { _, err := ParseBool(v, false); return err },
	KeyIPv4DHCP:    func(v string) error { _, err := ParseBool(v, true); return err },
	KeyDHCPRanges:  func(v string) error { _, err := parseRangeList(v); return err },
	KeyIPv6Address: func(v string) error {
		if v != "" && v != "none" {
			return fmt.Errorf("only \"none\" is supported (IPv6 is not managed)")
		}
		return nil
	},
	KeyDNSDomain: validateDomain,
	KeyBridgeMTU: func(v string) error { _, err := parseMTU(v); return err },
}

// ValidateName checks that name can be a network name, which is also the
// name of its Linux bridge: 1 to 15 characters of ASCII letters, digits, '-'
// and '_', starting with a letter. Errors wrap ErrInvalid.
func ValidateName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: invalid network name %q: %s", ErrInvalid, name, why)
	}
	switch {
	case name == "":
		return fmt.Errorf("%w: network name is empty", ErrInvalid)
	case len(name) > 15:
		return bad("longer than 15 characters (it is the bridge's interface name)")
	case !isLetter(rune(name[0])):
		return bad("must start with a letter")
	}
	for _, r := range name {
		if !isLetter(r) && !(r >= '0' && r <= '9') && r != '-' && r != '_' {
			return bad(fmt.Sprintf("character %q is not allowed (only letters, digits, '-' and '_')", r))
		}
	}
	return nil
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// ValidateConfig checks every key and value of a network's config: unknown
// keys (other than user.*), malformed values, values with a newline, CR or
// NUL, and DHCP ranges outside the subnet or containing the gateway are
// refused with an error wrapping ErrInvalid that names the key.
func ValidateConfig(cfg map[string]string) error {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic: the first bad key in order is reported
	for _, k := range keys {
		v := cfg[k]
		if strings.ContainsAny(k, "\n\r\x00 \t") || k == "" {
			return fmt.Errorf("%w: invalid config key %q", ErrInvalid, k)
		}
		if strings.ContainsAny(v, "\n\r\x00") {
			return fmt.Errorf("%w: config %s: value contains a newline or NUL", ErrInvalid, k)
		}
		if strings.HasPrefix(k, "user.") && len(k) > len("user.") {
			continue
		}
		check, ok := configKeys[k]
		if !ok {
			return fmt.Errorf("%w: unknown network config key %q", ErrInvalid, k)
		}
		if err := check(v); err != nil {
			return fmt.Errorf("%w: config %s=%q: %v", ErrInvalid, k, v, err)
		}
	}
	gw, _ := parseAddress(cfg[KeyIPv4Address])
	addr := cfg[KeyIPv4Address]
	if addr == "none" {
		if nat, _ := ParseBool(cfg[KeyIPv4NAT], false); nat {
			return fmt.Errorf("%w: config %s=true needs %s", ErrInvalid, KeyIPv4NAT, KeyIPv4Address)
		}
		if cfg[KeyDHCPRanges] != "" {
			return fmt.Errorf("%w: config %s needs %s", ErrInvalid, KeyDHCPRanges, KeyIPv4Address)
		}
	}
	if v := cfg[KeyDHCPRanges]; v != "" && gw.IsValid() {
		if _, err := ParseRanges(v, gw); err != nil {
			return fmt.Errorf("%w: config %s=%q: %v", ErrInvalid, KeyDHCPRanges, v, err)
		}
	}
	return nil
}

// Subnet parses an ipv4.address value. It returns the gateway prefix (Addr
// is the bridge's address, Masked() the subnet). For "none" or "" it returns
// the zero (invalid) Prefix and no error; "auto" must have been resolved
// (PickSubnet) before and is an error here.
func Subnet(value string) (netip.Prefix, error) {
	if value == "auto" {
		return netip.Prefix{}, fmt.Errorf("%w: %s=auto is not resolved to a subnet", ErrInvalid, KeyIPv4Address)
	}
	p, err := parseAddress(value)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%w: %s=%q: %v", ErrInvalid, KeyIPv4Address, value, err)
	}
	return p, nil
}

// parseAddress checks an ipv4.address value; "auto", "none" and "" give the
// zero Prefix.
func parseAddress(v string) (netip.Prefix, error) {
	switch v {
	case "", "auto", "none":
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not a CIDR address like 10.1.2.1/24 (or auto, none)")
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("not an IPv4 address")
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return netip.Prefix{}, fmt.Errorf("prefix length must be 8 to 30")
	}
	if p.Addr() == p.Masked().Addr() {
		return netip.Prefix{}, fmt.Errorf("%s is the network address, not a host address", p.Addr())
	}
	if p.Addr() == broadcast(p) {
		return netip.Prefix{}, fmt.Errorf("%s is the broadcast address", p.Addr())
	}
	return p, nil
}

// broadcast returns the last address of p's subnet.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n |= (1 << (32 - p.Bits())) - 1
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// ParseBool parses a boolean config value the way LXD does (true/false,
// yes/no, on/off, 1/0); "" gives def.
func ParseBool(v string, def bool) (bool, error) {
	switch strings.ToLower(v) {
	case "":
		return def, nil
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (true or false)")
}

func parseMTU(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 576 || n > 9000 {
		return 0, fmt.Errorf("must be a number from 576 to 9000")
	}
	return n, nil
}

// MTU returns the bridge.mtu of cfg, 0 when unset (kernel default).
func MTU(cfg map[string]string) (int, error) {
	n, err := parseMTU(cfg[KeyBridgeMTU])
	if err != nil {
		return 0, fmt.Errorf("%w: config %s: %v", ErrInvalid, KeyBridgeMTU, err)
	}
	return n, nil
}

// Domain returns the dns.domain of cfg or DefaultDomain.
func Domain(cfg map[string]string) string {
	if d := cfg[KeyDNSDomain]; d != "" {
		return d
	}
	return DefaultDomain
}

// validateDomain accepts one or more DNS labels separated by dots.
func validateDomain(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("empty or too long label")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with '-'", label)
		}
		for _, r := range label {
			if !isLetter(r) && !(r >= '0' && r <= '9') && r != '-' {
				return fmt.Errorf("character %q is not allowed in a domain", r)
			}
		}
	}
	return nil
}
