package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Files of a network's dnsmasq inside its directory.
const (
	pidFile   = "dnsmasq.pid"
	hostsFile = "dhcp-hosts"
	leaseFile = "dnsmasq.leases"
	logFile   = "dnsmasq.log"
)

// dnsmasqStopTimeout is how long StopDNSMasq waits after SIGTERM before
// SIGKILL.
const dnsmasqStopTimeout = 5 * time.Second

// Host is a guest known to a network's DHCP server: its MAC, its host name
// (served in DNS under the network's domain) and an optional fixed address
// (the zero Addr means a dynamic lease).
type Host struct {
	MAC, Name string
	IP        netip.Addr
}

// DNSMasq is the desired dnsmasq of one network: DHCP on Ranges (none = DHCP
// off, DNS only) and DNS for Domain, listening on the Gateway address of
// Bridge. Dir holds its pid, lease, hosts and log files. MTU, when not 0, is
// announced to DHCP clients (option 26).
type DNSMasq struct {
	Network, Bridge, Dir, Domain string
	Gateway                      netip.Prefix
	Ranges                       []Range
	Hosts                        []Host
	MTU                          int
}

func (m DNSMasq) check() error {
	switch {
	case !filepath.IsAbs(m.Dir):
		return fmt.Errorf("%w: dnsmasq dir %q is not absolute", ErrInvalid, m.Dir)
	case strings.ContainsAny(m.Dir, ",\n\x00"):
		return fmt.Errorf("%w: dnsmasq dir %q has a comma or newline", ErrInvalid, m.Dir)
	case !m.Gateway.IsValid() || !m.Gateway.Addr().Is4():
		return fmt.Errorf("%w: network %q has no IPv4 gateway for dnsmasq", ErrInvalid, m.Network)
	}
	if err := ValidateName(m.Bridge); err != nil {
		return err
	}
	return validateDomain(m.Domain)
}

// sbin returns the path of a system tool: from PATH, else its Debian place
// (a daemon started with a minimal PATH may miss /usr/sbin).
func sbin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// args is the full command line we run for m. It is compared with the
// running process's to decide between adopting and restarting, so it must
// be deterministic.
func (m DNSMasq) args() []string {
	domain := m.Domain
	if domain == "" {
		domain = DefaultDomain
	}
	a := []string{
		sbin("dnsmasq"),
		"--conf-file=/dev/null", // ignore /etc/dnsmasq.conf and conf-dir
		"--no-hosts",
		"--strict-order",
		"--bind-interfaces",
		"--interface=" + m.Bridge,
		"--except-interface=lo",
		"--listen-address=" + m.Gateway.Addr().String(),
		// root: the state dir may be 0700 and dnsmasq re-reads the hosts
		// file on SIGHUP after it would have dropped privileges.
		"--user=root",
		"--pid-file=" + filepath.Join(m.Dir, pidFile),
		"--log-facility=" + filepath.Join(m.Dir, logFile),
		"--quiet-dhcp", // one line per renewal per guest would grow the log without bound
		"--domain=" + domain,
		"--local=/" + domain + "/",
		"--expand-hosts",
		"--dhcp-hostsfile=" + filepath.Join(m.Dir, hostsFile),
		"--dhcp-leasefile=" + filepath.Join(m.Dir, leaseFile),
	}
	if len(m.Ranges) > 0 {
		a = append(a, "--no-ping", "--dhcp-rapid-commit", "--dhcp-authoritative", "--dhcp-no-override")
		mask := net.IP(net.CIDRMask(m.Gateway.Bits(), 32)).String()
		for _, r := range m.Ranges {
			a = append(a, fmt.Sprintf("--dhcp-range=%s,%s,%s,1h", r.Start, r.End, mask))
		}
		// dnsmasq hands out at most 1000 leases unless told otherwise; a
		// hoster's /22 holds more guests than that.
		a = append(a, "--dhcp-lease-max="+strconv.Itoa(hostCount(m.Gateway)))
		if m.MTU > 0 {
			a = append(a, "--dhcp-option-force=26,"+strconv.Itoa(m.MTU))
		}
	}
	return a
}

