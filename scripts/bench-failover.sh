#!/usr/bin/env bash
# Failover time of ha-vip and keepalived, side by side, measured on the wire.
#
# In network namespaces: an Active router (priority 200) and a Backup
# (priority 100) of the same implementation on one bridge, one VRID, VIP
# 192.0.2.100. Each round cuts the Active's link (`ip link set eth0 down` on
# its side) and measures, from a capture on the bridge, the time from the
# Active's last advert to the Backup's first advert and to its first
# gratuitous ARP for the VIP. RFC 9568 6.1 sets the floor: the Backup may
# only take over Master_Down_Interval = 3 x interval + (256 - 100)/256 x
# interval after the last advert it heard. Between rounds the link comes
# back and the original Active takes the VIP back (preemption).
#
#   sudo scripts/bench-failover.sh            # full: 1s, 100ms, 10ms
#   sudo scripts/bench-failover.sh --short    # CI: 100ms and 10ms, 5 rounds
#   sudo scripts/bench-failover.sh --rounds 50 --intervals "10ms"
#   BENCH_SHORT=1 ...; HA_VIP_BIN=target/debug/ha-vip ...; BENCH_KEEP=1 keeps
#   the captures and logs.
#
# A broken setup (a daemon that dies, a Backup that never takes over) is an
# error (exit 1). A slow failover is a figure, never a failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/bench-lib.sh
. "$HERE/bench-lib.sh"

SHORT=${BENCH_SHORT:-0}
ROUNDS=""
INTERVALS=""
IMPLS="ha-vip keepalived"
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --intervals) INTERVALS=$2; shift ;;
    --impls) IMPLS=$2; shift ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--short] [--rounds N] [--intervals \"1s 100ms 10ms\"] [--impls \"ha-vip keepalived\"]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$SHORT" = 1 ]; then
  ROUNDS=${ROUNDS:-5}
  INTERVALS=${INTERVALS:-"100ms 10ms"}
else
  ROUNDS=${ROUNDS:-30}
  INTERVALS=${INTERVALS:-"1s 100ms 10ms"}
fi

VIP=192.0.2.100
VRID=1
PRIO_ACTIVE=200
PRIO_BACKUP=100

bench_require
bench_ha_vip_bin
bench_lab_up
bench_machine

interval_ms() {
  case "$1" in
    *ms) echo "${1%ms}" ;;
    *s) echo $(("${1%s}" * 1000)) ;;
    *) die "interval '$1': use e.g. 1s, 100ms, 10ms" ;;
  esac
}

# keepalived's advert_int is in seconds, with two decimals in v3.
keepalived_advert() {
  local ms=$1
  printf '%d.%02d' $((ms / 1000)) $(((ms % 1000) / 10))
}

alive() {
  local p
  for p in "$@"; do
    kill -0 "$p" 2>/dev/null || return 1
  done
}

# Holds the VIP on A and not on B.
a_active() { bench_has_vip "$BENCH_NS_A" "$VIP" && ! bench_has_vip "$BENCH_NS_B" "$VIP"; }
b_has_vip() { bench_has_vip "$BENCH_NS_B" "$VIP"; }

RESULTS=()

