package image

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestUnpackCompressions(t *testing.T) {
	plain := writeTestTar(t, false, meta(), dir("rootfs/"), file("rootfs/hello", "hi"))
	tests := []struct {
		name string
		argv []string // compresses stdin to stdout; nil = plain tar
	}{
		{"plain", nil},
		{"xz", []string{"xz", "-c"}},
		{"zstd", []string{"zstd", "-cq"}},
		{"bzip2", []string{"bzip2", "-c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tarball := plain
			if tt.argv != nil {
				if _, err := exec.LookPath(tt.argv[0]); err != nil {
					t.Skip(err)
				}
				in, err := os.Open(plain)
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
				cmd.Stdin = in
				data, err := cmd.Output()
				if err != nil {
					t.Fatal(err)
				}
				tarball = filepath.Join(t.TempDir(), "image.tar."+tt.name)
				if err := os.WriteFile(tarball, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			fp, err := Fingerprint(tarball)
			if err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			if _, err := Unpack(context.Background(), tarball, fp, dest, UnpackOptions{}); err != nil {
				t.Fatal(err)
			}
			if data, _ := os.ReadFile(filepath.Join(dest, "rootfs/hello")); string(data) != "hi" {
				t.Errorf("rootfs/hello = %q", data)
			}
			// Unsafe content is refused whatever the compression, and the
			// decompressor is reaped.
			other := t.TempDir()
			if _, err := Unpack(context.Background(), tarball, "00", other, UnpackOptions{}); !errors.Is(err, ErrFingerprintMismatch) {
				t.Errorf("wrong fingerprint: %v", err)
			}
			assertEmpty(t, other)
		})
	}
}
