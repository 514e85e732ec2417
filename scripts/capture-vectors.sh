#!/usr/bin/env bash
# Capture real VRRP packets from keepalived into packets/*.pcap.
#
# Run as root from anywhere: scripts/capture-vectors.sh
#
# Topology, rebuilt from scratch on every run (idempotent) and removed on
# exit (trap), nothing leaves the machine:
#
#   netns hvv-ka                       netns hvv-lan
#   keepalived -P  [ka0] ---- veth ---- [ka0p] -- bridge br0 <- tcpdump -w
#   00:00:5e:00:53:01                           (Ethernet captures)
#   192.0.2.1/24, fe80::200:5eff:fe00:5301
#
# The failover and unicast captures add a second router, netns hvv-kb
# (kb0, 00:00:5e:00:53:03, 192.0.2.3), on the same bridge.
#
# The MAC is from the documentation range of RFC 7042 section 2.1.2 and the
# IPv6 link-local address is derived from it (EUI-64), so every recapture
# has the same addresses. The SLL/SLL2 captures run tcpdump on "any" inside
# hvv-ka (cooked headers as written by the Linux kernel).
#
# Recapturing changes the timestamps (and possibly the order of IGMP/MLD
# reports), so packets/*.expected.json must be reviewed again afterwards;
# see packets/README.md.
set -euo pipefail

