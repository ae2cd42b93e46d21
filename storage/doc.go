// Package storage owns the storage pools of lxmgr: one Driver interface and
// its drivers, "dir" (plain directories, copies with cp --reflink=auto) and
// "btrfs" (subvolumes and snapshots, on a directory of an existing btrfs or
// on a loop file the driver creates and mounts), each checked by the
// conformance suite in storagetest. Later drivers (lvm-thin, zfs) implement
// the same interface.
//
// Both drivers share one implementation (pool) over a small backend of
// filesystem primitives, and one layout:
//
//	<pool>/images/<fingerprint>/            image volumes (rootfs/, metadata);
//	                                        read-only subvolumes on btrfs
//	<pool>/containers/<name>/               instance volumes; the rootfs is
//	                                        <name>/rootfs (btrfs: a writable
//	                                        snapshot of the image)
//	<pool>/containers-snapshots/<name>/<s>/ snapshots of instance volumes
//	                                        (btrfs: read-only snapshots; dir:
//	                                        copies, read-only by contract)
//	<pool>/custom/<name>/                   custom volumes, attached into
//	                                        guests as disks
//	<pool>/.spares/<fingerprint>/           btrfs: a writable snapshot of the
//	                                        image made between launches, which
//	                                        the next CreateFromImage renames
//	                                        into containers/ (PrepareFromImage)
//	<pool>/.tmp/                            work area; volumes are built here
//	                                        and moved into place, so a crash
//	                                        never leaves a half-made volume
//	                                        where a reader looks; Init empties it
//
// Volume directories are 0700 root so host users cannot reach the guests'
// setuid binaries (custom volumes are 0711 under a 0700 custom/). The
// daemon validates names; drivers validate them again because a name here
// becomes a path. Running out of space or quota is reported as ErrPoolFull
// and leaves nothing of the failed operation.
package storage
