package image

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// debianVersions maps the suites that can be built to their version numbers.
var debianVersions = map[string]string{"bullseye": "11", "bookworm": "12", "trixie": "13"}

// debianPackages are installed on top of debootstrap's minbase: enough for
// systemd as init, DHCP through systemd-networkd and DNS through
// systemd-resolved (a separate package since bookworm), plus procps (ps,
// free, top: what an admin reaches for first).
func debianPackages(suite string) []string {
	pkgs := []string{"systemd", "systemd-sysv", "dbus", "iproute2", "procps"}
	if suite != "bullseye" {
		pkgs = append(pkgs, "systemd-resolved")
	}
	return pkgs
}

// maskedUnits are units that are useless or fail in an unprivileged
// container: liblxc provides /dev, the kernel filesystems and the hostname,
// and there is no tty1. console-getty stays (the getty generator starts it
// in containers).
var maskedUnits = []string{
	"systemd-remount-fs.service",
	"systemd-udevd.service",
	"systemd-udevd-control.socket",
	"systemd-udevd-kernel.socket",
	"systemd-udev-trigger.service",
	"systemd-udev-settle.service",
	"sys-kernel-config.mount",
	"sys-kernel-debug.mount",
	"sys-kernel-tracing.mount",
	"sys-fs-fuse-connections.mount",
	"dev-hugepages.mount",
	"systemd-journald-audit.socket",
	"systemd-firstboot.service",
	"getty@tty1.service",
	"e2scrub_reap.service",
	"systemd-modules-load.service",      // fails in trixie containers: no kmod
	"systemd-network-generator.service", // network units from the kernel command line: the host's
}

// maskedGenerators are systemd generators that look for block devices
// (encrypted, integrity or verity volumes, GPT partitions, a resume
// device): an unprivileged container has none, and the generators run as
// processes of their own on every boot (about 25 ms of a 0.5 s boot).
var maskedGenerators = []string{
	"systemd-cryptsetup-generator",
	"systemd-gpt-auto-generator",
	"systemd-hibernate-resume-generator",
	"systemd-integritysetup-generator",
	"systemd-veritysetup-generator",
}

// eth0Network: the MAC as client id (the DHCP reservation is by MAC), and
// the hostname stays the one lxmgr sets (no hostnamed round trip at boot).
const eth0Network = `# Written by lxmgr: DHCP on the container's NIC.
[Match]
Name=eth0

[Network]
DHCP=ipv4

[DHCPv4]
ClientIdentifier=mac
UseHostname=no
`

const etcHosts = `127.0.0.1	localhost
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
`

// systemdAccounting turns off systemd's per-unit memory, task and I/O
// accounting in the guest. On a host with v1 controllers each accounted
// unit of each guest is a cgroup of its own in the memory, pids and blkio
// hierarchies, and every unit that ran once leaves a dying memory cgroup
// behind: some 15 per guest, 10 000 at 640 guests, and the kernel's memory
// reclaim walks all of them, until the host spends all its time there.
// The guest as a whole stays accounted and limited (limits.*), and a guest
// admin can turn accounting back on per unit.
const systemdAccounting = `# Written by lxmgr: see image/debian.go (systemdAccounting).
[Manager]
DefaultMemoryAccounting=no
DefaultTasksAccounting=no
DefaultIOAccounting=no
`

// resolvedNoMulticast turns off LLMNR and multicast DNS in the guest's
// resolver. Names come from the network's DNS (the bridge's dnsmasq); with
// multicast names each guest's probes and announcements of its own name
// reach every other guest's resolver on the bridge: with 700 guests on one
// bridge the resolvers used a fifth of the host's CPU.
const resolvedNoMulticast = `# Written by lxmgr: see image/debian.go (resolvedNoMulticast).
[Resolve]
LLMNR=no
MulticastDNS=no
`

