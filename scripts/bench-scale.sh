#!/usr/bin/env bash
# Cost of many virtual routers: ha-vip and keepalived side by side.
#
# In network namespaces: node a runs N virtual routers at priority 200
# (VRIDs 1..N, one VIP each), node b the same N at priority 100, one link.
# For each implementation, interval and N, after both sides settle, a fixed
# window measures:
#   - CPU seconds per second of each side (utime + stime from /proc/PID/stat;
#     keepalived: its parent plus its VRRP child);
#   - peak RSS of each side (VmHWM; keepalived: parent + VRRP child);
#   - adverts per second sent by each side (capture on the bridge during the
#     last seconds of the window; the Backup side should send none);
#   - whether every VRID has exactly one Active router: VIP holders sampled
#     on both nodes at several instants, and no VRID advertised by both
#     sides (or by neither) in the capture.
#
#   sudo scripts/bench-scale.sh             # full: N 1 16 64 255; 1s 100ms 10ms; 60 s
#   sudo scripts/bench-scale.sh --short     # CI: N 1 16; 100ms 10ms; 10 s
#   sudo scripts/bench-scale.sh --n "255" --intervals "10ms" --window 30
#   sudo scripts/bench-scale.sh --n 255 --intervals 10ms --impls "ha-vip/keepalived"
#       (mixed pair: ha-vip Active on a, keepalived Backup on b)
#   sudo scripts/bench-scale.sh --n 255 --intervals 10ms --links 4
#       (4 links, each on its own bridge, both nodes on all of them: N
#       routers on every link, 4 x N in each daemon, VRIDs 1..N on each;
#       link 0 IPv4, the others IPv6: no two routers may share a VIP and the
#       IPv4 documentation ranges are too small for 1,020)
#   BENCH_SHORT=1 ...; HA_VIP_BIN=...; BENCH_KEEP=1 keeps logs and captures.
#
# A broken setup (a daemon that dies, no VIP held at all) is an error
# (exit 1). High CPU, or a VRID with two Active routers, is a figure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/bench-lib.sh
. "$HERE/bench-lib.sh"

SHORT=${BENCH_SHORT:-0}
NS=""
INTERVALS=""
WINDOW=""
IMPLS="ha-vip keepalived"
BENCH_LINKS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT=1 ;;
    --n) NS=$2; shift ;;
    --intervals) INTERVALS=$2; shift ;;
    --window) WINDOW=$2; shift ;;
    --impls) IMPLS=$2; shift ;;
    --links) BENCH_LINKS=$2; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--short] [--n \"1 16 64 255\"] [--intervals \"1s 100ms 10ms\"] [--window SECONDS] [--impls \"ha-vip keepalived\"] [--links K]" >&2; exit 2 ;;
  esac
  shift
done
case "$BENCH_LINKS" in
  [1-9] | 1[0-9] | 2[0-4]) ;;
  *) die "--links $BENCH_LINKS: use 1 to 24" ;;
esac
if [ "$SHORT" = 1 ]; then
  NS=${NS:-"1 16"}
  INTERVALS=${INTERVALS:-"100ms 10ms"}
  WINDOW=${WINDOW:-10}
else
  NS=${NS:-"1 16 64 255"}
  INTERVALS=${INTERVALS:-"1s 100ms 10ms"}
  WINDOW=${WINDOW:-60}
fi
# The capture covers the last CAPTURE seconds of the window.
CAPTURE=$((WINDOW / 4 < 3 ? 3 : (WINDOW / 4 > 10 ? 10 : WINDOW / 4)))
# VIP holders are sampled this many times across the window.
SAMPLES=5

bench_require
bench_ha_vip_bin
bench_lab_up
bench_machine
CLK_TCK=$(getconf CLK_TCK)

interval_ms() {
  case "$1" in
    *ms) echo "${1%ms}" ;;
    *s) echo $(("${1%s}" * 1000)) ;;
    *) die "interval '$1': use e.g. 1s, 100ms, 10ms" ;;
  esac
}

keepalived_advert() {
  local ms=$1
  printf '%d.%02d' $((ms / 1000)) $(((ms % 1000) / 10))
}

# Sum of utime + stime (clock ticks) of the given pids.
cpu_ticks() {
  local p sum=0 t
  for p in "$@"; do
    # Fields after the command name, which is in parentheses: utime and
    # stime are fields 14 and 15 of the whole line.
    t=$(sed 's/^.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }') || die "pid $p vanished"
    sum=$((sum + t))
  done
  echo "$sum"
}

# Sum of VmHWM (kB) of the given pids.
peak_rss_kb() {
  local p sum=0 t
  for p in "$@"; do
    t=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status") || die "pid $p vanished"
    sum=$((sum + t))
  done
  echo "$sum"
}

# held NS: "DEV VIP" for every address on the node's links.
held() {
  local k
  for ((k = 0; k < BENCH_LINKS; k++)); do
    bench_addrs "$1" "eth$k" | sed "s/^/eth$k /"
  done
}

