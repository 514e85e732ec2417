#!/usr/bin/python3
"""Hostile VRRP packets for integration/hostile.rs.

Run with Debian's /usr/bin/python3 (python3-scapy), inside the attacker's
network namespace:

    hostile.py --iface eth0 --dst 224.0.0.18 CASE [--count N]
    hostile.py --iface eth0 --dst ff02::12 valid|ttl254    # IPv6, from the link-local
    hostile.py --iface eth0 --dst 192.0.2.11 --dst-mac 02:.. CASE
    hostile.py --iface eth0 --dst 192.0.2.11 --dst-mac 02:.. flood \
        --seconds 3 --vrid 51 --priority 100
    hostile.py ... flood --seconds 3 --spoof   # VRID and source vary per packet
    hostile.py ... flood --seconds 3 --alternate-lists --priority 100
    hostile.py --iface eth0 --dst 224.0.0.18 --priority 254 --count 30 --gap 0.1 other-list

Every VRRP message is assembled here byte by byte (struct), its checksum
computed by `inet_checksum` (RFC 1071), so each case carries exactly the one
defect it is named after and is otherwise valid: what the receiver counts is
that defect and nothing else. scapy builds the Ethernet and IPv4 headers
(checksum and length of the IP header) and, for `oversize-fragmented`, the
fragments. Frames leave through an AF_PACKET socket, so nothing in our own
kernel rewrites them (TTL, lengths).

A case prints one JSON line: {"case": ..., "sent": N}. `flood` prints
{"case": "flood", "sent": N, "seconds": S, "pps": P, "errors": E}.
"""

import argparse
import json
import socket
import struct
import sys
import time
from ipaddress import IPv4Address, IPv6Address

from scapy.layers.inet import IP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

PROTO_VRRP = 112
VRRP_GROUP = IPv4Address("224.0.0.18")  # RFC 9568 section 5.1.1.2
VIP = IPv4Address("192.0.2.100")
VIP6 = IPv6Address("2001:db8::100")


