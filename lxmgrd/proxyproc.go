package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lxmgr/lxmgr/network"
)

// proxyRecord is the daemon's note of one forkproxy process: what it
// serves, and its pid with its start time (a pid alone may have been
// reused by the time a later daemon reads the note).
type proxyRecord struct {
	forkproxySpec
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"start_time"` // /proc/<pid>/stat field 22, clock ticks since boot
}

// procInfo is what /proc says of a pid.
type procInfo struct {
	alive     bool // exists and is not a zombie
	startTime uint64
	cmdline   []string
}

// readProc reads /proc/<pid>/stat and cmdline; a missing or zombie process
// is not alive.
func readProc(pid int) procInfo {
	if pid <= 0 {
		return procInfo{}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}
	}
	state, start, ok := parseStat(string(b))
	if !ok || state == "Z" || state == "X" {
		return procInfo{}
	}
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return procInfo{}
	}
	return procInfo{alive: true, startTime: start, cmdline: strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")}
}

// parseStat returns the state and start time of a /proc/<pid>/stat line.
// The command name may contain spaces and ')', so fields are counted from
// the last ')'.
func parseStat(s string) (state string, start uint64, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 { // f[0] is field 3 (state), f[19] field 22 (starttime)
		return "", 0, false
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return f[0], start, true
}

// isProxyProc reports whether p is the forkproxy process recorded in r at
// path: alive, started when recorded, and running forkproxy for that path.
func isProxyProc(r proxyRecord, path string, p procInfo) bool {
	return p.alive && p.startTime == r.StartTime &&
		len(p.cmdline) >= 3 && p.cmdline[1] == forkproxyArg && p.cmdline[2] == path
}

// adoptable reports whether the process recorded in r can keep serving
// want: it is still that process and it serves exactly want, into the same
// init (a new init has a new network namespace, and the process holds the
// old one).
func adoptable(r proxyRecord, want forkproxySpec, path string, p procInfo) bool {
	return r.forkproxySpec == want && isProxyProc(r, path, p)
}

// readProxyRecords returns the records of an instance's proxy processes by
// device. An unreadable record is removed: without a trustworthy pid and
// start time nothing can be killed safely (the teardown's pattern kill and
// the start time check cover such a process).
func (d *daemon) readProxyRecords(name string) map[string]proxyRecord {
	out := map[string]proxyRecord{}
	ents, err := os.ReadDir(d.proxyInstanceDir(name))
	if err != nil {
		return out
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(d.proxyInstanceDir(name), e.Name())) // a write a crash cut short
			continue
		}
		dev, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		path := d.proxyRecordPath(name, dev)
		var r proxyRecord
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil || r.Instance != name || r.Device != dev {
			slog.Warn("removing unreadable proxy record", "path", path, "err", err)
			removeProxyRecord(path)
			continue
		}
		out[dev] = r
	}
	return out
}

// sweepProxyOrphans kills the forkproxy processes of this state directory
// that no record names: a crash between starting one and writing its
// record (or a record lost since) would otherwise leave it holding its
// listen address, and the next start could not bind it again.
func (d *daemon) sweepProxyOrphans() {
	prefix := d.proxiesDir() + string(filepath.Separator)
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range procs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == os.Getpid() {
			continue
		}
		// The command line first: a host with a thousand guests runs tens
		// of thousands of processes, and few of them are ours.
		if cl, err := os.ReadFile(dir + "/cmdline"); err != nil || !bytes.Contains(cl, []byte(prefix)) {
			continue
		}
		p := readProc(pid)
		if !p.alive || len(p.cmdline) < 3 || p.cmdline[1] != forkproxyArg || !strings.HasPrefix(p.cmdline[2], prefix) {
			continue
		}
		path := p.cmdline[2]
		inst := filepath.Base(filepath.Dir(path))
		dev := strings.TrimSuffix(filepath.Base(path), ".json")
		if r, ok := d.readProxyRecords(inst)[dev]; ok && r.Pid == pid && isProxyProc(r, path, p) {
			continue
		}
		killProxyProc(proxyRecord{forkproxySpec: forkproxySpec{Instance: inst, Device: dev}, Pid: pid, StartTime: p.startTime}, path)
	}
}

// removeProxyRecord removes a record and its process's log.
func removeProxyRecord(path string) {
	os.Remove(path)
	os.Remove(proxyLogPath(path))
}

func proxyLogPath(recordPath string) string {
	return strings.TrimSuffix(recordPath, ".json") + ".log"
}

// killProxyProc stops the process recorded in r, if it is still that
// process: SIGTERM (it closes its connections), then SIGKILL. It returns
// once the process is gone, so its listen address is free again.
func killProxyProc(r proxyRecord, path string) {
	if !isProxyProc(r, path, readProc(r.Pid)) {
		return // exited already, or the pid is another process now
	}
	gone := func(wait time.Duration) bool {
		for end := time.Now().Add(wait); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if !isProxyProc(r, path, readProc(r.Pid)) {
				return true
			}
		}
		return false
	}
	syscall.Kill(r.Pid, syscall.SIGTERM)
	if !gone(3 * time.Second) {
		syscall.Kill(r.Pid, syscall.SIGKILL)
		gone(2 * time.Second)
	}
	slog.Info("proxy process stopped", "instance", r.Instance, "device", r.Device, "pid", r.Pid)
}

// startProxyProc binds want's listen address here (so a taken address is a
// clear error now), opens the guest's network namespace, and hands both to
// a new `lxmgrd forkproxy` process in its own session, so that neither the
// daemon's exit nor a signal to its process group stops it. Its output goes
// to a log next to its record.
func (d *daemon) startProxyProc(path string, want forkproxySpec) error {
	ln, err := network.ListenFile(network.ProxySpec{Listen: want.Listen, Connect: want.Connect})
	if err != nil {
		return err
	}
	defer ln.Close()
	ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", want.InitPid))
	if err != nil {
		return fmt.Errorf("guest network namespace: %w", err)
	}
	defer ns.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	logf, err := os.OpenFile(proxyLogPath(path), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	js, err := json.Marshal(want)
	if err != nil {
		return err
	}
	cmd := exec.Command("/proc/self/exe", forkproxyArg, path, string(js))
	cmd.Args[0] = "lxmgrd"
	cmd.Dir = "/" // hold nothing under the state directory
	cmd.Env = []string{}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{ln, ns} // fds 3 and 4: forkproxyListenFd, forkproxyNetnsFd
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start proxy process: %w", err)
	}
	go cmd.Wait() // reap it if it exits while this daemon runs
	p := readProc(cmd.Process.Pid)
	r := proxyRecord{forkproxySpec: want, Pid: cmd.Process.Pid, StartTime: p.startTime}
	if err := writeProxyRecord(path, r); err != nil {
		cmd.Process.Kill()
		return err
	}
	slog.Info("proxy process started", "instance", want.Instance, "device", want.Device, "pid", r.Pid, "listen", want.Listen)
	return nil
}

// writeProxyRecord writes r atomically (a crash leaves the old or the new
// record, never half of one).
func writeProxyRecord(path string, r proxyRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// safeFileName reports whether a device name can be a file name in a
// proxy's record directory (device names are validated so when stored;
// forkproxy checks again what it is given).
func safeFileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00") &&
		!slices.ContainsFunc([]rune(s), func(r rune) bool { return r < 0x20 || r == 0x7f })
}
