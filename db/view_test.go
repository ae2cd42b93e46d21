package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// TestViewDoesNotBlockWriters: a long read transaction neither waits for
// nor holds up a writer, sees its own snapshot, and cannot write.
func TestViewDoesNotBlockWriters(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	mk := func(name string) error {
		return d.Transaction(ctx, func(tx *Tx) error {
			return tx.InstanceCreate(ctx, &Instance{Name: name, Type: "container", Config: map[string]string{}, Devices: api.Devices{}, Profiles: []string{}, CreationState: "created"})
		})
	}
	if err := mk("a"); err != nil {
		t.Fatal(err)
	}
	err := d.View(ctx, func(tx *Tx) error {
		before, err := tx.InstanceList(ctx)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- mk("b") }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("writer during a read: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("writer blocked by a read transaction")
		}
		after, err := tx.InstanceList(ctx)
		if err != nil {
			return err
		}
		if len(before) != 1 || len(after) != 1 {
			t.Errorf("read transaction saw %d then %d rows, want one snapshot of 1", len(before), len(after))
		}
		if err := tx.InstanceDelete(ctx, "a"); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("write inside View: %v, want a read-only error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
