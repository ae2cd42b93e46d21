package image

import "errors"

// Sentinel errors of the image package; callers test them with errors.Is.
var (
	// ErrUnknownImage means the name given to Canonical or Build is not an
	// image this package knows how to build.
	ErrUnknownImage = errors.New("unknown image")
	// ErrFingerprintMismatch means the sha256 of a tarball is not the one
	// the caller expected.
	ErrFingerprintMismatch = errors.New("fingerprint mismatch")
	// ErrUnsafeTarball means a tarball tried to write outside its target
	// (absolute path, "..", symlinked parent, link outside) or is otherwise
	// not acceptable for extraction.
	ErrUnsafeTarball = errors.New("unsafe tarball")
)
