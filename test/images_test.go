package test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cacheDir keeps the built Debian image between runs, keyed by the image
// recipe's source, so a rerun does not debootstrap again.
const cacheDir = "/var/cache/lxmgr-e2e"

var (
	debianOnce sync.Once
	debianErr  error
)

// ensureDebian makes debian/12 available to the daemon under test. With
// the image in the suite's cache it is imported through the API (which
// tests import); without it (always so on a fresh CI machine, or with
// LXMGR_E2E_DEBIAN_COLD=1) the first launch of debian/12 builds it in the
// daemon, as a user's would, and the result is kept in the cache.
func ensureDebian(t *testing.T) {
	t.Helper()
	debianOnce.Do(func() { debianErr = importDebian(t) })
	if debianErr != nil {
		t.Fatalf("debian/12 image: %v", debianErr)
	}
}

// cacheKeep is how long a cache entry nobody used stays: entries of other
// recipes (other checkouts on the same machine) are left alone until then.
const cacheKeep = 14 * 24 * time.Hour

func importDebian(t *testing.T) error {
	key, err := recipeKey()
	if err != nil {
		return err
	}
	path := filepath.Join(cacheDir, "debian-bookworm-"+key[:16]+".tar.gz")
	if _, err := os.Stat(path); err != nil || os.Getenv("LXMGR_E2E_DEBIAN_COLD") != "" {
		return buildDebianInDaemon(t, path)
	}
	now := time.Now()
	os.Chtimes(path, now, now) // in use: not evicted
	r := lxmgr(t, "image", "import", path, "--alias", "debian/12", "--alias", "debian/bookworm")
	if r.code != 0 {
		return fmt.Errorf("import: %s", r.stderr)
	}
	return nil
}

// buildDebianInDaemon launches debian/12 with no such image in the daemon:
// the launch builds it (debootstrap, reaching the mirror through
// mirrorProxy) and shows the build's progress; the built image is then
// stored in the cache as path.
func buildDebianInDaemon(t *testing.T, path string) error {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return err
	}
	old, _ := filepath.Glob(filepath.Join(cacheDir, "debian-bookworm-*.tar.gz"))
	for _, o := range old {
		if fi, err := os.Stat(o); err == nil && time.Since(fi.ModTime()) > cacheKeep {
			os.Remove(o)
		}
	}
	proxy, err := startMirrorProxy(suite.netns)
	if err != nil {
		return fmt.Errorf("mirror proxy: %w", err)
	}
	defer proxy.Close()
	restart := func(env ...string) error {
		if err := suite.stopDaemon(syscall.SIGTERM); err != nil {
			return err
		}
		suite.daemonEnv = env
		return suite.startDaemon()
	}
	if err := restart("http_proxy=" + proxy.URL()); err != nil {
		return err
	}
	start := time.Now()
	r := lxmgr(t, "launch", "debian/12", "debbuild", "--wait")
	lxmgr(t, "delete", "--force", "debbuild")
	if err := restart(); err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("launch debian/12 (building the image): %s\ndaemon log:\n%s", r.stderr, suite.logTail(20))
	}
	t.Logf("launch debian/12 with the image built on the way: %s", time.Since(start).Round(time.Second))
	for _, want := range []string{"building image debian/bookworm", "debootstrap: downloading", "debootstrap: unpacking"} {
		if !strings.Contains(r.stderr, want) {
			return fmt.Errorf("launch showed no progress line %q:\n%s", want, r.stderr)
		}
	}
	var fp string
	for _, img := range imagesJSON(t) {
		for _, a := range img.Aliases {
			if a.Name == "debian/bookworm" {
				fp = img.Fingerprint
			}
		}
	}
	if fp == "" {
		return fmt.Errorf("no image aliased debian/bookworm after the launch:\n%s", must(t, "image", "list"))
	}
	return copyFile(filepath.Join(suite.dir, "images", fp), path)
}

// copyFile copies src to dst through a temporary file renamed into place,
// so a concurrent reader never sees half a tarball.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// recipeKey hashes the image package's sources: a change to a recipe makes
// a new cache entry.
func recipeKey() (string, error) {
	files, err := filepath.Glob("../image/*.go")
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func TestImageImportChecks(t *testing.T) {
	// Not a tarball at all.
	junk := filepath.Join(t.TempDir(), "junk.tar.gz")
	os.WriteFile(junk, []byte("not an image"), 0o644)
	mustFail(t, "import image", "image", "import", junk)
	// A tarball escaping its root is refused and nothing is stored.
	before := must(t, "image", "list", "--format", "csv")
	evil := filepath.Join(t.TempDir(), "evil.tar")
	writeEvilTar(t, evil)
	mustFail(t, "import image", "image", "import", evil)
	if after := must(t, "image", "list", "--format", "csv"); after != before {
		t.Fatalf("a refused import changed the image list:\n%s", after)
	}
}
