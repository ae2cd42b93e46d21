package instance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func testDriver(h hostInfo) *Driver {
	return &Driver{LXCPath: "/var/lib/lxmgr/containers", host: h, cache: map[string]*entry{}}
}

func baseSpec() Spec {
	return Spec{
		Name:   "web1",
		Rootfs: "/var/lib/lxmgr/storage/default/containers/web1/rootfs",
		IDMap:  IDMap{HostUID: 1065536, HostGID: 1065536, Size: 65536},
	}
}

// lines returns the config lines for key ("key = value" -> value).
func lines(cfg, key string) []string {
	var out []string
	for _, l := range strings.Split(cfg, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == key {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func TestRenderValues(t *testing.T) {
	v1 := hostInfo{seccomp: "/usr/share/lxc/config/common.seccomp"}
	v2 := hostInfo{cgroup2: true, apparmor: true, lxcfs: []string{"proc/meminfo", "sys/devices/system/cpu"}}
	tests := []struct {
		name string
		host hostInfo
		edit func(*Spec)
		want map[string][]string // key -> all its values, in order
	}{
		{"unprivileged defaults", v1, func(*Spec) {}, map[string][]string{
			"lxc.uts.name":            {"web1"},
			"lxc.rootfs.path":         {"dir:/var/lib/lxmgr/storage/default/containers/web1/rootfs"},
			"lxc.rootfs.options":      {"idmap=container"},
			"lxc.idmap":               {"u 0 1065536 65536", "g 0 1065536 65536"},
			"lxc.net.0.type":          {"empty"},
			"lxc.mount.auto":          {"proc:mixed sys:mixed cgroup:mixed:force"},
			"lxc.seccomp.profile":     {"/usr/share/lxc/config/common.seccomp"},
			"lxc.apparmor.profile":    {"unconfined"},
			"lxc.cap.drop":            {"sys_time sys_module sys_rawio mac_admin mac_override"},
			"lxc.console.logfile":     {"/var/lib/lxmgr/containers/web1/console.log"},
			"lxc.signal.halt":         nil,
			"lxc.hook.mount":          nil,
			"lxc.cgroup.devices.deny": {"a"},
		}},
		{"privileged has no idmap", v1, func(s *Spec) { s.Privileged = true; s.Hostname = "www.example.org" }, map[string][]string{
			"lxc.uts.name":       {"www.example.org"},
			"lxc.idmap":          nil,
			"lxc.rootfs.options": nil,
			"lxc.cap.drop":       {"sys_time sys_module sys_rawio mac_admin mac_override"},
		}},
		{"v1 limits", v1, func(s *Spec) {
			s.Limits = Limits{MemoryBytes: 1 << 30, CPUs: "0-1", CPUCount: 2, Processes: 500}
		}, map[string][]string{
			"lxc.cgroup.memory.limit_in_bytes": {"1073741824"},
			"lxc.cgroup.cpuset.cpus":           {"0-1"},
			"lxc.cgroup.cpu.cfs_period_us":     {"100000"},
			"lxc.cgroup.cpu.cfs_quota_us":      {"200000"},
			"lxc.cgroup.pids.max":              {"500"},
			"lxc.cgroup2.memory.max":           nil,
		}},
		{"v2 limits", v2, func(s *Spec) {
			s.Limits = Limits{MemoryBytes: 1 << 30, CPUs: "1", CPUCount: 1, Processes: 50}
		}, map[string][]string{
			"lxc.cgroup2.memory.max":           {"1073741824"},
			"lxc.cgroup2.cpuset.cpus":          {"1"},
			"lxc.cgroup2.cpu.max":              {"100000 100000"},
			"lxc.cgroup2.pids.max":             {"50"},
			"lxc.cgroup2.devices.deny":         {"a"},
			"lxc.cgroup.memory.limit_in_bytes": nil,
			"lxc.apparmor.profile":             nil,
			"lxc.seccomp.profile":              nil,
			"lxc.hook.mount":                   nil,
			"lxc.hook.post-stop":               nil,
			"lxc.mount.entry": {
				"/sys/fs/fuse/connections sys/fs/fuse/connections none bind,optional 0 0",
				"/var/lib/lxcfs/proc/meminfo proc/meminfo none bind,create=file,optional 0 0",
				"/var/lib/lxcfs/sys/devices/system/cpu sys/devices/system/cpu none bind,create=dir,optional 0 0",
			},
		}},
		{"nesting", v2, func(s *Spec) { s.Nesting = true }, map[string][]string{
			"lxc.mount.auto":             {"proc:mixed sys:mixed cgroup:rw:force"},
			"lxc.apparmor.profile":       {"generated"},
			"lxc.apparmor.allow_nesting": {"1"},
		}},
		{"init settings", v1, func(s *Spec) {
			s.HaltSignal = "SIGRTMIN+3"
			// Names the schema accepts but a shell could not name.
			s.Environment = map[string]string{"B": "2 3", "A": "x=y", "FOO-BAR": "1", "1X": "2", "a.b": "3"}
		}, map[string][]string{
			"lxc.signal.halt": {"SIGRTMIN+3"},
			"lxc.environment": {"1X=2", "A=x=y", "B=2 3", "FOO-BAR=1", "a.b=3"},
		}},
		{"nics", v1, func(s *Spec) {
			s.NICs = []NIC{{Name: "eth0", Bridge: "lxmgrbr0", HWAddr: "00:16:3E:aa:bb:cc", MTU: 1400, HostName: "vethab12cd34"}, {Name: "eth1", Bridge: "br1"}}
		}, map[string][]string{
			"lxc.net.0.veth.pair": {"vethab12cd34"},
			"lxc.net.1.veth.pair": nil,
			"lxc.net.0.type":      {"veth"},
			"lxc.net.0.link":      {"lxmgrbr0"},
			"lxc.net.0.name":      {"eth0"},
			"lxc.net.0.hwaddr":    {"00:16:3e:aa:bb:cc"},
			"lxc.net.0.mtu":       {"1400"},
			"lxc.net.0.flags":     {"up"},
			"lxc.net.1.link":      {"br1"},
			"lxc.net.1.mtu":       nil,
		}},
		{"raw appended last", v1, func(s *Spec) { s.RawLXC = "# mine\nlxc.mount.auto =\nlxc.mount.auto = proc:rw\n" }, map[string][]string{
			"lxc.mount.auto": {"proc:mixed sys:mixed cgroup:mixed:force", "", "proc:rw"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := baseSpec()
			tt.edit(&spec)
			cfg, err := testDriver(tt.host).Render(spec)
			if err != nil {
				t.Fatal(err)
			}
			for key, want := range tt.want {
				got := lines(cfg, key)
				if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
					t.Errorf("%s = %q, want %q\n%s", key, got, want, cfg)
				}
			}
		})
	}
}

func TestRenderRawIsLast(t *testing.T) {
	spec := baseSpec()
	spec.RawLXC = "lxc.start.delay = 1"
	cfg, err := testDriver(hostInfo{}).Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(cfg, "lxc.start.delay = 1\n") {
		t.Errorf("raw.lxc not last:\n%s", cfg)
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
	}{
		{"empty name", func(s *Spec) { s.Name = "" }},
		{"slash in name", func(s *Spec) { s.Name = "a/b" }},
		{"dotdot name", func(s *Spec) { s.Name = ".." }},
		{"space in name", func(s *Spec) { s.Name = "a b" }},
		{"newline in name", func(s *Spec) { s.Name = "a\nlxc.idmap = u 0 0 1" }},
		{"newline in rootfs", func(s *Spec) { s.Rootfs = "/x\nlxc.rootfs.path = dir:/" }},
		{"relative rootfs", func(s *Spec) { s.Rootfs = "rootfs" }},
		{"unclean rootfs", func(s *Spec) { s.Rootfs = "/a/../b" }},
		{"NUL in rootfs", func(s *Spec) { s.Rootfs = "/a\x00b" }},
		{"newline in hostname", func(s *Spec) { s.Hostname = "a\nb" }},
		{"bad hostname", func(s *Spec) { s.Hostname = "-a" }},
		{"CR in halt signal", func(s *Spec) { s.HaltSignal = "SIGPWR\r" }},
		{"bad halt signal", func(s *Spec) { s.HaltSignal = "PWR; rm" }},
		{"newline in env value", func(s *Spec) { s.Environment = map[string]string{"A": "1\nlxc.cap.drop ="} }},
		{"bad env key", func(s *Spec) { s.Environment = map[string]string{"A=B": "1"} }},
		{"blank in env key", func(s *Spec) { s.Environment = map[string]string{"A B": "1"} }},
		{"empty env key", func(s *Spec) { s.Environment = map[string]string{"": "1"} }},
		{"CR in raw", func(s *Spec) { s.RawLXC = "lxc.start.delay = 1\r" }},
		{"raw not a key", func(s *Spec) { s.RawLXC = "rm -rf /" }},
		{"no idmap", func(s *Spec) { s.IDMap = IDMap{} }},
		{"idmap to host root", func(s *Spec) { s.IDMap.HostUID = 0 }},
		{"idmap overflow", func(s *Spec) { s.IDMap = IDMap{HostUID: 1<<32 - 10, HostGID: 5, Size: 100} }},
		{"bad cpuset", func(s *Spec) { s.Limits.CPUs = "0-1\n" }},
		{"negative memory", func(s *Spec) { s.Limits.MemoryBytes = -1 }},
		{"bad nic name", func(s *Spec) { s.NICs = []NIC{{Name: "eth 0", Bridge: "br0"}} }},
		{"bad mac", func(s *Spec) { s.NICs = []NIC{{Name: "eth0", Bridge: "br0", HWAddr: "00:11\n"}} }},
	}
	d := testDriver(hostInfo{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := baseSpec()
			tt.edit(&spec)
			cfg, err := d.Render(spec)
			if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
			if cfg != "" {
				t.Errorf("rendered text despite error: %q", cfg)
			}
		})
	}
}

// TestRenderNoInjectedLine checks over many fields that no accepted value
// ever yields more lines than the spec asks for.
func TestRenderNoInjectedLine(t *testing.T) {
	d := testDriver(hostInfo{})
	spec := baseSpec()
	spec.Environment = map[string]string{"X": "lxc.idmap = u 0 0 1"}
	cfg, err := d.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(cfg, "lxc.idmap"); len(got) != 2 {
		t.Errorf("idmap lines = %q", got)
	}
}

func TestCreateInvalidWritesNothing(t *testing.T) {
	dir := t.TempDir()
	d := &Driver{LXCPath: dir, cache: map[string]*entry{}}
	spec := baseSpec()
	spec.Hostname = "x\ny"
	if err := d.Create(t.Context(), spec); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Create = %v", err)
	}
	if names, _ := d.Defined(); len(names) != 0 {
		t.Errorf("Defined after refused Create = %v", names)
	}
}

func TestNameChecks(t *testing.T) {
	d := &Driver{LXCPath: t.TempDir(), cache: map[string]*entry{}}
	for _, name := range []string{"../etc", "a/b", "", " x"} {
		if d.Exists(name) {
			t.Errorf("Exists(%q) = true", name)
		}
		if _, err := d.State(name); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("State(%q) = %v", name, err)
		}
		if err := d.Delete(t.Context(), name); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("Delete(%q) = %v", name, err)
		}
	}
	if _, err := d.State("nothere"); !errors.Is(err, ErrNotFound) || !errors.Is(err, api.ErrNotFound) {
		t.Errorf("State(nothere) = %v", err)
	}
	if err := d.Delete(t.Context(), "nothere"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete(nothere) = %v", err)
	}
}

