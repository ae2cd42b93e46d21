package profiles

import (
	"errors"
	"strings"
	"testing"

	"github.com/lxmgr/lxmgr/api"
)

func TestValidateConfigKeys(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
	}{
		{"limits.cpu", "2", true},
		{"limits.cpu", "0-1,3", true},
		{"limits.cpu", "3-3", true},
		{"limits.cpu", "0", false},
		{"limits.cpu", "-1", false},
		{"limits.cpu", "1-0", false},
		{"limits.cpu", "0-999999999", false},
		{"limits.cpu", "a", false},
		{"limits.cpu", "0,,1", false},
		{"limits.memory", "512MiB", true},
		{"limits.memory", "1GB", true},
		{"limits.memory", "64kB", true},
		{"limits.memory", "1048576", true},
		{"limits.memory", "50%", true},
		{"limits.memory", "100%", true},
		{"limits.memory", "0", false},
		{"limits.memory", "101%", false},
		{"limits.memory", "0%", false},
		{"limits.memory", "abc", false},
		{"limits.memory", "1.5GiB", false},
		{"limits.memory", "-1MiB", false},
		{"limits.memory", "99999999999EiB", false},
		{"limits.processes", "100", true},
		{"limits.processes", "0", false},
		{"limits.processes", "-5", false},
		{"limits.processes", "ten", false},
		{"limits.cpu.allowance", "50%", true},
		{"limits.cpu.allowance", "25ms/100ms", true},
		{"limits.cpu.allowance", "200ms/100ms", true},
		{"limits.cpu.allowance", "0%", false},
		{"limits.cpu.allowance", "150%", false},
		{"limits.cpu.allowance", "25ms/0ms", false},
		{"limits.cpu.allowance", "25/100", false},
		{"limits.cpu.allowance", "25ms/2000ms", false},
		{"limits.memory.swap", "true", true},
		{"limits.memory.swap", "yes", false},
		{"limits.disk.priority", "0", true},
		{"limits.disk.priority", "10", true},
		{"limits.disk.priority", "11", false},
		{"limits.disk.priority", "-1", false},
		{"security.privileged", "false", true},
		{"security.privileged", "1", false},
		{"security.nesting", "true", true},
		{"security.nesting", "TRUE", false},
		{"security.idmap.isolated", "true", true},
		{"security.idmap.isolated", "on", false},
		{"security.protection.delete", "true", true},
		{"security.protection.delete", "maybe", false},
		{"boot.autostart", "true", true},
		{"boot.autostart", "2", false},
		{"boot.autostart.priority", "-3", true},
		{"boot.autostart.priority", "x", false},
		{"boot.autostart.delay", "5", true},
		{"boot.autostart.delay", "-1", false},
		{"boot.stop.priority", "7", true},
		{"boot.stop.priority", "1.5", false},
		{"environment.HTTP_PROXY", "http://x", true},
		{"environment.", "x", false},
		{"environment.A=B", "x", false},
		{"environment.FOO-BAR", "x", true},
		{"environment.1X", "x", true},
		{"environment.a.b", "x", true},
		{"environment.A B", "x", false},
		{"environment.A\tB", "x", false},
		{"environment.A\x1bB", "x", false},
		{"user.note", "anything at all", true},
		{"user.", "x", false},
		{"raw.lxc", "lxc.apparmor.profile = unconfined", true},
		{"raw.lxc", "a\nb", false},
		{"image.os", "Debian", true},
		{"volatile.idmap.base", "100000", true},
		{"limits.memory", "", true}, // empty means unset
		{"user.x", "a\rb", false},
		{"user.x", "a\x00b", false},
		{"nope", "1", false},
		{"limits.nope", "1", false},
		{"", "1", false},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			err := ValidateConfig(map[string]string{tt.key: tt.value})
			if (err == nil) != tt.ok {
				t.Fatalf("ValidateConfig(%q=%q) = %v, want ok=%v", tt.key, tt.value, err, tt.ok)
			}
			if err != nil && !errors.Is(err, api.ErrInvalid) {
				t.Errorf("error %v does not match api.ErrInvalid", err)
			}
		})
	}
}

func TestValidateConfigErrors(t *testing.T) {
	err := ValidateConfig(map[string]string{"limits.memory": "abc"})
	if !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("want ErrInvalidValue, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), `config key "limits.memory": invalid value "abc": `) {
		t.Errorf("bad message: %q", err)
	}
	err = ValidateConfig(map[string]string{"foo.bar": "1"})
	if !errors.Is(err, ErrUnknownKey) || err.Error() != `unknown config key "foo.bar"` {
		t.Errorf("want ErrUnknownKey with the key named, got %v", err)
	}
}

func TestValidateUserConfig(t *testing.T) {
	tests := []struct {
		cfg     map[string]string
		wantErr error
	}{
		{map[string]string{"limits.cpu": "1", "user.a": "b"}, nil},
		{map[string]string{"volatile.idmap.base": "100000"}, ErrReadOnlyKey},
		{map[string]string{"limits.cpu": "zero"}, ErrInvalidValue},
		{nil, nil},
	}
	for _, tt := range tests {
		err := ValidateUserConfig(tt.cfg)
		if (tt.wantErr == nil) != (err == nil) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
			t.Errorf("ValidateUserConfig(%v) = %v, want %v", tt.cfg, err, tt.wantErr)
		}
	}
	if err := ValidateConfig(map[string]string{"volatile.x": "y"}); err != nil {
		t.Errorf("ValidateConfig must accept volatile keys: %v", err)
	}
}

func TestSchemaComplete(t *testing.T) {
	for key, spec := range schema {
		if spec.Validate == nil || spec.Type == "" || spec.Doc == "" {
			t.Errorf("schema entry %q is incomplete", key)
		}
	}
}
