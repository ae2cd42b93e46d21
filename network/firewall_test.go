package network

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestRenderFirewallRefusesBadNames(t *testing.T) {
	for _, r := range []NATRule{
		{Network: `a"b`, Bridge: "br0"},
		{Network: "n", Bridge: "br0; drop"},
		{Network: "n", Bridge: "br0", Masquerade: true},
	} {
		if _, err := renderFirewall([]NATRule{r}); !errors.Is(err, ErrInvalid) {
			t.Errorf("rule %+v rendered: %v", r, err)
		}
	}
}

func TestFirewall(t *testing.T) {
	if inFreshNetns(t) {
		return
	}
	ctx := context.Background()
	if s, err := FirewallRules(ctx); err != nil || s != "" {
		t.Fatalf("rules before: %q, %v", s, err)
	}
	rules := []NATRule{
		{Network: "n1", Bridge: "lxt1", Subnet: netip.MustParsePrefix("10.231.5.1/24"), Masquerade: true},
		{Network: "n2", Bridge: "lxt2", Subnet: netip.MustParsePrefix("10.231.6.1/24")},
	}
	if err := SyncFirewall(ctx, rules); err != nil {
		t.Fatal(err)
	}
	s, err := FirewallRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`ip saddr 10.231.5.0/24 ip daddr != 10.231.5.0/24 masquerade comment "lxmgr net n1"`,
		`iifname "lxt1" accept comment "lxmgr net n1"`,
		`oifname "lxt2" accept comment "lxmgr net n2"`,
		`iifname "lxt2" udp dport { 53, 67 } accept`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "10.231.6.0/24") {
		t.Errorf("n2 (no NAT) is masqueraded:\n%s", s)
	}
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); strings.TrimSpace(string(b)) != "1" {
		t.Errorf("ip_forward = %q in the test netns", b)
	}
	// A sync replaces, it does not append.
	if err := SyncFirewall(ctx, rules[1:]); err != nil {
		t.Fatal(err)
	}
	if s, _ = FirewallRules(ctx); strings.Contains(s, "n1") || strings.Count(s, "lxmgr net n2") != 4 {
		t.Errorf("after second sync:\n%s", s)
	}
	for range 2 { // empty state deletes the table, also when it is gone
		if err := SyncFirewall(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if s, err := FirewallRules(ctx); err != nil || s != "" {
			t.Fatalf("rules after empty sync: %q, %v", s, err)
		}
	}
}
