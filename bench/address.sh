#!/bin/bash
# bench/address.sh [-n N] [--guests G] [--from-head] [--keep-log]
#
# The first figures a user sees, lxmgr against LXD 5.0.2 in one run on this
# machine, both on a dir pool, both images (busybox, Debian 12) cached:
#
#   address   from issuing `launch` (no wait) until the guest's IPv4 address
#             shows in `list` (polled every 20 ms: `lxmgr list name=NAME -c 4`,
#             `lxc list ^NAME$ -c 4`), for busybox and for Debian 12 guests;
#             the tools take turns (lxmgr first on odd rounds) after a
#             two-second pause
#   --wait    `lxmgr launch IMAGE NAME --wait` (returns once the guest's init
#             reports boot finished and it has its address); lxmgr only,
#             LXD has no such flag
#   list      `list` (table) and `list --format json` with G running busybox
#             guests in each tool, ten calls each, taking turns
#
# LXD gets lxmgr's busybox image (an LXD unified tarball) and the e2e
# suite's cached Debian image, a network with an explicit subnet and no NAT
# and the same /sys mount as lxmgr's guests (see launch.sh). Setup,
# isolation and cleanup are bench/lib.sh's: each daemon in its own network
# namespace, nothing contacted but loopback and their own bridges,
# everything removed at exit.
set -euo pipefail

N=5
G=50
KEEP_LOG=0
FROM_HEAD=0
usage() {
	sed -n '2,2p' "$0" | sed 's/^# //'
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-n) [ $# -ge 2 ] || usage; N=$2; shift ;;
	--guests) [ $# -ge 2 ] || usage; G=$2; shift ;;
	--keep-log) KEEP_LOG=1 ;;
	--from-head) FROM_HEAD=1 ;;
	*) usage ;;
	esac
	shift
done
for v in "$N" "$G"; do
	case $v in '' | *[!0-9]* | 0) echo "bench: -n and --guests need positive integers" >&2; exit 2 ;; esac
done

CONFIGS=(lxmgr-dir lxd-dir)
LXD_RAW_LXC="lxc.mount.auto = sys:mixed"
. "$(dirname "$0")/lib.sh"
bench_setup

log "busybox image: lxmgr builds it, LXD imports the same tarball"
lxmgr image build busybox >>"$WORK/lxmgr-cli.log" 2>&1 || die "lxmgr image build busybox"
BB_FP=$(lxmgr image list --format csv | awk -F, '/busybox/ {print $2; exit}')
BB_TAR=$(ls "$WORK/lxmgr/images/$BB_FP"* 2>/dev/null | head -1)
[ -f "$BB_TAR" ] || die "busybox tarball for $BB_FP not found under $WORK/lxmgr/images"
lxc image import "$BB_TAR" --alias bb >>"$WORK/lxc-cli.log" 2>&1 || die "lxc image import busybox"

# image_of TOOL KIND: the image name of KIND (busybox|debian) in TOOL.
image_of() {
	case $1-$2 in
	lxmgr-busybox) echo busybox ;;
	lxmgr-debian) echo debian/12 ;;
	lxd-busybox) echo bb ;;
	lxd-debian) echo deb12 ;;
	esac
}

# addr_of TOOL NAME: the guest's IPv4 address as list shows it ("" if none).
addr_of() {
	case $1 in
	lxmgr) lxmgr list "name=$2" -c 4 --format csv 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+){3}' | head -1 || true ;;
	lxd) lxc list "^$2\$" -c 4 --format csv 2>/dev/null | grep -oE '[0-9]+(\.[0-9]+){3}' | head -1 || true ;;
	esac
}

# to_address TOOL KIND NAME: launch without waiting, then poll list; sets T.
to_address() {
	local tool=$1 kind=$2 name=$3 t0 a deadline=$((SECONDS + 180))
	track "$tool-dir" "$name"
	t0=$(now)
	case $tool in
	lxmgr) timeout 300 "$WORK/bin/lxmgr" launch "$(image_of lxmgr "$kind")" "$name" ;;
	lxd) timeout 300 lxc launch "$(image_of lxd "$kind")" "$name" -s dir ;;
	esac </dev/null >>"$WORK/launch.log" 2>&1 || { tail -5 "$WORK/launch.log" >&2; die "$tool: launch $name"; }
	while :; do
		a=$(addr_of "$tool" "$name")
		[ -z "$a" ] || break
		[ $SECONDS -lt $deadline ] || die "$tool: $name had no address in list after 180 s"
		sleep 0.02
	done
	T=$(sub "$(now)" "$t0")
	ADDR=$a
}

declare -A RAW=()
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for kind in busybox debian; do
	# A warm-up guest per tool: both unpack an image once per pool.
	for tool in lxmgr lxd; do
		to_address "$tool" "$kind" "w-$tool-$kind"
		log "$tool $kind warm-up: address after ${T}s"
	done
	for i in $(seq "$N"); do
		for tool in $(turns "$i" lxmgr lxd); do
			sleep 2
			name=$(printf 'a%s-%s-%02d' "${kind:0:2}" "$tool" "$i")
			to_address "$tool" "$kind" "$name"
			printf '%s address %-6s %-8s %2d/%d %7.3fs %s\n' "$(date +%T)" "$tool" "$kind" "$i" "$N" "$T" "$ADDR"
			RAW[$tool-$kind]+="$T "
		done
	done
