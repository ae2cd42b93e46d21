package image

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// busyboxBinary is the host's busybox; it must be the static build (Debian's
// busybox-static) because the guest has no libc.
var busyboxBinary = "/bin/busybox"

const busyboxInittab = `# Written by lxmgr. No getty on any tty: the console is reached with
# exec. SIGUSR2 (the container manager's halt signal) powers off.
::sysinit:/etc/init.d/rcS
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
`

// busyboxRCS mounts what liblxc may not have mounted, brings up lo, starts a
// DHCP client on eth0 when there is one, and finally writes the readiness
// marker the daemon waits for.
const busyboxRCS = `#!/bin/sh
# Written by lxmgr: minimal boot of a busybox guest.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
# Debian's static busybox has no mountpoint applet: look in /proc/mounts.
# Mounting /proc again would hide what liblxc and lxcfs put there.
mounted() { [ -r /proc/mounts ] && grep -q "^[^ ]* $1 " /proc/mounts; }
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys 2>/dev/null
mounted /run || mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mounted /tmp || mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp 2>/dev/null
mkdir -p /run/lock /dev/pts /dev/shm
ip link set lo up 2>/dev/null
if [ -e /sys/class/net/eth0 ]; then
	ip link set eth0 up
	udhcpc -f -R -i eth0 -s /etc/udhcpc.script -x "hostname:$(hostname)" >/dev/null 2>&1 &
fi
touch /run/lxmgr-ready
`

// busyboxUdhcpc applies leases: udhcpc only negotiates, the script
// configures the interface, the default route and DNS.
const busyboxUdhcpc = `#!/bin/sh
# Written by lxmgr: udhcpc event handler.
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	for r in $router; do
		ip route replace default via "$r" dev "$interface"
		break
	done
	: > /etc/resolv.conf
	[ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
	;;
esac
exit 0
`

const busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
const busyboxGroup = "root:x:0:\nnogroup:x:65534:\n"
const busyboxShadow = "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n"
const busyboxProfile = "export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nexport PS1='\\h:\\w\\$ '\n"

// buildBusybox assembles the busybox image: the static binary, its applet
// symlinks, an inittab and a boot script. It takes about a second.
func buildBusybox(ctx context.Context, rootfs string, opts BuildOptions) (map[string]string, packOptions, error) {
	opts.progress("busybox: assembling rootfs")
	if err := checkStatic(busyboxBinary); err != nil {
		return nil, packOptions{}, err
	}
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"etc", 0o755}, {"etc/init.d", 0o755}, {"root", 0o700}, {"tmp", os.ModeSticky | 0o777},
		{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755},
		{"var", 0o755}, {"var/log", 0o755}, {"var/tmp", os.ModeSticky | 0o777}, {"home", 0o755}, {"mnt", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(rootfs, d.path)
		if err := os.Mkdir(p, 0o755); err != nil {
			return nil, packOptions{}, err
		}
		if err := os.Chmod(p, d.mode); err != nil { // umask-proof, and sets the sticky bit
			return nil, packOptions{}, err
		}
	}
	if err := copyFile(busyboxBinary, filepath.Join(rootfs, "bin/busybox"), 0o755); err != nil {
		return nil, packOptions{}, err
	}
	if err := busyboxApplets(ctx, rootfs); err != nil {
		return nil, packOptions{}, err
	}
	files := []struct {
		path, data string
		mode       os.FileMode
	}{
		{"etc/inittab", busyboxInittab, 0o644},
		{"etc/init.d/rcS", busyboxRCS, 0o755},
		{"etc/udhcpc.script", busyboxUdhcpc, 0o755},
		{"etc/passwd", busyboxPasswd, 0o644},
		{"etc/group", busyboxGroup, 0o644},
		{"etc/shadow", busyboxShadow, 0o640},
		{"etc/profile", busyboxProfile, 0o644},
		{"etc/hosts", etcHosts, 0o644},
		{"etc/resolv.conf", "", 0o644},
		{"etc/fstab", "", 0o644},
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(rootfs, f.path), f.data, f.mode); err != nil {
			return nil, packOptions{}, err
		}
	}
	if err := os.Symlink("../run", filepath.Join(rootfs, "var/run")); err != nil {
		return nil, packOptions{}, err
	}
	version := busyboxVersion(ctx)
	props := map[string]string{
		"os":          "BusyBox",
		"release":     version,
		"variant":     "default",
		"description": strings.TrimSpace(fmt.Sprintf("BusyBox %s %s", version, HostArchitecture())),
		"init":        "busybox",
		"halt_signal": "SIGUSR2",
	}
	return props, packOptions{ownerRoot: true}, nil
}

// busyboxApplets creates one symlink to /bin/busybox per applet, at the
// path `busybox --list-full` gives it.
func busyboxApplets(ctx context.Context, rootfs string) error {
	out, err := exec.CommandContext(ctx, busyboxBinary, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("list busybox applets: %w", err)
	}
	for _, rel := range strings.Fields(string(out)) {
		rel = filepath.Clean(strings.TrimPrefix(rel, "/"))
		if rel == "bin/busybox" || strings.HasPrefix(rel, "..") || !strings.Contains(rel, "/") {
			continue
		}
		p := filepath.Join(rootfs, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.Symlink("/bin/busybox", p); err != nil && !os.IsExist(err) {
			return fmt.Errorf("applet %s: %w", rel, err)
		}
	}
	return nil
}

var busyboxVersionRE = regexp.MustCompile(`BusyBox v([0-9][0-9A-Za-z.]*)`)

// busyboxVersion returns the version of the host's busybox ("1.35.0"), or ""
// if it cannot tell.
func busyboxVersion(ctx context.Context) string {
	// busybox with no arguments prints its banner and exits 1.
	out, _ := exec.CommandContext(ctx, busyboxBinary).CombinedOutput()
	if m := busyboxVersionRE.FindSubmatch(out); m != nil {
		return string(m[1])
	}
	return ""
}

// checkStatic fails if the ELF binary at path needs a dynamic loader.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("busybox: %w (install busybox-static)", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("busybox: %s is dynamically linked (install busybox-static)", path)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, bytes.NewReader(data)); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
