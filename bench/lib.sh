# bench/lib.sh: setup, teardown and measuring helpers shared by the
# benchmarks in bench/ (sourced, never run on its own).
#
# A benchmark parses its own arguments, sets the inputs below, sources this
# file (which checks root, arms the cleanup traps and defines the helpers)
# and calls bench_setup, which makes the temp dir, finds the image, builds
# and starts lxmgrd and/or LXD in their own network namespaces and imports
# the image into each. Everything made here is removed at exit, also on
# failure or interrupt.
#
# Inputs (shell variables, set before sourcing):
#   CONFIGS           configurations to prepare: lxmgr-btrfs lxd-btrfs lxmgr-dir lxd-dir
#   KEEP_LOG          1: copy the logs to /tmp/lxmgr-bench-logs.PID at exit
#   FROM_HEAD         1: build lxmgr from the last commit instead of the working tree
#   LXD_SUBNET        LXD bridge gateway CIDR (default 10.232.1.1/24; never NATed)
#   LXD_BRIDGE        LXD bridge name (default lxdbr9)
#   BT_SIZE           size of the btrfs pools of both tools (default 8GiB)
#   LXMGR_NET_CONFIG  KEY=VALUE words applied to lxmgr's lxmbr0 before any guest
#                     (default none: the daemon's own default network)
#   LXMGR_IMAGE       lxmgr's guest image: debian/12 (default; the cached
#                     Debian image, as LXD's) or busybox (built by lxmgr, for
#                     a density run where Debian guests do not fit in memory;
#                     boot finished is then busybox's readiness marker)
#   LXD_RAW_LXC       raw.lxc of LXD's default profile (default none). The
#                     image masks systemd-udevd; LXD mounts the guest's /sys
#                     read-write, so the guest's networkd then waits for udev
#                     forever and never asks for a DHCP lease (boot still
#                     finishes). "lxc.mount.auto = sys:mixed" (what lxmgr
#                     uses) makes /sys read-only and DHCP work.
#
# Isolation: each daemon runs in a network namespace made here (lxmgrd and
# lxd each their own), with a private mount namespace holding a fresh sysfs
# and the host cgroup tree bound back (see DESIGN.md "Tests"). Their state
# lives in a temp dir; LXD's network is created with an explicit subnet and
# no NAT, `lxd init` is never run. Nothing is contacted but loopback and the
# namespaces' own bridges.

KEEP_LOG=${KEEP_LOG:-0}
FROM_HEAD=${FROM_HEAD:-0}
LXD_SUBNET=${LXD_SUBNET:-10.232.1.1/24}
LXD_BRIDGE=${LXD_BRIDGE:-lxdbr9}
BT_SIZE=${BT_SIZE:-8GiB}
LXMGR_NET_CONFIG=${LXMGR_NET_CONFIG:-}
LXD_RAW_LXC=${LXD_RAW_LXC:-}
LXMGR_IMAGE=${LXMGR_IMAGE:-debian/12}

