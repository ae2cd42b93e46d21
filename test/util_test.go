package test

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// execOut runs a command with extra environment and returns its output.
func execOut(bin string, env ...string) (string, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// lxmgrAsync starts the CLI without waiting for it.
func lxmgrAsync(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(filepath.Join(suite.bin, "lxmgr"), args...)
	cmd.Env = append(os.Environ(), "LXMGR_DIR="+suite.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// writeEvilTar writes a tarball with metadata.yaml and an entry that climbs
// out of the target directory.
func writeEvilTar(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range map[string]string{"metadata.yaml": "architecture: x86_64\n", "rootfs/../../escape": "x"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
}

func execCombined(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

type syscallStat struct{ uid, gid uint32 }

func statOwner(path string, st *syscallStat) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	sys := fi.Sys().(*syscall.Stat_t)
	st.uid, st.gid = sys.Uid, sys.Gid
	return nil
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
