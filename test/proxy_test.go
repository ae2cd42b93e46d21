package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tcpEcho serves TCP echo on addr inside a namespace (a guest's
// /proc/PID/ns/net): each connection gets back what it sends, and a
// half-close is answered with one after the echo.
func tcpEcho(t *testing.T, nsPath, addr string) {
	t.Helper()
	var ln net.Listener
	if err := doInNetnsPath(nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("tcp echo in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
				c.Close()
			}()
		}
	}()
}

// roundTrip sends msg on c and reads back as many bytes.
func roundTrip(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

// proxyProc returns the pid of the live process serving a proxy device,
// from the daemon's record (proxies/INSTANCE/DEVICE.json), checked against
// the process's command line; 0 when there is none.
func proxyProc(t *testing.T, inst, dev string) int {
	t.Helper()
	path := filepath.Join(suite.dir, "proxies", inst, dev+".json")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var r struct{ Pid int }
	if err := json.Unmarshal(b, &r); err != nil || r.Pid <= 0 {
		t.Fatalf("proxy record %s: %v: %s", path, err, b)
	}
	if !proxyProcAlive(r.Pid, path) {
		t.Fatalf("proxy record %s names pid %d, which is not its process", path, r.Pid)
	}
	return r.Pid
}

// proxyProcAlive reports whether pid runs `lxmgrd forkproxy RECORD`.
func proxyProcAlive(pid int, record string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if i := strings.LastIndexByte(string(st), ')'); i < 0 || strings.HasPrefix(strings.TrimSpace(string(st[i+1:])), "Z") {
		return false // a zombie serves nothing
	}
	argv := strings.Split(string(b), "\x00")
	return len(argv) > 2 && argv[1] == "forkproxy" && argv[2] == record
}

// proxyProcsOf returns the pids of every forkproxy process of an instance
// of the suite, whatever the records say.
func proxyProcsOf(inst string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	prefix := filepath.Join(suite.dir, "proxies", inst) + "/"
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		argv := strings.Split(string(b), "\x00")
		if len(argv) > 2 && argv[1] == "forkproxy" && strings.HasPrefix(argv[2], prefix) {
			out = append(out, filepath.Base(filepath.Dir(p)))
		}
	}
	return out
}
