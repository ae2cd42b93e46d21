package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lxmgr/lxmgr/instance"
)

// readyAsks bounds how many guests are asked at once (one attach each, for
// systemd) whether their boot finished: a daemon reattaching to a thousand
// guests must not fork a thousand attaches in the same instant.
const readyAsks = 16

// readyRun is one wait for one boot (init pid) of one guest.
type readyRun struct {
	pid  int
	done chan struct{} // closed when err is set
	err  error
}

// readyTrackers makes sure each boot of a guest is waited on once, whoever
// asks first: a start, the daemon's start (reattach) or the state cache
// noticing a new init pid (the guest rebooted itself).
type readyTrackers struct {
	mu   sync.Mutex
	runs map[string]*readyRun
	gate chan struct{}
}

func newReadyTrackers() *readyTrackers {
	return &readyTrackers{runs: map[string]*readyRun{}, gate: make(chan struct{}, readyAsks)}
}

// watchReady starts tracking the readiness of the boot of name whose init is
// pid, unless that is already tracked or known ready, and returns the run.
// The run outlives the caller's request: it ends when the guest is ready or
// stops, after readyTimeout, or with the daemon.
func (d *daemon) watchReady(name string, pid int) *readyRun {
	t := d.ready
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.runs[name]; ok && r.pid == pid {
		return r
	}
	r := &readyRun{pid: pid, done: make(chan struct{})}
	if st := d.cache.get(name); st.Ready && st.Pid == pid {
		close(r.done)
		return r
	}
	t.runs[name] = r
	go func() {
		r.err = d.trackReady(d.bg, name, pid)
		close(r.done)
		t.mu.Lock()
		if t.runs[name] == r {
			delete(t.runs, name)
		}
		t.mu.Unlock()
		if r.err != nil && !errors.Is(r.err, instance.ErrNotRunning) && !errors.Is(r.err, context.Canceled) {
			slog.Warn("guest not ready", "instance", name, "pid", pid, "err", r.err)
		}
	}()
	return r
}

// trackReady waits until the guest's init reports boot finished and every
// nic on a managed network has a DHCP lease, and records it in the state
// cache for init pid.
func (d *daemon) trackReady(ctx context.Context, name string, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	inst, profs, err := d.loadInstance(ctx, name)
	if err != nil {
		return err
	}
	_, devs := expand(inst, profs)
	init := inst.Config["image.init"]
	timedOut := func(err error, what string) error {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("instance %q: %s within %s", name, what, readyTimeout)
		}
		return fmt.Errorf("instance %q: wait for %s: %w", name, what, err)
	}
	if err := d.lxc.WaitInitUp(ctx, name, init); err != nil {
		return timedOut(err, "boot did not finish")
	}
	select {
	case d.ready.gate <- struct{}{}:
	case <-ctx.Done():
		return timedOut(ctx.Err(), "boot did not finish")
	}
	err = d.lxc.WaitBootFinished(ctx, name, init)
	<-d.ready.gate
	if err != nil {
		return timedOut(err, "boot did not finish")
	}
	if err := d.waitAddresses(ctx, inst, devs); err != nil {
		return timedOut(err, "no address on every interface")
	}
	d.cache.setReady(name, pid)
	return nil
}
