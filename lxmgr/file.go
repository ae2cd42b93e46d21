package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lxmgr/lxmgr/client"
)

func newFileCmd(g *globals) *cobra.Command {
	return newGroupCmd("file", "Copy files to and from instances",
		newFilePullCmd(g), newFilePushCmd(g), newFileDeleteCmd(g))
}

func newFilePullCmd(g *globals) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "pull NAME/PATH... LOCALPATH",
		Short: "Copy files out of an instance",
		Long: "Copy files out of an instance. LOCALPATH \"-\" writes to stdout; an existing local\n" +
			"directory receives the file under its base name.",
		Example: "  lxmgr file pull web1/etc/hosts .\n  lxmgr file pull web1/etc/hosts -\n  lxmgr file pull -r web1/etc/nginx /tmp/",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs, dst := args[:len(args)-1], args[len(args)-1]
			if len(srcs) > 1 && !isDir(dst) {
				return fmt.Errorf("%s: with several sources the target must be an existing directory", dst)
			}
			c := g.client()
			for _, s := range srcs {
				name, p, err := splitInstancePath(s)
				if err != nil {
					return err
				}
				if err := pull(cmd.Context(), c, name, p, dst, recursive); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "copy directories recursively")
	return cmd
}

// pull copies name:p to the local dst ("-" is stdout; into dst if it is a
// directory).
func pull(ctx context.Context, c *client.Client, name, p, dst string, recursive bool) error {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		p = "/"
	}
	if dst == "-" {
		rc, _, err := c.GetFile(ctx, name, p)
		if err != nil {
			return fmt.Errorf("pull %s%s: %w", name, p, err)
		}
		if rc == nil {
			return fmt.Errorf("pull %s%s: %w", name, p, errDirectory)
		}
		defer rc.Close()
		if _, err := io.Copy(os.Stdout, rc); err != nil {
			return fmt.Errorf("pull %s%s: %w", name, p, err)
		}
		return nil
	}
	if isDir(dst) {
		base := path.Base(p)
		if base == "/" {
			base = name
		}
		dst = filepath.Join(dst, base)
	}
	return pullTo(ctx, c, name, p, dst, recursive)
}

// pullTo copies name:p to exactly dst, recursing into directories.
func pullTo(ctx context.Context, c *client.Client, name, p, dst string, recursive bool) error {
	rc, info, err := c.GetFile(ctx, name, p)
	if err != nil {
		return fmt.Errorf("pull %s%s: %w", name, p, err)
	}
	if rc == nil {
		if !recursive {
			return fmt.Errorf("pull %s%s: %w", name, p, errDirectory)
		}
		mode := os.FileMode(info.Mode & 0o777)
		if mode == 0 {
			mode = 0o755
		}
		if err := os.Mkdir(dst, mode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("pull %s%s: %w", name, p, err)
		}
		for _, e := range info.Entries {
			if e == "." || e == ".." || strings.Contains(e, "/") {
				continue // never let a listing steer the copy outside dst
			}
			if err := pullTo(ctx, c, name, path.Join(p, e), filepath.Join(dst, e), true); err != nil {
				return err
			}
		}
		return nil
	}
	defer rc.Close()
	mode := os.FileMode(info.Mode & 0o777)
	if mode == 0 {
		mode = 0o644
	}
	if err := writeLocal(dst, rc, mode); err != nil {
		return fmt.Errorf("pull %s%s: %w", name, p, err)
	}
	return nil
}

