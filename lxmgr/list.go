package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// column is one column of the instance table.
type column struct {
	short  byte // LXD-style shorthand for -c
	name   string
	header string
	value  func(*api.InstanceFull) string
}

// columns lists every column list can show, in shorthand order.
var columns = []column{
	{'n', "name", "NAME", func(i *api.InstanceFull) string { return i.Name }},
	{'s', "status", "STATUS", func(i *api.InstanceFull) string { return strings.ToUpper(instanceStatus(i)) }},
	{'4', "ipv4", "IPV4", func(i *api.InstanceFull) string { return addresses(i, "inet") }},
	{'6', "ipv6", "IPV6", func(i *api.InstanceFull) string { return addresses(i, "inet6") }},
	{'t', "type", "TYPE", instanceType},
	{'r', "ready", "READY", func(i *api.InstanceFull) string { return yesNo(i.State != nil && i.State.Ready) }},
	{'P', "profiles", "PROFILES", func(i *api.InstanceFull) string { return strings.Join(i.Profiles, ",") }},
	{'p', "pid", "PID", func(i *api.InstanceFull) string {
		if i.State == nil || i.State.Pid <= 0 {
			return ""
		}
		return strconv.FormatInt(i.State.Pid, 10)
	}},
	{'m', "memory", "MEMORY", func(i *api.InstanceFull) string {
		if i.State == nil || i.State.Memory.Usage <= 0 {
			return ""
		}
		return api.HumanBytes(i.State.Memory.Usage)
	}},
	{'d', "description", "DESCRIPTION", func(i *api.InstanceFull) string { return i.Description }},
	{'c', "created", "CREATED", func(i *api.InstanceFull) string {
		if i.CreatedAt.IsZero() {
			return ""
		}
		return i.CreatedAt.Local().Format("2006-01-02 15:04")
	}},
}

// defaultColumns is what list shows without -c.
const defaultColumns = "ns4trP"