# run_one IMPL INTERVAL
run_one() {
  local impl=$1 interval=$2
  local ms mdi_s settle dir_a dir_b pid_a pid_b cap cuts r
  ms=$(interval_ms "$interval")
  # Generous limits: a Backup gets 10 x Master_Down_Interval + 5 s.
  mdi_s=$((4 * ms * 10 / 1000 + 5))
  settle=$(awk -v ms="$ms" 'BEGIN { printf "%.3f", 3 * ms / 1000 + 0.3 }')
  dir_a="$BENCH_DIR/$impl-$interval-a"
  dir_b="$BENCH_DIR/$impl-$interval-b"
  mkdir -p "$dir_a" "$dir_b"
  case "$impl" in
    ha-vip)
      bench_ha_vip_conf "$dir_a" $PRIO_ACTIVE "$interval" $VRID $VRID "$VIP"
      bench_ha_vip_conf "$dir_b" $PRIO_BACKUP "$interval" $VRID $VRID "$VIP"
      bench_start_ha_vip "$BENCH_NS_A" "$dir_a"; pid_a=$STARTED_PID
      bench_start_ha_vip "$BENCH_NS_B" "$dir_b"; pid_b=$STARTED_PID
      ;;
    keepalived)
      bench_keepalived_conf "$dir_a/keepalived.conf" $PRIO_ACTIVE "$(keepalived_advert "$ms")" $VRID $VRID "$VIP"
      bench_keepalived_conf "$dir_b/keepalived.conf" $PRIO_BACKUP "$(keepalived_advert "$ms")" $VRID $VRID "$VIP"
      bench_start_keepalived "$BENCH_NS_A" "$dir_a"; pid_a=$STARTED_PID
      bench_start_keepalived "$BENCH_NS_B" "$dir_b"; pid_b=$STARTED_PID
      ;;
    *) die "unknown implementation '$impl'" ;;
  esac
  bench_wait $((mdi_s + 10)) a_active ||
    die "$impl at $interval: the priority-$PRIO_ACTIVE router never held $VIP alone; logs in $dir_a/log, $dir_b/log"
  alive "$pid_a" "$pid_b" || die "$impl at $interval: a daemon exited; logs in $dir_a, $dir_b"
  cap="$BENCH_DIR/$impl-$interval.pcap"
  cuts="$BENCH_DIR/$impl-$interval.cuts"
  : >"$cuts"
  bench_capture_start "$cap"
  log "$impl at $interval: $ROUNDS rounds"
  for ((r = 0; r < ROUNDS; r++)); do
    sleep "$settle"
    date +%s%N >>"$cuts"
    ip -n "$BENCH_NS_A" link set eth0 down
    bench_wait "$mdi_s" b_has_vip ||
      die "$impl at $interval, round $r: the Backup never took $VIP over; logs in $dir_b/log"
    # Let the first adverts and the gratuitous ARPs reach the capture.
    sleep "$settle"
    ip -n "$BENCH_NS_A" link set eth0 up
    bench_wait $((mdi_s + 10)) a_active ||
      die "$impl at $interval, round $r: the Active router did not take $VIP back; logs in $dir_a/log"
    alive "$pid_a" "$pid_b" || die "$impl at $interval: a daemon exited; logs in $dir_a, $dir_b"
  done
  sleep "$settle"
  bench_capture_stop "$cap"
  bench_stop "$pid_a" "$pid_b"
  local json
  json=$(/usr/bin/python3 "$HERE/bench_analyze.py" failover "$cap" "$cuts" \
    --active-ip "$IP_A" --backup-ip "$IP_B" --backup-mac "$MAC_B" --vip "$VIP" --vrid $VRID \
    --interval-ms "$ms" --backup-priority $PRIO_BACKUP) || die "analysis of $cap failed"
  echo "$json" >"$BENCH_DIR/$impl-$interval.json"
  RESULTS+=("$impl $interval $json")
  # Rounds the analysis could not measure mean the capture or the setup is
  # wrong, not that the daemon is slow.
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["measured"]==d["rounds"] else 1)' "$json" ||
    die "$impl at $interval: some rounds could not be measured: $json"
}

for interval in $INTERVALS; do
  for impl in $IMPLS; do
    run_one "$impl" "$interval"
  done
done

echo
echo "Failover: Active's last advert -> Backup's first advert / first gratuitous ARP (ms, from the bridge capture)"
echo "rounds per cell: $ROUNDS; ratio = median / Master_Down_Interval (priority $PRIO_BACKUP)"
echo "gap = the Active router's advert interval in steady state (median, p95)"
printf '%-8s %-11s %7s %8s %8s %8s %8s %7s %9s %9s %8s %8s\n' \
  interval impl rounds MDI_ms median p95 max ratio garp_med garp_p95 gap_med gap_p95
for line in "${RESULTS[@]}"; do
  read -r impl interval json <<<"$line"
  /usr/bin/python3 - "$impl" "$interval" "$json" <<'EOF'
import json, sys
impl, interval, d = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
f = lambda v: "-" if v is None else f"{v:.2f}"
ratio = d["advert_median_ms"] / d["master_down_interval_ms"]
print(f'{interval:<8} {impl:<11} {d["measured"]:>7} {d["master_down_interval_ms"]:>8.2f} '
      f'{f(d["advert_median_ms"]):>8} {f(d["advert_p95_ms"]):>8} {f(d["advert_max_ms"]):>8} '
      f'{ratio:>7.3f} {f(d["garp_median_ms"]):>9} {f(d["garp_p95_ms"]):>9} '
      f'{f(d["active_gap_median_ms"]):>8} {f(d["active_gap_p95_ms"]):>8}')
EOF
done
