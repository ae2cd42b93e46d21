package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lxmgr/lxmgr/storage"
)

// anyPool is storage.Driver under another name, so that embedding it does
// not make a field called Driver that hides the method Driver.
type anyPool interface{ storage.Driver }

// countingPool counts PrepareFromImage calls; nothing else of the Driver
// is used by prepareSpareLater.
type countingPool struct {
	anyPool
	mu    sync.Mutex
	calls map[string]int
}

func (p *countingPool) Name() string { return "p1" }

func (p *countingPool) PrepareFromImage(ctx context.Context, fp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[fp]++
	return nil
}

func (p *countingPool) count(fp string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[fp]
}

func TestPrepareSpareLaterDebounces(t *testing.T) {
	old := spareDelay
	spareDelay = 100 * time.Millisecond
	t.Cleanup(func() { spareDelay = old })
	d := &daemon{bg: t.Context()}
	p := &countingPool{calls: map[string]int{}}
	// A burst of creates from one image: one preparation, after the last.
	start := time.Now()
	for range 5 {
		d.prepareSpareLater(p, "aaa")
		time.Sleep(30 * time.Millisecond)
	}
	d.prepareSpareLater(p, "bbb")
	if n := p.count("aaa"); n != 0 {
		t.Fatalf("prepared %d times during the burst, want 0", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (p.count("aaa") == 0 || p.count("bbb") == 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(start); el < 5*30*time.Millisecond+spareDelay-30*time.Millisecond {
		t.Errorf("prepared after %v, before the burst's last create plus the delay", el)
	}
	time.Sleep(3 * spareDelay)
	if a, b := p.count("aaa"), p.count("bbb"); a != 1 || b != 1 {
		t.Errorf("PrepareFromImage calls: aaa %d, bbb %d; want 1 each", a, b)
	}
}

func TestPrepareSpareLaterStopsWithDaemon(t *testing.T) {
	old := spareDelay
	spareDelay = 20 * time.Millisecond
	t.Cleanup(func() { spareDelay = old })
	ctx, cancel := context.WithCancel(t.Context())
	d := &daemon{bg: ctx}
	p := &countingPool{calls: map[string]int{}}
	d.prepareSpareLater(p, "aaa")
	cancel()
	time.Sleep(10 * spareDelay)
	if n := p.count("aaa"); n != 0 {
		t.Errorf("prepared %d times after the daemon's context ended, want 0", n)
	}
}
