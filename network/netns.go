package network

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetns runs f on an OS thread switched into the network namespace at
// nsPath (e.g. a guest's /proc/<pid>/ns/net). Sockets f creates belong to
// that namespace for their whole life, wherever they are used afterwards.
// It runs on a fresh goroutine so the caller's thread is never touched. The
// thread is switched back before it is unlocked; if switching back fails it
// stays locked and the goroutine exits, so the runtime terminates the thread
// instead of reusing it in the wrong namespace.
func inNetns(nsPath string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", nsPath, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", nsPath, err)
			return
		}
		ferr := f()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("return from netns %s: %w", nsPath, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
