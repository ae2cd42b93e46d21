package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
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
	f, err := os.Open(tarball)
	if err != nil {
		return Inspected{}, err
	}
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<20)
	dec, err := openStream(ctx, br)
	if err != nil {
		return Inspected{}, err
	}
	finished := false
	defer func() {
		if !finished {
			dec.abort()
		}
	}()
	var meta *Metadata
	tr := tar.NewReader(dec.r)
	for {
		if err := ctx.Err(); err != nil {
			return Inspected{}, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Inspected{}, fmt.Errorf("read tar: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return Inspected{}, err
		}
		if name == "metadata.yaml" && hdr.Typeflag == tar.TypeReg {
			m, _, err := readMetadata(tr, hdr.Size)
			if err != nil {
				return Inspected{}, err
			}
			meta = &m
		}
	}
	finished = true
	if err := dec.finish(); err != nil {
		return Inspected{}, fmt.Errorf("read tar: %w", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return Inspected{}, err
	}
	if meta == nil {
		return Inspected{}, fmt.Errorf("%w: no metadata.yaml in tarball", ErrUnsafeTarball)
	}
	st, err := f.Stat()
	if err != nil {
		return Inspected{}, err
	}
	return Inspected{Metadata: *meta, Fingerprint: hex.EncodeToString(h.Sum(nil)), Size: st.Size()}, nil
}
