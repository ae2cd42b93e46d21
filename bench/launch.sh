#!/bin/bash
# bench/launch.sh [--quick] [-n N] [--only CONFIG[,CONFIG...]] [--from-head] [--keep-log]
#
# Launch-to-boot-finished of N Debian 12 (systemd) guests from the same cached
# image, on four configurations in one run on this machine:
#
#   lxmgr-btrfs   lxmgr, btrfs pool   (lxmgr storage create bt btrfs size=8GiB; launch -s bt)
#   lxd-btrfs     LXD 5.0.2, btrfs pool (loop-backed, size=8GiB)
#   lxmgr-dir     lxmgr, its "default" dir pool
#   lxd-dir       LXD, a dir pool
#
# One sample = wall time from issuing the launch command until
# `systemctl is-system-running --wait` in the guest answers running or
# degraded, measured the same way for both tools:
#   lxmgr launch debian/12 NAME [-s bt] --wait ; poll lxmgr exec NAME -- systemctl is-system-running --wait
#   lxc launch deb12 NAME -s POOL            ; poll lxc exec NAME -- systemctl is-system-running --wait
# (`lxmgr launch --wait` also waits for the guest's DHCP address; LXD's
# number has no such wait.) Each pool first gets one warm-up guest (both
# tools unpack an image once per pool), which is not counted. Then, per
# storage driver, the two tools take turns, one guest each per round (lxmgr
# first on odd rounds, LXD first on even ones) after a two-second pause, so
# that a change in how busy the machine is (other VMs on the host,
# writeback) weighs on both medians alike instead of on whichever tool ran
# later. Guests stay running until their driver's rounds are done; then
# they are deleted and the run waits for btrfs to free them.
#
# Isolation (bench/lib.sh, shared with bench/density.sh): each daemon runs in a network namespace made here (lxmgrd and
# lxd each their own), with a private mount namespace holding a fresh sysfs
# and the host cgroup tree bound back (see DESIGN.md "Tests"). Their state
# lives in a temp dir; LXD's network is created with an explicit subnet and
# no NAT, `lxd init` is never run. Nothing is contacted but loopback and the
# namespaces' own bridges. Everything made here (guests, daemons, dnsmasq,
# pools, loop devices, mounts, namespaces, temp dirs) is removed at exit,
# also on failure or interrupt.
#
# Setup: installs lxd, lxd-client and btrfs-progs with apt-get if missing.
# The image is /var/cache/lxmgr-e2e/debian-bookworm-*.tar.gz (the e2e
# suite's cache); without one it is built into the temp dir with
# `go run ./bench/buildimage` (host namespace: needs the Debian mirror).
# lxmgr is built from the working tree, or with --from-head from the last
# commit (git archive into the temp dir) when the tree is mid-edit.
# --only runs a subset; --keep-log copies the daemons' and CLIs' logs to
# /tmp/lxmgr-bench-logs.PID.
set -euo pipefail

N=10
QUICK=0
ONLY=""
KEEP_LOG=0
FROM_HEAD=0
ALL_CONFIGS=(lxmgr-btrfs lxd-btrfs lxmgr-dir lxd-dir)

usage() {
	sed -n '2,2p' "$0" | sed 's/^# //'
	exit 2
}
N_SET=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	-n) [ $# -ge 2 ] || usage; N=$2; N_SET=1; shift ;;
	--only) [ $# -ge 2 ] || usage; ONLY=$2; shift ;;
	--keep-log) KEEP_LOG=1 ;;
	--from-head) FROM_HEAD=1 ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
	shift
done
if [ "$QUICK" = 1 ] && [ "$N_SET" = 0 ]; then N=3; fi
case $N in '' | *[!0-9]* | 0) echo "bench: -n needs a positive integer" >&2; exit 2 ;; esac
CONFIGS=()
for c in "${ALL_CONFIGS[@]}"; do
	if [ -z "$ONLY" ] || [[ ",$ONLY," == *",$c,"* ]]; then CONFIGS+=("$c"); fi
