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

// walkTarball reads an image tarball (plain or compressed) once, calling
// visit for every entry with its checked, cleaned name ("" entries, the top
// directory itself, are skipped), and returns the sha256 of the whole file
// and its size. Unsafe names fail with ErrUnsafeTarball before visit sees
// them.
func walkTarball(ctx context.Context, path string, visit func(hdr *tar.Header, name string, r io.Reader) error) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<20)
	dec, err := openStream(ctx, br)
	if err != nil {
		return "", 0, err
	}
	finished := false
	defer func() {
		if !finished {
			dec.abort()
		}
	}()
	tr := tar.NewReader(dec.r)
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", 0, fmt.Errorf("read tar: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return "", 0, err
		}
		if name == "" {
			continue
		}
		if err := visit(hdr, name, tr); err != nil {
			return "", 0, err
		}
	}
	// Hash the whole file: compression trailer (verifying its checksum)
	// and padding.
	finished = true
	if err := dec.finish(); err != nil {
		return "", 0, fmt.Errorf("read tar: %w", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return "", 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), st.Size(), nil
}