func TestReadyFileStaysInRoot(t *testing.T) {
	host := t.TempDir()
	mustWrite := func(p string) {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(host, "outside"))
	tests := []struct {
		name  string
		setup func(run string)
		want  bool
	}{
		{"missing", func(string) {}, false},
		{"file", func(run string) { mustWrite(filepath.Join(run, "lxmgr-ready")) }, true},
		{"absolute symlink out", func(run string) {
			os.Symlink(filepath.Join(host, "outside"), filepath.Join(run, "lxmgr-ready"))
		}, false},
		{"relative symlink out", func(run string) { os.Symlink("../../outside", filepath.Join(run, "lxmgr-ready")) }, false},
		{"symlinked run dir out", func(run string) {
			os.Remove(run)
			os.Symlink(host, run)
			mustWrite(filepath.Join(host, "lxmgr-ready"))
		}, false},
		{"symlink inside", func(run string) {
			mustWrite(filepath.Join(run, "real"))
			os.Symlink("real", filepath.Join(run, "lxmgr-ready"))
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "rootfs")
			run := filepath.Join(root, "run")
			if err := os.MkdirAll(run, 0o755); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(host, "lxmgr-ready"))
			tt.setup(run)
			if got := guestHasFile(root, "run/lxmgr-ready"); got != tt.want {
				t.Errorf("guestHasFile = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRenderMounts(t *testing.T) {
	d := New(t.TempDir())
	spec := Spec{Name: "m1", Rootfs: "/var/lib/x/rootfs", IDMap: IDMap{HostUID: 1000000, HostGID: 1000000, Size: 65536},
		Mounts: []Mount{{Source: t.TempDir(), Path: "/var/www", Idmap: true}, {Source: "/etc/hostname", Path: "/etc/host-name", ReadOnly: true}}}
	out, err := d.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"lxc.mount.entry = " + spec.Mounts[0].Source + " var/www none bind,create=dir,idmap=container 0 0",
		"lxc.mount.entry = /etc/hostname etc/host-name none bind,create=file,ro 0 0",
	}
	for _, w := range want {
		if !strings.Contains(out, w+"\n") {
			t.Errorf("render lacks %q:\n%s", w, out)
		}
	}
	for _, bad := range []Mount{
		{Source: "relative", Path: "/x"},
		{Source: "/a b", Path: "/x"},
		{Source: "/a", Path: "/x/../../etc"},
		{Source: "/a", Path: "/"},
		{Source: "/a\nlxc.init.cmd = /evil", Path: "/x"},
	} {
		spec.Mounts = []Mount{bad}
		if _, err := d.Render(spec); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("mount %+v: err = %v, want ErrInvalidSpec", bad, err)
		}
	}
}

// TestLxcStartPathHasNoShadowTools: liblxc runs newuidmap/newgidmap
// through a shell when it finds them on lxc-start's PATH (see Start).
func TestLxcStartPathHasNoShadowTools(t *testing.T) {
	for _, dir := range filepath.SplitList(lxcStartPath) {
		for _, tool := range []string{"newuidmap", "newgidmap"} {
			if _, err := os.Stat(filepath.Join(dir, tool)); err == nil {
				t.Errorf("%s is on lxc-start's PATH (%s)", filepath.Join(dir, tool), lxcStartPath)
			}
		}
	}
}

// TestLogTailPrefersErrors: a failed start's errors are quoted even when a
// dozen warnings follow them in lxc.log.
func TestLogTailPrefersErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lxc.log")
	var b strings.Builder
	b.WriteString("lxc-start c1 1 INFO     start - x - starting\n")
	b.WriteString("lxc-start c1 1 ERROR    conf - x - Failed to mount rootfs\n")
	for i := 0; i < 14; i++ {
		b.WriteString("lxc-start c1 1 WARN     cgfsng - x - Failed to destroy a monitor cgroup\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	got := logTail(path, 0)
	if !strings.Contains(got, "Failed to mount rootfs") || strings.Contains(got, "Failed to destroy") {
		t.Errorf("logTail = %q, want the error line alone", got)
	}
	if err := os.WriteFile(path, []byte("lxc-start c1 1 WARN     x - only a warning\nlxc-start c1 1 INFO     x - info\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := logTail(path, 0); !strings.Contains(got, "only a warning") || strings.Contains(got, "info") {
		t.Errorf("logTail without errors = %q, want the warning", got)
	}
}
