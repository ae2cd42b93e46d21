// Command buildimage builds one lxmgr image (debian/12 by default) into a
// unified tarball with the same recipe lxmgrd uses. bench/launch.sh runs it
// in the host's network namespace when no cached Debian image exists,
// because the daemons under test live in namespaces without a route to the
// Debian mirror.
//
//	go run ./bench/buildimage -o /tmp/debian-12.tar.gz [-name debian/12]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/lxmgr/lxmgr/image"
)

func main() {
	name := flag.String("name", "debian/12", "image to build (canonical name or alias)")
	out := flag.String("o", "", "tarball to write (required)")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: buildimage -o FILE [-name IMAGE]")
		os.Exit(2)
	}
	// An interrupt cancels the build, which kills debootstrap and removes
	// the scratch tree instead of leaving it behind.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	built, err := image.Build(ctx, *name, *out, image.BuildOptions{
		WorkDir:  filepath.Dir(*out),
		Progress: func(msg string) { fmt.Fprintln(os.Stderr, "buildimage:", msg) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildimage:", err)
		os.Exit(1)
	}
	fmt.Println(built.Fingerprint)
}