die() {
	echo "capture-vectors: $*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, keepalived, tcpdump)"
for need in keepalived:keepalived tcpdump:tcpdump ip:iproute2; do
	command -v "${need%%:*}" >/dev/null || die "${need%%:*} is missing (Debian: apt-get install ${need##*:})"
done
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is missing (apt-get install python3 python3-scapy)"
/usr/bin/python3 -c 'import scapy' 2>/dev/null ||
	die "/usr/bin/python3 has no scapy (apt-get install python3-scapy); the pyenv python3 on PATH is not used"

# Optional arguments: the names of the captures to redo (default: all).
only=("$@")

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# CAPTURE_OUT: write elsewhere (a dry run that leaves packets/ alone).
out=${CAPTURE_OUT:-$(cd "$here/.." && pwd)/packets}
mkdir -p "$out"
work=$(mktemp -d /tmp/hvv-capture.XXXXXX)

NS_KA=hvv-ka
NS_KB=hvv-kb # the second router of the failover and unicast captures
NS_LAN=hvv-lan
KA_MAC=00:00:5e:00:53:01
KB_MAC=00:00:5e:00:53:03

ka_pid=""
kb_pid=""
tcpdump_pid=""

cleanup() {
	local rc=$?
	# Only the processes this script started, by their pid.
	[[ -n $tcpdump_pid ]] && kill "$tcpdump_pid" 2>/dev/null || true
	[[ -n $ka_pid ]] && kill "$ka_pid" 2>/dev/null || true
	[[ -n $ka_pid ]] && wait "$ka_pid" 2>/dev/null || true
	[[ -n $kb_pid ]] && kill "$kb_pid" 2>/dev/null || true
	[[ -n $kb_pid ]] && wait "$kb_pid" 2>/dev/null || true
	ip netns del "$NS_KB" 2>/dev/null || true
	ip netns del "$NS_KA" 2>/dev/null || true
	ip netns del "$NS_LAN" 2>/dev/null || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT INT TERM

in_ka() { ip netns exec "$NS_KA" "$@"; }
in_lan() { ip netns exec "$NS_LAN" "$@"; }

# setup_net: a fresh pair of namespaces. IPv6 stays off on the bridge side
# and, unless $1 = ipv6, on ka0 too, so IPv4 captures carry no IPv6 noise;
# DAD and router solicitations are off so the link-local address is usable
# at once and the capture holds only keepalived's flow (plus IGMP/MLD
# reports, which the kernel sends when keepalived joins the VRRP group).
setup_net() {
	local family=$1
	ip netns del "$NS_KB" 2>/dev/null || true
	ip netns del "$NS_KA" 2>/dev/null || true
	ip netns del "$NS_LAN" 2>/dev/null || true
	ip netns add "$NS_KA"
	ip netns add "$NS_LAN"
	in_lan sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	in_ka sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.all.router_solicitations=0
	if [[ $family != ipv6 ]]; then
		in_ka sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	fi
	in_lan ip link add br0 type bridge mcast_snooping 0
	in_lan ip link set br0 up
	ip link add ka0 netns "$NS_KA" type veth peer name ka0p netns "$NS_LAN"
	in_ka ip link set ka0 address "$KA_MAC"
	in_lan ip link set ka0p master br0 up
	in_ka ip addr add 192.0.2.1/24 dev ka0
	in_ka ip link set lo up
	in_ka ip link set ka0 up
}

# add_second_router: netns hvv-kb, kb0 (00:00:5e:00:53:03, 192.0.2.3) on
# the same bridge, IPv4 only.
add_second_router() {
	ip netns add "$NS_KB"
	ip netns exec "$NS_KB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip link add kb0 netns "$NS_KB" type veth peer name kb0p netns "$NS_LAN"
	ip netns exec "$NS_KB" ip link set kb0 address "$KB_MAC"
	in_lan ip link set kb0p master br0 up
	ip netns exec "$NS_KB" ip addr add 192.0.2.3/24 dev kb0
	ip netns exec "$NS_KB" ip link set lo up
	ip netns exec "$NS_KB" ip link set kb0 up
}

# Set before write_conf for another router than the default.
conf_ifname=ka0
conf_priority=100
conf_unicast_peer=""

# write_conf FILE VERSION AUTH VIP... : one VRRP instance, VRID 51.
# AUTH is "none" or a PASS password. Two GARP/NA per batch and no second
# batch keep the captures to a handful of packets.
write_conf() {
	local file=$1 version=$2 auth=$3
	shift 3
	{
		echo "global_defs {"
		echo "    router_id hvv"
		echo "    vrrp_garp_master_delay 0"
		echo "    vrrp_garp_master_repeat 2"
		echo "}"
		echo "vrrp_instance hvv {"
		echo "    interface $conf_ifname"
		echo "    state BACKUP"
		echo "    virtual_router_id 51"
		echo "    priority $conf_priority"
		echo "    advert_int 1"
		echo "    version $version"
		if [[ -n $conf_unicast_peer ]]; then
			echo "    unicast_peer {"
			echo "        $conf_unicast_peer"
			echo "    }"
		fi
		if [[ $auth != none ]]; then
			echo "    authentication {"
			echo "        auth_type PASS"
			echo "        auth_pass $auth"
			echo "    }"
		fi
		echo "    virtual_ipaddress {"
		local vip
		for vip in "$@"; do echo "        $vip"; done
		echo "    }"
		echo "}"
	} >"$file"
}

start_keepalived() {
	local conf=$1 name=$2
	ip netns exec "$NS_KA" keepalived -n -l -D -P -f "$conf" -p "$work/$name.pid" -r "$work/$name.vrrp.pid" \
		>"$work/$name.keepalived.log" 2>&1 &
	ka_pid=$!
}

stop_keepalived() {
	[[ -n $ka_pid ]] || return 0
	kill -TERM "$ka_pid" 2>/dev/null || true
	local i
	for i in $(seq 50); do
		kill -0 "$ka_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$ka_pid" 2>/dev/null && die "keepalived (pid $ka_pid) did not stop on SIGTERM"
	wait "$ka_pid" 2>/dev/null || true
	ka_pid=""
}

# start_tcpdump NAME COUNT WHERE [FILTER]: WHERE is "bridge" (Ethernet, in
# hvv-lan), "sll" or "sll2" (interface any in hvv-ka). Returns once tcpdump
# is listening, so no packet of the flow is missed.
start_tcpdump() {
	local name=$1 count=$2 where=$3 filter=${4:-}
	local -a cmd
	case $where in
	bridge) cmd=(ip netns exec "$NS_LAN" tcpdump -i br0) ;;
	sll) cmd=(ip netns exec "$NS_KA" tcpdump -i any -y LINUX_SLL) ;;
	sll2) cmd=(ip netns exec "$NS_KA" tcpdump -i any -y LINUX_SLL2) ;;
	*) die "start_tcpdump: unknown capture point $where" ;;
	esac
	rm -f "$out/$name.pcap"
	: >"$work/$name.tcpdump.log"
	# -Z root: tcpdump would otherwise drop to user tcpdump and may fail to
	# write into the worktree.
	"${cmd[@]}" -Z root -U -n -s 0 -c "$count" -w "$out/$name.pcap" ${filter:+"$filter"} \
		>"$work/$name.tcpdump.log" 2>&1 &
	tcpdump_pid=$!
	local i
	for i in $(seq 50); do
		grep -q "listening on" "$work/$name.tcpdump.log" && return 0
		kill -0 "$tcpdump_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/$name.tcpdump.log" >&2
	die "tcpdump for $name did not start"
}

