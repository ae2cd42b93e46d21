// Package childproc runs the daemon's helper processes (cp, btrfs,
// debootstrap) so that they die with it: a helper that outlived a crash of
// the daemon would go on writing into a work directory that the next start
// is busy removing.
package childproc

import (
	"os/exec"
	"runtime"
	"syscall"
)

// Tie gives cmd SIGKILL as its parent-death signal and locks the calling
// goroutine to its OS thread; call the returned release after cmd.Wait, on
// the same goroutine. The kernel sends the signal when the thread that
// forked the child exits, not the process, and Go ends threads that a
// goroutine left locked (the daemon does, for network namespace work):
// holding the thread from start to wait means the signal comes only when
// the daemon itself is gone.
func Tie(cmd *exec.Cmd) (release func()) {
	runtime.LockOSThread()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return runtime.UnlockOSThread
}

// Run runs cmd to completion, tied to the daemon as Tie says.
func Run(cmd *exec.Cmd) error {
	defer Tie(cmd)()
	return cmd.Run()
}
