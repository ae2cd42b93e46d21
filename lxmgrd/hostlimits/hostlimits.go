// Package hostlimits checks the host limits that break guest density
// (inotify, keyrings, neighbour table, pids, files, subordinate ids,
// cgroup controllers, memory) and raises the ones that are safe to raise.
//
// Every function reads below a filesystem root ("/" in production) so that
// tests run on a fake /proc, /sys and /etc in a temporary directory. The
// per-guest figures are documented estimates for a Debian guest running
// systemd, the common and the heaviest case; busybox guests use far less.
package hostlimits

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Unlimited is the MaxGuests of a check that does not bound the number of
// guests: a per-guest or per-process limit, or a missing feature.
const Unlimited = -1

// Unknown is the Current of a check whose value could not be read.
const Unknown = "unknown"

// Check is one host limit and what it means for density.
type Check struct {
	Name      string  // e.g. "fs.inotify.max_user_instances"
	Current   string  // value read, or Unknown
	Needed    string  // value lxmgr wants for the guest count asked about
	PerGuest  float64 // what one guest uses of it (documented estimate)
	MaxGuests int     // guests that fit under the current value, or Unlimited
	OK        bool    // Current suffices for the guest count asked about
	Raisable  bool    // the daemon raises it safely at start (see Raise)
	Advice    string  // what to do, one line
}

// Report is the result of Inspect.
type Report struct {
	Guests int // the guest count checked for
	Checks []Check
	// FirstLimit is the Name of the check with the smallest MaxGuests (the
	// first in Checks on a tie; "" when no check bounds the count), and
	// FirstLimitGuests that MaxGuests (Unlimited when none).
	FirstLimit       string
	FirstLimitGuests int
}

// Inspect reads every host limit below root and checks it for guests guests
// (a target, or the current count). A value that cannot be read gives a
// check with Current Unknown, not an error: the error is only for bad input.
func Inspect(root string, guests int) (Report, error) {
	if guests < 0 {
		return Report{}, fmt.Errorf("%w: %d", ErrInvalidGuests, guests)
	}
	if err := isDir(root); err != nil {
		return Report{}, err
	}
	h := host{root: root, guests: guests}
	rep := Report{Guests: guests, FirstLimitGuests: Unlimited}
	for _, c := range h.checks() {
		rep.Checks = append(rep.Checks, c)
		if c.MaxGuests != Unlimited && (rep.FirstLimitGuests == Unlimited || c.MaxGuests < rep.FirstLimitGuests) {
			rep.FirstLimit, rep.FirstLimitGuests = c.Name, c.MaxGuests
		}
	}
	return rep, nil
}

func isDir(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("host root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("host root %q: %w", root, ErrNotRoot)
	}
	return nil
}

// host reads values below root for one Inspect call.
type host struct {
	root   string
	guests int
}

func (h host) path(p string) string { return filepath.Join(h.root, p) }

// sysctlPath is the /proc/sys file of a dotted sysctl name.
func sysctlPath(root, name string) string {
	return filepath.Join(root, "proc", "sys", strings.ReplaceAll(name, ".", "/"))
}

// readInt reads a file holding one integer.
func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", path, err)
	}
	return v, nil
}

// unknown is the check of a value that could not be read.
func unknown(name string, perGuest float64, raisable bool, err error) Check {
	return Check{
		Name: name, Current: Unknown, Needed: Unknown, PerGuest: perGuest, MaxGuests: Unlimited,
		Raisable: raisable,
		Advice:   "could not read it (" + strings.ReplaceAll(err.Error(), "\n", "; ") + "): check it by hand",
	}
}

// scaled is the check of a limit shared by all guests: each guest uses
// perGuest of it on top of reserve kept for the host itself. OK is the same
// as MaxGuests >= guests.
func (h host) scaled(name string, current int64, perGuest float64, reserve int64, raisable bool, advice string) Check {
	return h.scaledFmt(name, current, perGuest, reserve, raisable, advice, func(v int64) string { return strconv.FormatInt(v, 10) })
}

func (h host) scaledFmt(name string, current int64, perGuest float64, reserve int64, raisable bool, advice string, format func(int64) string) Check {
	needed := reserve + int64(math.Ceil(float64(h.guests)*perGuest))
	maxGuests := 0
	if current > reserve {
		maxGuests = int(math.Floor(float64(current-reserve) / perGuest))
	}
	return Check{
		Name: name, Current: format(current), Needed: format(needed), PerGuest: perGuest,
		MaxGuests: maxGuests, OK: maxGuests >= h.guests, Raisable: raisable, Advice: advice,
	}
}

// perGuestLimit is the check of a limit that each guest has for itself
// (per uid, per process): it does not bound the count, so MaxGuests is
// Unlimited, but a value below need degrades every guest, so OK is false.
func perGuestLimit(name string, current, need int64, raisable bool, advice string) Check {
	return Check{
		Name: name, Current: strconv.FormatInt(current, 10), Needed: strconv.FormatInt(need, 10),
		PerGuest: float64(need), MaxGuests: Unlimited, OK: current >= need, Raisable: raisable, Advice: advice,
	}
}
