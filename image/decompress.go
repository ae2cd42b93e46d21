package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os/exec"
)

// decompressor turns the raw tarball stream into a tar stream. finish reads
// the rest of the compressed stream (so that the whole file is hashed and
// trailers are verified) and releases resources; abort releases them
// without reading on, after an error.
type decompressor struct {
	r      io.Reader
	finish func() error
	abort  func()
}

// externalFormats are compressions the standard library lacks; LXD images
// are often .tar.xz. They are decoded by the usual tools.
var externalFormats = []struct {
	magic []byte
	argv  []string
}{
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, []string{"xz", "-dc"}},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, []string{"zstd", "-dcq"}},
	{[]byte("BZh"), []string{"bzip2", "-dc"}},
}

// openStream detects the compression of br by its magic bytes: gzip is
// decoded in process, xz/zstd/bzip2 by a child process, anything else is
// taken as a plain tar.
func openStream(ctx context.Context, br *bufio.Reader) (*decompressor, error) {
	magic, _ := br.Peek(6)
	if bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return &decompressor{r: gz, finish: func() error {
			if _, err := io.Copy(io.Discard, gz); err != nil {
				return err
			}
			return gz.Close()
		}, abort: func() { gz.Close() }}, nil
	}
	for _, f := range externalFormats {
		if bytes.HasPrefix(magic, f.magic) {
			return startExternal(ctx, br, f.argv)
		}
	}
	return &decompressor{r: br, finish: func() error { return nil }, abort: func() {}}, nil
}

func startExternal(ctx context.Context, in io.Reader, argv []string) (*decompressor, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return &decompressor{r: out, finish: func() error {
		if _, err := io.Copy(io.Discard, out); err != nil {
			return err
		}
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%s: %w: %s", argv[0], err, bytes.TrimSpace(stderr.Bytes()))
		}
		return nil
	}, abort: func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}}, nil
}
