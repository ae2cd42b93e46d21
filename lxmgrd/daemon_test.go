package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/db"
	"github.com/lxmgr/lxmgr/instance"
	"github.com/lxmgr/lxmgr/profiles"
)

func TestCodeFor(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{fmt.Errorf("instance %q: %w", "x", db.ErrNotFound), http.StatusNotFound},
		{fmt.Errorf("wrap: %w", db.ErrExists), http.StatusConflict},
		{fmt.Errorf("%w: running", errBusy), http.StatusConflict},
		{instance.ErrNotRunning, http.StatusConflict},
		{fmt.Errorf("%w: x", profiles.ErrUnknownKey), http.StatusBadRequest},
		{api.ErrForbidden, http.StatusForbidden},
		{api.ErrPrecondition, http.StatusPreconditionFailed},
		{errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, c := range cases {
		if got := codeFor(c.err); got != c.code {
			t.Errorf("codeFor(%v) = %d, want %d", c.err, got, c.code)
		}
	}
}

func TestNameLocksSerialiseOneName(t *testing.T) {
	l := newNameLocks()
	ctx := context.Background()
	var mu sync.Mutex
	inside, maxInside := 0, 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := l.lock(ctx, "instance/a")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Fatalf("%d holders at once, want 1", maxInside)
	}
	// Another name is not blocked, and a waiter honours its context.
	unlock, _ := l.lock(ctx, "instance/a")
	defer unlock()
	u2, err := l.lock(ctx, "instance/b")
	if err != nil {
		t.Fatal(err)
	}
	u2()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(cctx, "instance/a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held lock: %v", err)
	}
}

func TestSubRange(t *testing.T) {
	cases := []struct {
		content     string
		start, size int64
		ok          bool
	}{
		{"root:1000000:1000000000\n", 1000000, 1000000000, true},
		{"alice:100000:65536\nroot:100000:65536\nroot:5000000:200000\n", 5000000, 200000, true},
		{"alice:100000:65536\n", 0, 0, false},
		{"root:100000:1000\n", 0, 0, false},
		{"root:abc:65536\n", 0, 0, false},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), "subuid")
		os.WriteFile(p, []byte(c.content), 0o644)
		start, size, err := subRange(p)
		if (err == nil) != c.ok || start != c.start || size != c.size {
			t.Errorf("subRange(%q) = %d, %d, %v", c.content, start, size, err)
		}
	}
}

func TestIDAllocationIsIsolated(t *testing.T) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := idRange{uidStart: 1000000, gidStart: 2000000, size: 3 * idsPerGuest}
	var bases []int64
	for i := range 3 {
		err := d.Transaction(ctx, func(tx *db.Tx) error {
			base, err := r.allocate(ctx, tx)
			if err != nil {
				return err
			}
			bases = append(bases, base)
			inst := db.Instance{Name: fmt.Sprintf("g%d", i), Type: "container", IdmapBase: base, CreationState: "created",
				Config: map[string]string{}, Devices: api.Devices{}, Profiles: []string{}}
			return tx.InstanceCreate(ctx, &inst)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []int64{1000000, 1065536, 1131072}
	for i := range want {
		if bases[i] != want[i] {
			t.Fatalf("bases %v, want %v", bases, want)
		}
	}
	if g := r.gidFor(bases[1]); g != 2065536 {
		t.Fatalf("gidFor = %d", g)
	}
	err = d.Transaction(ctx, func(tx *db.Tx) error { _, err := r.allocate(ctx, tx); return err })
	if !errors.Is(err, errNoIDs) {
		t.Fatalf("allocation past the range: %v", err)
	}
	// A freed slot is reused.
	d.Transaction(ctx, func(tx *db.Tx) error { return tx.InstanceDelete(ctx, "g1") })
	d.Transaction(ctx, func(tx *db.Tx) error {
		base, err := r.allocate(ctx, tx)
		if err != nil || base != 1065536 {
			t.Fatalf("reuse: %d %v", base, err)
		}
		return nil
	})
}

func TestValidAlias(t *testing.T) {
	for _, a := range []string{"debian/12", "busybox", "my-image_1.2"} {
		if err := validAlias(a); err != nil {
			t.Errorf("validAlias(%q): %v", a, err)
		}
	}
	for _, a := range []string{"", "a//b", "../x", "a/..", "a b", "a\nb", "/abs"} {
		if err := validAlias(a); err == nil {
			t.Errorf("validAlias(%q) accepted", a)
		}
	}
}

func TestOperationLifecycle(t *testing.T) {
	ops := newOperations()
	ctx := context.Background()
	release := make(chan struct{})
	op := ops.start(ctx, api.OperationClassTask, "test", nil, true, func(ctx context.Context, op *operation) error {
		op.progress("half way")
		select {
		case <-release:
			return errors.New("boom")
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	op.wait(ctx, 20*time.Millisecond)
	if s := op.snapshot(); s.StatusCode != api.Running {
		t.Fatalf("status while running: %v", s.StatusCode)
	}
	close(release)
	op.wait(ctx, time.Second)
	s := op.snapshot()
	if s.StatusCode != api.Failure || s.Err != "boom" || s.Metadata["error_code"] != http.StatusInternalServerError {
		t.Fatalf("failed op: %+v", s)
	}
	// Cancel ends a cancellable op as Cancelled.
	op2 := ops.start(ctx, api.OperationClassTask, "test", nil, true, func(ctx context.Context, op *operation) error {
		<-ctx.Done()
		return ctx.Err()
	})
	op2.cancel()
	op2.wait(ctx, time.Second)
	if s := op2.snapshot(); s.StatusCode != api.Cancelled {
		t.Fatalf("cancelled op: %v", s.StatusCode)
	}
	if _, err := ops.get("nope"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("missing op: %v", err)
	}
}
