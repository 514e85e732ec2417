# Shared by scripts/bench-failover.sh and scripts/bench-scale.sh: a lab of
# network namespaces (a hub with bridge br0, nodes "a" and "b" with eth0 on
# it), ha-vip and keepalived started in them, and a cleanup trap that removes
# everything the bench started, also on failure. Sourced, not run.
#
# Names: namespaces hvb-<pid>-hub, hvb-<pid>-a, hvb-<pid>-b. Addresses from
# the documentation ranges only: nodes 192.0.2.1 (a) and 192.0.2.2 (b).

BENCH_ID="hvb-$$"
BENCH_HUB="$BENCH_ID-hub"
BENCH_NS_A="$BENCH_ID-a"
BENCH_NS_B="$BENCH_ID-b"
IP_A=192.0.2.1
IP_B=192.0.2.2
MAC_A=02:00:00:00:00:01
MAC_B=02:00:00:00:00:02
BENCH_PIDS=()
BENCH_DIR=""
# More namespaces a bench made itself (bench-k8s.sh), removed on exit too.
BENCH_EXTRA_NS=()
# Links between the nodes: eth0 .. eth$((BENCH_LINKS - 1)) on each node,
# link k on its own bridge br$k (bench-scale.sh --links K). Link 0 carries
# IPv4 routers; the others IPv6 ones (2001:db8:K::V), because no router may
# share a VIP with another and the IPv4 documentation ranges hold only
# about 500 addresses.
BENCH_LINKS=${BENCH_LINKS:-1}

die() {
  echo "$(basename "$0"): ERROR: $*" >&2
  exit 1
}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

# Every prerequisite is checked loudly; a missing one is an error, never a skip.
bench_require() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
  local c
  for c in ip tcpdump keepalived /usr/bin/python3 getconf; do
    command -v "$c" >/dev/null 2>&1 || die "missing prerequisite '$c' (run: sudo scripts/install-prereqs.sh)"
  done
}

# The ha-vip binary to measure: $HA_VIP_BIN, else the release build (built
# here if missing: a debug build would measure the wrong thing).
bench_ha_vip_bin() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  if [ -n "${HA_VIP_BIN:-}" ]; then
    [ -x "$HA_VIP_BIN" ] || die "HA_VIP_BIN=$HA_VIP_BIN is not an executable"
  else
    HA_VIP_BIN="$root/target/release/ha-vip"
    if [ ! -x "$HA_VIP_BIN" ] || [ -n "$(find "$root/src" "$root/Cargo.toml" -newer "$HA_VIP_BIN" -print -quit)" ]; then
      log "building the release binary (cargo build --release --bin ha-vip)"
      (cd "$root" && cargo build --release --bin ha-vip) >&2 || die "release build failed"
    fi
  fi
  export HA_VIP_BIN
}

