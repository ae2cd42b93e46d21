package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/storage"
	"github.com/lxmgr/lxmgr/storage/storagetest"
)

func TestDirConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		d, err := storage.New("default", "dir", map[string]string{"source": filepath.Join(t.TempDir(), "pool")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	})
}

// TestDirConformanceSmallExt4 runs the suite on a small ext4, where the
// pool can be filled.
func TestDirConformanceSmallExt4(t *testing.T) { runDirOnExt4(t, false) }

// TestDirConformanceProjectQuota runs the suite on a small ext4 with
// project quotas, where quotas work.
func TestDirConformanceProjectQuota(t *testing.T) {
	storage.NewExt4DirForTest(t, true) // skips the test where the kernel cannot
	runDirOnExt4(t, true)
}

func runDirOnExt4(t *testing.T, quota bool) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		mnt := storage.NewExt4DirForTest(t, quota)
		d, err := storage.New("default", "dir", map[string]string{"source": filepath.Join(mnt, "pool")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := d.Delete(context.Background()); err != nil {
				t.Errorf("delete pool: %v", err)
			}
		})
		if err := d.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		if d.Capabilities().Quotas != quota {
			t.Fatalf("dir pool on ext4 (prjquota %v) has Quotas %v", quota, d.Capabilities().Quotas)
		}
		return d
	})
}

func TestNew(t *testing.T) {
	tests := []struct {
		name, driver string
		config       map[string]string
		wantErr      error
	}{
		{"default", "dir", map[string]string{"source": "/var/lib/lxmgr/pool"}, nil},
		{"default", "dir", map[string]string{"source": "/p", "volatile.initial_source": "/x"}, nil},
		{"default", "zfs", map[string]string{"source": "/p"}, storage.ErrUnknownDriver},
		{"default", "dir", nil, storage.ErrInvalidConfig},
		{"default", "dir", map[string]string{"source": "relative"}, storage.ErrInvalidConfig},
		{"default", "dir", map[string]string{"source": "/p", "size": "1GiB"}, storage.ErrInvalidConfig},
		{"a/b", "dir", map[string]string{"source": "/p"}, storage.ErrInvalidName},
		{"default", "btrfs", map[string]string{"source": "/p"}, nil},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "/d/p.img", "size": "1GiB"}, nil},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "/d/p.img"}, nil},
		{"default", "btrfs", map[string]string{"source": "/p", "size": "1GiB"}, storage.ErrInvalidConfig},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "rel.img"}, storage.ErrInvalidConfig},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "/p/x.img"}, storage.ErrInvalidConfig},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "/d/p.img", "size": "1MiB"}, storage.ErrInvalidConfig},
		{"default", "btrfs", map[string]string{"source": "/p", "loop.file": "/d/p.img", "size": "lots"}, storage.ErrInvalidConfig},
		{"default", "btrfs", map[string]string{"source": "/p", "mount": "x"}, storage.ErrInvalidConfig},
	}
	for _, tt := range tests {
		d, err := storage.New(tt.name, tt.driver, tt.config)
		if tt.wantErr == nil {
			if err != nil {
				t.Errorf("New(%q, %q, %v) = %v", tt.name, tt.driver, tt.config, err)
				continue
			}
			if d.Name() != tt.name || d.Driver() != tt.driver || d.Path() != tt.config["source"] {
				t.Errorf("New returned %s/%s/%s", d.Name(), d.Driver(), d.Path())
			}
			continue
		}
		if !errors.Is(err, tt.wantErr) || !errors.Is(err, api.ErrInvalid) {
			t.Errorf("New(%q, %q, %v) = %v, want %v", tt.name, tt.driver, tt.config, err, tt.wantErr)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true},
		{"512MiB", 512 << 20, true},
		{"5GiB", 5 << 30, true},
		{"1GB", 1e9, true},
		{"10kB", 1e4, true},
		{"", 0, false},
		{"GiB", 0, false},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999PiB", 0, false},
	}
	for _, tt := range tests {
		got, err := storage.ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, storage.ErrInvalidSize) {
			t.Errorf("ParseSize(%q) error %v is not ErrInvalidSize", tt.in, err)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"web1", true},
		{"a-b_c.d", true},
		{"0123456789abcdef", true},
		{"", false},
		{"..", false},
		{"a..b", false},
		{".tmp", false},
		{"a/b", false},
		{"a b", false},
		{"a\nb", false},
		{"a\x01b", false},
		{"\xff", false},
	}
	for _, tt := range tests {
		if err := storage.ValidName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestBtrfsConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		return storage.NewBtrfsLoopPoolForTest(t, "512MiB")
	})
}
