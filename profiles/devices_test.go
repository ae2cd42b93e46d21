package profiles

import (
	"errors"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestValidateDevices(t *testing.T) {
	root := map[string]string{"type": "disk", "path": "/", "pool": "default"}
	tests := []struct {
		name    string
		devs    api.Devices
		wantErr error
		mention string // text the error must contain
	}{
		{"empty", nil, nil, ""},
		{"root", api.Devices{"root": root}, nil, ""},
		{"root with size", api.Devices{"root": {"type": "disk", "path": "/", "pool": "p", "size": "10GiB"}}, nil, ""},
		{"bind mount", api.Devices{"root": root, "data": {"type": "disk", "source": "/srv/data", "path": "/data", "readonly": "true", "shift": "true"}}, nil, ""},
		{"missing type", api.Devices{"x": {"path": "/"}}, ErrInvalidDevice, `device "x"`},
		{"nic unsupported", api.Devices{"eth0": {"type": "nic", "network": "lxmbr0"}}, ErrUnsupportedDevice, `device "eth0": unsupported device: type "nic" is not supported yet`},
		{"proxy unsupported", api.Devices{"web": {"type": "proxy"}}, ErrUnsupportedDevice, `"proxy"`},
		{"unknown type", api.Devices{"g": {"type": "gpu"}}, ErrUnsupportedDevice, `"gpu"`},
		{"unknown key", api.Devices{"root": {"type": "disk", "path": "/", "pool": "p", "colour": "red"}}, ErrInvalidDevice, `device "root": invalid device: unknown key "colour"`},
		{"root without pool", api.Devices{"root": {"type": "disk", "path": "/"}}, ErrInvalidDevice, `"pool"`},
		{"root with source", api.Devices{"root": {"type": "disk", "path": "/", "pool": "p", "source": "/x"}}, ErrInvalidDevice, `"source"`},
		{"two roots", api.Devices{"root": root, "root2": root}, ErrInvalidDevice, "more than one root disk"},
		{"disk without path", api.Devices{"d": {"type": "disk", "source": "/x"}}, ErrInvalidDevice, `"path"`},
		{"disk without source", api.Devices{"d": {"type": "disk", "path": "/x"}}, ErrInvalidDevice, `"source"`},
		{"relative path", api.Devices{"d": {"type": "disk", "source": "/x", "path": "x"}}, ErrInvalidDevice, "absolute"},
		{"relative source", api.Devices{"d": {"type": "disk", "source": "x", "path": "/x"}}, ErrInvalidDevice, "absolute"},
		{"dotdot path", api.Devices{"d": {"type": "disk", "source": "/x", "path": "/a/../../etc"}}, ErrInvalidDevice, `".."`},
		{"newline source", api.Devices{"d": {"type": "disk", "source": "/x\nlxc.foo=1", "path": "/x"}}, ErrInvalidDevice, "newline"},
		{"pool on bind", api.Devices{"d": {"type": "disk", "source": "/x", "path": "/x", "pool": "p"}}, ErrInvalidDevice, "pool"},
		{"bad readonly", api.Devices{"d": {"type": "disk", "source": "/x", "path": "/x", "readonly": "yes"}}, ErrInvalidDevice, `"readonly"`},
		{"bad size", api.Devices{"root": {"type": "disk", "path": "/", "pool": "p", "size": "big"}}, ErrInvalidDevice, `"size"`},
		{"slash in name", api.Devices{"a/b": root}, ErrInvalidDevice, "name"},
		{"space in name", api.Devices{"a b": root}, ErrInvalidDevice, "name"},
		{"dotdot name", api.Devices{"..": root}, ErrInvalidDevice, "name"},
		{"empty name", api.Devices{"": root}, ErrInvalidDevice, "name"},
		{"long name", api.Devices{strings.Repeat("a", 65): root}, ErrInvalidDevice, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDevices(tt.devs)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("got %v, want %v (and api.ErrInvalid)", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestRootDisk(t *testing.T) {
	name, dev, ok := RootDisk(Default().Devices)
	if !ok || name != "root" || dev["pool"] != "default" {
		t.Fatalf("RootDisk(default) = %q %v %v", name, dev, ok)
	}
	if _, _, ok := RootDisk(api.Devices{"d": {"type": "disk", "path": "/x", "source": "/y"}}); ok {
		t.Fatal("found a root disk where there is none")
	}
}