# holders VIPFILE ("DEV VIP" lines): "both none" = VIPs held by both nodes,
# by neither.
holders() {
  {
    held "$BENCH_NS_A" | sed 's/^/a /'
    held "$BENCH_NS_B" | sed 's/^/b /'
  } | awk -v vips="$1" '
    BEGIN { while ((getline v < vips) > 0) { want[v] = 1 } }
    { k = $2 " " $3 }
    (k in want) { held[k] = held[k] $1 }
    END {
      both = 0; none = 0
      for (v in want) { if (held[v] == "ab" || held[v] == "ba") both++; else if (held[v] == "") none++ }
      print both, none
    }'
}

# VIPs of VIPFILE held by node NS.
held_count() {
  held "$2" | grep -cxFf "$1" || true
}

# Every VIP on a alone.
converged() {
  local counts
  counts=$(holders "$1")
  [ "$counts" = "0 0" ] && [ "$(held_count "$1" "$BENCH_NS_B")" = 0 ]
}

alive() {
  local p
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || return 1
  done
}

RESULTS=()

# start_side IMPL NS DIR PRIORITY INTERVAL MS N: sets STARTED_PID (to stop)
# and STARTED_PIDS (to measure: keepalived's parent and VRRP child).
start_side() {
  local impl=$1 ns=$2 dir=$3 prio=$4 interval=$5 ms=$6 n=$7
  case "$impl" in
    ha-vip)
      bench_ha_vip_conf "$dir" "$prio" "$interval" 1 "$n"
      bench_start_ha_vip "$ns" "$dir"
      STARTED_PIDS=$STARTED_PID
      ;;
    keepalived)
      bench_keepalived_conf "$dir/keepalived.conf" "$prio" "$(keepalived_advert "$ms")" 1 "$n"
      bench_start_keepalived "$ns" "$dir"
      bench_wait 10 test -s "$dir/vrrp.pid" || die "keepalived in $ns wrote no $dir/vrrp.pid: $(cat "$dir/log")"
      STARTED_PIDS="$STARTED_PID $(cat "$dir/vrrp.pid")"
      ;;
    *) die "unknown implementation '$impl'" ;;
  esac
}

