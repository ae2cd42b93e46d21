package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunCommandCancelKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once bool
	errc := make(chan error, 1)
	go func() {
		// The grandchild stands for dpkg under debootstrap.
		errc <- runCommand(ctx, func(line string) {
			if line == "up" && !once {
				once = true
				close(started)
			}
		}, "sh", "-c", "sleep 300 & echo $! > "+pidFile+"; echo up; wait")
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("command did not start")
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("runCommand = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runCommand did not return after cancel")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("grandchild %d still alive after cancel (%v)", pid, err)
	}
}

func TestRunCommandErrorQuotesOutput(t *testing.T) {
	err := runCommand(context.Background(), nil, "sh", "-c", "echo E: it broke; exit 3")
	if err == nil || !strings.Contains(err.Error(), "E: it broke") {
		t.Errorf("runCommand = %v, want the output in the error", err)
	}
}
