package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestBuildBusyboxRoundtrip(t *testing.T) {
	if _, err := os.Stat(busyboxBinary); err != nil {
		t.Skip("no busybox-static:", err)
	}
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "busybox.tar.gz")
	var stages []string
	built, err := Build(context.Background(), "busybox", dest, BuildOptions{
		Progress: func(m string) { stages = append(stages, m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := Fingerprint(dest)
	if err != nil || fp != built.Fingerprint {
		t.Fatalf("Fingerprint = %s, %v; Build said %s", fp, err, built.Fingerprint)
	}
	st, _ := os.Stat(dest)
	if st == nil || st.Size() != built.Size || built.Path != dest {
		t.Errorf("Built = %+v, file %v", built, st)
	}
	if built.Properties["init"] != "busybox" || built.Properties["halt_signal"] != "SIGUSR2" || built.Architecture == "" {
		t.Errorf("properties = %v arch %q", built.Properties, built.Architecture)
	}
	if len(stages) == 0 {
		t.Error("no progress reported")
	}
	// Only the tarball is left: no scratch dir, no partial file.
	if ents, _ := os.ReadDir(tmp); len(ents) != 1 {
		t.Errorf("leftovers next to the tarball: %v", ents)
	}

	out := t.TempDir()
	m, err := Unpack(context.Background(), dest, built.Fingerprint, out, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Architecture != built.Architecture || m.Properties["init"] != "busybox" || m.CreationDate == 0 {
		t.Errorf("metadata = %+v", m)
	}
	rootfs := filepath.Join(out, "rootfs")
	if target, err := os.Readlink(filepath.Join(rootfs, "bin/sh")); err != nil || target != "/bin/busybox" {
		t.Errorf("bin/sh -> %q, %v", target, err)
	}
	if target, err := os.Readlink(filepath.Join(rootfs, "sbin/init")); err != nil || target != "/bin/busybox" {
		t.Errorf("sbin/init -> %q, %v", target, err)
	}
	inittab, err := os.ReadFile(filepath.Join(rootfs, "etc/inittab"))
	if err != nil || !strings.Contains(string(inittab), "::sysinit:/etc/init.d/rcS") || strings.Contains(string(inittab), "respawn") {
		t.Errorf("inittab = %q, %v", inittab, err)
	}
	rcs, err := os.ReadFile(filepath.Join(rootfs, "etc/init.d/rcS"))
	if err != nil || !strings.Contains(string(rcs), "/run/lxmgr-ready") {
		t.Errorf("rcS = %q, %v", rcs, err)
	}
	checks := []struct {
		path string
		mode uint32
	}{
		{"bin/busybox", unix.S_IFREG | 0o755},
		{"etc/init.d/rcS", unix.S_IFREG | 0o755},
		{"tmp", unix.S_IFDIR | 0o1777},
		{"root", unix.S_IFDIR | 0o700},
		{"proc", unix.S_IFDIR | 0o555},
		{"run", unix.S_IFDIR | 0o755},
		{"dev", unix.S_IFDIR | 0o755},
		{"sys", unix.S_IFDIR | 0o555},
		{"etc/passwd", unix.S_IFREG | 0o644},
	}
	for _, c := range checks {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(rootfs, c.path), &st); err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if st.Mode != c.mode || (os.Geteuid() == 0 && (st.Uid != 0 || st.Gid != 0)) {
			t.Errorf("%s: mode %o uid %d gid %d; want %o owned by root", c.path, st.Mode, st.Uid, st.Gid, c.mode)
		}
	}
	if passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc/passwd")); !strings.HasPrefix(string(passwd), "root:x:0:0:") {
		t.Errorf("passwd = %q", passwd)
	}
}

func TestBuildFailureLeavesNothing(t *testing.T) {
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "x.tar.gz")
	if _, err := Build(context.Background(), "debian/10", dest, BuildOptions{}); !errors.Is(err, ErrUnknownImage) {
		t.Errorf("Build(debian/10) = %v, want ErrUnknownImage", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, "busybox", dest, BuildOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with cancelled ctx = %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("leftovers after failed builds: %v", ents)
	}
}

// TestBuildDebian really runs debootstrap (about a minute, needs root and the
// Debian mirror): LXMGR_TEST_DEBIAN=1 enables it, LXMGR_TEST_DEBIAN_SUITE
// picks the suite (default debian/12).
func TestBuildDebian(t *testing.T) {
	if os.Getenv("LXMGR_TEST_DEBIAN") != "1" {
		t.Skip("set LXMGR_TEST_DEBIAN=1 to run debootstrap (about a minute)")
	}
	requireRoot(t)
	name := os.Getenv("LXMGR_TEST_DEBIAN_SUITE")
	if name == "" {
		name = "debian/12"
	}
	// LXMGR_TEST_DEBIAN_OUT keeps the tarball for inspection.
	dest := os.Getenv("LXMGR_TEST_DEBIAN_OUT")
	if dest == "" {
		dest = filepath.Join(t.TempDir(), "debian.tar.gz")
	}
	start := time.Now()
	built, err := Build(context.Background(), name, dest, BuildOptions{
		Progress: func(m string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s: %d bytes, %s", name, time.Since(start).Round(time.Second), built.Size, built.Fingerprint)
	if built.Properties["init"] != "systemd" || built.Properties["halt_signal"] != "SIGRTMIN+3" {
		t.Errorf("properties = %v", built.Properties)
	}

	out := t.TempDir()
	start = time.Now()
	if _, err := Unpack(context.Background(), dest, built.Fingerprint, out, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("unpacked in %s", time.Since(start).Round(time.Millisecond))
	rootfs := filepath.Join(out, "rootfs")
	want := map[string]string{
		"etc/hostname": "",
		"etc/systemd/system/multi-user.target.wants/systemd-networkd.service": "",
		"etc/systemd/system/sockets.target.wants/systemd-networkd.socket":     "",
		"etc/systemd/network/eth0.network":                                    "ClientIdentifier=mac",
		"etc/hosts":                                                           "localhost",
		"etc/systemd/system.conf.d/50-lxmgr-accounting.conf":                  "DefaultMemoryAccounting=no",
		"etc/systemd/resolved.conf.d/50-lxmgr-no-multicast.conf":              "LLMNR=no",
	}
	for p, substr := range want {
		data, err := os.ReadFile(filepath.Join(rootfs, p))
		if err != nil || !strings.Contains(string(data), substr) {
			t.Errorf("%s = %q, %v", p, data, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(rootfs, "etc/hostname")); len(data) != 0 {
		t.Errorf("etc/hostname = %q, want empty", data)
	}
	for _, unit := range []string{"systemd-remount-fs.service", "getty@tty1.service", "systemd-udevd.service", "systemd-modules-load.service", "systemd-network-generator.service"} {
		if target, _ := os.Readlink(filepath.Join(rootfs, "etc/systemd/system", unit)); target != "/dev/null" {
			t.Errorf("%s not masked (-> %q)", unit, target)
		}
	}
	for _, g := range []string{"systemd-cryptsetup-generator", "systemd-gpt-auto-generator"} {
		if target, _ := os.Readlink(filepath.Join(rootfs, "etc/systemd/system-generators", g)); target != "/dev/null" {
			t.Errorf("generator %s not masked (-> %q)", g, target)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/systemd/system-generators/systemd-getty-generator")); err == nil {
		t.Error("the getty generator (console-getty) is masked")
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/systemd/system/console-getty.service")); err == nil {
		t.Error("console-getty.service is masked")
	}
	if _, err := os.Stat(filepath.Join(rootfs, dpkgUnsafeIO)); err == nil {
		t.Error("dpkg unsafe-io setting left in the image")
	}
	if ents, _ := os.ReadDir(filepath.Join(rootfs, "var/lib/apt/lists")); len(ents) > 2 {
		t.Errorf("apt lists not cleaned: %d entries", len(ents))
	}
	ents, _ := os.ReadDir(filepath.Join(rootfs, "dev"))
	for _, e := range ents {
		if e.Type()&(os.ModeDevice|os.ModeCharDevice) != 0 {
			t.Errorf("device node /dev/%s left in the image", e.Name())
		}
	}
}
