package main

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lxmgr/lxmgr/storage"
)

// spareDelay is how long after the last create from an image the daemon
// has the pool prepare that image's next root volume ahead of time
// (storage PrepareFromImage). On btrfs that is a snapshot, whose commit
// writes out what the running guests wrote since the last one: done right
// after a launch it would share the pool with the new guest's boot; done
// later, the next launch only renames it into place. A variable for tests.
var spareDelay = 1500 * time.Millisecond

// spareTimers debounces PrepareFromImage per pool and image: a burst of
// creates ends in one preparation.
type spareTimers struct {
	mu sync.Mutex
	m  map[string]*time.Timer
}

// prepareSpareLater schedules pool.PrepareFromImage(fp) spareDelay from
// now, or moves an already scheduled one there.
func (d *daemon) prepareSpareLater(pool storage.Driver, fp string) {
	key := pool.Name() + "\x00" + fp
	d.spares.mu.Lock()
	defer d.spares.mu.Unlock()
	if d.spares.m == nil {
		d.spares.m = map[string]*time.Timer{}
	}
	if t, ok := d.spares.m[key]; ok && t.Stop() {
		t.Reset(spareDelay)
		return
	}
	d.spares.m[key] = time.AfterFunc(spareDelay, func() {
		d.spares.mu.Lock()
		delete(d.spares.m, key)
		d.spares.mu.Unlock()
		if d.bg.Err() != nil {
			return
		}
		// A pool or image deleted meanwhile is not an error: there is
		// nothing to prepare for any more.
		if err := pool.PrepareFromImage(d.bg, fp); err != nil && !errors.Is(err, storage.ErrNotFound) && d.bg.Err() == nil {
			slog.Warn("prepare a root volume ahead of the next launch", "pool", pool.Name(), "image", shortFP(fp), "err", err)
		}
	})
}

// shortFP is the usual 12-character form of a fingerprint for logs.
func shortFP(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}
