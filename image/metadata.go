package image

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"
)

// Metadata is the content of an image's metadata.yaml, with LXD's field
// names.
type Metadata struct {
	Architecture string            `yaml:"architecture" json:"architecture"`
	CreationDate int64             `yaml:"creation_date" json:"creation_date"`
	Properties   map[string]string `yaml:"properties" json:"properties"`
}

// Fingerprint returns the sha256 hex digest of the file at path, which is
// an image's fingerprint.
func Fingerprint(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("fingerprint %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HostArchitecture returns the host's architecture in LXD's (kernel) naming:
// "x86_64", "aarch64", ...
func HostArchitecture() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	case "arm":
		return "armv7l"
	default: // ppc64le, s390x, riscv64 use the same names
		return runtime.GOARCH
	}
}

// debianArch returns the Debian architecture name of the host (amd64, ...).
func debianArch() string {
	switch runtime.GOARCH {
	case "arm":
		return "armhf"
	case "386":
		return "i386"
	default:
		return runtime.GOARCH
	}
}