[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
export PATH=/usr/local/go/bin:$PATH
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=/var/cache/lxmgr-e2e

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
BG_PIDS=() # background jobs of the benchmark (parallel launches), killed first at cleanup
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

# delete_parallel CLI NAME...: `CLI delete --force NAME` for each name, four
# at a time (hundreds of guests one by one would take minutes). CLI is the
# lxmgr binary or lxc. Failures are the caller's to report.
delete_parallel() {
	local cli=$1
	shift
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | xargs -r -P 4 -I{} timeout 300 "$cli" delete --force {}
}

cleanup() {
	local rc=$? i n pids loops
	set +e
	# (PIPE too: a closed reader of our output must not stop the teardown)
	trap '' INT TERM HUP PIPE
	# A signal can arrive while a command's output is redirected to a log
	# in the temp dir; report to the original stdout/stderr.
	exec 1>&3 2>&4
	[ -n "$WORK" ] || exit $rc
	log "cleanup"
	for n in "${BG_PIDS[@]}"; do kill -TERM "$n" 2>/dev/null; done
	# lxmgr: guests, the btrfs pool, the daemon, then whatever it left.
	if [ -n "$LXMGRD_PID" ] && kill -0 "$LXMGRD_PID" 2>/dev/null; then
		[ ${#LXMGR_GUESTS[@]} -gt 0 ] && log "cleanup: deleting what is left of ${#LXMGR_GUESTS[@]} lxmgr guests"
		delete_parallel "$WORK/bin/lxmgr" "${LXMGR_GUESTS[@]}" >/dev/null 2>&1
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
		[ ${#LXD_GUESTS[@]} -gt 0 ] && log "cleanup: deleting what is left of ${#LXD_GUESTS[@]} LXD guests"
		delete_parallel lxc "${LXD_GUESTS[@]}" >/dev/null 2>&1
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

# bench_setup: packages, temp dir, image, then the daemons the CONFIGS
# need, each with the image imported (lxmgr: debian/12; LXD: deb12), LXD
# with pools dir (the default profile's root) and, for lxd-btrfs, bt.
bench_setup() {
	local pkgs=() key i SRC
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
		if [ -n "$LXMGR_NET_CONFIG" ]; then
			# shellcheck disable=SC2086 # KEY=VALUE words
			lxmgr network set lxmbr0 $LXMGR_NET_CONFIG >>"$WORK/lxmgr-cli.log" 2>&1 || { tail -5 "$WORK/lxmgr-cli.log" >&2; die "lxmgr network set lxmbr0 $LXMGR_NET_CONFIG"; }
		fi
		if [ "$LXMGR_IMAGE" = busybox ]; then
			lxmgr image build busybox >>"$WORK/lxmgr-cli.log" 2>&1 || { tail -5 "$WORK/lxmgr-cli.log" >&2; die "lxmgr image build busybox"; }
		else
			lxmgr image import "$IMG" --alias debian/12 >>"$WORK/lxmgr-cli.log" 2>&1 || { tail -5 "$WORK/lxmgr-cli.log" >&2; die "lxmgr image import"; }
		fi
	fi

	if need_lxd; then
		NS_L=lxmgr-bench-l-$ID
		LXD_PID=$(start_in_netns "$NS_L" "$WORK/cg-l" "$WORK/lxd.out.log" lxd --group lxd --logfile "$WORK/lxd.log")
		timeout 120 lxd waitready --timeout 100 || { tail -20 "$WORK/lxd.log" >&2; die "lxd did not get ready"; }
		log "lxd running (pid $LXD_PID, netns $NS_L); configuring pools, network, profile, image"
		{
			lxc storage create dir dir &&
				{ ! wants lxd-btrfs || lxc storage create bt btrfs size="$BT_SIZE"; } &&
				lxc network create "$LXD_BRIDGE" ipv4.address="$LXD_SUBNET" ipv4.nat=false ipv6.address=none &&
				lxc profile device add default root disk path=/ pool=dir &&
				lxc profile device add default eth0 nic network="$LXD_BRIDGE" name=eth0 &&
				{ [ -z "$LXD_RAW_LXC" ] || lxc profile set default raw.lxc "$LXD_RAW_LXC"; } &&
				lxc image import "$IMG" --alias deb12
		} >>"$WORK/lxc-cli.log" 2>&1 || { tail -5 "$WORK/lxc-cli.log" >&2; die "lxd setup"; }
	fi
}

# lxmgr_btrfs_pool: creates lxmgr's pool bt (BT_SIZE), for cleanup to
# delete; on failure sets POOL_ERR to why (one line) and returns 1. Not to
# be called in a subshell (LXMGR_BT must reach cleanup).
lxmgr_btrfs_pool() {
	local out
	POOL_ERR=""
	if ! out=$(lxmgr storage create bt btrfs size="$BT_SIZE" 2>&1); then
		POOL_ERR=${out//$'\n'/ }
		return 1
	fi
	LXMGR_BT=1
}

# turns ROUND CONFIG...: the configurations in the order they launch in
# that round: as given on odd rounds, reversed on even ones, so that no tool
# always goes first (bench/launch.sh, bench/density.sh).
turns() {
	local round=$1 k
	shift
	if [ $((round % 2)) = 1 ]; then
		echo "$@"
	else
		for ((k = $#; k >= 1; k--)); do printf '%s ' "${!k}"; done
		echo
	fi
}

# btrfs_settle CONFIG: for a btrfs configuration, wait until btrfs has freed
# the subvolumes of deleted guests. It does that in the background (its
# cleaner thread), and the CPU and I/O it takes would otherwise fall on
# whatever is measured next.
btrfs_settle() {
	local pid pool
	case $1 in
	lxmgr-btrfs) pid=$LXMGRD_PID pool=$WORK/lxmgr/storage-pools/bt ;;
	lxd-btrfs) pid=$LXD_PID pool=$WORK/lxd/storage-pools/bt ;;
	*) return 0 ;;
	esac
	sync
	timeout 600 nsenter -t "$pid" -m -- btrfs subvolume sync "$pool" >>"$WORK/launch.log" 2>&1 ||
		log "warning: $1: waiting for btrfs to free the deleted subvolumes failed (see launch.log)"
}

# ------------------------------------------------------------------- measure

now() { echo "$EPOCHREALTIME"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }

# launch_cmd CONFIG NAME: issue the launch. Both tools return once the
# guest is started and boot-finished is then polled the same way for both
# (lxmgr's --wait would also wait for the DHCP lease, which LXD's numbers
# do not include).
launch_cmd() {
	case $1 in
	lxmgr-dir) timeout 600 "$WORK/bin/lxmgr" launch "$LXMGR_IMAGE" "$2" ;;
	lxmgr-btrfs) timeout 600 "$WORK/bin/lxmgr" launch "$LXMGR_IMAGE" "$2" -s bt ;;
	lxd-dir) timeout 600 lxc launch deb12 "$2" -s dir ;;
	lxd-btrfs) timeout 600 lxc launch deb12 "$2" -s bt ;;
	esac </dev/null >>"$WORK/launch.log" 2>&1
}

# boot_state CONFIG NAME: one `systemctl is-system-running --wait` in the guest.
boot_state() {
	case $1 in
	lxmgr-*)
		if [ "$LXMGR_IMAGE" = busybox ]; then
			timeout 300 "$WORK/bin/lxmgr" exec "$2" -- sh -c 'test -e /run/lxmgr-ready && echo running'
		else
			timeout 300 "$WORK/bin/lxmgr" exec "$2" -- systemctl is-system-running --wait
		fi
		;;
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

# stats "x y z": median min max
stats() {
	echo "$1" | tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f", m, v[1], v[NR]}'
}
