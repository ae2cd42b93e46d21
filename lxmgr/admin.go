package main

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/spf13/cobra"
)

func newAdminCmd(g *globals) *cobra.Command {
	return newGroupCmd("admin", "Administer the daemon itself", newAdminShutdownCmd(g), newAdminConfigCmd(g))
}

func newAdminConfigCmd(g *globals) *cobra.Command {
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the daemon's server config",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.client().GetServer(cmd.Context())
			if err != nil {
				return fmt.Errorf("server config: %w", err)
			}
			keys := make([]string, 0, len(s.Config))
			for k := range s.Config {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(os.Stdout, "%s: %s\n", k, s.Config[k])
			}
			return nil
		},
	}
	set := &cobra.Command{
		Use:     "set KEY=VALUE...",
		Short:   "Set server config keys (images.debian.mirror, instances.privileged)",
		Example: "  lxmgr admin config set instances.privileged=deny",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := parseKeyValues("server config", args)
			if err != nil {
				return err
			}
			return g.client().SetServerConfig(cmd.Context(), cfg)
		},
	}
	unset := &cobra.Command{
		Use:   "unset KEY...",
		Short: "Unset server config keys",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := map[string]string{}
			for _, k := range args {
				cfg[k] = ""
			}
			return g.client().SetServerConfig(cmd.Context(), cfg)
		},
	}
	return newGroupCmd("config", "Show and change the daemon's server config", show, set, unset)
}

func newAdminShutdownCmd(g *globals) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "shutdown",
		Short: "Stop every guest cleanly, then stop lxmgrd (for host power-off)",
		Long: "Ask lxmgrd to stop every running guest cleanly, in boot.stop.priority order (highest\n" +
			"first), and then exit. It returns once all guests are stopped and the daemon is about\n" +
			"to exit. --timeout is the time in seconds each guest gets to halt before it is killed\n" +
			"(default: the daemon's).",
		Example: "  lxmgr admin shutdown\n  lxmgr admin shutdown --timeout 60",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout < 0 {
				return errors.New("--timeout must not be negative")
			}
			if err := g.client().Shutdown(cmd.Context(), timeout); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			fmt.Fprintln(os.Stdout, "lxmgrd stopped all guests and is shutting down")
			return nil
		},
	}
	cmd.Flags().IntVar(&timeout, "timeout", 0, "seconds each guest gets to halt before it is killed (0: the daemon's default)")
	return cmd
}
