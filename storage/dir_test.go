package storage_test

import (
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
