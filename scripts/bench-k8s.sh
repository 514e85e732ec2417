#!/usr/bin/env bash
# How long https://VIP:6443 points at an API server that cannot serve, per
# failure kind: ha-vip at its [k8s] defaults beside the kubeadm HA guide's
# keepalived recipe, in the same run and the same lab.
#
#   sudo scripts/bench-k8s.sh            # the full run (about 10 minutes)
#   sudo scripts/bench-k8s.sh --short    # CI (about 5 minutes): 15 s caps, 1 roll, 10 s of flapping
#
# The lab: three control-plane namespaces cp0..cp2 (192.0.2.11-13,
# priorities 103/102/101) on one bridge, each with an API-server stand-in
# in its own process on [::]:6443 (scripts/k8s-lab.py serve: real TLS,
# kube-apiserver's answers, SIGKILL and SIGSTOP act as on the real one), and
# a client namespace (192.0.2.50) that every 20 ms opens a new connection
# to VIP 192.0.2.100:6443, does a TLS handshake and GET /livez, 0.3 s
# timeout (the rolling restart: every 50 ms, 1 s timeout, so a SYN
# retransmission counts as a failed connection).
#
# ha-vip: [k8s] at its defaults (only ca_cert set), adverts every 100 ms.
# keepalived: the kubeadm HA guide's recipe as written (docs/ha-considerations.md
# in kubernetes/kubeadm): vrrp_script check_apiserver.sh (curl --silent
# --max-time 2 --insecure https://localhost:6443/, and the VIP when held)
# with interval 3, weight -2, fall 10, rise 2; VRRPv2, advert_int 1, auth
# PASS, cp0 MASTER, the others BACKUP.
#
# Every figure comes from the client's probes (scripts/k8s-lab.py analyze:
# from the start of the first failed probe to the start of the next
# successful one) and from polling which namespace holds the VIP (moves),
# never from a daemon's log. Figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

SHORT=0
for a in "$@"; do
  case "$a" in
    --short) SHORT=1 ;;
    *) echo "usage: $0 [--short]" >&2; exit 2 ;;
  esac
done

if [ $SHORT -eq 1 ]; then
  # Only to keep the script working: keepalived's crash and freeze (about
  # 33 s) print as "> 15 s".
  CAP=15         # seconds to wait for a fault to end
  CAP_UNSEEN=10  # for a fault the guide's check cannot see (etcd gone)
  ROLL_ROUNDS=1
  FLAP_S=10
else
  CAP=90
  CAP_UNSEEN=60
  ROLL_ROUNDS=3
  FLAP_S=60
fi

PY=/usr/bin/python3
LAB=scripts/k8s-lab.py
VIP=192.0.2.100
PRIOS=(103 102 101)
SHUTDOWN_DELAY=3
CLOSED_S=2
READY_AFTER=2.5

bench_require
for c in curl openssl; do
  command -v "$c" >/dev/null 2>&1 || die "missing prerequisite '$c' (run: sudo scripts/install-prereqs.sh)"
done
bench_ha_vip_bin

NS=("$BENCH_ID-cp0" "$BENCH_ID-cp1" "$BENCH_ID-cp2")
NS_CLIENT="$BENCH_ID-client"

