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
	return newGroupCmd("profile", "Manage profiles (config and devices shared by instances)",
		newProfileListCmd(g), newProfileShowCmd(g), newProfileCreateCmd(g), newProfileCopyCmd(g),
		newProfileRenameCmd(g), newProfileDeleteCmd(g), newProfileEditCmd(g), newProfileImportCmd(g),
		newProfileSetCmd(g), newProfileUnsetCmd(g), newProfileDeviceCmd(g),
		newProfileAddCmd(g), newProfileRemoveCmd(g))
}

// validateProfileNames checks profile names before any request is sent.
func validateProfileNames(names ...string) error {
	for _, n := range names {
		if err := api.ValidateName("profile", n); err != nil {
			return err
		}
	}
	return nil
}

// normalizeProfile gives nil maps and lists their empty value, so that
// show prints "config: {}" rather than null.
func normalizeProfile(p *api.Profile) {
	if p.Config == nil {
		p.Config = map[string]string{}
	}
	if p.Devices == nil {
		p.Devices = api.Devices{}
	}
	if p.UsedBy == nil {
		p.UsedBy = []string{}
	}
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
			if err := validateProfileNames(args[0]); err != nil {
				return err
			}
			p, _, err := g.client().GetProfile(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("show profile %s: %w", args[0], err)
			}
			normalizeProfile(&p)
			return writeYAML(os.Stdout, p)
		},
	}
}
