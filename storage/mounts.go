package storage

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// hasMountsUnder reports whether anything is mounted at dir or below it in
// the calling thread's mount namespace.
func hasMountsUnder(dir string) (bool, error) { return mountsIn(dir, true) }

// hasMountsBelow reports whether anything is mounted strictly below dir
// (dir itself may be a mount point).
func hasMountsBelow(dir string) (bool, error) { return mountsIn(dir, false) }

func mountsIn(dir string, self bool) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	mounts, err := readMountInfo()
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if (self && m.point == dir) || strings.HasPrefix(m.point, dir+"/") {
			return true, nil
		}
	}
	return false, nil
}

// mountInfo is one line of mountinfo.
type mountInfo struct {
	point  string // mount point
	fstype string
	source string // device or other source
}

// readMountInfo parses the calling thread's mountinfo: thread-self, not
// self, because a thread may have entered its own mount namespace (tests
// do, to play a restarted daemon).
func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// Field 5 is the mount point, with space, tab, newline and
		// backslash octal-escaped; after the optional fields and "-"
		// come the fstype and the source.
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		m := mountInfo{point: unescapeMount(fields[4])}
		for i := 5; i < len(fields); i++ {
			if fields[i] == "-" && i+2 < len(fields) {
				m.fstype, m.source = fields[i+1], unescapeMount(fields[i+2])
				break
			}
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	return out, nil
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