done
[ ${#CONFIGS[@]} -gt 0 ] || { echo "bench: --only matches none of: ${ALL_CONFIGS[*]}" >&2; exit 2; }

# Setup, cleanup and the measuring helpers (launch_cmd, wait_booted, one,
# delete_guests, stats) are in lib.sh, shared with the other benchmarks.
# LXD mounts the guest's /sys read-write, and with udev masked in the image
# systemd-networkd then never asks for an address; lxmgr uses sys:mixed.
# Same mount for both, so both tools' guests boot with DHCP.
LXD_RAW_LXC="lxc.mount.auto = sys:mixed"
. "$(dirname "$0")/lib.sh"
bench_setup

declare -A RAW=() RAWL=() SKIP=()
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
# sample CONFIG I: the I-th timed guest of CONFIG.
sample() {
	local cfg=$1 i=$2 name
	name=$(printf 'b%s-%02d' "${cfg/-/}" "$i")
	NAMES[$cfg]+="$name "
	# Let the previous guest (maybe the other tool's) settle: its DHCP
	# exchange and its daemon's work after a launch (lxmgr snapshots the
	# image ahead 1.5 s after a create) are not this sample's work.
	sleep 2
	one "$cfg" "$name"
	printf '%s %-12s %2d/%d %s total %7.3fs (launch cmd %7.3fs) %s\n' "$(date +%T)" "$cfg" "$i" "$N" "$name" "$T_TOTAL" "$T_LAUNCH" "$STATE"
	RAW[$cfg]+="$T_TOTAL "
	RAWL[$cfg]+="$T_LAUNCH "
}
for fs in btrfs dir; do
	group=()
	for cfg in "lxmgr-$fs" "lxd-$fs"; do
		wants "$cfg" || continue
		if [ "$cfg" = lxmgr-btrfs ] && ! lxmgr_btrfs_pool; then
			SKIP[$cfg]="SKIPPED: lxmgr has no btrfs driver yet (lxmgr storage create: $POOL_ERR)"
			echo "${SKIP[$cfg]}"
			continue
		fi
		group+=("$cfg")
	done
	[ ${#group[@]} -gt 0 ] || continue
	# Each batch starts with no dirty page cache left by the previous one
	# (the dir pools write a whole rootfs per guest); sync is outside the
	# timed window.
	sync
	declare -A NAMES=()
	for cfg in "${group[@]}"; do
		log "$cfg: warm-up guest"
		one "$cfg" "warm-$cfg"
		log "$cfg: warm-up ${T_TOTAL}s ($STATE)"
		# It runs on with the samples: deleting it now would have btrfs
		# free its subvolume under the first samples.
		NAMES[$cfg]="warm-$cfg "
	done
	sync
	for i in $(seq "$N"); do
		for cfg in $(turns "$i" "${group[@]}"); do sample "$cfg" "$i"; done
	done
	for cfg in "${group[@]}"; do
		read -ra names <<<"${NAMES[$cfg]}"
		log "$cfg: deleting ${#names[@]} guests"
		delete_guests "$cfg" "${names[@]}"
		btrfs_settle "$cfg"
	done
	unset NAMES
done

# -------------------------------------------------------------------- report

declare -A MED=()
echo
echo "launch-to-boot-finished, Debian 12 systemd guests, $(nproc) CPUs, $(uname -r), image $(basename "$IMG")"
echo "load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the numbers)"
printf '%-12s %3s %9s %9s %9s %16s\n' configuration N median min max "launch-cmd med"
for cfg in "${CONFIGS[@]}"; do
	if [ -n "${SKIP[$cfg]:-}" ]; then
		printf '%-12s %3s %s\n' "$cfg" - "${SKIP[$cfg]}"
		continue
	fi
	read -r med min max <<<"$(stats "${RAW[$cfg]}")"
	read -r lmed _ _ <<<"$(stats "${RAWL[$cfg]}")"
	MED[$cfg]=$med
	printf '%-12s %3d %9s %9s %9s %16s\n' "$cfg" "$N" "$med" "$min" "$max" "$lmed"
done
echo
for fs in btrfs dir; do
	a=${MED[lxmgr-$fs]:-}
	b=${MED[lxd-$fs]:-}
	if [ -z "$a" ] || [ -z "$b" ]; then
		echo "ratio lxmgr $fs / LXD $fs: n/a"
		continue
	fi
	r=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')
	line="ratio lxmgr $fs / LXD $fs: $r ($a s / $b s)"
	if [ "$fs" = btrfs ]; then
		if awk -v a="$a" -v b="$b" 'BEGIN {exit !(a * 3 <= b)}'; then line+="  target <= 0.33: MET"; else line+="  target <= 0.33: NOT MET"; fi
	fi
	echo "$line"
done
echo
echo "raw seconds (launch to boot finished):"
for cfg in "${CONFIGS[@]}"; do
	[ -n "${SKIP[$cfg]:-}" ] || echo "  $cfg: ${RAW[$cfg]}"
done
echo "raw seconds (launch command only):"
for cfg in "${CONFIGS[@]}"; do
	[ -n "${SKIP[$cfg]:-}" ] || echo "  $cfg: ${RAWL[$cfg]}"
done
