package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

func newInfoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show an instance's configuration summary and runtime state",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNames(args[0]); err != nil {
				return err
			}
			c := g.client()
			inst, err := c.GetInstanceFull(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("info %s: %w", args[0], err)
			}
			// Snapshots are an extra: their error is shown in their place.
			snaps, snapErr := c.GetInstanceSnapshots(cmd.Context(), args[0])
			writeInfo(os.Stdout, &inst)
			writeInfoSnapshots(os.Stdout, snaps, snapErr)
			return nil
		},
	}
}

// writeInfo prints the human summary of one instance.
func writeInfo(w io.Writer, i *api.InstanceFull) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-14s %s\n", k+":", v)
		}
	}
	line("Name", i.Name)
	line("Description", i.Description)
	line("Status", strings.ToUpper(instanceStatus(i)))
	line("Type", instanceType(i))
	if isPrivileged(i.ExpandedConfig) {
		line("Privileged", "yes (guest root is host root)")
	}
	line("Architecture", i.Architecture)
	line("Created", formatTime(i.CreatedAt))
	if lu := formatTime(i.LastUsedAt); lu != "" {
		line("Last used", lu)
	} else {
		line("Last used", "never")
	}
	line("Profiles", strings.Join(i.Profiles, ", "))
	line("Image", imageOf(i.ExpandedConfig))
	writeInstanceLimits(w, i.ExpandedConfig)
	if i.State == nil {
		return
	}
	st := i.State
	if st.Pid > 0 {
		line("PID", fmt.Sprint(st.Pid))
	}
	line("Ready", yesNo(st.Ready))
	if st.Pid > 0 {
		fmt.Fprintln(w, "\nResources:")
		fmt.Fprintf(w, "  %-20s %d\n", "Processes:", st.Processes)
		fmt.Fprintf(w, "  %-20s %s\n", "Memory usage:", api.HumanBytes(st.Memory.Usage))
		if st.Memory.UsagePeak > 0 {
			fmt.Fprintf(w, "  %-20s %s\n", "Memory usage (peak):", api.HumanBytes(st.Memory.UsagePeak))
		}
		fmt.Fprintf(w, "  %-20s %s\n", "CPU usage:", (time.Duration(st.CPU.Usage) * time.Nanosecond).Round(time.Millisecond).String())
	}
	writeInstanceDisks(w, st.Disk)
	writeInstanceNetwork(w, st.Network)
}

// writeInstanceLimits prints the "Limits:" section: the limits.* keys in
// effect (profiles included), so usage below can be read against them.
func writeInstanceLimits(w io.Writer, cfg map[string]string) {
	var keys []string
	for _, k := range sortedKeys(cfg) {
		if strings.HasPrefix(k, "limits.") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return
	}
	fmt.Fprintln(w, "\nLimits:")
	for _, k := range keys {
		fmt.Fprintf(w, "  %-20s %s\n", printable(k)+":", printable(cfg[k]))
	}
}

// writeInstanceDisks prints the "Disk:" section: the space each disk
// device uses. It is there for a stopped instance too, since its
// filesystem still takes room.
func writeInstanceDisks(w io.Writer, disks map[string]api.InstanceStateDisk) {
	if len(disks) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDisk:")
	for _, d := range sortedKeys(disks) {
		fmt.Fprintf(w, "  %-20s %s\n", printable(d)+":", api.HumanBytes(disks[d].Usage))
	}
}

// writeInfoSnapshots prints the "Snapshots:" section, oldest first; err is
// the error of reading them, shown in their place.
func writeInfoSnapshots(w io.Writer, snaps []api.InstanceSnapshot, err error) {
	switch {
	case err != nil:
		fmt.Fprintf(w, "\nSnapshots: unknown (%s)\n", oneLine(err.Error()))
		return
	case len(snaps) == 0:
		return
	}
	sortSnapshots(snaps)
	fmt.Fprintln(w, "\nSnapshots:")
	for _, s := range snaps {
		fmt.Fprintf(w, "  %-20s %s\n", printable(snapshotName(s)), formatTime(s.CreatedAt))
	}
}

// writeInstanceNetwork prints the "Network:" section: each interface of the
// guest with its state, MAC address, host-side interface and addresses.
// Names come from inside the guest, so control characters are masked.
func writeInstanceNetwork(w io.Writer, nets map[string]api.InstanceStateNetwork) {
	if len(nets) == 0 {
		return
	}
	fmt.Fprintln(w, "\nNetwork:")
	for _, n := range sortedKeys(nets) {
		nw := nets[n]
		fmt.Fprintf(w, "  %s:\n", printable(n))
		field := func(k, v string) {
			if v != "" {
				fmt.Fprintf(w, "    %-17s %s\n", k+":", printable(v))
			}
		}
		field("Type", nw.Type)
		field("State", strings.ToUpper(nw.State))
		field("Host interface", nw.HostName)
		field("MAC address", nw.Hwaddr)
		if len(nw.Addresses) > 0 {
			fmt.Fprintf(w, "    %s\n", "IP addresses:")
			for _, a := range nw.Addresses {
				fmt.Fprintf(w, "      %-6s %s (%s)\n", a.Family+":", printable(addrWithMask(a.Address, a.Netmask)), printable(a.Scope))
			}
		}
		if c := nw.Counters; c != nil {
			field("Bytes received", api.HumanBytes(c.BytesReceived))
			field("Bytes sent", api.HumanBytes(c.BytesSent))
			field("Packets received", humanCount(c.PacketsReceived))
			field("Packets sent", humanCount(c.PacketsSent))
		}
	}
}

// imageOf describes the image an instance was made from.
func imageOf(cfg map[string]string) string {
	desc, fp := cfg["image.description"], cfg["volatile.base_image"]
	if len(fp) > 12 {
		fp = fp[:12]
	}
	switch {
	case desc != "" && fp != "":
		return fmt.Sprintf("%s (%s)", desc, fp)
	case desc != "":
		return desc
	}
	return fp
}

// formatTime prints a timestamp in local time; the zero time is "" (never).
func formatTime(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
