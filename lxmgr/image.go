package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/api"
)

func newImageCmd(g *globals) *cobra.Command {
	return newGroupCmd("image", "Manage images",
		newImageListCmd(g), newImageBuildCmd(g), newImageImportCmd(g), newImageDeleteCmd(g))
}

// imageRows renders the image table.
func imageRows(imgs []api.Image) (header []string, rows [][]string) {
	header = []string{"ALIAS", "FINGERPRINT", "DESCRIPTION", "SIZE", "UPLOADED"}
	rows = make([][]string, 0, len(imgs))
	for _, img := range imgs {
		aliases := make([]string, 0, len(img.Aliases))
		for _, a := range img.Aliases {
			aliases = append(aliases, a.Name)
		}
		fp := img.Fingerprint
		if len(fp) > 12 {
			fp = fp[:12]
		}
		uploaded := ""
		if !img.UploadedAt.IsZero() {
			uploaded = img.UploadedAt.Local().Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{
			strings.Join(aliases, ","), fp, img.Properties["description"],
			fmt.Sprintf("%.2fMiB", float64(img.Size)/(1<<20)), uploaded,
		})
	}
	return header, rows
}

func newImageListCmd(g *globals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the images in the daemon's store",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format); err != nil {
				return err
			}
			imgs, err := g.client().GetImages(cmd.Context())
			if err != nil {
				return fmt.Errorf("list images: %w", err)
			}
			if imgs == nil {
				imgs = []api.Image{}
			}
			sort.SliceStable(imgs, func(a, b int) bool { return imageSortKey(imgs[a]) < imageSortKey(imgs[b]) })
			header, rows := imageRows(imgs)
			return writeOutput(os.Stdout, format, header, rows, imgs)
		},
	}
	addFormatFlag(cmd, &format)
	return cmd
}

// imageSortKey orders images by first alias, unaliased ones last.
func imageSortKey(img api.Image) string {
	if len(img.Aliases) > 0 {
		return "0" + img.Aliases[0].Name
	}
	return "1" + img.Fingerprint
}

func newImageBuildCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "build NAME",
		Short:   "Build an image locally (debian/12, debian/bookworm, busybox)",
		Example: "  lxmgr image build debian/12\n  lxmgr image build busybox",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if strings.TrimSpace(name) == "" {
				return errors.New("image name is empty")
			}
			ctx := cmd.Context()
			op, err := g.client().BuildImage(ctx, api.ImagesPost{Source: api.ImagesPostSource{Type: "build", Name: name}})
			if err != nil {
				return fmt.Errorf("build image %s: %w", name, err)
			}
			if err := waitOp(ctx, op, false); err != nil {
				return fmt.Errorf("build image %s: %w", name, err)
			}
			if fp, _ := op.Metadata["fingerprint"].(string); fp != "" {
				fmt.Fprintf(os.Stdout, "Built image %s (fingerprint %s)\n", name, fp)
			} else {
				fmt.Fprintf(os.Stdout, "Built image %s\n", name)
			}
			return nil
		},
	}
}

func newImageDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete REF...",
		Aliases: []string{"rm"},
		Short:   "Delete images by alias or fingerprint (instances made from them keep working)",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			return forEach(args, func(ref string) error {
				if strings.ContainsAny(ref, "?#\n") || ref == "" {
					return fmt.Errorf("image reference %q is not valid", ref)
				}
				op, err := c.DeleteImage(cmd.Context(), ref)
				if err == nil {
					err = waitOp(cmd.Context(), op, true)
				}
				if err != nil {
					return fmt.Errorf("delete image %s: %w", ref, err)
				}
				return nil
			})
		},
	}
}

func newImageImportCmd(g *globals) *cobra.Command {
	var aliases []string
	cmd := &cobra.Command{
		Use:     "import TARBALL",
		Short:   "Import an LXD-format unified image tarball (metadata.yaml + rootfs/)",
		Example: "  lxmgr image import debian-12.tar.gz --alias debian/12",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("import image: %w", err)
			}
			defer f.Close()
			ctx := cmd.Context()
			c := g.client()
			op, err := c.ImportImage(ctx, f, filepath.Base(args[0]), "")
			if err == nil {
				err = waitOp(ctx, op, true)
			}
			if err != nil {
				return fmt.Errorf("import image %s: %w", args[0], err)
			}
			fp, _ := op.Metadata["fingerprint"].(string)
			for _, a := range aliases {
				if err := c.CreateImageAlias(ctx, a, fp, ""); err != nil {
					return fmt.Errorf("image %s imported, but alias %q failed: %w", fp, a, err)
				}
			}
			fmt.Fprintf(os.Stdout, "Imported image %s\n", fp)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "alias to give the image (repeatable)")
	return cmd
}
