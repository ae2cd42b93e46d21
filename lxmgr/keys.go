package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/client"
)

// keyedObject describes an object whose config map the `set` and `unset`
// commands change through a PATCH with the ETag of a read just before
// (networks, storage pools), so a concurrent change is refused, not merged.
type keyedObject struct {
	what                     string // "network", "storage pool"
	exampleKey               string // shown when a key argument is malformed
	setExample, unsetExample string
	validate                 func(name string) error
	patch                    func(ctx context.Context, c *client.Client, name string, cfg map[string]string) error
}

func (o keyedObject) setCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "set NAME KEY=VALUE...",
		Short:   fmt.Sprintf("Set config keys of a %s (KEY= with an empty value unsets it)", o.what),
		Example: o.setExample,
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(args[0]); err != nil {
				return err
			}
			cfg, err := parseKeyValues(o.what+" config", args[1:])
			if err != nil {
				return err
			}
			return o.patch(cmd.Context(), g.client(), args[0], cfg)
		},
	}
}

func (o keyedObject) unsetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "unset NAME KEY...",
		Short:   fmt.Sprintf("Remove config keys from a %s", o.what),
		Example: o.unsetExample,
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(args[0]); err != nil {
				return err
			}
			cfg, err := unsetPatch(args[1:], o.exampleKey)
			if err != nil {
				return err
			}
			return o.patch(cmd.Context(), g.client(), args[0], cfg)
		},
	}
}

// unsetPatch turns KEY arguments into a patch that removes them.
func unsetPatch(keys []string, exampleKey string) (map[string]string, error) {
	cfg := make(map[string]string, len(keys))
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "= \t\r\n") {
			return nil, fmt.Errorf("key %q: want a config key such as %s", k, exampleKey)
		}
		cfg[k] = ""
	}
	return cfg, nil
}
