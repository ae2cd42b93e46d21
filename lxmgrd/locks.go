package main

import (
	"context"
	"sync"
)

// nameLocks serialises operations on one name (an instance, an image) while
// letting different names proceed in parallel.
type nameLocks struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

func newNameLocks() *nameLocks { return &nameLocks{locks: map[string]chan struct{}{}} }

// lock blocks until key is free or ctx ends; the returned func unlocks.
func (l *nameLocks) lock(ctx context.Context, key string) (func(), error) {
	for {
		l.mu.Lock()
		ch, held := l.locks[key]
		if !held {
			ch = make(chan struct{})
			l.locks[key] = ch
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.locks, key)
				l.mu.Unlock()
				close(ch)
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
