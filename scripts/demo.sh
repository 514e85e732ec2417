#!/usr/bin/env bash
# ha-vip demo: a three-node lab in network namespaces, no hardware needed.
#
#   sudo scripts/demo.sh            # 100 ms adverts (default)
#   sudo scripts/demo.sh 1s         # any interval ha-vip accepts
#
# Nodes on one bridge (192.0.2.0/24):
#   node-a  ha-vip      priority 200   192.0.2.11
#   node-b  ha-vip      priority 150   192.0.2.12
#   node-k  keepalived  priority 100   192.0.2.13
#   client                             192.0.2.50
# VIP 192.0.2.100, VRID 51, VRRPv3.
#
# It shows the election, cuts node-a's link, shows node-b taking over with
# the timing read from a capture on the bridge (decoded by `ha-vip decode`),
# then brings node-a back (it preempts) and cleans everything up.
set -euo pipefail
cd "$(dirname "$0")/.."

INTERVAL=${1:-100ms}
P=hvdemo
HUB=$P-hub
VIP=192.0.2.100
WORK=$(mktemp -d /tmp/ha-vip-demo.XXXXXX)
PIDS=()

die() { echo "demo: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (it creates network namespaces): sudo $0"
for c in ip keepalived tcpdump cargo; do
  command -v "$c" >/dev/null || die "missing '$c': run sudo scripts/install-prereqs.sh"
done

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for n in a b k client hub; do ip netns del "$P-$n" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
cleanup 2>/dev/null || true
WORK=$(mktemp -d /tmp/ha-vip-demo.XXXXXX)

echo "== building ha-vip"
cargo build --quiet --bin ha-vip
BIN=$PWD/target/debug/ha-vip

# interval in seconds for keepalived (it takes decimals)
case "$INTERVAL" in
  *ms) KA_INT=$(awk "BEGIN{print ${INTERVAL%ms}/1000}") ;;
  *s) KA_INT=${INTERVAL%s} ;;
  *) die "interval like 100ms or 1s" ;;
esac

echo "== building the lab: bridge + 4 namespaces"
ip netns add "$HUB"
# Snooping off: VRRP and ARP flood to every port and to the capture.
ip -n "$HUB" link add br0 type bridge mcast_snooping 0
ip -n "$HUB" link set br0 up
host=11
for n in a b k client; do
  ns=$P-$n
  ip netns add "$ns"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  ip -n "$ns" link add eth0 type veth peer name "v-$n" netns "$HUB"
  ip -n "$HUB" link set "v-$n" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
  [ "$n" = client ] && host=50
  ip -n "$ns" addr add "192.0.2.$host/24" dev eth0
  host=$((host + 1))
done

mk_havip() { # node priority
  local d=$WORK/$1
  mkdir -p "$d/routers"
  cat > "$d/ha-vip.toml" <<EOF
[control]
socket = "$d/ha-vip.sock"
EOF
  cat > "$d/routers/vip.toml" <<EOF
interface = "eth0"
vrid = 51
priority = $2
advert_interval = "$INTERVAL"
addresses = ["$VIP/24"]
EOF
  ip netns exec "$P-$1" "$BIN" run --config "$d" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!)
}

cat > "$WORK/keepalived.conf" <<EOF
global_defs {
  router_id demo-k
  vrrp_version 3
}
vrrp_instance demo {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int $KA_INT
  virtual_ipaddress {
    $VIP/24 dev eth0
  }
}
EOF

echo "== capturing VRRP and ARP on the bridge"
ip netns exec "$HUB" tcpdump -i br0 --immediate-mode -U -w "$WORK/demo.pcap" 'ip proto 112 or arp' >/dev/null 2>&1 &
PIDS+=($!)
sleep 0.5

echo "== starting ha-vip on node-a (200), node-b (150), keepalived on node-k (100)"
mk_havip a 200
mk_havip b 150
ip netns exec "$P-k" keepalived -n -l -P -G -f "$WORK/keepalived.conf" \
  -p "$WORK/k.pid" -r "$WORK/k-vrrp.pid" >"$WORK/k.log" 2>&1 &
