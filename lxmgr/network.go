package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

// maxNetworkName is the longest network name: the network's bridge is a
// Linux interface, whose names are at most 15 bytes (IFNAMSIZ-1).
const maxNetworkName = 15

func newNetworkCmd(g *globals) *cobra.Command {
	cmd := newGroupCmd("network", "Manage networks (bridges with DHCP, DNS and NAT)",
		newNetworkCreateCmd(g), newNetworkListCmd(g), newNetworkShowCmd(g), newNetworkInfoCmd(g),
		networkKeys.setCmd(g), networkKeys.unsetCmd(g), newNetworkEditCmd(g),
		newNetworkRenameCmd(g), newNetworkDeleteCmd(g))
	cmd.Aliases = []string{"net"}
	return cmd
}

// validateNetworkName checks a network name before any request is sent.
func validateNetworkName(name string) error {
	if err := api.ValidateName("network", name); err != nil {
		return err
	}
	if len(name) > maxNetworkName {
		return fmt.Errorf("%w: invalid network name %q: longer than %d characters (it names a Linux interface)", api.ErrInvalid, name, maxNetworkName)
	}
	return nil
}

// networkCreateRequest builds the create request from NAME and its
// key=value arguments.
func networkCreateRequest(name, typ, description string, items []string) (api.NetworksPost, error) {
	if err := validateNetworkName(name); err != nil {
		return api.NetworksPost{}, err
	}
	if typ == "" {
		return api.NetworksPost{}, errors.New("network type is empty")
	}
	cfg, err := parseKeyValues("network config", items)
	if err != nil {
		return api.NetworksPost{}, err
	}
	return api.NetworksPost{
		NetworkPut: api.NetworkPut{Config: cfg, Description: description},
		Name:       name,
		Type:       typ,
	}, nil
}

func newNetworkCreateCmd(g *globals) *cobra.Command {
	var typ, description string
	cmd := &cobra.Command{
		Use:   "create NAME [KEY=VALUE...]",
		Short: "Create a managed network",
		Long: "Create a managed network (a bridge). KEY=VALUE arguments set its config, for example\n" +
			"ipv4.address (the bridge's address and prefix), ipv4.nat, ipv4.dhcp.ranges, dns.domain.\n" +
			"Network names are at most 15 characters.",
		Example: "  lxmgr network create lxm0 ipv4.address=10.5.0.1/24 ipv4.nat=true\n" +
			"  lxmgr network create lan1 ipv4.address=10.6.0.1/24 ipv4.dhcp.ranges=10.6.0.100-10.6.0.200 dns.domain=lan",
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := networkCreateRequest(args[0], typ, description, args[1:])
			if err != nil {
				return err
			}
			if err := g.client().CreateNetwork(cmd.Context(), req); err != nil {
				return fmt.Errorf("create network %s: %w", req.Name, err)
			}
			fmt.Fprintf(os.Stdout, "Network %s created\n", req.Name)
			return nil
		},
	}
	cmd.Flags().StringVarP(&typ, "type", "t", "bridge", "network type")
	cmd.Flags().StringVar(&description, "description", "", "description of the network")
	return cmd
}

// networkRows renders the network table.
func networkRows(nets []api.Network) (header []string, rows [][]string) {
	header = []string{"NAME", "TYPE", "MANAGED", "IPV4", "NAT", "USED BY", "STATUS"}
	rows = make([][]string, 0, len(nets))
	for _, n := range nets {
		rows = append(rows, []string{
			n.Name, n.Type, yesNo(n.Managed), n.Config["ipv4.address"], n.Config["ipv4.nat"],
			strconv.Itoa(len(n.UsedBy)), n.Status,
		})
	}
	return header, rows
}

func newNetworkListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List networks",
		Long:    "List networks. IPV4 is the bridge's configured address (ipv4.address), NAT is ipv4.nat.",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			nets, err := g.client().GetNetworks(cmd.Context())
			if err != nil {
				return fmt.Errorf("list networks: %w", err)
			}
			if nets == nil {
				nets = []api.Network{}
			}
			sort.SliceStable(nets, func(a, b int) bool { return nets[a].Name < nets[b].Name })
			header, rows := networkRows(nets)
			return writeOutput(os.Stdout, format, header, rows, nets)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newNetworkShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a network's configuration as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validateNetworkName(args[0]); err != nil {
				return err
			}
			n, _, err := g.client().GetNetwork(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("show network %s: %w", args[0], err)
			}
			if n.Config == nil {
				n.Config = map[string]string{}
			}
			if n.UsedBy == nil {
				n.UsedBy = []string{}
			}
			return writeYAML(os.Stdout, n)
		},
	}
}

// networkKeys is the set/unset pair of networks.
var networkKeys = keyedObject{
	what: "network", exampleKey: "ipv4.nat",
	setExample:   "  lxmgr network set lxm0 ipv4.nat=false dns.domain=example.lan",
	unsetExample: "  lxmgr network unset lxm0 dns.domain",
	validate:     validateNetworkName,
	patch:        patchNetwork,
}