// debianRecipe returns the recipe building Debian suite with debootstrap.
func debianRecipe(suite string) recipe {
	return func(ctx context.Context, rootfs string, opts BuildOptions) (map[string]string, packOptions, error) {
		if err := debootstrap(ctx, suite, rootfs, opts); err != nil {
			return nil, packOptions{}, err
		}
		opts.progress("configuring rootfs")
		if err := configureDebian(ctx, rootfs); err != nil {
			return nil, packOptions{}, err
		}
		version := debianVersions[suite]
		now := time.Now().UTC()
		props := map[string]string{
			"os":          "Debian",
			"release":     suite,
			"version":     version,
			"variant":     "default",
			"serial":      now.Format("20060102_1504"),
			"description": fmt.Sprintf("Debian %s (%s) %s (%s)", version, suite, HostArchitecture(), now.Format("20060102_1504")),
			"init":        "systemd",
			"halt_signal": "SIGRTMIN+3",
		}
		return props, packOptions{}, nil
	}
}

// debootstrap runs debootstrap into rootfs, turning its output into short
// progress lines.
func debootstrap(ctx context.Context, suite, rootfs string, opts BuildOptions) error {
	argv := []string{"debootstrap", "--variant=minbase",
		"--arch=" + debianArch(),
		"--include=" + strings.Join(debianPackages(suite), ","),
		suite, rootfs}
	if opts.Mirror != "" {
		u, err := url.Parse(opts.Mirror)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") || strings.HasPrefix(opts.Mirror, "-") {
			return fmt.Errorf("invalid mirror %q: want an http, https or file URL", opts.Mirror)
		}
		argv = append(argv, opts.Mirror)
	}
	// dpkg fsyncs every file it unpacks; for a tree that is thrown away on
	// failure and packed afterwards that only costs time. The setting is
	// removed before packing.
	unsafeIO := filepath.Join(rootfs, dpkgUnsafeIO)
	if err := writeFile(unsafeIO, "force-unsafe-io\n", 0o644); err != nil {
		return err
	}
	opts.progress("debootstrap: starting")
	last := ""
	err := runCommand(ctx, func(line string) {
		if msg := debootstrapStage(line); msg != "" && msg != last {
			last = msg
			opts.progress(msg)
		}
	}, argv...)
	if err != nil {
		return err
	}
	return os.Remove(unsafeIO)
}

// dpkgUnsafeIO is the dpkg setting file dropped into the target during
// debootstrap.
const dpkgUnsafeIO = "etc/dpkg/dpkg.cfg.d/lxmgr-unsafe-io"

// debootstrapStage condenses one line of debootstrap output into a stage
// line: the hundreds of per-package lines collapse into a few stages.
func debootstrapStage(line string) string {
	level, msg, ok := strings.Cut(line, ": ")
	if !ok {
		return ""
	}
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "..."))
	switch level {
	case "I":
	case "W":
		return "debootstrap: warning: " + msg
	case "E":
		return "debootstrap: error: " + msg
	default:
		return ""
	}
	verb, _, _ := strings.Cut(msg, " ")
	switch verb {
	case "Retrieving", "Validating":
		return "debootstrap: downloading"
	case "Extracting":
		return "debootstrap: extracting"
	case "Unpacking":
		return "debootstrap: unpacking"
	case "Configuring":
		return "debootstrap: configuring"
	case "Checking", "Valid", "Chosen", "Target", "Found", "Keyring":
		return "" // noise
	}
	return "debootstrap: " + strings.ToLower(msg[:1]) + msg[1:]
}

