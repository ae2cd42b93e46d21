package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

func newDoctorCmd(g *globals) *cobra.Command {
	var guests int
	var format string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the host limits that break guest density",
		Long: "doctor asks the daemon which host limits (inotify, keyrings, neighbour table, pids,\n" +
			"open files, subordinate ids, cgroup controllers, memory) are enough for --guests guests\n" +
			"(default: the guests it has now), how many guests each allows, and which fails first.\n" +
			"It only reports: the exit code is 0 even when a check fails.",
		Example: "  lxmgr doctor --guests 500",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case formatTable, formatJSON, formatYAML:
			default:
				return &usageError{cmd: cmd, msg: fmt.Sprintf("unknown format %q (want table, json or yaml)", format)}
			}
			n := client.CurrentGuests
			if cmd.Flags().Changed("guests") {
				if guests < 0 {
					return &usageError{cmd: cmd, msg: fmt.Sprintf("--guests must be 0 or more, got %d", guests)}
				}
				n = guests
			}
			rep, err := g.client().GetDoctor(cmd.Context(), n)
			if err != nil {
				return fmt.Errorf("doctor: %w", err)
			}
			switch format {
			case formatJSON:
				return writeJSON(os.Stdout, rep)
			case formatYAML:
				return writeYAML(os.Stdout, rep)
			}
			return writeDoctorTable(os.Stdout, rep, n == client.CurrentGuests)
		},
	}
	cmd.Flags().IntVar(&guests, "guests", 0, "number of guests to check for (default: the daemon's current count)")
	cmd.Flags().StringVarP(&format, "format", "f", formatTable, "output format: table, json or yaml")
	return cmd
}

// writeDoctorTable prints the checks, the first limit and the advice of
// every check that is not OK.
// current says that rep.Guests is the daemon's count rather than a target.
func writeDoctorTable(w io.Writer, rep api.DoctorReport, current bool) error {
	rows := make([][]string, 0, len(rep.Checks))
	for _, c := range rep.Checks {
		rows = append(rows, []string{c.Name, c.Current, c.Needed, maxGuestsCell(c.MaxGuests), doctorStatus(c)})
	}
	if err := renderTable(w, []string{"CHECK", "CURRENT", "NEEDED", "MAX GUESTS", "STATUS"}, rows); err != nil {
		return err
	}
	what := "target"
	if current {
		what = "the daemon's current count"
	}
	fmt.Fprintf(w, "\nChecked for %s (%s).\n", plural(rep.Guests, "guest"), what)
	if rep.FirstLimit == "" {
		fmt.Fprintln(w, "First limit: none (no checked limit bounds the number of guests)")
	} else {
		fmt.Fprintf(w, "First limit: %s at %s\n", rep.FirstLimit, plural(rep.FirstLimitGuests, "guest"))
	}
	first := true
	for _, c := range rep.Checks {
		if c.OK {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nAdvice:")
			first = false
		}
		fmt.Fprintf(w, "  %s: %s\n", c.Name, oneLine(c.Advice))
	}
	return nil
}

func maxGuestsCell(n int) string {
	if n == api.DoctorUnlimited {
		return "-"
	}
	return strconv.Itoa(n)
}

func doctorStatus(c api.DoctorCheck) string {
	switch {
	case c.Current == "unknown":
		return "UNKNOWN"
	case c.OK:
		return "OK"
	}
	return "WARN"
}
