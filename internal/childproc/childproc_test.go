package childproc

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperDiesWithParent runs this test binary as a parent that starts a
// long sleep through Tie and is then killed: the sleep must go too.
func TestHelperDiesWithParent(t *testing.T) {
	if os.Getenv("CHILDPROC_PARENT") == "1" {
		cmd := exec.Command("sleep", "60")
		release := Tie(cmd)
		if err := cmd.Start(); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(strconv.Itoa(cmd.Process.Pid) + "\n")
		cmd.Wait()
		release()
		os.Exit(0)
	}
	parent := exec.Command(os.Args[0], "-test.run=^TestHelperDiesWithParent$")
	parent.Env = append(os.Environ(), "CHILDPROC_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		parent.Process.Kill()
		t.Fatalf("parent did not report its helper: %q", buf[:n])
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("helper %d not running before the kill: %v", pid, err)
	}
	parent.Process.Kill()
	parent.Wait()
	for i := 0; i < 100; i++ {
		// Gone, or a zombie waiting for init to reap it.
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Fatalf("helper %d outlived its killed parent", pid)
}

func TestRunReportsExit(t *testing.T) {
	if err := Run(exec.Command("true")); err != nil {
		t.Fatal(err)
	}
	if err := Run(exec.Command("false")); err == nil {
		t.Fatal("false succeeded")
	}
}
