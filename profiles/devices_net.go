package profiles

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// nicKeys are the keys of a "nic" device (bridged onto a managed network or
// an existing bridge given as parent).
var nicKeys = map[string]func(string) error{
	"type":           validAny,
	"nictype":        validNICType,
	"network":        validIfName,
	"parent":         validIfName,
	"name":           validIfName,
	"host_name":      validIfName,
	"hwaddr":         validMAC,
	"ipv4.address":   validIPv4,
	"mtu":            func(v string) error { return validIntRange(v, 576, 9000) },
	"limits.ingress": validBitRate,
	"limits.egress":  validBitRate,
}

// proxyKeys are the keys of a "proxy" device (a port forward from the host
// into the guest).
var proxyKeys = map[string]func(string) error{
	"type":    validAny,
	"listen":  validProxyAddr,
	"connect": validProxyAddr,
	"bind":    func(v string) error { return oneOf(v, "host") },
}

func checkKeys(name, typ string, dev map[string]string, keys map[string]func(string) error) error {
	names := make([]string, 0, len(dev))
	for k := range dev {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		check, ok := keys[k]
		if !ok {
			return fmt.Errorf("device %q: %w: unknown key %q for type %q", name, ErrInvalidDevice, k, typ)
		}
		if err := check(dev[k]); err != nil {
			return fmt.Errorf("device %q: %w: key %q: invalid value %q: %v", name, ErrInvalidDevice, k, dev[k], err)
		}
	}
	return nil
}

func validateNIC(name string, dev map[string]string) error {
	if err := checkKeys(name, "nic", dev, nicKeys); err != nil {
		return err
	}
	if (dev["network"] == "") == (dev["parent"] == "") {
		return fmt.Errorf("device %q: %w: a nic needs exactly one of \"network\" or \"parent\"", name, ErrInvalidDevice)
	}
	if dev["name"] == "" {
		if err := validIfName(name); err != nil {
			return fmt.Errorf("device %q: %w: no \"name\" given and the device name is not an interface name: %v", name, ErrInvalidDevice, err)
		}
	}
	return nil
}

func validateProxy(name string, dev map[string]string) error {
	if err := checkKeys(name, "proxy", dev, proxyKeys); err != nil {
		return err
	}
	l, c := dev["listen"], dev["connect"]
	if l == "" || c == "" {
		return fmt.Errorf("device %q: %w: a proxy needs \"listen\" and \"connect\"", name, ErrInvalidDevice)
	}
	if strings.SplitN(l, ":", 2)[0] != strings.SplitN(c, ":", 2)[0] {
		return fmt.Errorf("device %q: %w: listen and connect must use the same protocol", name, ErrInvalidDevice)
	}
	return nil
}

func oneOf(v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

func validNICType(v string) error { return oneOf(v, "bridged") }

// validIfName accepts a Linux interface name: 1-15 characters, no '/',
// ':', whitespace or control characters.
func validIfName(v string) error {
	if v == "" || len(v) > 15 {
		return fmt.Errorf("must be 1 to 15 characters")
	}
	if v == "." || v == ".." || strings.ContainsAny(v, "/: \t") || hasControl(v) {
		return fmt.Errorf("not a valid interface name")
	}
	return nil
}

func validMAC(v string) error {
	_, err := CanonicalMAC(v)
	return err
}

// CanonicalMAC returns an Ethernet MAC written in any notation net.ParseMAC
// reads (00-16-3E-AA-BB-CC, 0016.3eaa.bbcc, ...) in the one form the daemon
// stores and compares: lower-case and colon-separated. Multicast (and so
// broadcast) and all-zero addresses are refused: no guest can own them.
func CanonicalMAC(v string) (string, error) {
	hw, err := net.ParseMAC(v)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("not an Ethernet MAC address")
	}
	if hw[0]&1 == 1 {
		return "", fmt.Errorf("must be a unicast address (the multicast bit of the first byte is set)")
	}
	if [6]byte(hw) == [6]byte{} {
		return "", fmt.Errorf("must not be the all-zero address")
	}
	return hw.String(), nil
}

func validIPv4(v string) error {
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return fmt.Errorf("not an IPv4 address")
	}
	return nil
}

func validIntRange(v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	return nil
}

// ParseBitRate parses a rate such as "10Mbit", "1Gbit", "500kbit" into bits
// per second.
func ParseBitRate(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"Gbit", 1e9}, {"Mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("invalid rate %q", v)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("invalid rate %q (use e.g. 10Mbit, 1Gbit)", v)
}

func validBitRate(v string) error {
	_, err := ParseBitRate(v)
	return err
}

// validProxyAddr accepts "tcp:HOST:PORT" or "udp:HOST:PORT".
func validProxyAddr(v string) error {
	proto, hostport, ok := strings.Cut(v, ":")
	if !ok || (proto != "tcp" && proto != "udp") {
		return fmt.Errorf("must look like tcp:ADDRESS:PORT or udp:ADDRESS:PORT")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("bad address: %v", err)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("address %q is not an IP address", host)
	}
	return validIntRange(port, 1, 65535)
}