# wait_tcpdump NAME SECONDS: tcpdump ends by itself after COUNT packets;
# fewer packets than that within SECONDS is a failure.
wait_tcpdump() {
	local name=$1 seconds=$2 i
	for i in $(seq $((seconds * 10))); do
		kill -0 "$tcpdump_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$tcpdump_pid" 2>/dev/null; then
		kill "$tcpdump_pid" 2>/dev/null || true
		wait "$tcpdump_pid" 2>/dev/null || true
		tcpdump_pid=""
		cat "$work/$name.tcpdump.log" "$work/$name.keepalived.log" >&2 || true
		die "$name: tcpdump did not see its packet count within ${seconds}s"
	fi
	wait "$tcpdump_pid" 2>/dev/null || true
	tcpdump_pid=""
	echo "captured $out/$name.pcap: $(grep -o '[0-9]* packets captured' "$work/$name.tcpdump.log")"
}

# wait_log NAME TEXT: until keepalived's log (NAME.keepalived.log) says TEXT.
wait_log() {
	local name=$1 text=$2 i
	for i in $(seq 100); do
		grep -q "$text" "$work/$name.keepalived.log" && return 0
		sleep 0.1
	done
	cat "$work/$name.keepalived.log" >&2
	die "$name: keepalived did not log \"$text\" within 10s"
}

wait_master() { wait_log "$1" "Entering MASTER STATE"; }

