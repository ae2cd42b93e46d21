package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
)

// Inspected is what Inspect learns of an image tarball without unpacking it.
type Inspected struct {
	Metadata    Metadata
	Fingerprint string
	Size        int64
}

// Inspect reads a unified image tarball once: it hashes the whole file,
// parses metadata.yaml and checks every entry name (no absolute path, no
// ".."), so that an import can refuse a bad tarball before storing it.
func Inspect(ctx context.Context, tarball string) (Inspected, error) {
	var meta *Metadata
	fp, size, err := walkTarball(ctx, tarball, func(hdr *tar.Header, name string, r io.Reader) error {
		if name == "metadata.yaml" && hdr.Typeflag == tar.TypeReg {
			m, _, err := readMetadata(r, hdr.Size)
			if err != nil {
				return err
			}
			meta = &m
		}
		return nil
	})
	if err != nil {
		return Inspected{}, err
	}
	if meta == nil {
		return Inspected{}, fmt.Errorf("%w: no metadata.yaml in tarball", ErrUnsafeTarball)
	}
	return Inspected{Metadata: *meta, Fingerprint: fp, Size: size}, nil
}
