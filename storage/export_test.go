package storage

import "testing"

// NewBtrfsLoopPoolForTest lets the external conformance tests use the
// loop-pool helper.
func NewBtrfsLoopPoolForTest(t *testing.T, size string) Driver { return newBtrfsLoopPool(t, size) }

// NewExt4DirForTest lets the external conformance tests use the ext4
// helper.
func NewExt4DirForTest(t *testing.T, quota bool) string { return newExt4Dir(t, quota) }
