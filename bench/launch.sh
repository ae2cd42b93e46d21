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
# number has no such wait.) Guests are launched one after the other and stay
# running until their configuration's batch is done, then they are deleted.
# Each pool first gets one warm-up guest (both tools unpack an image once per
# pool), which is not counted.
#
# Isolation: each daemon runs in a network namespace made here (lxmgrd and
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

[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
export PATH=/usr/local/go/bin:$PATH
REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=/var/cache/lxmgr-e2e
LXD_SUBNET=10.232.1.1/24
LXD_BRIDGE=lxdbr9

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
wants() { [[ " ${CONFIGS[*]} " == *" $1 "* ]]; }
need_lxd() { wants lxd-btrfs || wants lxd-dir; }
need_lxmgr() { wants lxmgr-btrfs || wants lxmgr-dir; }

# ---------------------------------------------------------------- state + cleanup

WORK=""
NS_M="" # lxmgrd's network namespace
NS_L="" # lxd's network namespace
LXMGRD_PID=""
LXD_PID=""
LXMGR_GUESTS=()
LXD_GUESTS=()
LXMGR_BT=0
SYSCTLS=(fs.inotify.max_user_instances fs.inotify.max_user_watches kernel.keys.maxkeys
	kernel.keys.maxbytes kernel.keys.root_maxkeys kernel.keys.root_maxbytes kernel.pid_max vm.max_map_count)
declare -A SYSCTL_BEFORE=()
for s in "${SYSCTLS[@]}"; do SYSCTL_BEFORE[$s]=$(sysctl -n "$s" 2>/dev/null || true); done

# The CLIs and daemons find their state through LXMGR_DIR, LXD_DIR and
# LXD_CONF, exported once the temp dir exists; lxmgr is always the binary
# built here (also under `timeout`), never one installed on the host.
lxmgr() { "$WORK/bin/lxmgr" "$@"; }

# kill_pid PID: SIGTERM, up to 10 s, then SIGKILL.
kill_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# kill_netns NS: kill every process left in a namespace this script made
# (monitors, dnsmasq, stragglers); all of them were started here.
kill_netns() {
	local ns=$1 pids
	[ -n "$ns" ] && [ -e "/run/netns/$ns" ] || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	[ -z "$pids" ] && return 0
	log "cleanup: stopping what is left in $ns:$(ps -o pid=,comm= -p "$(echo $pids | tr ' ' ,)" | tr -s ' \n' ' ')"
	kill -TERM $pids 2>/dev/null || true
	sleep 1
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	[ -n "$pids" ] && kill -KILL $pids 2>/dev/null
	sleep 0.5
}

cleanup() {
	local rc=$? i n pids loops
	set +e
	trap '' INT TERM HUP
	# A signal can arrive while a command's output is redirected to a log
	# in the temp dir; report to the original stdout/stderr.
	exec 1>&3 2>&4
	[ -n "$WORK" ] || exit $rc
	log "cleanup"
	# lxmgr: guests, the btrfs pool, the daemon, then whatever it left.
	if [ -n "$LXMGRD_PID" ] && kill -0 "$LXMGRD_PID" 2>/dev/null; then
		for n in "${LXMGR_GUESTS[@]}"; do timeout 120 "$WORK/bin/lxmgr" delete --force "$n" >/dev/null 2>&1; done
		[ "$LXMGR_BT" = 1 ] && timeout 120 "$WORK/bin/lxmgr" storage delete bt >/dev/null 2>&1
		kill_pid "$LXMGRD_PID"
	fi
	if [ -d "$WORK/lxmgr/containers" ] && [ -e "/run/netns/$NS_M" ]; then
		for n in $(ls "$WORK/lxmgr/containers"); do
			timeout 30 nsenter --net="/run/netns/$NS_M" lxc-stop -k -P "$WORK/lxmgr/containers" -n "$n" >/dev/null 2>&1
		done
	fi
	kill_netns "$NS_M"
	# LXD: guests, then `lxd shutdown` (stops any guest left, its dnsmasq and
	# unmounts its pools), then whatever it left.
	if [ -n "$LXD_PID" ] && kill -0 "$LXD_PID" 2>/dev/null; then
		for n in "${LXD_GUESTS[@]}"; do timeout 120 lxc delete --force "$n" >/dev/null 2>&1; done
		timeout 120 lxd shutdown --timeout 60 >/dev/null 2>&1
		kill_pid "$LXD_PID"
	fi
	kill_netns "$NS_L"
	# Anything else still running from the temp dir (by pid, all ours).
	for i in 1 2; do
		pids=""
		for n in $(grep -lsF -- "$WORK/" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
			# (the grep itself matched, and is gone by now)
			[ "$n" != $$ ] && kill -0 "$n" 2>/dev/null && pids+=" $n"
		done
		[ -z "$pids" ] && break
		log "cleanup: killing leftover processes: $(echo $pids)"
		kill -KILL $pids 2>/dev/null
		sleep 0.5
	done
	for n in "$NS_M" "$NS_L"; do
		[ -n "$n" ] && [ -e "/run/netns/$n" ] && ip netns del "$n"
	done
	# Mounts and loop devices backed by files in the temp dir (normally none
	# reach the host: the daemons mount inside their private namespaces).
	for i in $(awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$i"
	done
	loops=$(losetup -a 2>/dev/null | grep -F -- "($WORK/" | cut -d: -f1 || true)
	for i in $loops; do log "cleanup: detaching $i"; losetup -d "$i"; done
	if [ "$KEEP_LOG" = 1 ]; then
		mkdir -p "/tmp/lxmgr-bench-logs.$$"
		cp "$WORK"/*.log "/tmp/lxmgr-bench-logs.$$/" 2>/dev/null
		log "logs kept in /tmp/lxmgr-bench-logs.$$"
	fi
	if awk -v w="$WORK" 'index($2, w) == 1 {found=1} END {exit !found}' /proc/self/mounts; then
		log "cleanup: something is still mounted below $WORK; leaving it in place"
	else
		rm -rf --one-file-system "$WORK"
	fi
	for i in "${SYSCTLS[@]}"; do
		n=$(sysctl -n "$i" 2>/dev/null || true)
		if [ -n "${SYSCTL_BEFORE[$i]}" ] && [ "$n" != "${SYSCTL_BEFORE[$i]}" ]; then
			log "cleanup: restoring $i=${SYSCTL_BEFORE[$i]} (was changed to $n)"
			sysctl -q -w "$i=${SYSCTL_BEFORE[$i]}"
		fi
	done
	log "cleanup done"
	exit $rc
}
exec 3>&1 4>&2
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# --------------------------------------------------------------------- setup

pkgs=()
if need_lxd; then
	command -v lxd >/dev/null && command -v lxc >/dev/null || pkgs+=(lxd lxd-client)
fi
if wants lxd-btrfs || wants lxmgr-btrfs; then
	command -v mkfs.btrfs >/dev/null || pkgs+=(btrfs-progs)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
	log "apt-get install ${pkgs[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >&2
fi
if need_lxd; then
	# The package's postinst may try to start LXD through the init system;
	# a daemon on the default /var/lib/lxd would not be ours to measure.
	if pgrep -x lxd >/dev/null; then
		log "warning: an lxd daemon is already running on this machine (pid $(pgrep -x lxd | tr '\n' ' ')); it is left alone"
	fi
	getent group lxd >/dev/null || die "group lxd missing (the lxd package makes it)"
fi

WORK=$(mktemp -d /tmp/lxmgr-bench.XXXXXX)
export LXMGR_DIR=$WORK/lxmgr LXD_DIR=$WORK/lxd LXD_CONF=$WORK/lxc-conf
chmod 0711 "$WORK" # guests' id ranges must traverse to their rootfs
mkdir -p "$WORK/bin" "$WORK/lxmgr" "$WORK/lxd" "$WORK/lxc-conf" "$WORK/cg-m" "$WORK/cg-l"
chmod 0711 "$WORK/lxmgr" "$WORK/lxd"
ID=$$

# The image: the e2e cache entry for the current recipe, else any cached
# bookworm build, else build one now.
IMG=""
key=$(cd "$REPO" && ls image/*.go | grep -v '_test\.go$' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
if [ -f "$CACHE/debian-bookworm-$key.tar.gz" ]; then
	IMG=$CACHE/debian-bookworm-$key.tar.gz
else
	IMG=$(ls -t "$CACHE"/debian-bookworm-*.tar.gz 2>/dev/null | head -1 || true)
	[ -n "$IMG" ] && log "note: no cached image for the current recipe ($key); using the older $IMG"
fi
if [ -z "$IMG" ]; then
	log "no cached Debian image: building debian/12 (host namespace, a few minutes)"
	(cd "$REPO" && go run ./bench/buildimage -o "$WORK/debian-12.tar.gz") >&2 || die "image build"
	IMG=$WORK/debian-12.tar.gz
fi
log "image: $IMG ($(du -h "$IMG" | cut -f1))"

# start_in_netns NS CGDIR LOG CMD...: runs CMD as a daemon in NS with a
# private mount namespace (fresh sysfs, host cgroups bound back), in its own
# session so a terminal's Ctrl-C reaches only this script, which then
# tears down in order. Prints the daemon's pid.
start_in_netns() {
	local ns=$1 cg=$2 logf=$3
	shift 3
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	setsid nsenter --net="/run/netns/$ns" unshare --mount --propagation private sh -c \
		'cg=$1; shift; mount --rbind /sys/fs/cgroup "$cg" && mount -t sysfs sysfs /sys && mount --rbind "$cg" /sys/fs/cgroup && umount -l "$cg" && exec "$@"' \
		sh "$cg" "$@" </dev/null >>"$logf" 2>&1 &
	echo $!
}

if need_lxmgr; then
	SRC=$REPO
	if [ "$FROM_HEAD" = 1 ]; then
		SRC=$WORK/src
		mkdir -p "$SRC"
		git -C "$REPO" archive HEAD | tar -x -C "$SRC"
		log "building lxmgr and lxmgrd from HEAD ($(git -C "$REPO" rev-parse --short HEAD))"
	else
		log "building lxmgr and lxmgrd from the working tree"
	fi
	(cd "$SRC" && go build -o "$WORK/bin/lxmgr" ./lxmgr && go build -o "$WORK/bin/lxmgrd" ./lxmgrd) >&2 || die "go build (if the tree is mid-edit, --from-head builds the last commit)"
	NS_M=lxmgr-bench-m-$ID
	LXMGRD_PID=$(start_in_netns "$NS_M" "$WORK/cg-m" "$WORK/lxmgrd.log" "$WORK/bin/lxmgrd")
	for i in $(seq 300); do
		lxmgr version >/dev/null 2>&1 && lxmgr image list >/dev/null 2>&1 && break
		kill -0 "$LXMGRD_PID" 2>/dev/null || { tail -20 "$WORK/lxmgrd.log" >&2; die "lxmgrd exited at start"; }
		sleep 0.1
	done
	lxmgr image list >/dev/null 2>&1 || { tail -20 "$WORK/lxmgrd.log" >&2; die "lxmgrd did not answer"; }
	log "lxmgrd running (pid $LXMGRD_PID, netns $NS_M); importing the image"
	lxmgr image import "$IMG" --alias debian/12 >>"$WORK/lxmgr-cli.log" 2>&1 || { tail -5 "$WORK/lxmgr-cli.log" >&2; die "lxmgr image import"; }
fi

if need_lxd; then
	NS_L=lxmgr-bench-l-$ID
	LXD_PID=$(start_in_netns "$NS_L" "$WORK/cg-l" "$WORK/lxd.out.log" lxd --group lxd --logfile "$WORK/lxd.log")
	timeout 120 lxd waitready --timeout 100 || { tail -20 "$WORK/lxd.log" >&2; die "lxd did not get ready"; }
	log "lxd running (pid $LXD_PID, netns $NS_L); configuring pools, network, profile, image"
	{
		lxc storage create dir dir &&
			{ ! wants lxd-btrfs || lxc storage create bt btrfs size=8GiB; } &&
			lxc network create "$LXD_BRIDGE" ipv4.address=$LXD_SUBNET ipv4.nat=false ipv6.address=none &&
			lxc profile device add default root disk path=/ pool=dir &&
			lxc profile device add default eth0 nic network="$LXD_BRIDGE" name=eth0 &&
			lxc image import "$IMG" --alias deb12
	} >>"$WORK/lxc-cli.log" 2>&1 || { tail -5 "$WORK/lxc-cli.log" >&2; die "lxd setup"; }
fi

# ------------------------------------------------------------------- measure

now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }

# launch_cmd CONFIG NAME: issue the launch. Both tools return once the
# guest is started and boot-finished is then polled the same way for both
# (lxmgr's --wait would also wait for the DHCP lease, which LXD's numbers
# do not include).
launch_cmd() {
	case $1 in
	lxmgr-dir) timeout 600 "$WORK/bin/lxmgr" launch debian/12 "$2" ;;
	lxmgr-btrfs) timeout 600 "$WORK/bin/lxmgr" launch debian/12 "$2" -s bt ;;
	lxd-dir) timeout 600 lxc launch deb12 "$2" -s dir ;;
	lxd-btrfs) timeout 600 lxc launch deb12 "$2" -s bt ;;
	esac </dev/null >>"$WORK/launch.log" 2>&1
}

# boot_state CONFIG NAME: one `systemctl is-system-running --wait` in the guest.
boot_state() {
	case $1 in
	lxmgr-*) timeout 300 "$WORK/bin/lxmgr" exec "$2" -- systemctl is-system-running --wait ;;
	lxd-*) timeout 300 lxc exec "$2" -T -- systemctl is-system-running --wait ;;
	esac </dev/null 2>>"$WORK/launch.log"
}

# wait_booted CONFIG NAME: poll until systemd says running or degraded (the
# exec can fail while the guest's systemd is not up yet).
wait_booted() {
	local deadline=$((SECONDS + 300)) out
	while :; do
		out=$(boot_state "$1" "$2" || true)
		case $out in running | degraded) echo "$out"; return 0 ;; esac
		[ $SECONDS -lt $deadline ] || { echo "timeout(${out:-no answer})"; return 1; }
		sleep 0.05
	done
}

delete_guests() {
	local cfg=$1 n
	shift
	case $cfg in
	lxmgr-*) for n in "$@"; do timeout 300 "$WORK/bin/lxmgr" delete --force "$n" >>"$WORK/launch.log" 2>&1 || log "warning: lxmgr delete $n failed"; done ;;
	lxd-*) [ $# -eq 0 ] || timeout 300 lxc delete --force "$@" >>"$WORK/launch.log" 2>&1 || log "warning: lxc delete $* failed" ;;
	esac
}

track() {
	case $1 in
	lxmgr-*) LXMGR_GUESTS+=("$2") ;;
	lxd-*) LXD_GUESTS+=("$2") ;;
	esac
}

# one CONFIG NAME: launch + wait for boot; sets T_TOTAL, T_LAUNCH, STATE.
one() {
	local t0 t1 t2
	track "$1" "$2"
	echo "== $1 $2" >>"$WORK/launch.log"
	t0=$(now)
	launch_cmd "$1" "$2" || { tail -5 "$WORK/launch.log" >&2; die "$1: launch $2"; }
	t1=$(now)
	STATE=$(wait_booted "$1" "$2") || { tail -5 "$WORK/launch.log" >&2; die "$1: $2 did not finish booting: $STATE"; }
	t2=$(now)
	T_LAUNCH=$(sub "$t1" "$t0")
	T_TOTAL=$(sub "$t2" "$t0")
}

declare -A RAW=() RAWL=() SKIP=()
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for cfg in "${CONFIGS[@]}"; do
	if [ "$cfg" = lxmgr-btrfs ]; then
		if ! out=$(lxmgr storage create bt btrfs size=8GiB 2>&1); then
			SKIP[$cfg]="SKIPPED: lxmgr has no btrfs driver yet (lxmgr storage create: ${out//$'\n'/ })"
			echo "${SKIP[$cfg]}"
			continue
		fi
		LXMGR_BT=1
	fi
	# Each batch starts with no dirty page cache left by the previous one
	# (the dir pools write a whole rootfs per guest); sync is outside the
	# timed window.
	sync
	log "$cfg: warm-up guest"
	one "$cfg" "warm-$cfg"
	log "$cfg: warm-up ${T_TOTAL}s ($STATE)"
	delete_guests "$cfg" "warm-$cfg"
	sync
	names=()
	for i in $(seq "$N"); do
		name=$(printf 'b%s-%02d' "${cfg/-/}" "$i")
		names+=("$name")
		one "$cfg" "$name"
		printf '%s %-12s %2d/%d %s total %7.3fs (launch cmd %7.3fs) %s\n' "$(date +%T)" "$cfg" "$i" "$N" "$name" "$T_TOTAL" "$T_LAUNCH" "$STATE"
		RAW[$cfg]+="$T_TOTAL "
		RAWL[$cfg]+="$T_LAUNCH "
	done
	log "$cfg: deleting ${#names[@]} guests"
	delete_guests "$cfg" "${names[@]}"
done

# -------------------------------------------------------------------- report

# stats "x y z": median min max
stats() {
	echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f", m, v[1], v[NR]}'
}

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
