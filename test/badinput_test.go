package test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

// instanceNames lists what the daemon has, straight from the API.
func instanceNames(t *testing.T) []string {
	t.Helper()
	names, err := suite.client().GetInstanceNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// volumes lists the default pool's instance volumes on disk.
func volumes(t *testing.T) []string {
	ents, _ := os.ReadDir(filepath.Join(suite.dir, "storage-pools/default/containers"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestInvalidNamesRejectedByDaemon(t *testing.T) {
	c := suite.client()
	before, vols := len(instanceNames(t)), len(volumes(t))
	for _, name := range []string{"-abc", "abc-", "1234", "foo.bar", "a_b", strings.Repeat("a", 64), "../x", "a/b", "", "a\nb"} {
		_, err := c.CreateInstance(context.Background(), api.InstancesPost{Name: name, Source: api.InstanceSource{Type: "image", Alias: "busybox"}})
		if !errors.Is(err, api.ErrInvalid) {
			t.Errorf("create %q: err = %v, want 400 invalid", name, err)
		}
	}
	// Through the CLI the error is one clear line.
	r := mustFail(t, "name", "launch", "busybox", "foo.bar")
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("error is not one line: %q", r.stderr)
	}
	if len(instanceNames(t)) != before || len(volumes(t)) != vols {
		t.Fatal("a rejected create left something behind")
	}
}

func TestBadInputLeavesNothing(t *testing.T) {
	cleanupInstance(t, "bad1")
	before, vols := len(instanceNames(t)), len(volumes(t))
	mustFail(t, "no-such-image", "launch", "no-such-image", "bad1")
	mustFail(t, "nope", "launch", "busybox", "bad1", "-p", "nope")
	mustFail(t, "unknown config key", "launch", "busybox", "bad1", "-c", "limits.bogus=1")
	mustFail(t, "limits.memory", "launch", "busybox", "bad1", "-c", "limits.memory=lots")
	// A newline in a value never reaches the liblxc config.
	_, err := suite.client().CreateInstance(context.Background(), api.InstancesPost{
		Name: "bad1", Source: api.InstanceSource{Type: "image", Alias: "busybox"},
		InstancePut: api.InstancePut{Config: map[string]string{"user.note": "a\nlxc.init.cmd = /bin/evil"}},
	})
	if !errors.Is(err, api.ErrInvalid) {
		t.Errorf("newline in a config value: err = %v, want 400", err)
	}
	mustFail(t, "not found", "start", "does-not-exist")
	if len(instanceNames(t)) != before || len(volumes(t)) != vols {
		t.Fatal("bad input left something behind")
	}
}

func TestDuplicateNameKeepsExisting(t *testing.T) {
	cleanupInstance(t, "dup1")
	must(t, "launch", "busybox", "dup1", "--wait")
	pid := stateOf(t, "dup1").Pid
	must(t, "exec", "dup1", "--", "touch", "/root/mark")
	_, err := suite.client().CreateInstance(context.Background(), api.InstancesPost{Name: "dup1", Source: api.InstanceSource{Alias: "busybox"}})
	if !errors.Is(err, api.ErrConflict) {
		t.Fatalf("duplicate create: err = %v, want 409", err)
	}
	mustFail(t, "already exists", "launch", "busybox", "dup1")
	if s := stateOf(t, "dup1"); s.Status != "Running" || s.Pid != pid {
		t.Fatalf("existing guest changed: %+v", s)
	}
	must(t, "exec", "dup1", "--", "test", "-e", "/root/mark")
}

func TestConcurrentCreateSameName(t *testing.T) {
	cleanupInstance(t, "race1")
	names, vols := instanceNames(t), volumes(t)
	const n = 5
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = lxmgr(t, "create", "busybox", "race1")
		}()
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		switch {
		case r.code == 0:
			ok++
		case r.code != 1 || !strings.HasPrefix(r.stderr, "Error: ") || !strings.Contains(r.stderr, `instance "race1" already exists`):
			t.Errorf("a losing create failed otherwise than with 409 already exists: exit %d, %q", r.code, r.stderr)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent creates succeeded, want exactly 1", ok, n)
	}
	// Only the winner is left: one row, one volume, one liblxc directory.
	if got, want := instanceNames(t), append(names, "race1"); !sameSet(got, want) {
		t.Errorf("instances after the race: %v, want %v", got, want)
	}
	if got, want := volumes(t), append(vols, "race1"); !sameSet(got, want) {
		t.Errorf("volumes after the race: %v, want %v", got, want)
	}
	if ents, _ := filepath.Glob(filepath.Join(suite.dir, "containers", "race1*")); len(ents) > 1 {
		t.Errorf("liblxc directories after the race: %v", ents)
	}
	must(t, "start", "race1")
}

// sameSet reports whether a and b hold the same strings, counting repeats.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestFilePushThroughSymlinkStaysInside(t *testing.T) {
	cleanupInstance(t, "sym1")
	must(t, "launch", "busybox", "sym1", "--wait")
	// The guest makes a symlink to its "/" and one to a host-looking path.
	must(t, "exec", "sym1", "--", "ln", "-s", "/", "/root/escape")
	must(t, "exec", "sym1", "--", "ln", "-s", "../../../../../../root", "/root/dots")
	marker := "lxmgr-e2e-escape-" + itoa(os.Getpid())
	local := filepath.Join(t.TempDir(), "x")
	os.WriteFile(local, []byte("inside\n"), 0o644)
	for _, target := range []string{"/root/escape/root/" + marker, "/root/dots/" + marker} {
		lxmgr(t, "file", "push", local, "sym1"+target)
		if _, err := os.Stat("/root/" + marker); err == nil {
			os.Remove("/root/" + marker)
			t.Fatalf("push to %s wrote the host's /root", target)
		}
		// It landed in the guest's own /root.
		if out := must(t, "exec", "sym1", "--", "cat", "/root/"+marker); out != "inside\n" {
			t.Errorf("file in guest /root after push to %s: %q", target, out)
		}
		must(t, "exec", "sym1", "--", "rm", "/root/"+marker)
	}
	// Pull through the symlink succeeds and reads the guest's file, not the
	// host's: the content is compared with a marker only the guest has.
	must(t, "exec", "sym1", "--", "sh", "-c", "echo "+marker+" > /etc/lxmgr-e2e-marker")
	if out := must(t, "file", "pull", "sym1/root/escape/etc/lxmgr-e2e-marker", "-"); out != marker+"\n" {
		t.Errorf("pull through a guest symlink: %q, want the guest's file %q", out, marker+"\n")
	}
	// The busybox guest has no /etc/hostname and the host has one: the pull
	// must fail, not read the host's.
	if _, err := os.Stat("/etc/hostname"); err != nil {
		t.Skip("host has no /etc/hostname")
	}
	if r := lxmgr(t, "file", "pull", "sym1/root/escape/etc/hostname", "-"); r.code == 0 {
		t.Errorf("pull of /root/escape/etc/hostname succeeded (%q): the guest has none, so it read the host's", r.stdout)
	}
}