// parseColumns reads -c: comma-separated column names ("name,status") or
// LXD-style shorthand letters ("ns4t"), or a mix ("ns,memory").
func parseColumns(spec string) ([]column, error) {
	var out []column
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if i := slices.IndexFunc(columns, func(c column) bool { return strings.EqualFold(c.name, tok) }); i >= 0 {
			out = append(out, columns[i])
			continue
		}
		for j := 0; j < len(tok); j++ {
			i := slices.IndexFunc(columns, func(c column) bool { return c.short == tok[j] })
			if i < 0 {
				return nil, fmt.Errorf("unknown column %q in %q (names: %s; letters: %s)", tok[j:j+1], tok, columnNames(), shorthands())
			}
			out = append(out, columns[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no columns in %q", spec)
	}
	return out, nil
}

func columnNames() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return strings.Join(names, ",")
}

func shorthands() string {
	b := make([]byte, len(columns))
	for i, c := range columns {
		b[i] = c.short
	}
	return string(b)
}

// instanceStatus is the live status when the daemon sent state, else the
// stored one.
func instanceStatus(i *api.InstanceFull) string {
	if i.State != nil && i.State.Status != "" {
		return i.State.Status
	}
	return i.Status
}

// instanceType is CONTAINER, flagged when privileged: a privileged guest's
// root is the host's root, so it must stand out everywhere it is shown.
func instanceType(i *api.InstanceFull) string {
	t := strings.ToUpper(i.Type)
	if t == "" {
		t = "CONTAINER"
	}
	if isPrivileged(i.ExpandedConfig) {
		t += " (PRIVILEGED)"
	}
	return t
}

func isPrivileged(cfg map[string]string) bool {
	v := strings.ToLower(cfg["security.privileged"])
	return v == "true" || v == "1" || v == "yes" || v == "on"
}

// addresses lists the addresses of one family ("inet", "inet6") as
// "10.0.3.5 (eth0)", one per line (see layoutRows), loopback and link-local
// ones left out; "-" when none.
func addresses(i *api.InstanceFull, family string) string {
	if i.State == nil {
		return "-"
	}
	ifaces := make([]string, 0, len(i.State.Network))
	for n := range i.State.Network {
		ifaces = append(ifaces, n)
	}
	sort.Strings(ifaces)
	var out []string
	for _, n := range ifaces {
		if n == "lo" {
			continue
		}
		for _, a := range i.State.Network[n].Addresses {
			if a.Family != family || a.Scope == "link" || a.Scope == "local" {
				continue
			}
			out = append(out, fmt.Sprintf("%s (%s)", a.Address, n))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, "\n")
}

// multiLineColumns are the columns whose cells hold one value per line.
var multiLineColumns = map[string]bool{"ipv4": true, "ipv6": true}

// layoutRows fits the multi-value cells (addresses) to the format: in a
// table each value gets its own line, the row's other cells on the first
// line only (as LXD shows them); in csv the values are joined by ",". Other
// cells are left to the renderer, which keeps a row on one line.
func layoutRows(format string, cols []column, rows [][]string) [][]string {
	if format != formatTable && format != formatCSV {
		return rows
	}
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		parts := make([][]string, len(r))
		lines := 1
		for i := range r {
			if i < len(cols) && multiLineColumns[cols[i].name] {
				parts[i] = strings.Split(r[i], "\n")
				lines = max(lines, len(parts[i]))
			}
		}
		if format == formatCSV || lines == 1 {
			row := slices.Clone(r)
			for i := range row {
				if parts[i] != nil {
					row[i] = strings.Join(parts[i], ",")
				}
			}
			out = append(out, row)
			continue
		}
		for l := 0; l < lines; l++ {
			row := make([]string, len(r))
			for i := range r {
				switch {
				case parts[i] != nil && l < len(parts[i]):
					row[i] = parts[i][l]
				case parts[i] == nil && l == 0:
					row[i] = r[i]
				}
			}
			out = append(out, row)
		}
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// instanceRows renders the table rows of insts.
func instanceRows(insts []api.InstanceFull, cols []column) (header []string, rows [][]string) {
	header = make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	rows = make([][]string, 0, len(insts))
	for k := range insts {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.value(&insts[k])
		}
		rows = append(rows, row)
	}
	return header, rows
}

// listRow is an instance as the table needs it: the config and device maps,
// most of a list's bytes, are skipped undecoded but for the one key a
// column reads.
type listRow struct {
	api.InstanceFull
	Config          skipJSON `json:"config"`
	Devices         skipJSON `json:"devices"`
	ExpandedDevices skipJSON `json:"expanded_devices"`
	ExpandedConfig  struct {
		Privileged *string `json:"security.privileged"`
	} `json:"expanded_config"`
}

// skipJSON takes any JSON value and keeps nothing.
type skipJSON struct{}

func (*skipJSON) UnmarshalJSON([]byte) error { return nil }

// getListRows lists the instances decoding only what the table columns
// and name/status filters read.
func getListRows(ctx context.Context, c *client.Client) ([]api.InstanceFull, error) {
	var rows []listRow
	if err := c.GetInstancesInto(ctx, &rows); err != nil {
		return nil, err
	}
	return fromListRows(rows), nil
}

func fromListRows(rows []listRow) []api.InstanceFull {
	out := make([]api.InstanceFull, len(rows))
	for i := range rows {
		out[i] = rows[i].InstanceFull
		if p := rows[i].ExpandedConfig.Privileged; p != nil {
			out[i].ExpandedConfig = map[string]string{"security.privileged": *p}
		}
	}
	return out
}

func newListCmd(g *globals) *cobra.Command {
	var format, cols string
	cmd := &cobra.Command{
		Use:     "list [FILTER...]",
		Aliases: []string{"ls"},
		Short:   "List instances",
		Long: "List instances with their state, in one request to the daemon.\n\n" +
			"Filters: a bare word matches a name prefix (any of several words); key=value matches\n" +
			"the expanded config exactly (status=running and name=NAME are special). All key=value\n" +
			"filters must match.\n\n" +
			"Columns (-c): names " + columnNames() + ", or letters " + shorthands() + "\n" +
			"(n name, s status, 4 ipv4, 6 ipv6, t type, r ready, P profiles, p pid, m memory,\n" +
			"d description, c created). Default: " + defaultColumns + ".",
		Example: "  lxmgr list\n  lxmgr list web status=running\n  lxmgr list -c ns4m\n  lxmgr list --format json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			cs, err := parseColumns(cols)
			if err != nil {
				return err
			}
			filter := parseFilters(args)
			var insts []api.InstanceFull
			if (format == "table" || format == "csv") && !filter.needsConfig() {
				insts, err = getListRows(cmd.Context(), g.client())
			} else {
				insts, err = g.client().GetInstances(cmd.Context())
			}
			if err != nil {
				return fmt.Errorf("list instances: %w", err)
			}
			insts = filterInstances(insts, filter)
			sort.SliceStable(insts, func(a, b int) bool { return insts[a].Name < insts[b].Name })
			header, rows := instanceRows(insts, cs)
			return writeOutput(os.Stdout, format, header, layoutRows(format, cs, rows), insts)
		},
	}
	addFormatFlag(cmd, &format)
	cmd.Flags().StringVarP(&cols, "columns", "c", defaultColumns, "columns to show (table and csv)")
	return cmd
}
