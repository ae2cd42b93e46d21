// Package storage owns the storage pools of lxmgr: one Driver interface and
// its drivers ("dir" now; copy-on-write drivers such as btrfs later), each
// checked by the conformance suite in storagetest.
//
// A pool is a directory tree:
//
//	<pool>/images/<fingerprint>/   unpacked image volumes (rootfs/, metadata)
//	<pool>/containers/<name>/      instance volumes; the rootfs is <name>/rootfs
//	<pool>/.tmp/                   work area; volumes are built here and renamed
//	                               into place, so a crash never leaves a
//	                               half-made volume where a reader looks
//
// Volume directories are 0700 root so host users cannot reach the guests'
// setuid binaries. The daemon validates names; drivers validate them again
// because a name here becomes a path.
package storage
