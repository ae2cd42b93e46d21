package instance

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// removeStaleCgroups removes the cgroups liblxc made for name
// (lxc.monitor.NAME, lxc.payload.NAME) in every hierarchy, if they are
// empty. A monitor that dies with a failed start leaves them behind, one
// set per failure; a running guest's are never empty, and rmdir refuses a
// non-empty cgroup, so this cannot hurt a live guest.
func removeStaleCgroups(name string) {
	bases := cgroupBases()
	for _, base := range bases {
		for _, kind := range []string{"lxc.payload.", "lxc.monitor."} {
			dir := filepath.Join(base, kind+name)
			if _, err := os.Lstat(dir); err != nil {
				continue
			}
			// Children first (a payload may hold liblxc's inner cgroup).
			subs, _ := os.ReadDir(dir)
			for _, s := range subs {
				if s.IsDir() {
					_ = os.Remove(filepath.Join(dir, s.Name()))
				}
			}
			_ = os.Remove(dir)
		}
	}
}

// cgroupBases lists where liblxc puts a guest's cgroups: below the daemon's
// own cgroup in each mounted hierarchy (liblxc creates them there), and the
// hierarchy roots for a daemon that was moved since.
func cgroupBases() []string {
	mounts := cgroupMounts()
	own := ownCgroups()
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, m := range mounts {
		add(m.dir)
		if p, ok := own[m.key]; ok && p != "/" {
			add(filepath.Join(m.dir, p))
		}
	}
	return out
}

type cgroupMount struct {
	dir string
	// key matches the controller field of /proc/self/cgroup: "" for
	// cgroup2, else the v1 super options' controller list
	// ("cpu,cpuacct", "name=systemd").
	key string
}

// cgroupMounts reads the cgroup mounts of this mount namespace.
func cgroupMounts() []cgroupMount {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []cgroupMount
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 || pf[3] != "/" {
			continue
		}
		switch qf[0] {
		case "cgroup2":
			out = append(out, cgroupMount{dir: pf[4]})
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(qf[2], ",") {
				switch o {
				case "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "nsdelegate", "cpuset_v2_mode", "noprefix":
				default:
					if !strings.HasPrefix(o, "release_agent=") {
						ctrls = append(ctrls, o)
					}
				}
			}
			out = append(out, cgroupMount{dir: pf[4], key: strings.Join(ctrls, ",")})
		}
	}
	return out
}

// ownCgroups maps each hierarchy's controller list to this process's cgroup.
func ownCgroups() map[string]string {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			out[parts[1]] = parts[2]
		}
	}
	return out
}