done

declare -A WAIT=()
for kind in busybox debian; do
	for i in $(seq "$N"); do
		sleep 2
		name=$(printf 'w%s-%02d' "${kind:0:2}" "$i")
		track lxmgr-dir "$name"
		t0=$(now)
		timeout 300 "$WORK/bin/lxmgr" launch "$(image_of lxmgr "$kind")" "$name" --wait </dev/null >>"$WORK/launch.log" 2>&1 ||
			{ tail -5 "$WORK/launch.log" >&2; die "lxmgr launch --wait $name"; }
		T=$(sub "$(now)" "$t0")
		printf '%s launch --wait %-8s %2d/%d %7.3fs\n' "$(date +%T)" "$kind" "$i" "$N" "$T"
		WAIT[$kind]+="$T "
	done
done

# Only busybox guests for the list figure: the Debian ones go first.
log "deleting the Debian guests, then launching $G busybox guests per tool"
for tool in lxmgr lxd; do
	names=()
	while read -r n; do names+=("$n"); done < <(
		case $tool in
		lxmgr) lxmgr list --format csv -c n ;;
		lxd) lxc list --format csv -c n ;;
		esac | grep -E '^(w-[a-z]+-debian|ade-|wde-)' || true)
	cli=$WORK/bin/lxmgr
	[ $tool = lxd ] && cli=lxc
	delete_parallel "$cli" "${names[@]}" >>"$WORK/launch.log" 2>&1 || log "warning: deleting $tool's Debian guests failed"
done
for tool in lxmgr lxd; do
	have=$(case $tool in lxmgr) lxmgr list --format csv -c n ;; lxd) lxc list --format csv -c n ;; esac | wc -l)
	names=()
	for i in $(seq $((have + 1)) "$G"); do names+=("$(printf 'l%s-%03d' "$tool" "$i")"); done
	for n in "${names[@]}"; do track "$tool-dir" "$n"; done
	case $tool in
	lxmgr) printf '%s\n' "${names[@]}" | xargs -r -P 4 -I{} timeout 300 "$WORK/bin/lxmgr" launch busybox {} ;;
	lxd) printf '%s\n' "${names[@]}" | xargs -r -P 4 -I{} timeout 300 lxc launch bb {} -s dir ;;
	esac </dev/null >>"$WORK/launch.log" 2>&1 || die "$tool: launching the list guests"
	deadline=$((SECONDS + 300))
	while :; do
		running=$(case $tool in lxmgr) lxmgr list status=running --format csv -c n ;; lxd) lxc list status=running --format csv -c n ;; esac | wc -l)
		[ "$running" -ge "$G" ] && break
		[ $SECONDS -lt $deadline ] || die "$tool: only $running of $G guests running"
		sleep 1
	done
	log "$tool: $running guests running"
done
sleep 5
declare -A LIST=() LISTJ=()
for i in $(seq 10); do
	for tool in $(turns "$i" lxmgr lxd); do
		cli=$WORK/bin/lxmgr
		[ $tool = lxd ] && cli=lxc
		t0=$(now)
		"$cli" list >/dev/null
		LIST[$tool]+="$(sub "$(now)" "$t0") "
		t0=$(now)
		"$cli" list --format json >/dev/null
		LISTJ[$tool]+="$(sub "$(now)" "$t0") "
	done
done

# -------------------------------------------------------------------- report

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
echo
echo "first figures, dir pools, $(nproc) CPUs, $(uname -r), Debian image $(basename "$IMG")"
echo "load average at start: $LOAD0, at end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %9s %9s %9s\n' measure median min max
for kind in busybox debian; do
	for tool in lxmgr lxd; do
		read -r med min max <<<"$(stats "${RAW[$tool-$kind]}")"
		printf '%-34s %9s %9s %9s\n' "launch to address in list: $tool $kind" "$med" "$min" "$max"
		eval "M_$tool=$med"
	done
	echo "  ratio lxmgr / LXD ($kind): $(ratio "$M_lxmgr" "$M_lxd")"
done
for kind in busybox debian; do
	read -r med min max <<<"$(stats "${WAIT[$kind]}")"
	printf '%-34s %9s %9s %9s\n' "lxmgr launch --wait $kind" "$med" "$min" "$max"
done
for tool in lxmgr lxd; do
	read -r med min max <<<"$(stats "${LIST[$tool]}")"
	printf '%-34s %9s %9s %9s\n' "list, $G busybox running: $tool" "$med" "$min" "$max"
	eval "L_$tool=$med"
	read -r med min max <<<"$(stats "${LISTJ[$tool]}")"
	printf '%-34s %9s %9s %9s\n' "list --format json: $tool" "$med" "$min" "$max"
	eval "J_$tool=$med"
done
echo "  ratio lxmgr / LXD (list): $(ratio "$L_lxmgr" "$L_lxd"), json: $(ratio "$J_lxmgr" "$J_lxd")"
echo
echo "raw seconds:"
for k in "${!RAW[@]}"; do echo "  address $k: ${RAW[$k]}"; done
for k in "${!WAIT[@]}"; do echo "  --wait $k: ${WAIT[$k]}"; done
