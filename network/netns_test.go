package network

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Test isolation. Every test that touches netlink, dnsmasq or nft calls
// inFreshNetns first. In the parent `go test` process it re-executes the test
// binary for just that test with CLONE_NEWNET, so the child starts in a new,
// empty network namespace (only a down lo) and everything it creates (links,
// routes, nft tables, dnsmasq) lives there. When the child has exited the
// parent kills every process still in that namespace (a dnsmasq left by a
// failed test), and the namespace disappears with its last user. The host's
// namespace is never written to.

const childEnv = "LXMGR_NETWORK_TEST_CHILD"

// inFreshNetns returns true in the parent after the child has run the test
// (the caller returns at once), false in the child, which runs the body.
func inFreshNetns(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces")
	}
	if os.Getenv(childEnv) == t.Name() {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.LinkSetUp(lo); err != nil {
			t.Fatal(err)
		}
		return false
	}
	start := time.Now()
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+t.Name())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child in new netns: %v", err)
	}
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", cmd.Process.Pid))
	if host, _ := os.Readlink("/proc/self/ns/net"); ns == "" || ns == host {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child is not in a new netns (%q, host %q)", ns, host)
	}
	err := cmd.Wait()
	killNetns(t, ns)
	t.Logf("child in %s ran %v:\n%s", ns, time.Since(start).Round(time.Millisecond), out.String())
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !strings.Contains(out.String(), "--- PASS: "+t.Name()) {
		t.Fatalf("child did not pass")
	}
	return true
}

// killNetns SIGKILLs every process whose network namespace is ns.
func killNetns(t *testing.T, ns string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if l, _ := os.Readlink(filepath.Join("/proc", e.Name(), "ns/net")); l == ns {
			t.Errorf("process %d left in the test netns: killing it", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// guestNetns is a second network namespace held by one locked OS thread, as
// a guest's would be: path is its /proc/<pid>/task/<tid>/ns/net and do runs
// a function on that thread (sockets it opens belong to the namespace).
type guestNetns struct {
	path string
	fn   chan func()
}

func (g *guestNetns) do(f func()) {
	done := make(chan struct{})
	g.fn <- func() { f(); close(done) }
	<-done
}

// newGuestNetns makes the namespace and removes it at cleanup: the thread
// exits still locked, so the runtime terminates it and the namespace dies
// with its last socket.
func newGuestNetns(t *testing.T) *guestNetns {
	g := &guestNetns{fn: make(chan func())}
	ready := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread is spoiled
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- err
			return
		}
		g.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		ready <- err
		for f := range g.fn {
			f()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("guest netns: %v", err)
	}
	t.Cleanup(func() { close(g.fn) })
	return g
}
