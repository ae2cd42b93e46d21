package image

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		alias, want string
		wantErr     bool
	}{
		{"debian/12", "debian/bookworm", false},
		{"debian/bookworm", "debian/bookworm", false},
		{"debian/11", "debian/bullseye", false},
		{"debian/bullseye", "debian/bullseye", false},
		{"debian/13", "debian/trixie", false},
		{"debian/trixie", "debian/trixie", false},
		{"busybox", "busybox", false},
		{"debian", "", true},
		{"debian/10", "", true},
		{"ubuntu/22.04", "", true},
		{"", "", true},
		{"../busybox", "", true},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.alias)
		if tt.wantErr {
			if !errors.Is(err, ErrUnknownImage) {
				t.Errorf("Canonical(%q) error = %v, want ErrUnknownImage", tt.alias, err)
				continue
			}
			if !strings.Contains(err.Error(), "busybox") || !strings.Contains(err.Error(), "debian/12") {
				t.Errorf("Canonical(%q) error %q does not list what can be built", tt.alias, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tt.alias, got, err, tt.want)
		}
	}
}

func TestAliases(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"debian/bookworm", []string{"debian/12", "debian/bookworm"}},
		{"debian/bullseye", []string{"debian/11", "debian/bullseye"}},
		{"debian/trixie", []string{"debian/13", "debian/trixie"}},
		{"busybox", []string{"busybox"}},
		{"debian/12", nil},
	}
	for _, tt := range tests {
		if got := Aliases(tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Aliases(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, name := range Names() {
		for _, a := range Aliases(name) {
			if c, err := Canonical(a); err != nil || c != name {
				t.Errorf("Canonical(%q) = %q, %v; want %q", a, c, err, name)
			}
		}
	}
}

func TestDebootstrapStage(t *testing.T) {
	tests := []struct{ line, want string }{
		{"I: Retrieving libc6 2.36-9", "debootstrap: downloading"},
		{"I: Validating libc6 2.36-9", "debootstrap: downloading"},
		{"I: Extracting bash...", "debootstrap: extracting"},
		{"I: Unpacking dpkg...", "debootstrap: unpacking"},
		{"I: Configuring dpkg...", "debootstrap: configuring"},
		{"I: Installing core packages...", "debootstrap: installing core packages"},
		{"I: Base system installed successfully.", "debootstrap: base system installed successfully."},
		{"I: Checking Release signature", ""},
		{"W: Failure trying to run: chroot", "debootstrap: warning: Failure trying to run: chroot"},
		{"some dpkg noise", ""},
	}
	for _, tt := range tests {
		if got := debootstrapStage(tt.line); got != tt.want {
			t.Errorf("debootstrapStage(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/a\040b\134c`); got != `/a b\c` {
		t.Errorf("unescapeMountinfo = %q", got)
	}
	if got := unescapeMountinfo(`/plain\04`); got != `/plain\04` {
		t.Errorf("unescapeMountinfo = %q", got)
	}
}
