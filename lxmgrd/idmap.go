package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/lxmgr/lxmgr/db"
)

// idsPerGuest is the size of each guest's isolated id range: a full 16-bit
// range so that distro guests (nobody = 65534) work.
const idsPerGuest = 65536

// idRange is root's subordinate id range from /etc/subuid and /etc/subgid;
// each guest gets its own slice of idsPerGuest ids (isolated idmap).
type idRange struct {
	uidStart, gidStart, size int64
}

func readIDRange() (idRange, error) {
	u, us, err := subRange("/etc/subuid")
	if err != nil {
		return idRange{}, err
	}
	g, gs, err := subRange("/etc/subgid")
	if err != nil {
		return idRange{}, err
	}
	return idRange{uidStart: u, gidStart: g, size: min(us, gs)}, nil
}

// subRange returns the largest range that root owns in a subid file.
func subRange(path string) (start, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || (parts[0] != "root" && parts[0] != "0") {
			continue
		}
		s, err1 := strconv.ParseInt(parts[1], 10, 64)
		n, err2 := strconv.ParseInt(parts[2], 10, 64)
		if err1 == nil && err2 == nil && n > size {
			start, size = s, n
		}
	}
	if size < idsPerGuest {
		return 0, 0, fmt.Errorf("%s has no range of at least %d ids for root", path, idsPerGuest)
	}
	return start, size, sc.Err()
}

var errNoIDs = errors.New("no free id range left for an isolated idmap; enlarge root's range in /etc/subuid and /etc/subgid")

// allocate picks the lowest free slot, inside the caller's transaction so
// that the unique index on idmap_base settles races.
func (r idRange) allocate(ctx context.Context, tx *db.Tx) (int64, error) {
	if r.size == 0 {
		return 0, fmt.Errorf("%w: root has no subordinate id range in /etc/subuid and /etc/subgid (run scripts/setup.sh)", errNoIDs)
	}
	used, err := tx.IdmapBasesInUse(ctx)
	if err != nil {
		return 0, err
	}
	slices.Sort(used)
	for slot := int64(0); (slot+1)*idsPerGuest <= r.size; slot++ {
		base := r.uidStart + slot*idsPerGuest
		if _, found := slices.BinarySearch(used, base); !found {
			return base, nil
		}
	}
	return 0, errNoIDs
}

// gidFor returns the gid base matching a uid base.
func (r idRange) gidFor(uidBase int64) int64 { return r.gidStart + (uidBase - r.uidStart) }
