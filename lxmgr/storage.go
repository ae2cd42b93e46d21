package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/client"
)

func newStorageCmd(g *globals) *cobra.Command {
	return newGroupCmd("storage", "Manage storage pools and their custom volumes",
		newStorageCreateCmd(g), newStorageListCmd(g), newStorageInfoCmd(g), newStorageShowCmd(g),
		storageKeys.setCmd(g), storageKeys.unsetCmd(g), newStorageDeleteCmd(g), newStorageVolumeCmd(g))
}

// validatePoolName checks a pool name before any request is sent.
func validatePoolName(name string) error {
	return api.ValidateName("storage pool", name)
}

// storageCreateRequest builds the create request from NAME DRIVER and the
// key=value arguments.
func storageCreateRequest(name, driver, description string, items []string) (api.StoragePoolsPost, error) {
	if err := validatePoolName(name); err != nil {
		return api.StoragePoolsPost{}, err
	}
	if driver == "" || strings.ContainsAny(driver, "=/ \t\r\n") {
		return api.StoragePoolsPost{}, fmt.Errorf("%w: storage driver %q: want a driver such as dir or btrfs", api.ErrInvalid, driver)
	}
	cfg, err := parseKeyValues("storage config", items)
	if err != nil {
		return api.StoragePoolsPost{}, err
	}
	return api.StoragePoolsPost{
		StoragePoolPut: api.StoragePoolPut{Config: cfg, Description: description},
		Name:           name,
		Driver:         driver,
	}, nil
}

func newStorageCreateCmd(g *globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create NAME DRIVER [KEY=VALUE...]",
		Short: "Create a storage pool",
		Long: "Create a storage pool using DRIVER (dir, btrfs, ...). KEY=VALUE arguments set its\n" +
			"config, for example source (where the pool lives on the host) and size (of a\n" +
			"loop-backed pool).",
		Example: "  lxmgr storage create fast btrfs size=8GiB\n  lxmgr storage create data dir source=/srv/lxmgr",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := storageCreateRequest(args[0], args[1], description, args[2:])
			if err != nil {
				return err
			}
			if err := g.client().CreateStoragePool(cmd.Context(), req); err != nil {
				return fmt.Errorf("create storage pool %s: %w", req.Name, err)
			}
			fmt.Fprintf(os.Stdout, "Storage pool %s created\n", req.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "description of the pool")
	return cmd
}

// storagePoolItem is one entry of storage list: the pool and, when they
// could be read, its space figures.
type storagePoolItem struct {
	api.StoragePool `yaml:",inline"`
	Resources       *api.StoragePoolResources `json:"resources,omitempty" yaml:"resources,omitempty"`
}

// spaceCells renders used, total and free space; unknown figures are "".
func spaceCells(res *api.StoragePoolResources) (used, total, free string) {
	if res == nil {
		return "", "", ""
	}
	s := res.Space
	used = api.HumanBytes(s.Used)
	if s.Total > 0 {
		total = api.HumanBytes(s.Total)
		free = api.HumanBytes(max(s.Total-s.Used, 0))
	}
	return used, total, free
}

// storageRows renders the pool table.
func storageRows(pools []storagePoolItem) (header []string, rows [][]string) {
	header = []string{"NAME", "DRIVER", "USED", "TOTAL", "FREE", "USED BY", "STATUS"}
	rows = make([][]string, 0, len(pools))
	for _, p := range pools {
		used, total, free := spaceCells(p.Resources)
		rows = append(rows, []string{p.Name, p.Driver, used, total, free, strconv.Itoa(len(p.UsedBy)), p.Status})
	}
	return header, rows
}

func newStorageListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List storage pools with their space use",
		Long: "List storage pools. USED, TOTAL and FREE come from each pool's resources and stay\n" +
			"empty for a pool whose space cannot be read (an unavailable pool).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			pools, err := c.GetStoragePools(ctx)
			if err != nil {
				return fmt.Errorf("list storage pools: %w", err)
			}
			sort.SliceStable(pools, func(a, b int) bool { return pools[a].Name < pools[b].Name })
			items := make([]storagePoolItem, 0, len(pools))
			for _, p := range pools {
				it := storagePoolItem{StoragePool: p}
				// Space is an extra: one unreadable pool must not hide the others.
				if res, err := c.GetStoragePoolResources(ctx, p.Name); err == nil {
					it.Resources = &res
				} else if errors.Is(err, context.Canceled) {
					return err
				}
				items = append(items, it)
			}
			header, rows := storageRows(items)
			return writeOutput(os.Stdout, format, header, rows, items)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newStorageShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Show a storage pool's configuration as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validatePoolName(args[0]); err != nil {
				return err
			}
			p, _, err := g.client().GetStoragePool(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("show storage pool %s: %w", args[0], err)
			}
			if p.Config == nil {
				p.Config = map[string]string{}
			}
			if p.UsedBy == nil {
				p.UsedBy = []string{}
			}
			return writeYAML(os.Stdout, p)
		},
	}
}

func newStorageInfoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show a storage pool's driver, config, space and volumes",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validatePoolName(name); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			p, _, err := c.GetStoragePool(ctx, name)
			if err != nil {
				return fmt.Errorf("storage info %s: %w", name, err)
			}
			// Space and volumes are extras: an unavailable pool still has
			// a driver and config worth printing.
			res, resErr := c.GetStoragePoolResources(ctx, name)
			vols, volErr := c.GetStorageVolumes(ctx, name)
			writeStorageInfo(os.Stdout, &p, &res, resErr, vols, volErr)
			return nil
		},
	}
}

// writeStorageInfo prints the human summary of one pool. resErr and volErr
// are the errors of reading its space and volumes, shown in their place.
func writeStorageInfo(w io.Writer, p *api.StoragePool, res *api.StoragePoolResources, resErr error, vols []api.StorageVolume, volErr error) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-12s %s\n", k+":", v)
		}
	}
	line("Name", p.Name)
	line("Description", printable(p.Description))
	line("Driver", p.Driver)
	line("Status", p.Status)
	line("Used by", strconv.Itoa(len(p.UsedBy)))
	if len(p.Config) > 0 {
		fmt.Fprintln(w, "\nConfig:")
		for _, k := range sortedKeys(p.Config) {
			fmt.Fprintf(w, "  %s: %s\n", printable(k), printable(p.Config[k]))
		}
	}
	fmt.Fprintln(w, "\nSpace:")
	if resErr != nil {
		fmt.Fprintf(w, "  unknown (%s)\n", oneLine(resErr.Error()))
	} else {
		used, total, free := spaceCells(res)
		fmt.Fprintf(w, "  %-7s %s\n", "Used:", used)
		if total != "" {
			fmt.Fprintf(w, "  %-7s %s\n", "Total:", total)
			fmt.Fprintf(w, "  %-7s %s\n", "Free:", free)
		}
	}
	fmt.Fprintln(w, "\nVolumes:")
	if volErr != nil {
		fmt.Fprintf(w, "  unknown (%s)\n", oneLine(volErr.Error()))
		return
	}
	if len(vols) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	byType := map[string][]string{}
	for _, v := range vols {
		byType[v.Type] = append(byType[v.Type], printable(v.Name))
	}
	for _, t := range sortedKeys(byType) {
		names := byType[t]
		sort.Strings(names)
		fmt.Fprintf(w, "  %s (%d): %s\n", printable(t), len(names), strings.Join(names, ", "))
	}
}

// storageKeys is the set/unset pair of storage pools.
var storageKeys = keyedObject{
	what: "storage pool", exampleKey: "size",
	setExample:   "  lxmgr storage set fast size=16GiB",
	unsetExample: "  lxmgr storage unset fast volume.size",
	validate:     validatePoolName,
	patch:        patchStoragePool,
}

// patchStoragePool merges cfg into a pool with the ETag of a read just
// before, so that a concurrent change is refused instead of merged blindly.
func patchStoragePool(ctx context.Context, c *client.Client, name string, cfg map[string]string) error {
	_, etag, err := c.GetStoragePool(ctx, name)
	if err == nil {
		err = c.PatchStoragePool(ctx, name, cfg, etag)
	}
	if err != nil {
		return fmt.Errorf("update storage pool %s: %w", name, err)
	}
	return nil
}

func newStorageDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete storage pools that hold no volume and that no profile uses",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, n := range args {
				if err := validatePoolName(n); err != nil {
					return err
				}
			}
			c := g.client()
			return forEach(args, func(name string) error {
				if err := c.DeleteStoragePool(cmd.Context(), name); err != nil {
					return fmt.Errorf("delete storage pool %s: %w", name, err)
				}
				fmt.Fprintf(os.Stdout, "Storage pool %s deleted\n", name)
				return nil
			})
		},
	}
}
