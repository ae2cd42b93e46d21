package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// imagesJSON returns `image list --format json`.
func imagesJSON(t *testing.T) []api.Image {
	t.Helper()
	var out []api.Image
	if err := json.Unmarshal([]byte(must(t, "image", "list", "--format", "json")), &out); err != nil {
		t.Fatalf("decode image list: %v", err)
	}
	return out
}

func findImage(imgs []api.Image, fp string) *api.Image {
	for i := range imgs {
		if imgs[i].Fingerprint == fp {
			return &imgs[i]
		}
	}
	return nil
}

// TestImageBuildListDelete builds busybox through the daemon, finds it in
// image list by its sha256 fingerprint and alias, and deletes it while an
// instance made from it exists (allowed: the instance is an independent
// copy and keeps working).
func TestImageBuildListDelete(t *testing.T) {
	cleanupInstance(t, "img1")
	out := must(t, "image", "build", "busybox")
	m := regexp.MustCompile(`fingerprint ([0-9a-f]+)\)`).FindStringSubmatch(out)
	if m == nil || !sha256Hex.MatchString(m[1]) {
		t.Fatalf("image build output: %q", out)
	}
	fp := m[1]
	img := findImage(imagesJSON(t), fp)
	if img == nil {
		t.Fatalf("built image %s not in image list:\n%s", fp, must(t, "image", "list"))
	}
	var aliases []string
	for _, a := range img.Aliases {
		aliases = append(aliases, a.Name)
	}
	if !slicesContains(aliases, "busybox") {
		t.Fatalf("image %s aliases %v, want busybox", fp, aliases)
	}
	if table := must(t, "image", "list"); !strings.Contains(table, "busybox") || !strings.Contains(table, fp[:12]) {
		t.Fatalf("image list table:\n%s", table)
	}
	must(t, "launch", "busybox", "img1", "--wait")
	if got := stateOf(t, "img1"); got.Status != "Running" {
		t.Fatalf("img1: %+v", got)
	}
	must(t, "image", "delete", fp)
	if findImage(imagesJSON(t), fp) != nil {
		t.Fatalf("image %s still listed after delete", fp)
	}
	if _, err := os.Stat(filepath.Join(suite.dir, "images", fp)); !os.IsNotExist(err) {
		t.Fatalf("image file %s left in the store: %v", fp, err)
	}
	// The instance made from it is unaffected.
	must(t, "restart", "img1")
	must(t, "exec", "img1", "--", "true")
	mustFail(t, "not found", "image", "delete", fp)
}

// TestVersion shows the client's and the daemon's version.
func TestVersion(t *testing.T) {
	out := must(t, "version")
	re := regexp.MustCompile(`(?m)^Client version: \S+\nServer version: \S+$`)
	if !re.MatchString(strings.TrimSpace(out)) || strings.Contains(out, "unreachable") {
		t.Fatalf("version output:\n%s", out)
	}
	// Without a daemon the client version alone is still an answer.
	out = must(t, "version", "--socket", filepath.Join(t.TempDir(), "none.socket"))
	if !strings.Contains(out, "Client version: ") || !strings.Contains(out, "Server version: unreachable") {
		t.Fatalf("version without daemon:\n%s", out)
	}
}

// TestInfoAndExecUser checks what info shows of a running guest (status,
// pid, address, profiles, creation time, limits, resources) and that exec
// runs as the user asked for.
func TestInfoAndExecUser(t *testing.T) {
	cleanupInstance(t, "info1")
	must(t, "launch", "busybox", "info1", "--wait", "-c", "limits.memory=64MiB", "-c", "limits.processes=100")
	inst := find(listJSON(t), "info1")
	if inst == nil || inst.State == nil {
		t.Fatal("info1 not listed")
	}
	var ip string
	for _, a := range inst.State.Network["eth0"].Addresses {
		if a.Family == "inet" {
			ip = a.Address
		}
	}
	if ip == "" {
		t.Fatalf("no IPv4 address on eth0: %+v", inst.State.Network)
	}
	out := must(t, "info", "info1")
	for _, want := range []string{
		"Name:          info1",
		"Status:        RUNNING",
		"PID:           " + itoa(int(inst.State.Pid)),
		"Ready:         yes",
		"Profiles:      default",
		"Created:       " + inst.CreatedAt.Local().Format("2006-01-02 15:04:05"),
		"limits.memory:       64MiB",
		"limits.processes:    100",
		"Processes:",
		"Memory usage:",
		"eth0:",
		ip,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if got := strings.TrimSpace(must(t, "exec", "info1", "--user", "1000", "--", "id", "-u")); got != "1000" {
		t.Errorf("exec --user 1000 -- id -u: %q", got)
	}
	if got := strings.TrimSpace(must(t, "exec", "info1", "--", "id", "-u")); got != "0" {
		t.Errorf("exec -- id -u: %q", got)
	}
}
