package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/network"
)

// forkproxyArg is the hidden first argument that makes lxmgrd serve one
// proxy device instead of being the daemon (see startProxyProc).
const forkproxyArg = "forkproxy"

// The sockets a forkproxy process inherits (ExtraFiles start at fd 3).
const (
	forkproxyListenFd = 3 // the listen socket, bound by the daemon
	forkproxyNetnsFd  = 4 // the guest's network namespace, opened by the daemon
)

// forkproxySpec is what a forkproxy process is told on its command line.
// The record path is there too (argv[2]), so that the process can be told
// apart from any other by its command line, and so that anything killing
// what holds the state directory (pkill -f DIR) also kills it.
type forkproxySpec struct {
	Instance string `json:"instance"`
	Device   string `json:"device"`
	Listen   string `json:"listen"`
	Connect  string `json:"connect"`
	InitPid  int    `json:"init_pid"`
}

// runForkproxy is the whole life of a forkproxy process: argv is
// [RECORD-PATH, SPEC-JSON]. It serves the inherited listen socket, dialling
// each connection in the inherited namespace, until SIGTERM or SIGINT.
// It does not read the daemon's state: everything it needs is in argv and
// the two fds, and the daemon owns its record.
func runForkproxy(argv []string) error {
	if len(argv) != 2 {
		return errors.New("usage: lxmgrd forkproxy RECORD-PATH SPEC-JSON (started by lxmgrd only)")
	}
	var fs forkproxySpec
	dec := json.NewDecoder(strings.NewReader(argv[1]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fs); err != nil {
		return fmt.Errorf("proxy spec: %w", err)
	}
	spec, err := network.ParseProxy(fs.Listen, fs.Connect)
	if err != nil {
		return err
	}
	if err := api.ValidateName("instance", fs.Instance); err != nil {
		return err
	}
	if !safeFileName(fs.Device) || fs.InitPid <= 0 {
		return fmt.Errorf("proxy spec %s: bad device name or init pid", argv[1])
	}
	// The namespace fd keeps the guest's namespace reachable for as long
	// as this process lives, whatever becomes of the pid; refuse anything
	// that is not a network namespace.
	var st unix.Statfs_t
	if err := unix.Fstatfs(forkproxyNetnsFd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("fd %d is not a namespace (%v)", forkproxyNetnsFd, err)
	}
	if t, err := unix.IoctlRetInt(forkproxyNetnsFd, unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		return fmt.Errorf("fd %d is not a network namespace (%v)", forkproxyNetnsFd, err)
	}
	ln := os.NewFile(forkproxyListenFd, "listen")
	target := func() (string, error) { return fmt.Sprintf("/proc/self/fd/%d", forkproxyNetnsFd), nil }
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	p := network.NewProxies()
	if err := p.StartOn(proxyKey(fs.Instance, fs.Device), spec, ln, target); err != nil {
		return err
	}
	ln.Close() // the proxy holds its own copy
	slog.Info("proxy serving", "instance", fs.Instance, "device", fs.Device, "listen", spec.Listen, "connect", spec.Connect, "init_pid", fs.InitPid)
	<-ctx.Done()
	p.StopAll()
	slog.Info("proxy stopped", "instance", fs.Instance, "device", fs.Device)
	return nil
}
