package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// version is the CLI's version; set at build time with
// -ldflags "-X main.version=...".
var version = "0.1.0"

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the client's and, if reachable, the daemon's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(os.Stdout, "Client version: %s\n", version)
			// A missing daemon is not an error here: the client version
			// alone answers the question.
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			srv, err := g.client().GetServer(ctx)
			if err != nil {
				fmt.Fprintf(os.Stdout, "Server version: unreachable (%s)\n", oneLine(err.Error()))
				return nil
			}
			fmt.Fprintf(os.Stdout, "Server version: %s\n", srv.Environment.ServerVersion)
			return nil
		},
	}
}