k8s_lab_up() {
  BENCH_DIR="$(mktemp -d "/tmp/$BENCH_ID.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$BENCH_HUB" || die "ip netns add $BENCH_HUB"
  ip -n "$BENCH_HUB" link set lo up
  ip -n "$BENCH_HUB" link add br0 type bridge mcast_snooping 0 || die "bridge"
  ip -n "$BENCH_HUB" link set br0 up
  local i ns host
  for i in 0 1 2 3; do
    if [ $i -lt 3 ]; then ns=${NS[$i]}; host=$((11 + i)); else ns=$NS_CLIENT; host=50; fi
    ip netns add "$ns" || die "ip netns add $ns"
    BENCH_EXTRA_NS+=("$ns")
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link add eth0 type veth peer name "vk$i" netns "$BENCH_HUB" || die "veth in $ns"
    ip -n "$BENCH_HUB" link set "vk$i" master br0 up
    ip -n "$ns" link set eth0 address "02:00:00:00:0a:$(printf '%02x' "$host")"
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "192.0.2.$host/24" dev eth0
  done
  # The cluster's PKI: a CA and the API server's certificate for
  # `kubernetes` (what ha-vip's server_name and the client verify).
  local d=$BENCH_DIR/pki
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=kubernetes -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || die "openssl CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj /CN=kube-apiserver -keyout "$d/apiserver.key" -out "$d/apiserver.csr" 2>/dev/null || die "openssl key"
  printf 'subjectAltName=DNS:kubernetes,DNS:localhost,IP:127.0.0.1,IP:%s\n' "$VIP" >"$d/ext"
  openssl x509 -req -in "$d/apiserver.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext" -out "$d/apiserver.crt" 2>/dev/null || die "openssl cert"
  CA=$d/ca.crt
}

# api_start I: a new stand-in process on cp I (not ready for READY_AFTER).
API_PID=("" "" "")
api_start() {
  local i=$1 dir=$BENCH_DIR/api$1
  mkdir -p "$dir"
  [ -f "$dir/state" ] || echo ready >"$dir/state"
  ip netns exec "${NS[$i]}" "$PY" "$LAB" serve --cert "$BENCH_DIR/pki/apiserver.crt" \
    --key "$BENCH_DIR/pki/apiserver.key" --state "$dir/state" --ready-after "$READY_AFTER" \
    </dev/null >>"$dir/log" 2>&1 &
  API_PID[$i]=$!
  BENCH_PIDS+=("$!")
}
api_state() { echo "$2" >"$BENCH_DIR/api$1/state.tmp" && mv "$BENCH_DIR/api$1/state.tmp" "$BENCH_DIR/api$1/state"; }
api_signal() { kill "-$2" "${API_PID[$1]}" 2>/dev/null || true; }
api_gone() {
  local p=${API_PID[$1]}
  [ -n "$p" ] || return 0
  kill -CONT "$p" 2>/dev/null || true
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  API_PID[$1]=""
}
api_stop() {
  local p=${API_PID[$1]}
  kill -TERM "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  API_PID[$1]=""
}
api_ready() {
  ip netns exec "${NS[$1]}" curl -sf --max-time 1 --cacert "$CA" \
    --resolve kubernetes:6443:127.0.0.1 -o /dev/null https://kubernetes:6443/readyz
}

holder() {
  local i h=""
  for i in 0 1 2; do
    bench_has_vip "${NS[$i]}" "$VIP" && h="$h$i"
  done
  echo "${h:--}"
}

# daemons_start IMPL: ha-vip or keepalived on the three nodes, in
# $BENCH_DIR/CASE-IMPLi (kept with BENCH_KEEP=1).
DAEMON_PID=()
CASE=""
daemons_start() {
  local impl=$1 i dir
  DAEMON_PID=()
  for i in 0 1 2; do
    dir=$BENCH_DIR/$CASE-$impl$i
    rm -rf "$dir"
    mkdir -p "$dir/routers"
    if [ "$impl" = ha-vip ]; then
      printf '[control]\nsocket = "%s/ctl.sock"\n[k8s]\nenabled = true\nca_cert = "%s"\n' "$dir" "$CA" >"$dir/ha-vip.toml"
      printf 'interface = "eth0"\nvrid = 70\npriority = %d\nadvert_interval = "100ms"\naddresses = ["%s/24"]\n' \
        "${PRIOS[$i]}" "$VIP" >"$dir/routers/api.toml"
      bench_start_ha_vip "${NS[$i]}" "$dir"
    else
      keepalived_guide_conf "$dir" "$i"
      bench_start_keepalived "${NS[$i]}" "$dir"
    fi
    DAEMON_PID+=("$STARTED_PID")
  done
}

