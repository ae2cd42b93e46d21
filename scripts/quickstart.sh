#!/usr/bin/env bash
# quickstart.sh: set up the host, start lxmgrd (as a plain background
# process when the host has no systemd) and launch a first Debian 12 guest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export LXMGR_DIR="${LXMGR_DIR:-/var/lib/lxmgr}"
if ! lxmgr version >/dev/null 2>&1 || ! lxmgr list >/dev/null 2>&1; then
	echo "quickstart: starting lxmgrd (log: /var/log/lxmgrd.log)"
	setsid -f lxmgrd >>/var/log/lxmgrd.log 2>&1 </dev/null # own session: outlives this script
	for _ in $(seq 50); do lxmgr list >/dev/null 2>&1 && break; sleep 0.2; done
fi

name="${1:-first}"
if ! lxmgr info "$name" >/dev/null 2>&1; then
	lxmgr launch debian/12 "$name" --wait
fi
lxmgr list
# is-system-running exits non-zero for "degraded": the guest booted, but a
# unit failed. Say which instead of failing the whole quickstart.
state="$(lxmgr exec "$name" -- systemctl is-system-running || true)"
echo "quickstart: systemd in $name: ${state:-unknown}"
case "$state" in
running) ;;
degraded)
	echo "quickstart: failed units in $name:"
	lxmgr exec "$name" -- systemctl --failed --no-legend --plain || true
	;;
*)
	echo "quickstart: $name did not finish booting" >&2
	exit 1
	;;
esac
