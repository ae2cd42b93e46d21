package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/api"
)

// operation is one background task. Its fields are guarded by mu; done is
// closed when it reaches a final state.
type operation struct {
	mu        sync.Mutex
	op        api.Operation
	done      chan struct{}
	cancel    context.CancelFunc
	errCode   int
	websocket *execSession // set for exec operations
}

// operations is the daemon's registry of operations. Finished ones are kept
// for a while so clients can still read their result.
type operations struct {
	mu  sync.Mutex
	ops map[string]*operation
	wg  sync.WaitGroup
}

func newOperations() *operations { return &operations{ops: map[string]*operation{}} }

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// opFunc is the body of an operation. It may update metadata through op.
type opFunc func(ctx context.Context, op *operation) error

// start registers and runs an operation in the background. resources are
// LXD-style ("instances": ["/1.0/instances/web1"]).
func (s *operations) start(parent context.Context, class, desc string, resources map[string][]string, cancellable bool, fn opFunc) *operation {
	ctx, cancel := context.WithCancel(parent)
	now := time.Now().UTC()
	id := newUUID()
	op := &operation{
		op: api.Operation{
			ID: id, Class: class, Description: desc, CreatedAt: now, UpdatedAt: now,
			Status: api.Running.String(), StatusCode: api.Running, Resources: resources,
			Metadata: map[string]any{}, MayCancel: cancellable, Location: "/1.0/operations/" + id,
		},
		done:   make(chan struct{}),
		cancel: cancel,
	}
	s.mu.Lock()
	s.ops[id] = op
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		err := fn(ctx, op)
		op.finish(err)
		if err != nil {
			slog.Warn("operation failed", "op", id, "description", desc, "err", err)
		}
		time.AfterFunc(5*time.Minute, func() { s.remove(id) })
	}()
	return op
}

func (s *operations) get(id string) (*operation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		return nil, fmt.Errorf("%w: operation %q", api.ErrNotFound, id)
	}
	return op, nil
}

func (s *operations) list() []*operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*operation, 0, len(s.ops))
	for _, op := range s.ops {
		out = append(out, op)
	}
	return out
}

func (s *operations) remove(id string) {
	s.mu.Lock()
	delete(s.ops, id)
	s.mu.Unlock()
}

// shutdown cancels every running operation and waits for them, up to ctx.
func (s *operations) shutdown(ctx context.Context) {
	for _, op := range s.list() {
		op.cancel()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (op *operation) finish(err error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.op.UpdatedAt = time.Now().UTC()
	op.op.MayCancel = false
	switch {
	case err == nil:
		op.op.StatusCode = api.Success
	case errors.Is(err, context.Canceled):
		op.op.StatusCode = api.Cancelled
		op.op.Err = err.Error()
	default:
		op.op.StatusCode = api.Failure
		op.op.Err = err.Error()
		op.op.Metadata["error_code"] = codeFor(err)
	}
	op.op.Status = op.op.StatusCode.String()
	close(op.done)
}

// setMeta sets one metadata key (progress text, exit code, ...).
func (op *operation) setMeta(key string, value any) {
	op.mu.Lock()
	op.op.Metadata[key] = value
	op.op.UpdatedAt = time.Now().UTC()
	op.mu.Unlock()
}

// progress is a shortcut for the "progress" metadata the CLI displays.
func (op *operation) progress(msg string) { op.setMeta("progress", msg) }

func (op *operation) snapshot() api.Operation {
	op.mu.Lock()
	defer op.mu.Unlock()
	c := op.op
	c.Metadata = maps.Clone(op.op.Metadata)
	return c
}

// wait blocks until the operation is final, timeout passes or ctx ends.
func (op *operation) wait(ctx context.Context, timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-op.done:
	case <-t.C:
	case <-ctx.Done():
	}
}
