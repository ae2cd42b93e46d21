package instance

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// cgroupRoot is where the cgroup hierarchies are mounted: v1 controllers
// in subdirectories (blkio/, memory/), or the v2 tree itself. A variable
// so tests can point it at a fake tree.
var cgroupRoot = "/sys/fs/cgroup"

// CgroupFiles tells which optional cgroup files this host gives a guest,
// so that a limit the host cannot enforce is refused rather than dropped.
type CgroupFiles struct {
	// V2 is true on a pure cgroup2 host.
	V2 bool
	// IOWeight is the file a block I/O weight goes to: blkio.weight or
	// blkio.bfq.weight (v1), io.weight or io.bfq.weight (v2); "" when the
	// host has none (no I/O scheduler with weights).
	IOWeight string
	// SwapLimit is the file capping memory+swap: memory.memsw.limit_in_bytes
	// (v1) or memory.swap.max (v2); "" without swap accounting.
	SwapLimit string
}

// IOWeightFiles lists, in order of preference, the files that can hold a
// block I/O weight on a v1 or v2 host (for messages naming what is missing).
func IOWeightFiles(v2 bool) []string {
	if v2 {
		return []string{"io.weight", "io.bfq.weight"}
	}
	return []string{"blkio.weight", "blkio.bfq.weight"}
}

// SwapLimitFile is the file that caps memory+swap on a v1 or v2 host.
func SwapLimitFile(v2 bool) string {
	if v2 {
		return "memory.swap.max"
	}
	return "memory.memsw.limit_in_bytes"
}

// probeCgroupFiles finds the optional files under root. Some exist only
// below the root cgroup (BFQ's and cgroup2's weight and swap files are
// not on the root), so a file counts when the root, an existing child or a
// freshly made (and removed) probe child has it: guests get cgroups of
// their own, which are such children.
func probeCgroupFiles(root string, v2 bool) CgroupFiles {
	blkio, memory := filepath.Join(root, "blkio"), filepath.Join(root, "memory")
	if v2 {
		blkio, memory = root, root
	}
	f := CgroupFiles{V2: v2}
	for _, name := range IOWeightFiles(v2) {
		if cgroupHas(blkio, name) {
			f.IOWeight = name
			break
		}
	}
	if name := SwapLimitFile(v2); cgroupHas(memory, name) {
		f.SwapLimit = name
	}
	return f
}

// cgroupHas reports whether cgroups in the hierarchy at dir have file.
func cgroupHas(dir, file string) bool {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	if exists(filepath.Join(dir, file)) {
		return true
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if e.IsDir() && exists(filepath.Join(dir, e.Name(), file)) {
			return true
		}
	}
	probe := filepath.Join(dir, "lxmgr-probe."+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return false
	}
	defer os.Remove(probe)
	return exists(filepath.Join(probe, file))
}

// ioWeightDefault is the kernel's default weight in each weight file, the
// value a removed limits.disk.priority goes back to.
func ioWeightDefault(file string) string {
	if file == "blkio.weight" {
		return "500"
	}
	return "100"
}

// unsupported reports a limit the host cannot enforce.
func unsupported(what string, files ...string) error {
	return fmt.Errorf("%w: %s: the host's cgroups have no %q", ErrUnsupported, what, files)
}
