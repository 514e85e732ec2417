#!/usr/bin/python3
"""Analyse the bridge captures of scripts/bench-failover.sh and bench-scale.sh.

Reads classic pcap (micro- or nanosecond timestamps, as `tcpdump -w` writes
them) with the standard library only, so it is exact and fast enough for a
few million frames. Ethernet frames; VRRP is IPv4 protocol 112 (RFC 9568
5.1.1.4), a gratuitous ARP is an ARP whose sender and target protocol
addresses are both the VIP (RFC 5227 3, as keepalived and ha-vip send it).

Subcommands:

  failover PCAP CUTS --active-ip A --backup-ip B --vip V --interval-ms I
           --backup-priority P
      CUTS holds one line per round: the CLOCK_REALTIME nanoseconds just
      before the Active router's link was cut. Per round: the last advert
      from A, the first advert from B after the cut, and the first
      gratuitous ARP for V sent by B's MAC. Prints one JSON object.

  scale PCAP --active-ip A --backup-ip B --vrids N --start-ns T0 --end-ns T1
      Within [T0, T1): adverts per second per side, and the VRIDs that saw adverts from both
      sides (two Active routers at once) or from neither (no Active).
"""

import argparse
import ipaddress
import json
import math
import struct
import sys

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_ARP = 0x0806
ETHERTYPE_VLAN = 0x8100
PROTO_VRRP = 112


def frames(path):
    """Yield (timestamp_ns, frame bytes) of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise SystemExit(f"bench_analyze: {path}: not a pcap file (too short)")
    magic_le = struct.unpack_from("<I", data, 0)[0]
    magic_be = struct.unpack_from(">I", data, 0)[0]
    if magic_le in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        endian, magic = "<", magic_le
    elif magic_be in (PCAP_MAGIC_US, PCAP_MAGIC_NS):
        endian, magic = ">", magic_be
    else:
        raise SystemExit(f"bench_analyze: {path}: not a classic pcap file (magic {magic_le:#x})")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    if linktype != 1:
        raise SystemExit(f"bench_analyze: {path}: link type {linktype}, expected Ethernet (1)")
    frac_ns = 1 if magic == PCAP_MAGIC_NS else 1000
    rec = struct.Struct(endian + "IIII")
    off = 24
    n = len(data)
    while off + 16 <= n:
        sec, frac, incl, _orig = rec.unpack_from(data, off)
        off += 16
        if off + incl > n:
            break  # a capture cut short by the signal: ignore the partial record
        yield sec * 1_000_000_000 + frac * frac_ns, data[off:off + incl]
        off += incl


def classify(frame):
    """('vrrp', src_ip, vrid, prio) | ('arp', src_mac, sender_ip, target_ip) | None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack_from(">H", frame, 12)[0]
    off = 14
    if etype == ETHERTYPE_VLAN and len(frame) >= 18:
        etype = struct.unpack_from(">H", frame, 16)[0]
        off = 18
    if etype == ETHERTYPE_IPV4:
        if len(frame) < off + 20:
            return None
        ihl = (frame[off] & 0x0F) * 4
        if frame[off + 9] != PROTO_VRRP or len(frame) < off + ihl + 8:
            return None
        src = ".".join(str(b) for b in frame[off + 12:off + 16])
        vrrp = off + ihl
        return ("vrrp", src, frame[vrrp + 1], frame[vrrp + 2])
    if etype == 0x86DD:
        # IPv6 with VRRP as the first Next Header (no extension headers).
        if len(frame) < off + 48 or frame[off + 6] != PROTO_VRRP:
            return None
        src = str(ipaddress.IPv6Address(bytes(frame[off + 8:off + 24])))
        vrrp = off + 40
        return ("vrrp", src, frame[vrrp + 1], frame[vrrp + 2])
    if etype == ETHERTYPE_ARP:
        if len(frame) < off + 28:
            return None
        src_mac = ":".join(f"{b:02x}" for b in frame[6:12])
        spa = ".".join(str(b) for b in frame[off + 14:off + 18])
        tpa = ".".join(str(b) for b in frame[off + 24:off + 28])
        return ("arp", src_mac, spa, tpa)
    return None


def percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    k = math.ceil(p / 100.0 * len(sorted_values)) - 1
    return sorted_values[max(0, min(len(sorted_values) - 1, k))]


def master_down_interval_ms(interval_ms, priority):
    """RFC 9568 6.1: 3 x Advertisement_Interval + Skew_Time, where
    Skew_Time = ((256 - Priority) x Advertisement_Interval) / 256."""
    return 3.0 * interval_ms + (256 - priority) * interval_ms / 256.0


