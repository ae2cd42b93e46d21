// Command lxmgrd is the lxmgr daemon: it owns the SQLite inventory, the
// storage pools and the images, drives guests through liblxc and serves the
// REST API on a unix socket. Guests keep running when it stops; on start it
// reattaches to them and repairs whatever a crash left half-made.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is the daemon's version; set at build time with -ldflags.
var version = "0.1.0"

func main() {
	// A proxy device's own process (see startProxyProc): not the daemon.
	if len(os.Args) > 1 && os.Args[1] == forkproxyArg {
		if err := runForkproxy(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "lxmgrd forkproxy:", err)
			os.Exit(1)
		}
		return
	}
	debug := flag.Bool("debug", false, "log debug messages")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	dir := os.Getenv("LXMGR_DIR")
	if dir == "" {
		dir = "/var/lib/lxmgr"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, dir); err != nil {
		fmt.Fprintln(os.Stderr, "lxmgrd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir string) error {
	d, err := newDaemon(ctx, dir)
	if err != nil {
		return err
	}
	return d.serve(ctx)
}
