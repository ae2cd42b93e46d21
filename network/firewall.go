package network

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// firewallTable is the daemon's own nftables table. lxmgr never touches any
// other table: the host's policy stays the admin's.
const firewallTable = "inet lxmgr"

// NATRule is the firewall state of one managed network: forwarding to and
// from Bridge is accepted, DNS/DHCP from guests to the host is accepted,
// and when Masquerade is set traffic from Subnet to outside it is
// masqueraded.
type NATRule struct {
	Network, Bridge string
	Subnet          netip.Prefix
	Masquerade      bool
}

// renderFirewall returns the nft script that replaces our table with rules
// in one transaction: "add table" makes the "delete table" safe when the
// table is missing, and nft applies the whole script atomically.
func renderFirewall(rules []NATRule) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s\ndelete table %s\n", firewallTable, firewallTable)
	if len(rules) == 0 {
		return b.String(), nil
	}
	var post, fwd, in strings.Builder
	for _, r := range rules {
		if err := ValidateName(r.Network); err != nil {
			return "", err
		}
		if err := ValidateName(r.Bridge); err != nil {
			return "", err
		}
		comment := fmt.Sprintf("comment \"lxmgr net %s\"", r.Network)
		if r.Masquerade {
			if !r.Subnet.IsValid() || !r.Subnet.Addr().Is4() {
				return "", fmt.Errorf("%w: network %q: masquerade needs an IPv4 subnet", ErrInvalid, r.Network)
			}
			s := r.Subnet.Masked()
			fmt.Fprintf(&post, "\t\tip saddr %s ip daddr != %s masquerade %s\n", s, s, comment)
		}
		fmt.Fprintf(&fwd, "\t\tiifname %q accept %s\n\t\toifname %q accept %s\n", r.Bridge, comment, r.Bridge, comment)
		fmt.Fprintf(&in, "\t\tiifname %q udp dport { 53, 67 } accept %s\n\t\tiifname %q tcp dport 53 accept %s\n",
			r.Bridge, comment, r.Bridge, comment)
	}
	fmt.Fprintf(&b, "table %s {\n", firewallTable)
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n%s\t}\n", post.String())
	// policy accept: we add openings for our bridges, we do not own the
	// host's forwarding policy.
	fmt.Fprintf(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n%s\t}\n", fwd.String())
	fmt.Fprintf(&b, "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n%s\t}\n", in.String())
	b.WriteString("}\n")
	return b.String(), nil
}

// SyncFirewall replaces the daemon's nftables table with the one rules
// describe, atomically (one nft transaction), so a restart or a network
// delete is just another sync. No rules deletes the table. When any rule
// masquerades, IPv4 forwarding is switched on in the current namespace (it
// is never switched off: other users of the host may rely on it).
func SyncFirewall(ctx context.Context, rules []NATRule) error {
	script, err := renderFirewall(rules)
	if err != nil {
		return err
	}
	if _, err := nft(ctx, script, "-f", "-"); err != nil {
		return fmt.Errorf("sync firewall: %w", err)
	}
	for _, r := range rules {
		if r.Masquerade {
			if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644); err != nil {
				return fmt.Errorf("enable ipv4 forwarding: %w", err)
			}
			break
		}
	}
	return nil
}

// FirewallRules returns the ruleset of the daemon's table as nft lists it,
// or "" when the table does not exist.
func FirewallRules(ctx context.Context) (string, error) {
	out, err := nft(ctx, "", "list", "tables", "inet")
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "table "+firewallTable+"\n") {
		return "", nil
	}
	return nft(ctx, "", "list", "table", "inet", "lxmgr")
}

// nft runs the nft command with stdin and returns its stdout.
func nft(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, sbin("nft"), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
