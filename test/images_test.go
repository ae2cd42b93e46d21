package test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/image"
)

// cacheDir keeps the built Debian image between runs, keyed by the image
// recipe's source, so a rerun does not debootstrap again.
const cacheDir = "/var/cache/lxmgr-e2e"

var (
	debianOnce sync.Once
	debianErr  error
)

// ensureDebian makes debian/12 available to the daemon under test. The
// daemon runs in a namespace without a route to the Debian mirror, so the
// suite builds the image here (host namespace, same recipe as lxmgrd) and
// imports it through the API, which also exercises image import.
func ensureDebian(t *testing.T) {
	t.Helper()
	debianOnce.Do(func() { debianErr = importDebian(t) })
	if debianErr != nil {
		t.Fatalf("debian/12 image: %v", debianErr)
	}
}

func importDebian(t *testing.T) error {
	key, err := recipeKey()
	if err != nil {
		return err
	}
	path := filepath.Join(cacheDir, "debian-bookworm-"+key[:16]+".tar.gz")
	if _, err := os.Stat(path); err != nil {
		if err := os.MkdirAll(cacheDir, 0o700); err != nil {
			return err
		}
		old, _ := filepath.Glob(filepath.Join(cacheDir, "debian-bookworm-*.tar.gz"))
		for _, o := range old {
			os.Remove(o)
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		work, err := os.MkdirTemp(cacheDir, ".work-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if _, err := image.Build(ctx, "debian/12", path, image.BuildOptions{WorkDir: work}); err != nil {
			return fmt.Errorf("build: %w", err)
		}
		t.Logf("built debian/12 image in %s", time.Since(start).Round(time.Second))
	}
	r := lxmgr(t, "image", "import", path, "--alias", "debian/12", "--alias", "debian/bookworm")
	if r.code != 0 {
		return fmt.Errorf("import: %s", r.stderr)
	}
	return nil
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