// configureDebian turns a fresh debootstrap tree into a container image.
func configureDebian(ctx context.Context, rootfs string) error {
	files := []struct {
		path string
		data string
	}{
		{"etc/systemd/network/eth0.network", eth0Network},
		{"etc/systemd/system.conf.d/50-lxmgr-accounting.conf", systemdAccounting},
		{"etc/systemd/resolved.conf.d/50-lxmgr-no-multicast.conf", resolvedNoMulticast},
		// Empty: the container manager sets the hostname; debootstrap
		// copied the build host's name here.
		{"etc/hostname", ""},
		{"etc/hosts", etcHosts},
		{"etc/fstab", "# Mounts are set up by the container manager.\n"},
		// Empty: each guest gets its own id on first boot.
		{"etc/machine-id", ""},
	}
	for _, f := range files {
		mode := os.FileMode(0o644)
		if f.path == "etc/machine-id" {
			mode = 0o444
		}
		if err := writeFile(filepath.Join(rootfs, f.path), f.data, mode); err != nil {
			return err
		}
	}
	links := []struct{ path, target string }{
		// DNS from DHCP reaches the guest through resolved's stub;
		// debootstrap copied the build host's resolv.conf here.
		{"etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"},
		{"var/lib/dbus/machine-id", "/etc/machine-id"},
	}
	for _, l := range links {
		if err := replaceSymlink(filepath.Join(rootfs, l.path), l.target); err != nil {
			return err
		}
	}
	enable := []string{"chroot", rootfs, "systemctl", "enable", "systemd-networkd.service", "systemd-resolved.service"}
	if err := runCommand(ctx, nil, enable...); err != nil {
		return fmt.Errorf("enable units: %w", err)
	}
	mask := append([]string{"chroot", rootfs, "systemctl", "mask"}, maskedUnits...)
	if err := runCommand(ctx, nil, mask...); err != nil {
		return fmt.Errorf("mask units: %w", err)
	}
	if err := dropMaskedWants(rootfs); err != nil {
		return err
	}
	// A generator is masked by a /dev/null link of its name in /etc.
	for _, g := range maskedGenerators {
		if _, err := os.Stat(filepath.Join(rootfs, "usr/lib/systemd/system-generators", g)); err != nil {
			continue // not in this release
		}
		if err := replaceSymlink(filepath.Join(rootfs, "etc/systemd/system-generators", g), "/dev/null"); err != nil {
			return err
		}
	}
	if err := cleanDev(filepath.Join(rootfs, "dev")); err != nil {
		return err
	}
	return cleanAPT(rootfs)
}

// dropMaskedWants removes the .wants/ links of masked units that packages
// enabled, so that boot does not log pulling in a masked unit.
func dropMaskedWants(rootfs string) error {
	for _, unit := range maskedUnits {
		links, err := filepath.Glob(filepath.Join(rootfs, "etc/systemd/system/*.wants", unit))
		if err != nil {
			return err
		}
		for _, l := range links {
			if err := os.Remove(l); err != nil {
				return fmt.Errorf("unwant %s: %w", unit, err)
			}
		}
	}
	return nil
}

// cleanDev removes device nodes, fifos and sockets under dir: liblxc
// provides /dev, and an unprivileged guest could not use them anyway.
func cleanDev(dir string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&(os.ModeDevice|os.ModeCharDevice|os.ModeNamedPipe|os.ModeSocket) != 0 {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("clean /dev: %w", err)
			}
		}
		return nil
	})
}

// cleanAPT drops package caches, indexes and build logs that only make the
// image bigger; `apt update` in the guest fetches fresh lists.
func cleanAPT(rootfs string) error {
	globs := []string{
		"var/cache/apt/*.bin",
		"var/cache/apt/archives/*.deb",
		"var/cache/apt/archives/partial/*",
		"var/lib/apt/lists/*",
		"var/cache/debconf/*-old",
		"var/lib/dpkg/*-old",
		"var/log/bootstrap.log",
	}
	for _, g := range globs {
		matches, err := filepath.Glob(filepath.Join(rootfs, g))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if filepath.Base(m) == "partial" || filepath.Base(m) == "lock" {
				continue
			}
			if err := os.RemoveAll(m); err != nil {
				return fmt.Errorf("clean apt: %w", err)
			}
		}
	}
	return nil
}

// writeFile replaces path with a regular file, never writing through a
// symlink left there by a package.
func writeFile(path, data string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		return err
	}
	return os.Chmod(path, mode) // not subject to the umask
}

// replaceSymlink makes path a symlink to target, whatever was there.
func replaceSymlink(path, target string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Symlink(target, path)
}
