#!/usr/bin/env bash
# setup.sh: install everything lxmgr needs on a Debian host, build and
# install lxmgr and lxmgrd, and prepare the host for isolated-idmap guests.
# Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root" >&2; exit 1; }

export PATH="/usr/local/go/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive

pkgs="lxc lxc-dev debootstrap busybox-static uidmap lxcfs iproute2 dnsmasq-base nftables btrfs-progs gcc pkg-config"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi
command -v go >/dev/null || { echo "setup.sh: Go is required (expected at /usr/local/go)" >&2; exit 1; }

echo "setup: building lxmgr and lxmgrd"
go build -o /usr/local/bin/lxmgrd ./lxmgrd
go build -o /usr/local/bin/lxmgr ./lxmgr

# Membership of this group gives access to the daemon's socket: it is
# root-equivalent.
getent group lxmgr >/dev/null || groupadd --system lxmgr

# One range of a billion ids for root: each guest gets its own 65536 of it
# (isolated idmap), room for about 15000 guests.
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	if ! grep -qE '^root:[0-9]+:[0-9]{9,}$' "$f"; then
		echo "root:1000000:1000000000" >>"$f"
	fi
done

# Host limits that guests hit first (see lxmgr doctor): inotify instances
# and watches (each systemd guest uses several), keyrings, neighbours.
cat >/etc/sysctl.d/60-lxmgr.conf <<'CONF'
fs.inotify.max_user_instances = 65536
fs.inotify.max_user_watches = 1048576
fs.inotify.max_queued_events = 1048576
kernel.keys.maxkeys = 5000
kernel.keys.maxbytes = 5000000
net.ipv4.neigh.default.gc_thresh1 = 1024
net.ipv4.neigh.default.gc_thresh2 = 4096
net.ipv4.neigh.default.gc_thresh3 = 8192
net.ipv6.neigh.default.gc_thresh1 = 1024
net.ipv6.neigh.default.gc_thresh2 = 4096
net.ipv6.neigh.default.gc_thresh3 = 8192
kernel.pid_max = 4194304
vm.max_map_count = 262144
CONF
sysctl -q -p /etc/sysctl.d/60-lxmgr.conf || echo "setup: some sysctls could not be set (see above)" >&2

# lxcfs makes free, /proc/meminfo, /proc/cpuinfo, nproc and uptime inside a
# guest show the guest's own limits; lxmgrd binds its files into guests.
# An lxcfs that died leaves its FUSE mount behind ("Transport endpoint is not
# connected"), which breaks every stat of the path: detach it first.
if ! mountpoint -q /var/lib/lxcfs 2>/dev/null && grep -qs ' /var/lib/lxcfs ' /proc/self/mounts; then
	echo "setup: clearing a dead lxcfs mount on /var/lib/lxcfs"
	umount -l /var/lib/lxcfs
fi
if ! mountpoint -q /var/lib/lxcfs; then
	if [ -d /run/systemd/system ]; then
		systemctl enable --now lxcfs
	else
		mkdir -p /var/lib/lxcfs
		# setsid: a session of its own, so that whatever ends the caller's
		# process group (a CI job, a closed terminal) does not kill it.
		setsid -f lxcfs /var/lib/lxcfs >>/var/log/lxcfs.log 2>&1 </dev/null
		for _ in $(seq 50); do mountpoint -q /var/lib/lxcfs && break; sleep 0.1; done
	fi
fi

# On hosts with systemd the daemon runs as a service; elsewhere start it by
# hand (see README).
if [ -d /run/systemd/system ]; then
	install -m 0644 scripts/lxmgrd.service /etc/systemd/system/lxmgrd.service
	# Stops the guests in boot.stop.priority order at host power-off (lxmgrd
	# itself only gets SIGTERM, which leaves guests running).
	install -m 0644 scripts/lxmgr-guests.service /etc/systemd/system/lxmgr-guests.service
	systemctl daemon-reload
	systemctl enable --now lxmgrd
	systemctl enable --now lxmgr-guests
fi
echo "setup: done"
