package main

import (
	"fmt"
	"os"
	"path"
	"sort"

	"github.com/lxmgr/lxmgr/api"
	"github.com/lxmgr/lxmgr/instance"
)

// diskMounts resolves the non-root disk devices of an instance into bind
// mounts: a host path (source=/srv/site1) or a custom volume of a pool
// (pool=p source=vol). Unprivileged guests get idmapped binds ("shift",
// on by default) so the guest's root owns what host root owns.
func (d *daemon) diskMounts(devs api.Devices) ([]instance.Mount, error) {
	names := make([]string, 0, len(devs))
	for n, dev := range devs {
		if dev["type"] == "disk" && dev["path"] != "/" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []instance.Mount
	for _, n := range names {
		dev := devs[n]
		src, err := d.diskSource(n, dev)
		if err != nil {
			return nil, err
		}
		out = append(out, instance.Mount{Source: src, Path: path.Clean(dev["path"]),
			ReadOnly: dev["readonly"] == "true", Idmap: dev["shift"] != "false"})
	}
	return out, nil
}

// diskSource returns the host path a disk device binds, checking it exists.
func (d *daemon) diskSource(name string, dev map[string]string) (string, error) {
	src := dev["source"]
	if dev["pool"] != "" {
		pool, err := d.pool(dev["pool"])
		if err != nil {
			return "", fmt.Errorf("%w: device %q: %w", api.ErrInvalid, name, err)
		}
		src = pool.CustomPath(dev["source"])
		if _, err := os.Stat(src); err != nil {
			return "", fmt.Errorf("%w: device %q: storage volume %q does not exist on pool %q", api.ErrInvalid, name, dev["source"], dev["pool"])
		}
		return src, nil
	}
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("%w: device %q: source %q does not exist on the host", api.ErrInvalid, name, src)
	}
	return src, nil
}