// patchNetwork merges cfg into a network with the ETag of a read just
// before, so that a concurrent change is refused instead of merged blindly.
func patchNetwork(ctx context.Context, c *client.Client, name string, cfg map[string]string) error {
	_, etag, err := c.GetNetwork(ctx, name)
	if err == nil {
		err = c.PatchNetwork(ctx, name, cfg, etag)
	}
	if err != nil {
		return fmt.Errorf("update network %s: %w", name, err)
	}
	return nil
}

func newNetworkRenameCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename OLD NEW",
		Short: "Rename a network",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validateNetworkName(n); err != nil {
					return err
				}
			}
			if err := g.client().RenameNetwork(cmd.Context(), args[0], args[1]); err != nil {
				return fmt.Errorf("rename network %s: %w", args[0], err)
			}
			fmt.Fprintf(os.Stdout, "Network %s renamed to %s\n", args[0], args[1])
			return nil
		},
	}
}

func newNetworkDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete networks that no instance or profile uses",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validateNetworkName(n); err != nil {
					return err
				}
			}
			c := g.client()
			return forEach(args, func(name string) error {
				if err := c.DeleteNetwork(cmd.Context(), name); err != nil {
					return fmt.Errorf("delete network %s: %w", name, err)
				}
				fmt.Fprintf(os.Stdout, "Network %s deleted\n", name)
				return nil
			})
		},
	}
}

// networkEditDoc is what network edit accepts: the editable fields of a
// network, plus the read-only ones that show reads, so that the output of
// show can be fed back unchanged. Read-only fields are ignored; anything
// else is an error, so a misspelt key is not silently dropped.
type networkEditDoc struct {
	Config      map[string]string `yaml:"config"`
	Description string            `yaml:"description"`
	Name        any               `yaml:"name"`
	Type        any               `yaml:"type"`
	Managed     any               `yaml:"managed"`
	Status      any               `yaml:"status"`
	UsedBy      any               `yaml:"used_by"`
}

// parseNetworkYAML reads an edited network document into the body of a PUT.
func parseNetworkYAML(data []byte) (api.NetworkPut, error) {
	var doc networkEditDoc
	if err := decodeStrictYAML(data, &doc, "network", "config, description"); err != nil {
		return api.NetworkPut{}, err
	}
	if doc.Config == nil {
		doc.Config = map[string]string{}
	}
	return api.NetworkPut{Config: doc.Config, Description: doc.Description}, nil
}

// networkEditTemplate is the text an editor session starts from.
func networkEditTemplate(n api.Network) ([]byte, error) {
	if n.Config == nil {
		n.Config = map[string]string{}
	}
	if n.UsedBy == nil {
		n.UsedBy = []string{}
	}
	var b bytes.Buffer
	b.WriteString("### Edit the network " + n.Name + ". Only config and description can change;\n" +
		"### name, type, managed, status and used_by are shown for reference and ignored.\n" +
		"### Lines starting with # are comments. Save and quit to apply, or empty the file to abort.\n")
	if err := writeYAML(&b, n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newNetworkEditCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "edit NAME",
		Short: "Edit a network's config and description as YAML",
		Long: "Edit a network as YAML. When stdin is not a terminal the new document is read from\n" +
			"stdin; otherwise $VISUAL or $EDITOR (default vi) opens it. The change is sent with the\n" +
			"ETag read before editing, so if the network changed meanwhile nothing is saved and edit fails.",
		Example: "  lxmgr network edit lxm0\n  lxmgr network show lxm0 | sed s/10.5.0.1/10.7.0.1/ | lxmgr network edit lxm0",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateNetworkName(name); err != nil {
				return err
			}
			c := g.client()
			n, etag, err := c.GetNetwork(cmd.Context(), name)
			if err != nil {
				return fmt.Errorf("edit network %s: %w", name, err)
			}
			return networkEditFlow(cmd.Context(), c, n, etag).run(cmd.Context())
		},
	}
}

// networkEditFlow edits network n, read with etag.
func networkEditFlow(ctx context.Context, c *client.Client, n api.Network, etag string) editFlow[api.NetworkPut] {
	return editFlow[api.NetworkPut]{
		kind: "network", name: n.Name,
		template: func() ([]byte, error) { return networkEditTemplate(n) },
		parse:    parseNetworkYAML,
		save:     func(put api.NetworkPut) error { return c.UpdateNetwork(ctx, n.Name, put, etag) },
	}
}

// editNetworkInEditor runs the editor on network n, read with etag, and
// saves the result.
func editNetworkInEditor(ctx context.Context, c *client.Client, n api.Network, etag string) error {
	return networkEditFlow(ctx, c, n, etag).inEditor(ctx)
}
