package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

// profileDoc is a profile as YAML, the layout of 'profile show': what
// profile edit and profile import read. used_by is read-only and ignored;
// name is read by import and ignored by edit; any other unknown key is an
// error, so a misspelt key is not silently dropped.
type profileDoc struct {
	Config      map[string]string `yaml:"config"`
	Description string            `yaml:"description"`
	Devices     api.Devices       `yaml:"devices"`
	Name        string            `yaml:"name"`
	UsedBy      any               `yaml:"used_by"`
}

// profileEditable lists the keys of a profile document that change it.
const profileEditable = "config, description, devices"

// parseProfileYAML reads a profile document. The document is the whole
// profile: a section left out is emptied. Config keys and devices are
// checked as far as the client can (names, a type on every device); the
// daemon checks the rest.
func parseProfileYAML(data []byte) (name string, put api.ProfilePut, err error) {
	var doc profileDoc
	if err := decodeStrictYAML(data, &doc, "profile", profileEditable); err != nil {
		return "", api.ProfilePut{}, err
	}
	if err := checkConfigKeys(doc.Config); err != nil {
		return "", api.ProfilePut{}, err
	}
	devs, err := checkDevices(doc.Devices)
	if err != nil {
		return "", api.ProfilePut{}, err
	}
	cfg := doc.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	return doc.Name, api.ProfilePut{Config: cfg, Description: doc.Description, Devices: devs}, nil
}

// profileImportRequest builds the create request of profile import: the
// name is nameFlag when set, else the document's.
func profileImportRequest(data []byte, nameFlag string) (api.ProfilesPost, error) {
	docName, put, err := parseProfileYAML(data)
	if err != nil {
		return api.ProfilesPost{}, err
	}
	name := nameFlag
	if name == "" {
		name = docName
	}
	if name == "" {
		return api.ProfilesPost{}, fmt.Errorf("%w: the profile document has no name (add name: or use --name)", api.ErrInvalid)
	}
	if err := validateProfileNames(name); err != nil {
		return api.ProfilesPost{}, err
	}
	return api.ProfilesPost{Name: name, ProfilePut: put}, nil
}

// profileEditTemplate is the text an editor session starts from.
func profileEditTemplate(p api.Profile) ([]byte, error) {
	normalizeProfile(&p)
	var b bytes.Buffer
	b.WriteString("### Edit the profile " + p.Name + ". This document replaces its config, description and\n" +
		"### devices: a section left out is emptied. name and used_by are shown for reference and\n" +
		"### ignored. Lines starting with # are comments. Save and quit to apply, or empty the file to abort.\n")
	if err := writeYAML(&b, p); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func newProfileEditCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "edit NAME",
		Short: "Edit a profile's config, description and devices as YAML",
		Long: "Edit a profile as YAML (the layout of 'profile show'). When stdin is not a terminal the\n" +
			"new document is read from stdin; otherwise $VISUAL or $EDITOR (default vi) opens it. The\n" +
			"document replaces the profile: a section left out is emptied. The change is sent with\n" +
			"the ETag read before editing, so if the profile changed meanwhile nothing is saved.",
		Example: "  lxmgr profile edit web\n  lxmgr profile show web | sed 's/256MiB/512MiB/' | lxmgr profile edit web",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := validateProfileNames(name); err != nil {
				return err
			}
			ctx := cmd.Context()
			c := g.client()
			p, etag, err := c.GetProfile(ctx, name)
			if err != nil {
				return fmt.Errorf("edit profile %s: %w", name, err)
			}
			return editFlow[api.ProfilePut]{
				kind: "profile", name: name,
				template: func() ([]byte, error) { return profileEditTemplate(p) },
				parse: func(data []byte) (api.ProfilePut, error) {
					_, put, err := parseProfileYAML(data)
					return put, err
				},
				save: func(put api.ProfilePut) error {
					applied, err := c.ReplaceProfile(ctx, name, put, etag)
					if err == nil {
						reportRestart(cmd.ErrOrStderr(), applied)
					}
					return err
				},
			}.run(ctx)
		},
	}
}

func newProfileImportCmd(g *globals) *cobra.Command {
	var name string
	var force bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create a profile from a YAML file (the layout of 'profile show')",
		Long: "Create a profile from a YAML file with name, description, config and devices, as\n" +
			"'profile show' prints it (used_by is ignored; any other unknown key is an error).\n" +
			"FILE - reads stdin. The name comes from the file unless --name is given. An existing\n" +
			"profile of that name is an error, unless --force: then it is replaced whole.",
		Example: "  lxmgr profile show web > web.yaml; lxmgr profile import web.yaml --name web2\n" +
			"  lxmgr profile import web.yaml --force",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileArg(args[0])
			if err != nil {
				return fmt.Errorf("import profile: %w", err)
			}
			req, err := profileImportRequest(data, name)
			if err != nil {
				return fmt.Errorf("import profile from %s: %w", args[0], err)
			}
			replaced, err := importProfile(cmd, g, req, force)
			if err != nil {
				return fmt.Errorf("import profile %s: %w", req.Name, err)
			}
			if replaced {
				fmt.Fprintf(os.Stdout, "Profile %s replaced\n", req.Name)
			} else {
				fmt.Fprintf(os.Stdout, "Profile %s created\n", req.Name)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name of the new profile (default: the file's name: key)")
	cmd.Flags().BoolVar(&force, "force", false, "replace the profile if it exists")
	return cmd
}

// importProfile creates the profile, or with force replaces an existing
// one (PUT with the ETag of the read, so a concurrent change is refused).
func importProfile(cmd *cobra.Command, g *globals, req api.ProfilesPost, force bool) (replaced bool, err error) {
	ctx := cmd.Context()
	c := g.client()
	if !force {
		err := c.CreateProfile(ctx, req)
		if errors.Is(err, api.ErrConflict) {
			return false, fmt.Errorf("%w (use --force to replace it)", err)
		}
		return false, err
	}
	_, etag, err := c.GetProfile(ctx, req.Name)
	switch {
	case errors.Is(err, api.ErrNotFound):
		return false, c.CreateProfile(ctx, req)
	case err != nil:
		return false, err
	}
	applied, err := c.ReplaceProfile(ctx, req.Name, req.ProfilePut, etag)
	if err != nil {
		return true, err
	}
	reportRestart(cmd.ErrOrStderr(), applied)
	return true, nil
}

// readFileArg reads a file named on the command line; "-" is stdin.
func readFileArg(path string) ([]byte, error) {
	if path == "-" {
		data, err := io.ReadAll(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return data, nil
}
