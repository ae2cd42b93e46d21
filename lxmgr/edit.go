package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// editFlow is one "edit" command: the object's current text, how an edited
// text becomes a request, and how that request is saved (with the ETag of
// the read, so a concurrent change fails instead of being overwritten).
type editFlow[T any] struct {
	kind, name string                 // "network", "lxm0": for messages and the temp file name
	template   func() ([]byte, error) // the text an editor session starts from
	parse      func([]byte) (T, error)
	save       func(T) error
}

// run reads the document from stdin when stdin is not a terminal (a pipe
// or a file: parse and save once), and otherwise runs the editor loop.
func (f editFlow[T]) run(ctx context.Context) error {
	if !isTerminal(int(os.Stdin.Fd())) {
		return f.fromReader(os.Stdin)
	}
	return f.inEditor(ctx)
}

func (f editFlow[T]) what() string { return f.kind + " " + f.name }

// fromReader parses the whole of r and saves it.
func (f editFlow[T]) fromReader(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("edit %s: read stdin: %w", f.what(), err)
	}
	v, err := f.parse(data)
	if err == nil {
		err = f.save(v)
	}
	if err != nil {
		return fmt.Errorf("edit %s: %w", f.what(), err)
	}
	return nil
}

// inEditor runs $EDITOR on the object until the result parses (or the user
// gives up), then saves it. If saving fails, the edited file is kept and
// its path given, so the work is not lost.
func (f editFlow[T]) inEditor(ctx context.Context) error {
	text, err := f.template()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp("", "lxmgr-"+strings.ReplaceAll(f.kind, " ", "-")+"-"+f.name+"-*.yaml")
	if err != nil {
		return fmt.Errorf("edit %s: %w", f.what(), err)
	}
	path := tmp.Name()
	keep := false
	defer func() {
		if !keep {
			os.Remove(path)
		}
	}()
	_, err = tmp.Write(text)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("edit %s: write temp file: %w", f.what(), err)
	}
	in := bufio.NewReader(os.Stdin)
	for {
		if err := runEditor(ctx, path); err != nil {
			return fmt.Errorf("edit %s: %w", f.what(), err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("edit %s: %w", f.what(), err)
		}
		if len(bytes.TrimSpace(stripComments(data))) == 0 {
			return fmt.Errorf("edit %s: empty document, nothing changed", f.what())
		}
		v, err := f.parse(data)
		if err == nil {
			if err := f.save(v); err != nil {
				keep = true
				return fmt.Errorf("edit %s: %w (your edit is kept in %s)", f.what(), err, path)
			}
			return nil
		}
		fmt.Fprintf(os.Stderr, "Error: %s\nPress enter to edit again, or ctrl+c to abort: ", oneLine(err.Error()))
		if _, rerr := in.ReadString('\n'); rerr != nil {
			return fmt.Errorf("edit %s: %w", f.what(), err)
		}
	}
}

// stripComments drops the lines that are YAML comments.
func stripComments(data []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l...)
		}
	}
	return out
}

// runEditor opens path in $VISUAL or $EDITOR (default vi) on the terminal.
// The variable may carry arguments ("code --wait").
func runEditor(ctx context.Context, path string) error {
	editor := os.Getenv("VISUAL")
	if editor == "" {
		editor = os.Getenv("EDITOR")
	}
	argv := strings.Fields(editor)
	if len(argv) == 0 {
		argv = []string{"vi"}
	}
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("editor %s: %w", argv[0], err)
	}
	return nil
}

// yamlTypeName matches the Go type yaml.v3 names in its messages
// ("field x not found in type main.profileDoc"): the user knows the keys,
// not our types.
var yamlTypeName = regexp.MustCompile(` not found in type [\w.*\[\]]+`)

// decodeStrictYAML decodes exactly one YAML document into out, refusing
// keys out does not know, so that a misspelt key is not silently dropped.
// what names the document in errors ("profile"), editable lists the keys
// that may be set, for the message about an unknown one.
func decodeStrictYAML(data []byte, out any, what, editable string) error {
	if len(bytes.TrimSpace(stripComments(data))) == 0 {
		return fmt.Errorf("the %s document is empty", what)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the %s document is empty", what)
		}
		msg := yamlTypeName.ReplaceAllString(oneLine(err.Error()), " is unknown (editable: "+editable+")")
		return fmt.Errorf("parse %s yaml: %s", what, msg)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("parse %s yaml: want one document", what)
	}
	return nil
}