PIDS+=($!)

holder() {
  for n in a b k; do
    ip -n "$P-$n" -o addr show dev eth0 | grep -q " $VIP/" && printf '%s ' "node-$n"
  done
}
wait_holder() { # expected
  for _ in $(seq 1 300); do
    [ "$(holder)" = "$1 " ] && return 0
    sleep 0.05
  done
  echo "holder is '$(holder)', expected $1"; return 1
}

wait_holder node-a
echo "   VIP $VIP is on: $(holder)"
ip netns exec "$P-client" ping -c1 -W1 "$VIP" >/dev/null && echo "   client reaches $VIP via $(ip -n "$P-client" neigh show "$VIP" | awk '{print $5}') (node-a is $(ip -n $P-a link show eth0 | awk '/ether/{print $2}'))"
state_lines() { grep -h -- " -> " "$@" | sed -E 's/^([^ ]+) +INFO +/\1 /; s/ router=.*$//' | sed 's/^/   log: /'; }
state_lines "$WORK/a.log" "$WORK/b.log" | sort | tail -4

echo
echo "== cutting node-a's link"
ip -n "$P-a" link set eth0 down
T0=$(date +%s.%N)
wait_holder node-b
T1=$(date +%s.%N)
echo "   VIP moved to: $(holder) ($(awk "BEGIN{printf \"%.0f\", ($T1-$T0)*1000}") ms by the wall clock, polled)"
ip netns exec "$P-client" ping -c1 -W1 "$VIP" >/dev/null && echo "   client now reaches $VIP via $(ip -n "$P-client" neigh show "$VIP" | awk '{print $5}') (node-b is $(ip -n $P-b link show eth0 | awk '/ether/{print $2}'))"
state_lines "$WORK/b.log" | tail -2

sleep 0.5
echo
echo "== what the wire says (ha-vip decode of the bridge capture, around the takeover)"
"$BIN" decode "$WORK/demo.pcap" > "$WORK/decode.txt" || true
# Columns: FRAME TIME LINK: SRC > DST: ...
ta=$(awk '$4 == "192.0.2.11" && / VRRPv3 /' "$WORK/decode.txt" | tail -1 | awk '{print $2}')
if [ -n "$ta" ]; then
  tb=$(awk -v ta="$ta" '$2 > ta && $4 == "192.0.2.12" && / VRRPv3 /' "$WORK/decode.txt" | head -1 | awk '{print $2}')
  awk -v ta="$ta" -v tb="${tb:-0}" '$2 == ta || ($2 >= tb && $2 <= tb + 0.001)' "$WORK/decode.txt" | head -3 | sed 's/^/   /'
  # node-b's first gratuitous ARP: the first one at or after its advert.
  tg=$(awk -v tb="${tb:-0}" '$2 >= tb && / ARP / && /gratuitous/' "$WORK/decode.txt" | head -1 | awk '{print $2}')
  if [ -n "$tb" ]; then
    awk -v a="$ta" -v b="$tb" -v g="${tg:-0}" -v i="$INTERVAL" -v s="$KA_INT" 'BEGIN{
      printf "   node-a last advert %.6f, node-b first advert %.6f: takeover %.1f ms after node-a went silent\n", a, b, (b-a)*1000;
      if (g > 0) printf "   first gratuitous ARP from node-b %.1f ms after node-a went silent\n", (g-a)*1000;
      printf "   Master_Down_Interval at priority 150 and %s: 3 x interval + (256-150)/256 x interval = %.1f ms\n", i, (3*s + (256-150)/256*s)*1000 }'
  fi
fi
echo "   (KEEP=1 $0 keeps the lab's files, the capture among them: $WORK/demo.pcap)"

echo
echo "== bringing node-a back: it has the higher priority and preempts"
ip -n "$P-a" link set eth0 up
wait_holder node-a
echo "   VIP is on: $(holder)"
state_lines "$WORK/a.log" | tail -3
echo
echo "== ha-vip status on node-a"
"$BIN" status --config "$WORK/a" | sed 's/^/   /'

echo
echo "== done; cleaning up (namespaces, processes, files)"