# The guide's files, its placeholders filled in: APISERVER_DEST_PORT 6443,
# APISERVER_VIP, INTERFACE eth0, ROUTER_ID 51 ("many distros"), AUTH_PASS 42.
keepalived_guide_conf() {
  local dir=$1 i=$2 state=BACKUP
  [ "$i" -eq 0 ] && state=MASTER
  cat >"$dir/check_apiserver.sh" <<EOF
#!/bin/sh

errorExit() {
    echo "*** \$*" 1>&2
    exit 1
}

curl --silent --max-time 2 --insecure https://localhost:6443/ -o /dev/null || errorExit "Error GET https://localhost:6443/"
if ip addr | grep -q $VIP; then
    curl --silent --max-time 2 --insecure https://$VIP:6443/ -o /dev/null || errorExit "Error GET https://$VIP:6443/"
fi
EOF
  chmod 0755 "$dir/check_apiserver.sh"
  cat >"$dir/keepalived.conf" <<EOF
! /etc/keepalived/keepalived.conf (kubeadm HA guide)
global_defs {
    router_id LVS_DEVEL
    script_user root
    enable_script_security
}
vrrp_script check_apiserver {
  script "$dir/check_apiserver.sh"
  interval 3
  weight -2
  fall 10
  rise 2
}

vrrp_instance VI_1 {
    state $state
    interface eth0
    virtual_router_id 51
    priority ${PRIOS[$i]}
    authentication {
        auth_type PASS
        auth_pass 42
    }
    virtual_ipaddress {
        $VIP
    }
    track_script {
        check_apiserver
    }
}
EOF
}

daemons_ready() {
  local impl=$1 i
  for i in 0 1 2; do
    bench_wait 20 api_ready "$i" || die "the stand-in on cp$i never became ready: $(tail -3 "$BENCH_DIR/api$i/log")"
  done
  bench_wait 30 test_holder 0 || die "$impl: cp0 never held the VIP alone (holders: $(holder)); logs in $BENCH_DIR"
  if [ "$impl" = ha-vip ]; then
    for i in 0 1 2; do
      bench_wait 30 check_healthy "$i" || die "ha-vip on cp$i: the [k8s] check never turned healthy"
    done
  else
    # keepalived starts its scripts as passing; let each run twice.
    sleep 7
  fi
  bench_wait 10 test_holder 0 || die "$impl: the VIP left cp0 before the fault (holders: $(holder))"
}
test_holder() { [ "$(holder)" = "$1" ]; }
check_healthy() {
  "$HA_VIP_BIN" status --json --socket "$BENCH_DIR/$CASE-ha-vip$1/ctl.sock" 2>/dev/null |
    "$PY" -c 'import json,sys; s=json.load(sys.stdin); t=[x for x in s["routers"][0]["tracked"] if x["check"]=="k8s"]; sys.exit(0 if t and not t[0]["failed"] else 1)'
}

CLIENT_PID=""
client_start() {
  local out=$1 every=$2 timeout=$3
  : >"$out"
  ip netns exec "$NS_CLIENT" "$PY" "$LAB" probe --target "$VIP:6443" --ca "$CA" --out "$out" \
    --every "$every" --timeout "$timeout" </dev/null >/dev/null 2>&1 &
  CLIENT_PID=$!
  BENCH_PIDS+=("$!")
  bench_wait 10 grep -q ' OK ' "$out" || die "the client never reached https://$VIP:6443/livez: $(tail -2 "$out")"
}
client_stop() { kill -TERM "$CLIENT_PID" 2>/dev/null || true; wait "$CLIENT_PID" 2>/dev/null || true; }

WATCH_PID=""
watch_start() {
  "$PY" "$LAB" watch --ns "$(IFS=,; echo "${NS[*]}")" --vip "$VIP" --out "$1" </dev/null >/dev/null 2>&1 &
  WATCH_PID=$!
  BENCH_PIDS+=("$!")
}
watch_stop() { kill -TERM "$WATCH_PID" 2>/dev/null || true; wait "$WATCH_PID" 2>/dev/null || true; }

teardown() {
  local i
  client_stop
  watch_stop
  bench_stop "${DAEMON_PID[@]}"
  for i in 0 1 2; do
    api_gone "$i"
    rm -f "$BENCH_DIR/api$i/state"
    ip -n "${NS[$i]}" addr del "$VIP/24" dev eth0 2>/dev/null || true
    ip -n "${NS[$i]}" addr del "$VIP/32" dev eth0 2>/dev/null || true
  done
}