// hostsText renders the dhcp-hostsfile: "MAC[,IP][,name]" per host.
func (m DNSMasq) hostsText() ([]byte, error) {
	var b bytes.Buffer
	for _, h := range m.Hosts {
		mac, err := net.ParseMAC(h.MAC)
		if err != nil {
			return nil, fmt.Errorf("%w: host %q: bad MAC %q", ErrInvalid, h.Name, h.MAC)
		}
		if (h.Name != "" && validateDomain(h.Name) != nil) || strings.Contains(h.Name, ".") {
			return nil, fmt.Errorf("%w: host name %q is not a DNS label", ErrInvalid, h.Name)
		}
		b.WriteString(mac.String())
		if h.IP.IsValid() {
			if !h.IP.Is4() {
				return nil, fmt.Errorf("%w: host %q: address %s is not IPv4", ErrInvalid, h.Name, h.IP)
			}
			b.WriteString("," + h.IP.String())
		}
		if h.Name != "" {
			b.WriteString("," + h.Name)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// writeHosts writes the hosts file atomically and reports whether it changed.
func (m DNSMasq) writeHosts() (bool, error) {
	text, err := m.hostsText()
	if err != nil {
		return false, err
	}
	path := filepath.Join(m.Dir, hostsFile)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, text) {
		return false, nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, text, 0o644); err != nil {
		return false, fmt.Errorf("write dhcp hosts: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fmt.Errorf("write dhcp hosts: %w", err)
	}
	return true, nil
}

// Start makes the network's dnsmasq run as m describes: it adopts the one
// already running for m.Dir when its command line is what we would run now
// (sending SIGHUP if the hosts file changed), restarts it when the command
// line differs, and starts it otherwise. dnsmasq daemonizes itself (own
// session, stdio on /dev/null, reparented away from the daemon), so it
// survives a daemon exit and the next daemon adopts it. Leases are kept in
// the lease file across restarts. The bridge must exist and carry the
// gateway address.
func (m DNSMasq) Start(ctx context.Context) error {
	if err := m.check(); err != nil {
		return err
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return fmt.Errorf("dnsmasq dir: %w", err)
	}
	changed, err := m.writeHosts()
	if err != nil {
		return err
	}
	want := m.args()
	if pid, argv := running(m.Dir); pid > 0 {
		if slices.Equal(argv[1:], want[1:]) {
			// Found by a process-table search: put the pid file back.
			path := filepath.Join(m.Dir, pidFile)
			if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != strconv.Itoa(pid) {
				os.WriteFile(path, []byte(strconv.Itoa(pid)+"\n"), 0o644)
			}
			if changed {
				return signal(pid, syscall.SIGHUP)
			}
			return nil
		}
		if err := StopDNSMasq(m.Dir); err != nil {
			return err
		}
	}
	return m.spawn(ctx, want)
}

// spawn runs dnsmasq and waits until it has written its pid file. dnsmasq's
// first process exits once the daemon is set up, with its error on stderr,
// so a bad config is reported here and not lost.
func (m DNSMasq) spawn(ctx context.Context, argv []string) error {
	stderr, err := os.CreateTemp(m.Dir, "dnsmasq-stderr-")
	if err != nil {
		return fmt.Errorf("start dnsmasq: %w", err)
	}
	defer os.Remove(stderr.Name())
	defer stderr.Close()
	os.Remove(filepath.Join(m.Dir, pidFile))
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stderr = stderr // a file, not a pipe: Run must not wait for the daemon's copy of it
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(stderr.Name())
		return fmt.Errorf("start dnsmasq for network %q: %w: %s", m.Network, err, strings.TrimSpace(string(msg)))
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if pid, _ := running(m.Dir); pid > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("start dnsmasq for network %q: no running process after start (see %s)",
		m.Network, filepath.Join(m.Dir, logFile))
}

// Reload rewrites the hosts file from m.Hosts and sends SIGHUP so dnsmasq
// re-reads it and clears its cache. When our dnsmasq is not running, or runs
// with another command line, it does what Start does.
func (m DNSMasq) Reload(ctx context.Context) error {
	if err := m.check(); err != nil {
		return err
	}
	pid, argv := running(m.Dir)
	if pid <= 0 || !slices.Equal(argv[1:], m.args()[1:]) {
		return m.Start(ctx)
	}
	if _, err := m.writeHosts(); err != nil {
		return err
	}
	return signal(pid, syscall.SIGHUP)
}

func signal(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal dnsmasq %d: %w", pid, err)
	}
	return nil
}

// running returns the pid and argv of our live dnsmasq for dir, or 0. The
// pid file is tried first; when it is missing or stale (removed by hand, a
// crash between start and write) the process table is searched, so a
// dnsmasq that still holds the address is adopted or stopped, not fought.
func running(dir string) (int, []string) {
	if b, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			if argv := ours(pid, dir); argv != nil {
				return pid, argv
			}
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); string(comm) != "dnsmasq\n" {
			continue
		}
		if argv := ours(pid, dir); argv != nil {
			return pid, argv
		}
	}
	return 0, nil
}

// ours returns pid's argv when it is a live dnsmasq whose --pid-file is
// dir's, so a recycled pid or another network's dnsmasq is never adopted or
// killed.
func ours(pid int, dir string) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(raw) == 0 || !alive(pid) {
		return nil
	}
	argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	if filepath.Base(argv[0]) != "dnsmasq" ||
		!slices.Contains(argv, "--pid-file="+filepath.Join(dir, pidFile)) {
		return nil
	}
	return argv
}

// alive reports whether pid exists and is not a zombie (dnsmasq is not our
// child: whoever inherited it reaps it, maybe late).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// StopDNSMasq stops our dnsmasq for dir (SIGTERM, then SIGKILL after a
// timeout), waits for it to exit and removes its pid file. Nothing running
// is success; the lease and hosts files are kept.
func StopDNSMasq(dir string) error {
	pid, _ := running(dir)
	if pid > 0 {
		if err := signal(pid, syscall.SIGTERM); err != nil {
			return err
		}
		if !waitGone(pid, dnsmasqStopTimeout) {
			if err := signal(pid, syscall.SIGKILL); err != nil {
				return err
			}
			if !waitGone(pid, 2*time.Second) {
				return fmt.Errorf("dnsmasq %d did not exit after SIGKILL", pid)
			}
		}
	}
	if err := os.Remove(filepath.Join(dir, pidFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove dnsmasq pid file: %w", err)
	}
	return nil
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return !alive(pid)
}

// hostCount is the number of host addresses in an IPv4 subnet (at least 1).
func hostCount(p netip.Prefix) int {
	bits := 32 - p.Bits()
	if bits > 20 {
		bits = 20 // a million leases is beyond any host
	}
	return max(1<<bits-2, 1)
}
