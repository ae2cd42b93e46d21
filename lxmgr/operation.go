package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

func newOperationCmd(g *globals) *cobra.Command {
	cmd := newGroupCmd("operation", "List, show and cancel daemon operations",
		newOperationListCmd(g), newOperationShowCmd(g), newOperationCancelCmd(g))
	cmd.Aliases = []string{"op"}
	return cmd
}

// operationRows renders the operation table.
func operationRows(ops []api.Operation) (header []string, rows [][]string) {
	header = []string{"ID", "CLASS", "DESCRIPTION", "STATUS", "CREATED", "CANCELLABLE", "RESOURCES"}
	rows = make([][]string, 0, len(ops))
	for _, op := range ops {
		var res []string
		for _, k := range sortedKeys(op.Resources) {
			for _, u := range op.Resources[k] {
				res = append(res, u[strings.LastIndex(u, "/")+1:])
			}
		}
		created := ""
		if !op.CreatedAt.IsZero() {
			created = op.CreatedAt.Local().Format("2006-01-02 15:04:05")
		}
		rows = append(rows, []string{op.ID, op.Class, op.Description, op.Status, created, yesNo(op.MayCancel), strings.Join(res, ",")})
	}
	return header, rows
}

func newOperationListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List operations",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			ops, err := g.client().GetOperations(cmd.Context())
			if err != nil {
				return fmt.Errorf("list operations: %w", err)
			}
			if ops == nil {
				ops = []api.Operation{}
			}
			sort.SliceStable(ops, func(a, b int) bool { return ops[a].CreatedAt.Before(ops[b].CreatedAt) })
			header, rows := operationRows(ops)
			var data any = ops
			if format == formatYAML {
				// api.Operation has JSON tags only; go through JSON
				// so YAML shows the API's field names.
				if data, err = jsonToYAMLValue(ops); err != nil {
					return err
				}
			}
			return writeOutput(os.Stdout, format, header, rows, data)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

func newOperationShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show an operation as YAML",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := g.client().GetOperation(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("show operation %s: %w", args[0], err)
			}
			data, err := jsonToYAMLValue(op.Operation)
			if err != nil {
				return err
			}
			return writeYAML(os.Stdout, data)
		},
	}
}

func newOperationCancelCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an operation (if it may be cancelled)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			op, err := c.GetOperation(cmd.Context(), args[0])
			if err == nil {
				err = op.Cancel(cmd.Context())
			}
			if err != nil {
				return fmt.Errorf("cancel operation %s: %w", args[0], err)
			}
			return nil
		},
	}
}
