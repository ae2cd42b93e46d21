package main

import (
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

func newNetworkInfoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show a network's runtime state, DHCP leases and users",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateNetworkName(name); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			n, _, err := c.GetNetwork(ctx, name)
			if err != nil {
				return fmt.Errorf("network info %s: %w", name, err)
			}
			// State and leases are extras: a network whose bridge is down
			// or errored still has a description worth printing.
			st, stErr := c.GetNetworkState(ctx, name)
			leases, lErr := c.GetNetworkLeases(ctx, name)
			writeNetworkInfo(os.Stdout, &n, &st, stErr, leases, lErr)
			return nil
		},
	}
}

// writeNetworkInfo prints the human summary of one network. stErr and lErr
// are the errors of reading its state and leases, shown in their place.
func writeNetworkInfo(w io.Writer, n *api.Network, st *api.NetworkState, stErr error, leases []api.NetworkLease, lErr error) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-13s %s\n", k+":", v)
		}
	}
	line("Name", n.Name)
	line("Description", printable(n.Description))
	line("Type", n.Type)
	line("Managed", yesNo(n.Managed))
	line("Status", n.Status)
	if stErr != nil {
		line("State", "unknown ("+oneLine(stErr.Error())+")")
	} else {
		line("State", st.State)
		if st.Mtu > 0 {
			line("MTU", fmt.Sprint(st.Mtu))
		}
		line("MAC address", st.Hwaddr)
		if len(st.Addresses) > 0 {
			fmt.Fprintln(w, "\nIP addresses:")
			for _, a := range st.Addresses {
				fmt.Fprintf(w, "  %-6s %s (%s)\n", a.Family+":", addrWithMask(a.Address, a.Netmask), a.Scope)
			}
		}
		fmt.Fprintln(w, "\nNetwork usage:")
		fmt.Fprintf(w, "  %-18s %s\n", "Bytes received:", api.HumanBytes(st.Counters.BytesReceived))
		fmt.Fprintf(w, "  %-18s %s\n", "Bytes sent:", api.HumanBytes(st.Counters.BytesSent))
		fmt.Fprintf(w, "  %-18s %s\n", "Packets received:", humanCount(st.Counters.PacketsReceived))
		fmt.Fprintf(w, "  %-18s %s\n", "Packets sent:", humanCount(st.Counters.PacketsSent))
	}

	fmt.Fprintln(w, "\nDHCP leases:")
	switch {
	case lErr != nil:
		fmt.Fprintf(w, "  unavailable (%s)\n", oneLine(lErr.Error()))
	case len(leases) == 0:
		fmt.Fprintln(w, "  none")
	default:
		header, rows := leaseRows(leases)
		var b strings.Builder
		renderTable(&b, header, rows)
		for _, l := range strings.SplitAfter(strings.TrimSuffix(b.String(), "\n"), "\n") {
			fmt.Fprint(w, "  "+l)
		}
		fmt.Fprintln(w)
	}

	fmt.Fprintln(w, "\nUsed by:")
	if len(n.UsedBy) == 0 {
		fmt.Fprintln(w, "  nothing")
	}
	for _, u := range n.UsedBy {
		fmt.Fprintf(w, "  - %s\n", describeURL(u))
	}
}

// leaseRows renders the lease table, sorted by address. Hostnames come from
// the guests' DHCP requests: a guest chooses them, so control characters
// (terminal escapes) are masked before they reach the user's terminal.
func leaseRows(leases []api.NetworkLease) (header []string, rows [][]string) {
	header = []string{"HOSTNAME", "MAC", "ADDRESS", "TYPE"}
	ls := append([]api.NetworkLease(nil), leases...)
	sort.SliceStable(ls, func(a, b int) bool { return addrLess(ls[a].Address, ls[b].Address) })
	rows = make([][]string, 0, len(ls))
	for _, l := range ls {
		rows = append(rows, []string{printable(l.Hostname), printable(l.Hwaddr), printable(l.Address), printable(l.Type)})
	}
	return header, rows
}

// addrLess orders IP addresses numerically (10.0.0.9 before 10.0.0.10),
// anything that does not parse after them as text.
func addrLess(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	switch {
	case errA == nil && errB == nil:
		return pa.Less(pb)
	case errA == nil || errB == nil:
		return errA == nil
	}
	return a < b
}

// printable replaces control characters (ESC, newlines, ...) with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// addrWithMask prints an address with its netmask (a prefix length in
// LXD's API): "10.5.0.1/24".
func addrWithMask(addr, mask string) string {
	if mask == "" {
		return addr
	}
	return addr + "/" + mask
}

// humanCount formats a count with SI suffixes ("1.23M"), plain below 1000.
func humanCount(n int64) string {
	if n < 1000 {
		return fmt.Sprint(n)
	}
	units := []string{"k", "M", "G", "T", "P", "E"}
	v := float64(n) / 1000
	i := 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%.2f%s", v, units[i])
}

// describeURL turns an API URL of used_by into "web1 (instance)"; an URL it
// does not recognise is printed as it is.
func describeURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return printable(u)
	}
	parts := strings.Split(strings.Trim(p.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "1.0" {
		return printable(u)
	}
	kind := strings.TrimSuffix(parts[1], "s")
	if kind == "storage-pool" {
		kind = "storage pool"
	}
	desc := parts[2] + " (" + kind + ")"
	if proj := p.Query().Get("project"); proj != "" && proj != "default" {
		desc = parts[2] + " (" + kind + ", project " + proj + ")"
	}
	return printable(desc)
}
