package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// Output formats of the list commands.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
	formatCSV   = "csv"
)

// addFormatFlag adds -f/--format to a list command.
func addFormatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "format", "f", formatTable, "output format: table, json, yaml or csv")
}

// checkFormat rejects an unknown --format before any request is made.
func checkFormat(format string) error {
	switch format {
	case formatTable, formatJSON, formatYAML, formatCSV:
		return nil
	}
	return fmt.Errorf("unknown format %q (want table, json, yaml or csv)", format)
}

// writeOutput prints a listing: table and csv from header and rows, json and
// yaml from data (the API objects, so scripts get every field).
func writeOutput(w io.Writer, format string, header []string, rows [][]string, data any) error {
	switch format {
	case formatTable:
		return renderTable(w, header, rows)
	case formatCSV:
		cw := csv.NewWriter(w)
		if err := cw.WriteAll(rows); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		return nil
	case formatJSON:
		return writeJSON(w, data)
	case formatYAML:
		return writeYAML(w, data)
	}
	return checkFormat(format)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// writeYAML prints v as YAML.
func writeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write yaml: %w", err)
	}
	return enc.Close()
}

// jsonToYAMLValue converts v through JSON so that types without yaml tags
// (api.Operation) come out with their API field names.
func jsonToYAMLValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// renderTable writes rows under header as left-aligned columns separated by
// two spaces. Widths count runes, so non-ASCII descriptions still line up;
// newlines and tabs in cells are flattened so one row stays one line. The
// last column is not padded (no trailing blanks).
func renderTable(w io.Writer, header []string, rows [][]string) error {
	all := make([][]string, 0, len(rows)+1)
	all = append(all, header)
	all = append(all, rows...)
	widths := make([]int, len(header))
	for _, r := range all {
		for i := range header {
			if n := utf8.RuneCountInString(cell(r, i)); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	for _, r := range all {
		var line strings.Builder
		for i := range header {
			c := cell(r, i)
			line.WriteString(c)
			if i < len(header)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell returns column i of row r (empty when the row is short), on one line.
func cell(r []string, i int) string {
	if i >= len(r) {
		return ""
	}
	return cellSpaces.Replace(r[i])
}

// cellSpaces turns the characters that would break a table row into spaces
// (built once: a list renders thousands of cells).
var cellSpaces = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ")