# setup IMPL CASE
setup() {
  local impl=$1 i
  CASE=$2
  for i in 0 1 2; do api_start "$i"; done
  daemons_start "$impl"
  daemons_ready "$impl"
}

# served_again FILE FAULT_NS: the VIP is off cp0 (or the fault is over) and
# the last 2 s of probes after the fault all succeeded, after a failure.
served_again() {
  "$PY" - "$1" "$2" <<'EOF'
import sys
f, since = sys.argv[1], int(sys.argv[2])
p = [l.split() for l in open(f) if l.strip()]
p = [(int(x[0]), x[2] == "OK") for x in p if int(x[0]) >= since]
fails = [t for t, ok in p if not ok]
if not fails:
    sys.exit(1)
tail = [t for t, ok in p if t > fails[-1]]
sys.exit(0 if tail and tail[-1] - tail[0] >= 2e9 else 1)
EOF
}

# wait_outage FILE FAULT_NS CAP: until served again or CAP seconds.
wait_outage() {
  local end=$(($(date +%s) + $3))
  while [ "$(date +%s)" -lt "$end" ]; do
    served_again "$1" "$2" && return 0
    sleep 0.2
  done
  return 1
}

field() { grep "^$1=" | cut -d= -f2-; }

result() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

# outage_case IMPL KIND CAP ACTION...: one fault on the holder, the outage
# the client sees.
outage_case() {
  local impl=$1 kind=$2 cap=$3
  shift 3
  local out=$BENCH_DIR/$impl-$kind.probes
  log "$impl: $kind"
  setup "$impl" "$kind"
  client_start "$out" 0.02 0.3
  sleep 1
  local fault
  fault=$(date +%s%N)
  "$@"
  local a verdict
  if wait_outage "$out" "$fault" "$cap"; then
    a=$("$PY" "$LAB" analyze "$out" --from "$fault")
    verdict="$(echo "$a" | field longest_outage_s) s ($(echo "$a" | field failed) failed probes; VIP on cp$(holder))"
  else
    a=$("$PY" "$LAB" analyze "$out" --from "$fault")
    verdict="> $cap s: not over when the bench gave up ($(echo "$a" | field failed) failed probes; VIP on cp$(holder))"
  fi
  result "$kind" "$impl" "$verdict"
  log "  $verdict; failures: $(echo "$a" | field fail_reasons)"
  teardown
}

crash() { api_gone 0; }
freeze() { api_signal 0 STOP; }
etcd_gone() { api_state 0 etcd-gone; }

# One graceful restart of cp I's API server: [-]shutdown while serving,
# then the port closed, then a new process, ready READY_AFTER later.
restart_api() {
  local i=$1
  api_state "$i" shutdown
  sleep "$SHUTDOWN_DELAY"
  api_stop "$i"
  sleep "$CLOSED_S"
  api_state "$i" ready
  api_start "$i"
  bench_wait 20 api_ready "$i" || die "cp$i's API server did not come back"
}

# failed_text ANALYSIS MOVES: "N failed of M probes (K reset in flight at a
# VIP move)".
failed_text() {
  local a=$1 unit=$2
  echo "$(echo "$a" | field failed) failed of $(echo "$a" | field probes) $unit ($(echo "$a" | field failed_in_flight_at_move) reset in flight at a VIP move)"
}

shutdown_case() {
  local impl=$1 out=$BENCH_DIR/$1-shutdown.probes moves_file=$BENCH_DIR/$1-shutdown.holders
  log "$impl: [-]shutdown of the holder's API server, then its restart"
  setup "$impl" shutdown
  client_start "$out" 0.02 0.3
  watch_start "$moves_file"
  sleep 1
  local begin a m
  begin=$(date +%s%N)
  restart_api 0
  sleep 8
  a=$("$PY" "$LAB" analyze "$out" --from "$begin" --moves "$moves_file")
  m=$("$PY" "$LAB" moves "$moves_file" --from "$begin")
  result shutdown "$impl" "$(failed_text "$a" probes); longest outage $(echo "$a" | field longest_outage_s) s; $m VIP moves"
  log "  $(failed_text "$a" probes); $(echo "$a" | field fail_reasons)"
  teardown
}

