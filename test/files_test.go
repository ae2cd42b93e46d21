package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// TestFileDelete: file delete removes a guest's file or empty directory,
// resolves a guest symlink to / inside the guest (the host's files stay),
// and refuses the root directory in every spelling, from the CLI and from
// the API.
func TestFileDelete(t *testing.T) {
	ctx := context.Background()
	c := suite.client()
	cleanupInstance(t, "fdel1")
	must(t, "launch", "busybox", "fdel1", "--wait")
	must(t, "exec", "fdel1", "--", "sh", "-c", "echo x > /root/f && mkdir /root/empty /root/full && touch /root/full/keep && ln -s / /root/escape && echo guest > /etc/hostname")

	must(t, "file", "delete", "fdel1/root/f", "fdel1/root/empty")
	if r := lxmgr(t, "exec", "fdel1", "--", "ls", "/root/f", "/root/empty"); r.code == 0 {
		t.Errorf("deleted file and directory still there: %q", r.stdout)
	}
	mustFail(t, "", "file", "delete", "fdel1/root/full")
	mustFail(t, "", "file", "delete", "fdel1/root/nonexistent")
	must(t, "exec", "fdel1", "--", "test", "-f", "/root/full/keep")

	// Through the guest's symlink to /: the guest's files go, the host's
	// stay. A host marker guards the host should the resolution ever escape
	// (then only the marker is lost; /etc/hostname is put back).
	marker := "lxmgr-e2e-fdel-" + itoa(os.Getpid())
	hostMarker := filepath.Join("/root", marker)
	if err := os.WriteFile(hostMarker, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(hostMarker) })
	hostName, hostNameErr := os.ReadFile("/etc/hostname")
	t.Cleanup(func() {
		if _, err := os.Stat("/etc/hostname"); hostNameErr == nil && err != nil {
			os.WriteFile("/etc/hostname", hostName, 0o644)
		}
	})
	must(t, "exec", "fdel1", "--", "touch", "/root/"+marker)
	must(t, "file", "delete", "fdel1/root/escape/root/"+marker, "fdel1/root/escape/etc/hostname")
	if _, err := os.Stat(hostMarker); err != nil {
		t.Errorf("delete through a guest symlink removed the host's %s", hostMarker)
	}
	if _, err := os.Stat("/etc/hostname"); hostNameErr == nil && err != nil {
		t.Errorf("delete through a guest symlink removed the host's /etc/hostname")
	}
	if r := lxmgr(t, "exec", "fdel1", "--", "ls", "/root/"+marker, "/etc/hostname"); r.code == 0 {
		t.Errorf("the guest's files are still there after the delete through its symlink: %q", r.stdout)
	}
	must(t, "exec", "fdel1", "--", "test", "-L", "/root/escape")

	// The root directory, however spelled.
	for _, p := range []string{"/", "//", "/.", "/root/.."} {
		if err := c.DeleteFile(ctx, "fdel1", p); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("API delete of %q: %v, want 400", p, err)
		}
	}
	mustFail(t, "NAME/PATH", "file", "delete", "fdel1/")
	mustFail(t, "root directory", "file", "delete", "fdel1//")
	mustFail(t, "root directory", "file", "delete", "fdel1/.")
	if out := must(t, "exec", "fdel1", "--", "ls", "/"); !strings.Contains(out, "bin") || !strings.Contains(out, "root") {
		t.Errorf("guest / after refused deletes: %q", out)
	}
}
