package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

func newProfileCmd(g *globals) *cobra.Command {
	return newGroupCmd("profile", "Show profiles", newProfileListCmd(g), newProfileShowCmd(g))
}

// profileRows renders the profile table.
func profileRows(profs []api.Profile) (header []string, rows [][]string) {
	header = []string{"NAME", "DESCRIPTION", "USED BY"}
	rows = make([][]string, 0, len(profs))
	for _, p := range profs {
		rows = append(rows, []string{p.Name, p.Description, strconv.Itoa(len(p.UsedBy))})
	}
	return header, rows
}

func newProfileListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List profiles",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			profs, err := g.client().GetProfiles(cmd.Context())
			if err != nil {
				return fmt.Errorf("list profiles: %w", err)
			}
			if profs == nil {
				profs = []api.Profile{}
			}
			sort.SliceStable(profs, func(a, b int) bool { return profs[a].Name < profs[b].Name })
			header, rows := profileRows(profs)
			return writeOutput(os.Stdout, format, header, rows, profs)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newProfileShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a profile as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := api.ValidateName("profile", args[0]); err != nil {
				return err
			}
			p, _, err := g.client().GetProfile(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("show profile %s: %w", args[0], err)
			}
			return writeYAML(os.Stdout, p)
		},
	}
}