def inet_checksum(data: bytes) -> int:
    """RFC 1071: one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = sum(w for (w,) in struct.iter_unpack("!H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_v4(src: IPv4Address, dst: IPv4Address, length: int) -> bytes:
    """The IPv4 pseudo-header keepalived and FRR put under a v3 checksum."""
    return src.packed + dst.packed + struct.pack("!BBH", 0, PROTO_VRRP, length)


def pseudo_v6(src: IPv6Address, dst: IPv6Address, length: int) -> bytes:
    """RFC 8200 section 8.1 pseudo-header (RFC 9568 5.2.8 for IPv6)."""
    return src.packed + dst.packed + struct.pack("!I3xB", length, PROTO_VRRP)


def case_message_v6(case, src, dst, vrid, prio):
    """(VRRP message, Hop Limit) for the IPv6 cases: `valid` and `ttl254`."""
    m = v3(vrid, prio, addrs=(VIP6,))
    m = set_checksum(m, inet_checksum(pseudo_v6(src, dst, len(m)) + m))
    if case == "valid":
        return m, 255
    if case == "ttl254":
        # RFC 9568 7.1: Hop Limit MUST be 255.
        return m, 254
    raise SystemExit(f"case {case!r} is IPv4 only")


def frames_v6(msg, hlim, src, dst, dst_mac, own_mac):
    ip = IPv6(src=str(src), dst=str(dst), hlim=hlim, nh=PROTO_VRRP, tc=0xC0) / msg
    return [bytes(Ether(src=own_mac, dst=dst_mac, type=0x86DD) / ip)]


def v3(vrid, prio, *, interval_cs=10, addrs=(VIP,), version=3, typ=1, count=None,
       trailing=b"", addr_bytes=None) -> bytes:
    """RFC 9568 section 5.1 header with a zero checksum, the addresses, then
    `trailing` bytes. `count` may lie; `addr_bytes` replaces the list."""
    body = b"".join(a.packed for a in addrs) if addr_bytes is None else addr_bytes
    count = len(addrs) if count is None else count
    head = struct.pack("!BBBBHH", (version << 4) | typ, vrid, prio, count,
                       interval_cs & 0x0FFF, 0)
    return head + body + trailing


def v2(vrid, prio, *, interval_s=1, addrs=(VIP,), auth_type=0, auth=b"") -> bytes:
    """RFC 3768 section 5.1 with a zero checksum; auth data zero padded."""
    head = struct.pack("!BBBBBBH", 0x21, vrid, prio, len(addrs), auth_type, interval_s, 0)
    return head + b"".join(a.packed for a in addrs) + auth.ljust(8, b"\0")


def set_checksum(msg: bytes, csum: int) -> bytes:
    return msg[:6] + struct.pack("!H", csum) + msg[8:]


def pseudo_sum(msg, src, dst) -> int:
    return inet_checksum(pseudo_v4(src, dst, len(msg)) + msg)


def case_message(case, src, dst, vrid, prio):
    """(VRRP message, TTL) for one named case."""
    ok = lambda m: set_checksum(m, pseudo_sum(m, src, dst))  # noqa: E731
    if case == "valid":
        return ok(v3(vrid, prio)), 255
    if case == "ttl254":
        # RFC 9568 section 7.1: TTL MUST be 255, else discard. Off-link
        # senders cannot reach us with 255 (routers decrement it).
        return ok(v3(vrid, prio)), 254
    if case == "bad-checksum-pseudo":
        # Computed over the pseudo-header, then one bit flipped.
        m = v3(vrid, prio)
        good = pseudo_sum(m, src, dst)
        bad = good ^ 0x0100
        assert bad not in (good, inet_checksum(m))
        return set_checksum(m, bad), 255
    if case == "bad-checksum-rfc":
        # RFC 9568 form (message only), then one bit flipped.
        m = v3(vrid, prio)
        good = inet_checksum(m)
        bad = good ^ 0x0100
        assert bad not in (good, pseudo_sum(m, src, dst))
        return set_checksum(m, bad), 255
    if case == "bad-checksum-old-unicast":
        # keepalived < 1.3.6: pseudo-header with 224.0.0.18 even for
        # unicast. Only bad when `dst` is unicast.
        m = v3(vrid, prio)
        return set_checksum(m, pseudo_sum(m, src, VRRP_GROUP)), 255
    if case == "truncated-header":
        # Six bytes: the fixed header is eight.
        return ok(v3(vrid, prio))[:6], 255
    if case == "truncated-addresses":
        # Count says 2, one address follows.
        return ok(v3(vrid, prio, count=2)), 255
    if case == "count-high":
        # Count says 5 with one address.
        return ok(v3(vrid, prio, count=5)), 255
    if case == "count-low":
        # Count says 1 with three addresses.
        extra = (IPv4Address("192.0.2.101"), IPv4Address("192.0.2.102"))
        return ok(v3(vrid, prio, count=1, addrs=(VIP,) + extra)), 255
    if case == "other-list":
        # Well formed, but for another cluster's VIP (192.0.2.200): RFC 9568
        # 7.1, a receiver that checks the list drops it unless priority 255.
        return ok(v3(vrid, prio, addrs=(IPv4Address("192.0.2.200"),))), 255
    if case == "count-zero":
        # RFC 9568 section 5.2.5: at least one address.
        return ok(v3(vrid, prio, count=0, addrs=())), 255
    if case == "oversize-trailing":
        # Count says 1; 1000 bytes follow the one address.
        return ok(v3(vrid, prio, trailing=b"\xa5" * 1000)), 255
    if case == "oversize-fragmented":
        # The largest IPv4 datagram (65535 bytes): count 1, the rest junk.
        # Larger than the MTU, so it leaves in fragments and the kernel
        # reassembles it before the raw socket sees it.
        total = 65535 - 20
        return ok(v3(vrid, prio, trailing=b"\xa5" * (total - 12))), 255
    if case == "family-mismatch":
        # One IPv6 address in an IPv4 datagram.
        return ok(v3(vrid, prio, addr_bytes=IPv6Address("2001:db8::100").packed)), 255
    if case == "interval-zero":
        return ok(v3(vrid, prio, interval_cs=0)), 255
    if case == "version1":
        return ok(v3(vrid, prio, version=1)), 255
    if case == "version4":
        return ok(v3(vrid, prio, version=4)), 255
    if case == "type2":
        # RFC 9568 section 5.2.2: only type 1 (ADVERTISEMENT) exists.
        return ok(v3(vrid, prio, typ=2)), 255
    if case == "v2":
        # A valid VRRPv2 advert (RFC 3768 5.3.8 checksum: message only).
        m = v2(vrid, prio)
        return set_checksum(m, inet_checksum(m)), 255
    if case == "v2-pass":
        # A valid VRRPv2 advert with Auth Type 1 and a clear-text password
        # (RFC 2338 5.3.6, keepalived `auth_type PASS`).
        m = v2(vrid, prio, auth_type=1, auth=b"secret")
        return set_checksum(m, inet_checksum(m)), 255
    raise SystemExit(f"unknown case {case!r}")


def frames_for(msg, ttl, src, dst, dst_mac, own_mac):
    ip = IP(src=str(src), dst=str(dst), ttl=ttl, proto=PROTO_VRRP, tos=0xC0) / msg
    pkts = fragment(ip, fragsize=1480) if len(msg) + 20 > 1500 else [ip]
    return [bytes(Ether(src=own_mac, dst=dst_mac, type=0x0800) / p) for p in pkts]


def dst_mac_of(dst, given):
    if dst.is_multicast and dst.version == 6:
        return "33:33:" + ":".join("%02x" % b for b in dst.packed[12:])
    if dst.is_multicast:
        o = dst.packed
        return "01:00:5e:%02x:%02x:%02x" % (o[1] & 0x7F, o[2], o[3])
    if not given:
        raise SystemExit("--dst-mac is required for a unicast destination")
    return given


def own_addr(iface, ipv6=False):
    """The interface's MAC and first IPv4 address, or its IPv6 link-local
    address (RFC 9568 5.1.2.1: the source of IPv6 adverts)."""
    import subprocess
    with open(f"/sys/class/net/{iface}/address") as f:
        mac = f.read().strip()
    cmd = ["ip", "-6", "-o", "addr", "show", "dev", iface, "scope", "link"] if ipv6 \
        else ["ip", "-4", "-o", "addr", "show", "dev", iface]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    addr = out.split()[3].split("/")[0]
    return mac, (IPv6Address(addr) if ipv6 else IPv4Address(addr))


def flood(sock, args, src, dst, dst_mac, own_mac):
    """Send prebuilt frames in a tight loop for `args.seconds`."""
    frames = []
    if args.spoof:
        # Every frame a different (source, VRID) pair, none of them VRID 51:
        # 253 sources of 192.0.2.0/24 (not .255, not the attacker's own) x
        # 20 VRIDs = 5060 pairs, each an advert for no router of ours.
        vrids = range(80, 100)
        for v in vrids:
            for h in range(1, 255):
                s = IPv4Address(f"192.0.2.{h}")
                if s == src:
                    continue
                m = v3(v, args.priority)
                m = set_checksum(m, pseudo_sum(m, s, dst))
                frames += frames_for(m, 255, s, dst, dst_mac, own_mac)
    else:
        lists = [(VIP,)]
        if args.alternate_lists:
            # Every other advert carries one more address: a list that
            # differs from the router's, then one that matches, and so on.
            lists.append((VIP, IPv4Address("192.0.2.101")))
        for addrs in lists:
            m = v3(args.vrid, args.priority, addrs=addrs)
            m = set_checksum(m, pseudo_sum(m, src, dst))
            frames += frames_for(m, args.ttl, src, dst, dst_mac, own_mac)
    send = sock.send
    n = errors = 0
    start = time.monotonic()
    end = start + args.seconds
    nf = len(frames)
    # Check the clock once per batch, not per packet.
    batch = frames if nf > 2 else frames * 256
    while True:
        for f in batch:
            try:
                send(f)
                n += 1
            except OSError:
                # ENOBUFS: the device queue is full; that is line rate.
                errors += 1
        if time.monotonic() >= end:
            break
    took = time.monotonic() - start
    return {"case": "flood", "sent": n, "seconds": round(took, 3),
            "pps": round(n / took), "errors": errors, "distinct_frames": nf}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--dst", default=str(VRRP_GROUP))
    ap.add_argument("--dst-mac")
    ap.add_argument("--src", help="source address (default: the interface's)")
    ap.add_argument("--vrid", type=int, default=51)
    ap.add_argument("--priority", type=int, default=250)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds between two sends of a case (a sender at its interval)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--spoof", action="store_true",
                    help="flood: vary (source, VRID) over 5060 pairs, none VRID 51")
    ap.add_argument("--ttl", type=int, default=255,
                    help="flood: the TTL (254: every packet a ttl_not_255 drop)")
    ap.add_argument("--alternate-lists", action="store_true",
                    help="flood: alternate the address list (VIP; VIP and .101)")
    ap.add_argument("case")
    args = ap.parse_args()

    ipv6 = ":" in args.dst
    own_mac, own_ip = own_addr(args.iface, ipv6)
    if ipv6:
        src = IPv6Address(args.src) if args.src else own_ip
        dst = IPv6Address(args.dst)
    else:
        src = IPv4Address(args.src) if args.src else own_ip
        dst = IPv4Address(args.dst)
    dst_mac = dst_mac_of(dst, args.dst_mac)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    if ipv6:
        msg, hlim = case_message_v6(args.case, src, dst, args.vrid, args.priority)
        for _ in range(args.count):
            for f in frames_v6(msg, hlim, src, dst, dst_mac, own_mac):
                sock.send(f)
        print(json.dumps({"case": args.case, "sent": args.count, "frames": 1}))
        return
    if args.case == "flood":
        print(json.dumps(flood(sock, args, src, dst, dst_mac, own_mac)))
        return
    msg, ttl = case_message(args.case, src, dst, args.vrid, args.priority)
    frames = frames_for(msg, ttl, src, dst, dst_mac, own_mac)
    for i in range(args.count):
        if i and args.gap:
            time.sleep(args.gap)
        for f in frames:
            sock.send(f)
    print(json.dumps({"case": args.case, "sent": args.count, "frames": len(frames)}))


if __name__ == "__main__":
    sys.exit(main())