def failover(args):
    cuts = []
    with open(args.cuts) as f:
        for line in f:
            line = line.strip()
            if line:
                cuts.append(int(line))
    if not cuts:
        raise SystemExit("bench_analyze: no rounds in the cut file")
    a_adverts, b_adverts, b_garps = [], [], []
    b_mac = args.backup_mac.lower() if args.backup_mac else None
    for ts, frame in frames(args.pcap):
        c = classify(frame)
        if c is None:
            continue
        if c[0] == "vrrp" and c[2] == args.vrid and c[3] > 0:
            if c[1] == args.active_ip:
                a_adverts.append(ts)
            elif c[1] == args.backup_ip:
                b_adverts.append(ts)
        elif c[0] == "arp" and c[2] == args.vip and c[3] == args.vip:
            if b_mac is None or c[1] == b_mac:
                b_garps.append(ts)
    mdi = master_down_interval_ms(args.interval_ms, args.backup_priority)
    rounds = []
    bounds = cuts[1:] + [None]
    for i, (cut, nxt) in enumerate(zip(cuts, bounds)):
        def within(t):
            return t >= cut and (nxt is None or t < nxt)
        first_b = next((t for t in b_adverts if within(t)), None)
        if first_b is None:
            rounds.append({"round": i, "error": "no advert from the Backup after the cut"})
            continue
        last_a = None
        for t in a_adverts:
            if t < first_b:
                last_a = t
            else:
                break
        first_garp = next((t for t in b_garps if within(t)), None)
        r = {"round": i}
        if last_a is None or (cut - last_a) > 5 * mdi * 1e6:
            r["error"] = "no advert from the Active router shortly before the cut"
        else:
            r["advert_ms"] = (first_b - last_a) / 1e6
            if first_garp is not None:
                r["garp_ms"] = (first_garp - last_a) / 1e6
            r["cut_after_last_advert_ms"] = (cut - last_a) / 1e6
        rounds.append(r)
    # Regularity of the Active router's adverts in steady state: gaps
    # between consecutive adverts, leaving out those that span a cut.
    gaps = sorted(
        (b - a) / 1e6
        for a, b in zip(a_adverts, a_adverts[1:])
        if (b - a) < 2.5 * args.interval_ms * 1e6
    )
    ok = [r for r in rounds if "advert_ms" in r]
    adv = sorted(r["advert_ms"] for r in ok)
    garp = sorted(r["garp_ms"] for r in ok if "garp_ms" in r)
    out = {
        "rounds": len(rounds),
        "measured": len(ok),
        "master_down_interval_ms": mdi,
        "advert_median_ms": percentile(adv, 50),
        "advert_p95_ms": percentile(adv, 95),
        "advert_min_ms": adv[0] if adv else None,
        "advert_max_ms": adv[-1] if adv else None,
        "garp_median_ms": percentile(garp, 50),
        "garp_p95_ms": percentile(garp, 95),
        "active_gap_median_ms": percentile(gaps, 50),
        "active_gap_p95_ms": percentile(gaps, 95),
        "per_round": rounds,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def scale(args):
    count = {args.active_ip: 0, args.backup_ip: 0}
    per_vrid = {}
    for ts, frame in frames(args.pcap):
        if ts < args.start_ns or ts >= args.end_ns:
            continue
        c = classify(frame)
        if c is None or c[0] != "vrrp":
            continue
        src, vrid, prio = c[1], c[2], c[3]
        if src in count:
            count[src] += 1
        if prio > 0:
            per_vrid.setdefault(vrid, set()).add(src)
    span_s = (args.end_ns - args.start_ns) / 1e9
    both = sorted(v for v, s in per_vrid.items() if len(s) > 1)
    none = sorted(v for v in range(1, args.vrids + 1) if v not in per_vrid)
    out = {
        "seconds": span_s,
        "active_adverts_per_s": count[args.active_ip] / span_s,
        "backup_adverts_per_s": count[args.backup_ip] / span_s,
        "vrids_advertised_by_both": both,
        "vrids_advertised_by_neither": none,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("failover")
    f.add_argument("pcap")
    f.add_argument("cuts")
    f.add_argument("--active-ip", required=True)
    f.add_argument("--backup-ip", required=True)
    f.add_argument("--backup-mac")
    f.add_argument("--vip", required=True)
    f.add_argument("--vrid", type=int, default=1)
    f.add_argument("--interval-ms", type=float, required=True)
    f.add_argument("--backup-priority", type=int, default=100)
    s = sub.add_parser("scale")
    s.add_argument("pcap")
    s.add_argument("--active-ip", required=True)
    s.add_argument("--backup-ip", required=True)
    s.add_argument("--vrids", type=int, required=True)
    s.add_argument("--start-ns", type=int, required=True, help="CLOCK_REALTIME ns: count from here")
    s.add_argument("--end-ns", type=int, required=True, help="CLOCK_REALTIME ns: count until here")
    args = p.parse_args()
    if args.cmd == "failover":
        failover(args)
    else:
        scale(args)


if __name__ == "__main__":
    main()