bench_cleanup() {
  local rc=$?
  local p
  # Only the processes this bench started, by pid.
  for p in "${BENCH_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in "${BENCH_PIDS[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  for p in "${BENCH_EXTRA_NS[@]}"; do
    ip netns del "$p" 2>/dev/null || true
  done
  ip netns del "$BENCH_NS_A" 2>/dev/null || true
  ip netns del "$BENCH_NS_B" 2>/dev/null || true
  ip netns del "$BENCH_HUB" 2>/dev/null || true
  if [ -n "$BENCH_DIR" ] && [ -d "$BENCH_DIR" ]; then
    if [ -n "${BENCH_KEEP:-}" ] || [ $rc -ne 0 ]; then
      echo "$(basename "$0"): logs and captures kept in $BENCH_DIR" >&2
    else
      rm -rf "$BENCH_DIR"
    fi
  fi
  exit $rc
}

bench_lab_up() {
  BENCH_DIR="$(mktemp -d "/tmp/$BENCH_ID.XXXXXX")"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$BENCH_HUB" || die "ip netns add $BENCH_HUB"
  ip -n "$BENCH_HUB" link set lo up
  local k
  for ((k = 0; k < BENCH_LINKS; k++)); do
    ip -n "$BENCH_HUB" link add "br$k" type bridge || die "bridge br$k"
    ip -n "$BENCH_HUB" link set "br$k" up
  done
  bench_node "$BENCH_NS_A" va "$MAC_A" a
  bench_node "$BENCH_NS_B" vb "$MAC_B" b
}

# bench_node NS HUB_PORT MAC a|b: the node, on every link.
bench_node() {
  local ns=$1 port=$2 mac=$3 side=$4 k dev
  ip netns add "$ns" || die "ip netns add $ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$ns" link set lo up
  for ((k = 0; k < BENCH_LINKS; k++)); do
    dev=eth$k
    ip -n "$ns" link add "$dev" type veth peer name "$port$k" netns "$BENCH_HUB" || die "veth $dev in $ns"
    if [ "$k" -eq 0 ]; then
      ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
    else
      # IPv6 with its link-local usable at once (no DAD wait).
      ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=0" "net.ipv6.conf.$dev.accept_dad=0"
    fi
    ip -n "$BENCH_HUB" link set "$port$k" master "br$k" up
    # Link k's MAC: the node's with k in the fifth octet.
    ip -n "$ns" link set "$dev" address "${mac:0:12}$(printf '%02x' "$k"):${mac:15:2}"
    ip -n "$ns" link set "$dev" up
    if [ "$k" -eq 0 ]; then
      ip -n "$ns" addr add "$(bench_link_ip "$side" 0)" dev "$dev" || die "address on $dev in $ns"
    fi
  done
}

# bench_link_ip a|b K: the node's own address on link K (link 0: IP_A/24
# or IP_B/24; the others: the IPv6 link-local the kernel made, unprefixed).
bench_link_ip() {
  local side=$1 k=$2 ns=$BENCH_NS_A
  [ "$side" = b ] && ns=$BENCH_NS_B
  if [ "$k" -eq 0 ]; then
    if [ "$side" = a ]; then echo "$IP_A/24"; else echo "$IP_B/24"; fi
  else
    ip -n "$ns" -o -6 addr show dev "eth$k" scope link | awk '{ split($4, a, "/"); print a[1]; exit }'
  fi
}

# bench_link_vip K V: router V's VIP on link K, with its prefix.
bench_link_vip() {
  local k=$1 v=$2
  if [ "$k" -eq 0 ]; then echo "$(bench_vip "$v")/24"; else printf '2001:db8:%x::%x/64\n' "$k" "$v"; fi
}

# The VIP of VRID v (1..255): 192.0.2.(100+v) for v <= 150, then
# 198.51.100.(v-150). Never a node's address.
bench_vip() {
  local v=$1
  if [ "$v" -le 150 ]; then echo "192.0.2.$((100 + v))"; else echo "198.51.100.$((v - 150))"; fi
}

# bench_ha_vip_conf DIR PRIORITY INTERVAL VRID_FIRST VRID_LAST [VIP]
# One router file per VRID; VIP overrides bench_vip for a single router.
bench_ha_vip_conf() {
  local dir=$1 prio=$2 interval=$3 first=$4 last=$5 vip=${6:-}
  local v addr k name
  mkdir -p "$dir/routers"
  printf '[control]\nsocket = "%s/ctl.sock"\n' "$dir" >"$dir/ha-vip.toml"
  for ((k = 0; k < BENCH_LINKS; k++)); do
    for ((v = first; v <= last; v++)); do
      addr=${vip:+$vip/24}
      addr=${addr:-$(bench_link_vip "$k" "$v")}
      name=vr$v
      [ "$k" -gt 0 ] && name=vr$k-$v
      printf 'interface = "eth%d"\nvrid = %d\npriority = %d\nadvert_interval = "%s"\naddresses = ["%s"]\n' \
        "$k" "$v" "$prio" "$interval" "$addr" >"$dir/routers/$name.toml"
    done
  done
}

# bench_keepalived_conf FILE PRIORITY ADVERT_INT_SECONDS VRID_FIRST VRID_LAST [VIP]
# keepalived's defaults otherwise (garp_master_delay 5, repeat 5), the same
# as ha-vip's, so both announce alike.
bench_keepalived_conf() {
  local file=$1 prio=$2 advert=$3 first=$4 last=$5 vip=${6:-}
  local v addr k name
  {
    printf 'global_defs {\n  router_id hvb\n  vrrp_version 3\n  enable_script_security\n}\n'
    for ((k = 0; k < BENCH_LINKS; k++)); do
      for ((v = first; v <= last; v++)); do
        addr=${vip:+$vip/24}
        addr=${addr:-$(bench_link_vip "$k" "$v")}
        name=VI_$v
        [ "$k" -gt 0 ] && name=VI_${k}_$v
        printf 'vrrp_instance %s {\n  state BACKUP\n  interface eth%d\n  virtual_router_id %d\n  priority %d\n  advert_int %s\n  virtual_ipaddress {\n    %s dev eth%d\n  }\n}\n' \
          "$name" "$k" "$v" "$prio" "$advert" "$addr" "$k"
      done
    done
  } >"$file"
}

# bench_start_ha_vip NS DIR -> sets STARTED_PID (the daemon itself: `ip
# netns exec` execs it).
bench_start_ha_vip() {
  local ns=$1 dir=$2
  HA_VIP_LOG="${HA_VIP_BENCH_LOG:-info}" ip netns exec "$ns" "$HA_VIP_BIN" run --config "$dir" \
    </dev/null >"$dir/log" 2>&1 &
  STARTED_PID=$!
  BENCH_PIDS+=("$STARTED_PID")
}

# bench_start_keepalived NS DIR (DIR/keepalived.conf) -> STARTED_PID (the
# parent; its VRRP child's pid is written to DIR/vrrp.pid).
bench_start_keepalived() {
  local ns=$1 dir=$2
  ip netns exec "$ns" keepalived -n -l -P -G -f "$dir/keepalived.conf" \
    -p "$dir/keepalived.pid" -r "$dir/vrrp.pid" </dev/null >"$dir/log" 2>&1 &
  STARTED_PID=$!
  BENCH_PIDS+=("$STARTED_PID")
}

# bench_stop PID...: TERM, wait up to 5 s, then KILL.
bench_stop() {
  local p i
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    for ((i = 0; i < 50; i++)); do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
}

# The IPv4 addresses on eth0 of NS, one per line, without prefix length.
bench_addrs() {
  local dev=${2:-eth0}
  if [ "$dev" = eth0 ]; then
    ip -n "$1" -o -4 addr show dev eth0 | awk '{ split($4, a, "/"); print a[1] }'
  else
    ip -n "$1" -o -6 addr show dev "$dev" scope global | awk '{ split($4, a, "/"); print a[1] }'
  fi
}

# bench_has_vip NS VIP
bench_has_vip() {
  bench_addrs "$1" | grep -qxF "$2"
}

# bench_wait SECONDS COMMAND...: poll every 10 ms until COMMAND succeeds.
bench_wait() {
  local limit=$1
  shift
  local end=$(($(date +%s%N) + ${limit%.*} * 1000000000))
  until "$@"; do
    [ "$(date +%s%N)" -lt "$end" ] || return 1
    sleep 0.01
  done
}

# bench_capture_start FILE: tcpdump on br0 in the hub, nanosecond stamps;
# returns once it is listening. Sets CAPTURE_PID.
bench_capture_start() {
  local file=$1 bridge=${2:-br0}
  ip netns exec "$BENCH_HUB" tcpdump -i "$bridge" -n -s 128 -U -B 8192 --immediate-mode --time-stamp-precision=nano \
    -w "$file" 'ip proto 112 or ip6 proto 112 or arp' 2>"$file.err" &
  CAPTURE_PID=$!
  BENCH_PIDS+=("$CAPTURE_PID")
  bench_wait 10 grep -q "listening on" "$file.err" || die "tcpdump did not start: $(cat "$file.err")"
}

bench_capture_stop() {
  # --immediate-mode hands every frame to tcpdump at once, but give the
  # last ones time to be written before the signal ends the loop.
  sleep 0.5
  kill -INT "$CAPTURE_PID" 2>/dev/null || true
  wait "$CAPTURE_PID" 2>/dev/null || true
  # Frames received by the filter but not written arrived after the signal
  # (outside every measured span) or were lost; the analysis refuses a
  # round or a window it cannot see whole, so this is only reported.
  awk '/packets captured/ { c = $1 } /received by filter/ { r = $1 }
       /dropped by kernel/ { d = $1 }
       END { if (r > c || d > 0) print "tcpdump: " r - c " frames after the signal, " d " dropped by the kernel" }' "$1.err" >&2
}

bench_machine() {
  local cpu
  cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "machine: $(nproc) cpus ($cpu), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ha-vip: $HA_VIP_BIN ($("$HA_VIP_BIN" --version 2>/dev/null)); $(keepalived --version 2>&1 | head -1)"
}