# run_one IMPL INTERVAL N
run_one() {
  local impl=$1 interval=$2 n=$3
  local ms dir_a dir_b vips pids_a pids_b pid_a pid_b cap
  ms=$(interval_ms "$interval")
  local tag=${impl//\//-}
  dir_a="$BENCH_DIR/$tag-$interval-$n-a"
  dir_b="$BENCH_DIR/$tag-$interval-$n-b"
  mkdir -p "$dir_a" "$dir_b"
  vips="$BENCH_DIR/vips-$n"
  local k addr
  for ((k = 0; k < BENCH_LINKS; k++)); do
    for ((v = 1; v <= n; v++)); do
      addr=$(bench_link_vip "$k" "$v")
      echo "eth$k ${addr%/*}"
    done
  done >"$vips"
  # "X" runs X on both sides; "X/Y" runs X on a (Active) and Y on b.
  local impl_a=${impl%%/*} impl_b=${impl#*/}
  start_side "$impl_a" "$BENCH_NS_A" "$dir_a" 200 "$interval" "$ms" "$n"; pid_a=$STARTED_PID; pids_a=$STARTED_PIDS
  start_side "$impl_b" "$BENCH_NS_B" "$dir_b" 100 "$interval" "$ms" "$n"; pid_b=$STARTED_PID; pids_b=$STARTED_PIDS
  # shellcheck disable=SC2086
  local settled=yes
  if ! bench_wait $((4 * ms / 1000 + 20)) converged "$vips"; then
    settled=no
    log "$impl at $interval, N=$n: did not settle (a holds every VIP, b none) in time; measuring anyway"
  fi
  # shellcheck disable=SC2086
  alive $pids_a $pids_b || die "$impl at $interval, N=$n: a daemon exited; logs in $dir_a/log, $dir_b/log"
  if [ "$(held_count "$vips" "$BENCH_NS_A")" = 0 ] && [ "$(held_count "$vips" "$BENCH_NS_B")" = 0 ]; then
    die "$impl at $interval, N=$n: no VIP held by either node; logs in $dir_a/log, $dir_b/log"
  fi
  sleep 1
  log "$impl at $interval, N=$n: measuring ${WINDOW}s"
  local t0 t1 ca0 cb0 ca1 cb1 both_max=0 none_max=0 s counts b0 n0 step
  # shellcheck disable=SC2086
  ca0=$(cpu_ticks $pids_a); cb0=$(cpu_ticks $pids_b)
  t0=$(date +%s%N)
  step=$(awk -v w="$WINDOW" -v c="$CAPTURE" -v s=$SAMPLES 'BEGIN { printf "%.3f", (w - c) / s }')
  for ((s = 0; s < SAMPLES; s++)); do
    sleep "$step"
    read -r b0 n0 <<<"$(holders "$vips")"
    [ "$b0" -gt "$both_max" ] && both_max=$b0
    [ "$n0" -gt "$none_max" ] && none_max=$n0
  done
  # One capture per link (bridge).
  local caps=() cap_pids=()
  for ((k = 0; k < BENCH_LINKS; k++)); do
    cap="$BENCH_DIR/$tag-$interval-$n-link$k.pcap"
    bench_capture_start "$cap" "br$k"
    caps+=("$cap")
    cap_pids+=("$CAPTURE_PID")
  done
  local c0 c1
  c0=$(date +%s%N)
  sleep "$CAPTURE"
  c1=$(date +%s%N)
  for ((k = 0; k < BENCH_LINKS; k++)); do
    CAPTURE_PID=${cap_pids[$k]}
    bench_capture_stop "${caps[$k]}"
  done
  read -r b0 n0 <<<"$(holders "$vips")"
  [ "$b0" -gt "$both_max" ] && both_max=$b0
  [ "$n0" -gt "$none_max" ] && none_max=$n0
  # shellcheck disable=SC2086
  ca1=$(cpu_ticks $pids_a); cb1=$(cpu_ticks $pids_b)
  t1=$(date +%s%N)
  local rss_a rss_b
  # shellcheck disable=SC2086
  rss_a=$(peak_rss_kb $pids_a); rss_b=$(peak_rss_kb $pids_b)
  # shellcheck disable=SC2086
  alive $pids_a $pids_b || die "$impl at $interval, N=$n: a daemon exited during the window; logs in $dir_a/log, $dir_b/log"
  # shellcheck disable=SC2086
  bench_stop $pid_a $pid_b
  local json="" one_json
  for ((k = 0; k < BENCH_LINKS; k++)); do
    local ip_a ip_b
    ip_a=$(bench_link_ip a "$k"); ip_b=$(bench_link_ip b "$k")
    one_json=$(/usr/bin/python3 "$HERE/bench_analyze.py" scale "${caps[$k]}" --active-ip "${ip_a%/*}" \
      --backup-ip "${ip_b%/*}" --vrids "$n" --start-ns "$c0" --end-ns "$c1") ||
      die "analysis of ${caps[$k]} failed"
    json="$json$one_json"$'\n'
  done
  RESULTS+=("$(/usr/bin/python3 - "$impl" "$interval" "$n" "$json" "$ca0" "$ca1" "$cb0" "$cb1" "$t0" "$t1" \
    "$CLK_TCK" "$rss_a" "$rss_b" "$both_max" "$none_max" "$settled" "$BENCH_LINKS" <<'EOF'
import json, sys
(impl, interval, n, d, ca0, ca1, cb0, cb1, t0, t1, hz, rss_a, rss_b,
 both, none, settled, links) = sys.argv[1:]
# One analysis per link: adverts add up; VRIDs advertised by both sides
# (or by neither) are named link:vrid.
per_link = [json.loads(line) for line in d.splitlines() if line.strip()]
d = {
    "active_adverts_per_s": sum(x["active_adverts_per_s"] for x in per_link),
    "backup_adverts_per_s": sum(x["backup_adverts_per_s"] for x in per_link),
    "vrids_advertised_by_both": [f"{k}:{v}" for k, x in enumerate(per_link) for v in x["vrids_advertised_by_both"]],
    "vrids_advertised_by_neither": [f"{k}:{v}" for k, x in enumerate(per_link) for v in x["vrids_advertised_by_neither"]],
}
wall = (int(t1) - int(t0)) / 1e9
cpu_a = (int(ca1) - int(ca0)) / int(hz) / wall
cpu_b = (int(cb1) - int(cb0)) / int(hz) / wall
bad_both = sorted(set(d["vrids_advertised_by_both"]))
bad_none = d["vrids_advertised_by_neither"]
one = "yes" if int(both) == 0 and int(none) == 0 and not bad_both and not bad_none else \
    f"NO(held:both={both},none={none};adv:both={len(bad_both)},none={len(bad_none)})"
print(f'{interval:<8} {int(n):>4} {int(links):>5} {impl:<21} {cpu_a:>8.3f} {cpu_b:>8.3f} {int(rss_a)/1024:>8.1f} '
      f'{int(rss_b)/1024:>8.1f} {d["active_adverts_per_s"]:>9.0f} {d["backup_adverts_per_s"]:>9.1f} '
      f'{settled:>7} {one}')
EOF
  )")
}

for interval in $INTERVALS; do
  for n in $NS; do
    for impl in $IMPLS; do
      run_one "$impl" "$interval" "$n"
    done
  done
done

echo
echo "Scale: N virtual routers per link and side, on each of 'links' links; window ${WINDOW}s (capture: last ${CAPTURE}s); CPU in CPU-seconds per second"
echo "a = Active side (priority 200), b = Backup side (priority 100); RSS = peak (VmHWM), MiB"
printf '%-8s %4s %5s %-21s %8s %8s %8s %8s %9s %9s %7s %s\n' \
  interval N links impl cpu_a cpu_b rss_a rss_b adv/s_a adv/s_b settled one_active_per_vrid
for line in "${RESULTS[@]}"; do echo "$line"; done
