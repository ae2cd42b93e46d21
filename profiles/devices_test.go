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
		{"custom volume", api.Devices{"root": root, "data": {"type": "disk", "pool": "default", "source": "vol1", "path": "/data"}}, nil, ""},
		{"custom volume bad name", api.Devices{"data": {"type": "disk", "pool": "default", "source": "../x", "path": "/data"}}, ErrInvalidDevice, "volume name"},
		{"space in source", api.Devices{"d": {"type": "disk", "source": "/a b", "path": "/x"}}, ErrInvalidDevice, "whitespace"},
		{"nic", api.Devices{"eth0": {"type": "nic", "network": "lxmbr0", "hwaddr": "02:16:3e:00:00:01", "ipv4.address": "10.1.2.3", "mtu": "1500", "limits.ingress": "10Mbit"}}, nil, ""},
		{"nic on parent", api.Devices{"net": {"type": "nic", "nictype": "bridged", "parent": "br0", "name": "eth1"}}, nil, ""},
		{"nic without network", api.Devices{"eth0": {"type": "nic"}}, ErrInvalidDevice, "exactly one"},
		{"nic with both", api.Devices{"eth0": {"type": "nic", "network": "a", "parent": "b"}}, ErrInvalidDevice, "exactly one"},
		{"nic bad mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "zz"}}, ErrInvalidDevice, `"hwaddr"`},
		{"nic multicast mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "01:00:5e:00:00:01"}}, ErrInvalidDevice, "unicast"},
		{"nic broadcast mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "ff:ff:ff:ff:ff:ff"}}, ErrInvalidDevice, "unicast"},
		{"nic zero mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "00:00:00:00:00:00"}}, ErrInvalidDevice, "all-zero"},
		{"nic long mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "00:16:3e:00:00:00:00:01"}}, ErrInvalidDevice, "Ethernet"},
		{"nic dashed mac", api.Devices{"eth0": {"type": "nic", "network": "a", "hwaddr": "00-16-3E-AA-BB-CC"}}, nil, ""},
		{"nic bad ip", api.Devices{"eth0": {"type": "nic", "network": "a", "ipv4.address": "10.1.2"}}, ErrInvalidDevice, `"ipv4.address"`},
		{"nic long name", api.Devices{"eth0": {"type": "nic", "network": "a", "name": "abcdefghijklmnop"}}, ErrInvalidDevice, `"name"`},
		{"nic bad rate", api.Devices{"eth0": {"type": "nic", "network": "a", "limits.egress": "fast"}}, ErrInvalidDevice, `"limits.egress"`},
		{"nic unknown key", api.Devices{"eth0": {"type": "nic", "network": "a", "vlan": "5"}}, ErrInvalidDevice, `unknown key "vlan"`},
		{"proxy", api.Devices{"web": {"type": "proxy", "listen": "tcp:0.0.0.0:8080", "connect": "tcp:127.0.0.1:80"}}, nil, ""},
		{"proxy missing connect", api.Devices{"web": {"type": "proxy", "listen": "tcp:0.0.0.0:8080"}}, ErrInvalidDevice, `"connect"`},
		{"proxy mixed protocols", api.Devices{"web": {"type": "proxy", "listen": "tcp:0.0.0.0:8080", "connect": "udp:127.0.0.1:80"}}, ErrInvalidDevice, "same protocol"},
		{"proxy bad port", api.Devices{"web": {"type": "proxy", "listen": "tcp:0.0.0.0:99999", "connect": "tcp:127.0.0.1:80"}}, ErrInvalidDevice, `"listen"`},
		{"proxy bad host", api.Devices{"web": {"type": "proxy", "listen": "tcp:example.com:80", "connect": "tcp:127.0.0.1:80"}}, ErrInvalidDevice, "IP address"},
		{"missing type", api.Devices{"x": {"path": "/"}}, ErrInvalidDevice, `device "x"`},
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