# wanted NAME: true if NAME was named on the command line, or none was.
wanted() {
	[[ ${#only[@]} -eq 0 ]] && return 0
	local n
	for n in "${only[@]}"; do [[ $n == "$1" ]] && return 0; done
	return 1
}

# capture NAME FAMILY COUNT WHERE FILTER VERSION AUTH VIP...: the whole flow
# of one keepalived start, from its first packet.
capture() {
	local name=$1 family=$2 count=$3 where=$4 filter=$5 version=$6 auth=$7
	shift 7
	wanted "$name" || return 0
	setup_net "$family"
	write_conf "$work/$name.conf" "$version" "$auth" "$@"
	start_tcpdump "$name" "$count" "$where" "$filter"
	start_keepalived "$work/$name.conf" "$name"
	wait_tcpdump "$name" 15
	stop_keepalived
}

# The flows. Counts are what one start produces in a few seconds: the
# IGMP/MLD report(s), two GARPs or NAs, then adverts once per second.
capture v3-ipv4-single ipv4 8 bridge "" 3 none 192.0.2.100/24
capture v3-ipv4-multi ipv4 10 bridge "" 3 none 192.0.2.100/24 192.0.2.101/24 198.51.100.7/24
capture v3-ipv6 ipv6 10 bridge "" 3 none 2001:db8::100/64
capture v2-noauth ipv4 8 bridge "" 2 none 192.0.2.100/24
capture v2-auth-simple ipv4 8 bridge "" 2 hvvpass 192.0.2.100/24
capture garp ipv4 4 bridge arp 3 none 192.0.2.100/24 192.0.2.101/24
capture na ipv6 4 bridge "icmp6 and ip6[40] == 136" 3 none 2001:db8::100/64 2001:db8::101/64
capture v3-ipv4-sll ipv4 6 sll "" 3 none 192.0.2.100/24
capture v2-sll2 ipv4 6 sll2 "" 2 none 192.0.2.100/24

# priority0-shutdown: once keepalived is MASTER, record its adverts, then
# SIGTERM it: RFC 9568 section 6.4.3 / RFC 3768 section 6.4.3, the Active
# router sends an advert with priority 0 when it shuts down. tcpdump is
# stopped (SIGINT, which flushes) after keepalived has exited; -c only bounds.
name=priority0-shutdown
if wanted "$name"; then
setup_net ipv4
write_conf "$work/$name.conf" 3 none 192.0.2.100/24
start_keepalived "$work/$name.conf" "$name"
wait_master "$name"
start_tcpdump "$name" 6 bridge vrrp
sleep 2.5
stop_keepalived
sleep 0.5
kill -INT "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
tcpdump_pid=""
if ! tcpdump -r "$out/$name.pcap" -n 2>/dev/null | tail -n 1 | grep -q "prio 0,"; then
	cat "$work/$name.keepalived.log" >&2
	die "$name: the last packet is not a priority 0 advert"
fi
echo "captured $out/$name.pcap"
fi
# failover-v3-ipv4: router A (hvv-ka, priority 200) is MASTER, router B
# (hvv-kb, priority 100) BACKUP. Record A's adverts, then SIGTERM A: its
# priority 0 advert makes B take over after Skew_Time instead of
# Master_Down_Interval (RFC 9568 6.4.2), then B's GARPs and adverts.
name=failover-v3-ipv4
if wanted "$name"; then
	setup_net ipv4
	add_second_router
	conf_priority=200
	write_conf "$work/$name.conf" 3 none 192.0.2.100/24
	conf_ifname=kb0 conf_priority=100
	write_conf "$work/$name-b.conf" 3 none 192.0.2.100/24
	conf_ifname=ka0 conf_priority=100
	start_keepalived "$work/$name.conf" "$name"
	wait_master "$name"
	ip netns exec "$NS_KB" keepalived -n -l -D -P -f "$work/$name-b.conf" -p "$work/$name-b.pid" \
		-r "$work/$name-b.vrrp.pid" >"$work/$name-b.keepalived.log" 2>&1 &
	kb_pid=$!
	wait_log "$name-b" "Entering BACKUP STATE"
	# B's IGMP report is sent on start; leave it out of the flow.
	sleep 1.5
	start_tcpdump "$name" 8 bridge "vrrp or arp"
	sleep 1.5
	stop_keepalived
	wait_tcpdump "$name" 10
	kill -TERM "$kb_pid" 2>/dev/null || true
	wait "$kb_pid" 2>/dev/null || true
	kb_pid=""
	grep -q "Entering MASTER STATE" "$work/$name-b.keepalived.log" ||
		die "$name: router B did not take over"
fi

# v3-ipv4-unicast: the same two routers with unicast_peer instead of
# multicast (DESIGN.md unicast_peers): A resolves B's MAC with an ordinary
# (not gratuitous) ARP exchange, then its adverts go to 192.0.2.3 with TTL
# 255 (RFC 9568 allows unicast; the TTL rule stays).
name=v3-ipv4-unicast
if wanted "$name"; then
	setup_net ipv4
	add_second_router
	conf_priority=200 conf_unicast_peer=192.0.2.3
	write_conf "$work/$name.conf" 3 none 192.0.2.100/24
	conf_ifname=kb0 conf_priority=100 conf_unicast_peer=192.0.2.1
	write_conf "$work/$name-b.conf" 3 none 192.0.2.100/24
	conf_ifname=ka0 conf_priority=100 conf_unicast_peer=""
	start_tcpdump "$name" 8 bridge
	ip netns exec "$NS_KB" keepalived -n -l -D -P -f "$work/$name-b.conf" -p "$work/$name-b.pid" \
		-r "$work/$name-b.vrrp.pid" >"$work/$name-b.keepalived.log" 2>&1 &
	kb_pid=$!
	start_keepalived "$work/$name.conf" "$name"
	wait_tcpdump "$name" 15
	stop_keepalived
	kill -TERM "$kb_pid" 2>/dev/null || true
	wait "$kb_pid" 2>/dev/null || true
	kb_pid=""
fi

echo "done; now review packets/*.expected.json against the new captures (packets/README.md)"
