package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lxmgr/lxmgr/client"
)

// emptyAndCheckNetns deletes every instance and network of the daemon under
// test (the default network too, once no profile names it), stops the
// daemon and returns what it left in the suite's network namespace: a
// link other than lo (a bridge, a veth, a shaping ifb), a dnsmasq or a
// proxy process of the suite's state directory, the daemon's nftables table. Everything the
// daemon sets up it must also take down.
func (e *env) emptyAndCheckNetns() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var problems []string
	if err := e.emptyDaemon(ctx, e.client()); err != nil {
		problems = append(problems, "emptying the daemon: "+err.Error())
	}
	if err := e.stopDaemon(syscall.SIGTERM); err != nil {
		problems = append(problems, err.Error())
	}
	out, err := exec.Command("ip", "-n", e.netns, "-o", "link", "show").CombinedOutput()
	if err != nil {
		problems = append(problems, fmt.Sprintf("ip link show: %v: %s", err, out))
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.TrimSuffix(f[1], ":") != "lo" {
			problems = append(problems, "link left: "+line)
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		argv := strings.Split(string(b), "\x00")
		if filepath.Base(argv[0]) == "dnsmasq" && strings.Contains(string(b), e.dir+"/") {
			problems = append(problems, fmt.Sprintf("dnsmasq left: pid %s: %s", filepath.Base(filepath.Dir(p)), strings.Join(argv, " ")))
		}
		// A port forward's own process (lxmgrd forkproxy) outlives the
		// daemon by design, but not its guest or device.
		if len(argv) > 2 && argv[1] == "forkproxy" && strings.HasPrefix(argv[2], e.dir+"/") {
			problems = append(problems, fmt.Sprintf("proxy process left: pid %s: %s", filepath.Base(filepath.Dir(p)), strings.Join(argv[:3], " ")))
		}
	}
	out, err = exec.Command("nsenter", "--net=/run/netns/"+e.netns, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		problems = append(problems, fmt.Sprintf("nft list tables: %v: %s", err, out))
	} else if strings.Contains(string(out), "table inet lxmgr") {
		problems = append(problems, "nftables table inet lxmgr left")
	}
	return problems
}

// emptyDaemon deletes every instance, takes every managed network out of
// every profile, and deletes every network.
func (e *env) emptyDaemon(ctx context.Context, c *client.Client) error {
	names, err := c.GetInstanceNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		op, err := c.DeleteInstance(ctx, n, true)
		if err == nil {
			err = op.Wait(ctx)
		}
		if err != nil {
			return fmt.Errorf("delete instance %s: %w", n, err)
		}
	}
	profs, err := c.GetProfiles(ctx)
	if err != nil {
		return err
	}
	for _, p := range profs {
		changed := false
		for name, dev := range p.Devices {
			if dev["type"] == "nic" && dev["network"] != "" {
				delete(p.Devices, name)
				changed = true
			}
		}
		if changed {
			if err := c.UpdateProfile(ctx, p.Name, p.ProfilePut, ""); err != nil {
				return fmt.Errorf("take networks out of profile %s: %w", p.Name, err)
			}
		}
	}
	nets, err := c.GetNetworkNames(ctx)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if err := c.DeleteNetwork(ctx, n); err != nil {
			return fmt.Errorf("delete network %s: %w", n, err)
		}
	}
	return nil
}
