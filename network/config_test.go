package network

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"lxdbr0", true},
		{"br_test-1", true},
		{"a", true},
		{"abcdefghijklmno", true}, // 15
		{"abcdefghijklmnop", false},
		{"", false},
		{"0br", false},
		{"-br", false},
		{"_br", false},
		{"br/0", false},
		{"br 0", false},
		{"br:0", false},
		{"br.0", false},
		{"br\n0", false},
		{"..", false},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if (err == nil) != c.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ValidateName(%q) error %v does not wrap api.ErrInvalid", c.name, err)
		}
	}
}

func TestValidateConfig(t *testing.T) {
	cases := []struct {
		desc string
		cfg  map[string]string
		want string // "" = valid, else a substring of the error
	}{
		{"empty", nil, ""},
		{"full", map[string]string{
			"ipv4.address": "10.1.2.1/24", "ipv4.nat": "true", "ipv4.dhcp": "yes",
			"ipv4.dhcp.ranges": "10.1.2.50-10.1.2.150,10.1.2.200-10.1.2.210",
			"dns.domain":       "guests.example", "bridge.mtu": "9000", "user.note": "hi there",
			"ipv6.address": "none",
		}, ""},
		{"auto", map[string]string{"ipv4.address": "auto", "ipv4.dhcp.ranges": "10.0.0.5-10.0.0.9"}, ""},
		{"none", map[string]string{"ipv4.address": "none"}, ""},
		{"bad cidr", map[string]string{"ipv4.address": "10.1.2.1"}, "ipv4.address"},
		{"bad cidr 2", map[string]string{"ipv4.address": "10.1.2.300/24"}, "ipv4.address"},
		{"ipv6 gw", map[string]string{"ipv4.address": "fd00::1/64"}, "IPv4"},
		{"network address", map[string]string{"ipv4.address": "10.1.2.0/24"}, "network address"},
		{"broadcast", map[string]string{"ipv4.address": "10.1.2.255/24"}, "broadcast"},
		{"prefix /31", map[string]string{"ipv4.address": "10.1.2.1/31"}, "prefix length"},
		{"range outside", map[string]string{"ipv4.address": "10.1.2.1/24", "ipv4.dhcp.ranges": "10.1.3.5-10.1.3.9"}, "not inside"},
		{"range half outside", map[string]string{"ipv4.address": "10.1.2.1/24", "ipv4.dhcp.ranges": "10.1.2.200-10.1.3.9"}, "not inside"},
		{"range has gateway", map[string]string{"ipv4.address": "10.1.2.100/24", "ipv4.dhcp.ranges": "10.1.2.50-10.1.2.150"}, "gateway"},
		{"range has broadcast", map[string]string{"ipv4.address": "10.1.2.1/24", "ipv4.dhcp.ranges": "10.1.2.50-10.1.2.255"}, "not inside"},
		{"range reversed", map[string]string{"ipv4.address": "10.1.2.1/24", "ipv4.dhcp.ranges": "10.1.2.150-10.1.2.50"}, "ends before"},
		{"range syntax", map[string]string{"ipv4.dhcp.ranges": "10.1.2.50"}, "start-end"},
		{"range without address", map[string]string{"ipv4.address": "none", "ipv4.dhcp.ranges": "10.1.2.5-10.1.2.9"}, "needs"},
		{"nat without address", map[string]string{"ipv4.address": "none", "ipv4.nat": "true"}, "needs"},
		{"unknown key", map[string]string{"ipv4.firewall": "true"}, `"ipv4.firewall"`},
		{"bare user.", map[string]string{"user.": "x"}, "unknown"},
		{"newline", map[string]string{"user.x": "a\nb"}, "newline"},
		{"nul", map[string]string{"dns.domain": "a\x00b"}, "newline or NUL"},
		{"bad bool", map[string]string{"ipv4.nat": "maybe"}, "boolean"},
		{"mtu low", map[string]string{"bridge.mtu": "500"}, "576"},
		{"mtu text", map[string]string{"bridge.mtu": "big"}, "576"},
		{"domain", map[string]string{"dns.domain": "-bad"}, "dns.domain"},
		{"domain space", map[string]string{"dns.domain": "a b"}, "dns.domain"},
		{"ipv6 managed", map[string]string{"ipv6.address": "auto"}, "not managed"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			err := ValidateConfig(c.cfg)
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestSubnetAndRanges(t *testing.T) {
	gw, err := Subnet("10.231.5.1/24")
	if err != nil || gw.Addr() != netip.MustParseAddr("10.231.5.1") || gw.Masked().String() != "10.231.5.0/24" {
		t.Fatalf("Subnet = %v, %v", gw, err)
	}
	if p, err := Subnet("none"); err != nil || p.IsValid() {
		t.Fatalf("Subnet(none) = %v, %v", p, err)
	}
	if _, err := Subnet("auto"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Subnet(auto) = %v", err)
	}
	cases := []struct {
		cfg  map[string]string
		want string
	}{
		{map[string]string{"ipv4.address": "10.231.5.1/24"}, "[10.231.5.2-10.231.5.254]"},
		{map[string]string{"ipv4.address": "10.231.5.100/24"}, "[10.231.5.1-10.231.5.99 10.231.5.101-10.231.5.254]"},
		{map[string]string{"ipv4.address": "10.231.5.1/24", "ipv4.dhcp": "false"}, "[]"},
		{map[string]string{"ipv4.address": "none"}, "[]"},
		{map[string]string{"ipv4.address": "10.231.5.1/24", "ipv4.dhcp.ranges": "10.231.5.10-10.231.5.20"}, "[10.231.5.10-10.231.5.20]"},
	}
	for _, c := range cases {
		rs, err := DHCPRanges(c.cfg)
		if err != nil {
			t.Fatalf("DHCPRanges(%v): %v", c.cfg, err)
		}
		var s []string
		for _, r := range rs {
			s = append(s, r.String())
		}
		if got := "[" + strings.Join(s, " ") + "]"; got != c.want {
			t.Errorf("DHCPRanges(%v) = %s, want %s", c.cfg, got, c.want)
		}
	}
	if d := Domain(nil); d != "lxmgr" {
		t.Errorf("Domain default %q", d)
	}
}

func TestDNSMasqArgsAndHosts(t *testing.T) {
	m := DNSMasq{Network: "n1", Bridge: "lxt0", Dir: "/x/n1", Gateway: netip.MustParsePrefix("10.231.5.1/24"),
		Ranges: []Range{{netip.MustParseAddr("10.231.5.50"), netip.MustParseAddr("10.231.5.60")}},
		Hosts: []Host{
			{MAC: "00:16:3E:00:00:01", Name: "web1", IP: netip.MustParseAddr("10.231.5.10")},
			{MAC: "00:16:3e:00:00:02", Name: "web2"},
		}}
	args := m.args()
	for _, want := range []string{"--conf-file=/dev/null", "--interface=lxt0", "--listen-address=10.231.5.1",
		"--dhcp-range=10.231.5.50,10.231.5.60,255.255.255.0,1h", "--dhcp-lease-max=254", "--domain=lxmgr", "--local=/lxmgr/",
		"--pid-file=/x/n1/dnsmasq.pid", "--dhcp-hostsfile=/x/n1/dhcp-hosts", "--dhcp-leasefile=/x/n1/dnsmasq.leases"} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %v", want, args)
		}
	}
	m.Gateway = netip.MustParsePrefix("10.231.4.1/22")
	if !slices.Contains(m.args(), "--dhcp-lease-max=1022") {
		t.Errorf("a /22 should allow 1022 leases: %v", m.args())
	}
	m.Ranges = nil
	if slices.ContainsFunc(m.args(), func(a string) bool { return strings.HasPrefix(a, "--dhcp-range") }) {
		t.Errorf("DHCP off still has a range")
	}
	text, err := m.hostsText()
	if want := "00:16:3e:00:00:01,10.231.5.10,web1\n00:16:3e:00:00:02,web2\n"; err != nil || string(text) != want {
		t.Errorf("hosts = %q, %v; want %q", text, err, want)
	}
	for _, h := range []Host{{MAC: "zz", Name: "a"}, {MAC: "00:16:3e:00:00:01", Name: "a,b"}, {MAC: "00:16:3e:00:00:01", Name: "a.b"}} {
		m.Hosts = []Host{h}
		if _, err := m.hostsText(); !errors.Is(err, ErrInvalid) {
			t.Errorf("host %+v accepted: %v", h, err)
		}
	}
}

func TestParseProxy(t *testing.T) {
	cases := []struct {
		listen, connect string
		ok              bool
	}{
		{"tcp:0.0.0.0:8080", "tcp:127.0.0.1:80", true},
		{"udp:127.0.0.1:53", "udp:127.0.0.1:53", true},
		{"tcp:[::]:8080", "tcp:[::1]:80", true},
		{"tcp:0.0.0.0:8080", "udp:127.0.0.1:80", false},
		{"sctp:0.0.0.0:8080", "sctp:127.0.0.1:80", false},
		{"tcp:localhost:8080", "tcp:127.0.0.1:80", false},
		{"tcp:0.0.0.0:0", "tcp:127.0.0.1:80", false},
		{"tcp:0.0.0.0:70000", "tcp:127.0.0.1:80", false},
		{"tcp:0.0.0.0", "tcp:127.0.0.1:80", false},
		{"0.0.0.0:80", "tcp:127.0.0.1:80", false},
	}
	for _, c := range cases {
		_, err := ParseProxy(c.listen, c.connect)
		if (err == nil) != c.ok {
			t.Errorf("ParseProxy(%q, %q) = %v, want ok=%v", c.listen, c.connect, err, c.ok)
		}
		if err != nil && !errors.Is(err, api.ErrInvalid) {
			t.Errorf("ParseProxy error %v does not wrap api.ErrInvalid", err)
		}
	}
}