// writeLocal writes r to dst with mode (the instance file's permissions).
func writeLocal(dst string, r io.Reader, mode os.FileMode) error {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	// The umask may have narrowed the mode given to open.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// pushFlags are the flags of file push.
type pushFlags struct {
	uid, gid  int64
	mode      string
	recursive bool
}

func newFilePushCmd(g *globals) *cobra.Command {
	f := &pushFlags{}
	cmd := &cobra.Command{
		Use:   "push LOCALPATH... NAME/PATH",
		Short: "Copy files into an instance",
		Long: "Copy files into an instance. LOCALPATH \"-\" reads stdin. A target ending in '/' is a\n" +
			"directory that receives the file under its base name. The mode defaults to the local\n" +
			"file's; owner to root (uid and gid are the guest's ids).",
		Example: "  lxmgr file push ./index.html web1/var/www/html/\n  lxmgr file push app.conf web1/etc/app.conf --uid 33 --gid 33 --mode 0640",
		Args:    minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			srcs, dst := args[:len(args)-1], args[len(args)-1]
			name, p, err := splitInstancePath(dst)
			if err != nil {
				return err
			}
			if len(srcs) > 1 && !strings.HasSuffix(p, "/") {
				p += "/"
			}
			var mode uint32
			if f.mode != "" {
				if mode, err = parseMode(f.mode); err != nil {
					return err
				}
			}
			c := g.client()
			for _, s := range srcs {
				target := p
				if strings.HasSuffix(p, "/") {
					base := filepath.Base(s)
					if s == "-" {
						return fmt.Errorf("push from stdin needs a file name, not the directory %s", p)
					}
					target = path.Join(p, base)
				}
				if err := push(cmd.Context(), c, f, mode, s, name, target, true); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&f.uid, "uid", 0, "owner uid in the instance")
	fl.Int64Var(&f.gid, "gid", 0, "owner gid in the instance")
	fl.StringVar(&f.mode, "mode", "", "octal permissions, e.g. 0644 (default: the local file's)")
	fl.BoolVarP(&f.recursive, "recursive", "r", false, "copy directories recursively")
	return cmd
}

// push copies the local src to name:p. top is true for a path named on the
// command line: a symlink there is followed, inside a tree it is copied as a
// symlink. mode, when not 0, overrides the local permissions.
func push(ctx context.Context, c *client.Client, f *pushFlags, mode uint32, src, name, p string, top bool) error {
	fail := func(err error) error { return fmt.Errorf("push %s to %s%s: %w", src, name, p, err) }
	args := client.FileArgs{UID: f.uid, GID: f.gid, Mode: mode}
	if src == "-" {
		args.Content = os.Stdin
		return wrapNil(c.CreateFile(ctx, name, p, args), fail)
	}
	stat := os.Lstat
	if top {
		stat = os.Stat
	}
	st, err := stat(src)
	if err != nil {
		return fail(err)
	}
	if args.Mode == 0 {
		args.Mode = unixMode(st)
	}
	switch {
	case st.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fail(err)
		}
		args.Type, args.Content, args.Mode = "symlink", strings.NewReader(target), 0
		return wrapNil(c.CreateFile(ctx, name, p, args), fail)
	case st.IsDir():
		if !f.recursive {
			return fail(errDirectory)
		}
		args.Type = "directory"
		if err := c.CreateFile(ctx, name, p, args); err != nil {
			return fail(err)
		}
		ents, err := os.ReadDir(src)
		if err != nil {
			return fail(err)
		}
		for _, e := range ents {
			if err := push(ctx, c, f, mode, filepath.Join(src, e.Name()), name, path.Join(p, e.Name()), false); err != nil {
				return err
			}
		}
		return nil
	case st.Mode().IsRegular():
		fh, err := os.Open(src)
		if err != nil {
			return fail(err)
		}
		defer fh.Close()
		args.Content = fh
		return wrapNil(c.CreateFile(ctx, name, p, args), fail)
	}
	return fail(errors.New("not a regular file, directory or symlink"))
}

// unixMode returns the permission bits of st including setuid/setgid/sticky.
func unixMode(st os.FileInfo) uint32 {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Mode & 0o7777
	}
	return uint32(st.Mode().Perm())
}

func wrapNil(err error, wrap func(error) error) error {
	if err == nil {
		return nil
	}
	return wrap(err)
}

func newFileDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME/PATH...",
		Aliases: []string{"rm"},
		Short:   "Delete files (or empty directories) in instances",
		Args:    minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			for _, a := range args {
				name, p, err := splitInstancePath(a)
				if err != nil {
					return err
				}
				p = strings.TrimSuffix(p, "/")
				if p == "" {
					return fmt.Errorf("delete %s: refusing to delete the root directory", a)
				}
				if err := c.DeleteFile(cmd.Context(), name, p); err != nil {
					return fmt.Errorf("delete %s%s: %w", name, p, err)
				}
			}
			return nil
		},
	}
}
