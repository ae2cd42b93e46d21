package image

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
)

func TestInspectBusybox(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "bb.tar.gz")
	built, err := Build(context.Background(), "busybox", dest, BuildOptions{WorkDir: dir})
	if err != nil {
		t.Skipf("busybox build unavailable here: %v", err)
	}
	got, err := Inspect(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint != built.Fingerprint || got.Size != built.Size {
		t.Fatalf("inspect = %s/%d, build said %s/%d", got.Fingerprint, got.Size, built.Fingerprint, built.Size)
	}
	if got.Metadata.Properties["init"] != "busybox" {
		t.Fatalf("properties: %v", got.Metadata.Properties)
	}
}

func TestInspectRefusesUnsafe(t *testing.T) {
	for _, name := range []string{"/etc/passwd", "rootfs/../../x"} {
		p := writeTestTar(t, false, meta(), file(name, "x"))
		if _, err := Inspect(context.Background(), p); !errors.Is(err, ErrUnsafeTarball) {
			t.Errorf("inspect with entry %q: err = %v, want ErrUnsafeTarball", name, err)
		}
	}
}