roll_case() {
  local impl=$1 out=$BENCH_DIR/$1-roll.probes moves_file=$BENCH_DIR/$1-roll.holders
  log "$impl: rolling restart, $ROLL_ROUNDS round(s) of cp0, cp1, cp2"
  setup "$impl" roll
  client_start "$out" 0.05 1.0
  watch_start "$moves_file"
  local begin r i a m
  begin=$(date +%s%N)
  for ((r = 0; r < ROLL_ROUNDS; r++)); do
    for i in 0 1 2; do
      restart_api "$i"
      sleep 1
    done
  done
  sleep 2
  a=$("$PY" "$LAB" analyze "$out" --from "$begin" --moves "$moves_file")
  m=$("$PY" "$LAB" moves "$moves_file" --from "$begin")
  result roll "$impl" "$(failed_text "$a" connections); longest outage $(echo "$a" | field longest_outage_s) s; $m VIP moves"
  log "  $(failed_text "$a" connections); $(echo "$a" | field fail_reasons)"
  teardown
}

flap_case() {
  local impl=$1 moves_file=$BENCH_DIR/$1-flap.holders
  log "$impl: /readyz failing and passing every second for $FLAP_S s"
  setup "$impl" flap
  watch_start "$moves_file"
  sleep 0.5
  local begin t m
  begin=$(date +%s%N)
  for ((t = 0; t < FLAP_S; t += 2)); do
    api_state 0 not-ready
    sleep 1
    api_state 0 ready
    sleep 1
  done
  m=$("$PY" "$LAB" moves "$moves_file" --from "$begin")
  result flap "$impl" "$m moves in $FLAP_S s (VIP now on cp$(holder))"
  log "  $m moves"
  teardown
}

k8s_lab_up
RESULTS=$BENCH_DIR/results
echo "# bench-k8s: $([ $SHORT -eq 1 ] && echo short || echo full) run, $(date -u +%FT%TZ)"
bench_machine
echo "lab: 3 nodes, priorities ${PRIOS[*]}; client: new TLS connection + GET /livez on $VIP:6443 every 20 ms (0.3 s timeout; roll: 50 ms, 1 s)"
echo

for impl in ha-vip keepalived; do
  outage_case "$impl" crash "$CAP" crash
  outage_case "$impl" freeze "$CAP" freeze
  if [ "$impl" = ha-vip ]; then
    outage_case "$impl" etcd "$CAP" etcd_gone
  else
    outage_case "$impl" etcd "$CAP_UNSEEN" etcd_gone
  fi
  shutdown_case "$impl"
  roll_case "$impl"
  flap_case "$impl"
done

row() {
  local kind=$1 what=$2 goal=$3 h k
  h=$(awk -F'\t' -v k="$kind" '$1 == k && $2 == "ha-vip" { print $3 }' "$RESULTS")
  k=$(awk -F'\t' -v k="$kind" '$1 == k && $2 == "keepalived" { print $3 }' "$RESULTS")
  printf '| %s | %s | %s | %s |\n' "$what" "$goal" "$h" "$k"
}
echo
echo "| failure of cp0's API server (the holder) | goal | ha-vip ([k8s] defaults, 100 ms adverts) | keepalived (kubeadm guide recipe) |"
echo "|---|---|---|---|"
row crash "crash (SIGKILL): client outage" "<= 0.5 s"
row freeze "freeze (SIGSTOP): client outage" "<= 3 s"
row etcd "etcd gone (500 after 2.0 s): client outage" "<= 3 s"
row shutdown "[-]shutdown 3 s, port closed 2 s, restart: failed probes" "0"
row roll "rolling restart x$ROLL_ROUNDS: failed connections" "0"
row flap "/readyz flapping every 1 s for $FLAP_S s: VIP moves" "<= 2 a minute"
