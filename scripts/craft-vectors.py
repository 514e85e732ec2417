#!/usr/bin/python3
"""Crafted (not captured) VRRP test vectors for packets/.

Run with Debian's /usr/bin/python3 (python3-scapy): scripts/craft-vectors.py

Everything a real peer cannot be made to send is built here byte by byte:
the v3-over-IPv4 checksum without the pseudo-header (RFC 9568 section 5.2.8
read literally, as Cisco and Juniper do; Debian's keepalived 2.2.7 always
includes the pseudo-header) and the negative vectors. Each packet is
assembled by hand with its checksum computed by `inet_checksum` (RFC 1071),
so no library decides a checksum for us. Timestamps are fixed, so the output
is identical on every run (`git diff packets/` stays empty).

Afterwards every good packet is checked with tshark (its VRRP dissector
verifies the checksum; `vrrp.v3_checksum_as_in_v2` selects the form) and
every field with scapy's dissector; the script fails if either disagrees.
"""

import os
import struct
import subprocess
import sys
from ipaddress import IPv4Address, IPv6Address

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "packets")

# The crafted peer. Its MAC is the RFC 7042 documentation range, one above
# the keepalived of capture-vectors.sh (00:00:5e:00:53:01).
PEER_MAC = bytes.fromhex("00005e005302")
PEER_V4 = IPv4Address("192.0.2.2")
PEER_V6 = IPv6Address("fe80::200:5eff:fe00:5302")
VRRP_V4_GROUP = IPv4Address("224.0.0.18")  # RFC 9568 section 5.1.1.2
VRRP_V6_GROUP = IPv6Address("ff02::12")  # RFC 9568 section 5.1.2.2
VRRP_V4_MAC = bytes.fromhex("01005e000012")
VRRP_V6_MAC = bytes.fromhex("333300000012")
PROTO_VRRP = 112

# First timestamp of every crafted file: 2023-11-14T22:13:20Z, then +1 s per packet.
EPOCH = 1_700_000_000

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_IPV4 = 228


def inet_checksum(data: bytes) -> int:
    """RFC 1071: one's complement of the one's complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo_v4(src: IPv4Address, dst: IPv4Address, length: int) -> bytes:
    """RFC 9568 section 5.2.8 / RFC 8200 style IPv4 pseudo-header (as UDP, RFC 768)."""
    return src.packed + dst.packed + struct.pack("!BBH", 0, PROTO_VRRP, length)


def pseudo_v6(src: IPv6Address, dst: IPv6Address, length: int) -> bytes:
    """RFC 8200 section 8.1 pseudo-header."""
    return src.packed + dst.packed + struct.pack("!I3xB", length, PROTO_VRRP)


def vrrp_v3(vrid, prio, interval_cs, addrs, *, version=3, typ=1, count=None) -> bytes:
    """RFC 9568 section 5.1 header with a zero checksum, then the addresses."""
    count = len(addrs) if count is None else count
    head = struct.pack("!BBBBHH", (version << 4) | typ, vrid, prio, count, interval_cs & 0x0FFF, 0)
    return head + b"".join(a.packed for a in addrs)


def vrrp_v2(vrid, prio, interval_s, addrs, *, auth_type=0, auth=b"") -> bytes:
    """RFC 3768 section 5.1 with a zero checksum: addresses then 8 octets of auth data."""
    head = struct.pack("!BBBBBBH", 0x21, vrid, prio, len(addrs), auth_type, interval_s, 0)
    return head + b"".join(a.packed for a in addrs) + auth.ljust(8, b"\0")


def with_checksum(msg: bytes, pseudo: bytes = b"") -> bytes:
    csum = inet_checksum(pseudo + msg)
    return msg[:6] + struct.pack("!H", csum) + msg[8:]


def ipv4(payload: bytes, *, ttl=255, src=PEER_V4, dst=VRRP_V4_GROUP, ident=0) -> bytes:
    """A 20-byte IPv4 header (RFC 791), its checksum computed here, then the payload."""
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), ident, 0, ttl, PROTO_VRRP, 0,
                       src.packed, dst.packed)
    head = head[:10] + struct.pack("!H", inet_checksum(head)) + head[12:]
    return head + payload


def ipv6(payload: bytes, *, hop_limit=255, src=PEER_V6, dst=VRRP_V6_GROUP) -> bytes:
    """A 40-byte IPv6 header (RFC 8200), traffic class 0xc0 as keepalived sends."""
    first = (6 << 28) | (0xC0 << 20)
    return struct.pack("!IHBB16s16s", first, len(payload), PROTO_VRRP, hop_limit, src.packed,
                       dst.packed) + payload


def ether(dst_mac: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst_mac + PEER_MAC + struct.pack("!H", ethertype) + payload


def v4_frame(ip: bytes) -> bytes:
    return ether(VRRP_V4_MAC, 0x0800, ip)


def v6_frame(ip: bytes) -> bytes:
    return ether(VRRP_V6_MAC, 0x86DD, ip)


def write_pcap(name: str, frames, linktype=LINKTYPE_ETHERNET, nanoseconds=False):
    """Classic pcap, little endian; microsecond timestamps (EPOCH + i s), or
    with `nanoseconds` the nanosecond magic and EPOCH + i + 0.123456789 s."""
    path = os.path.join(OUT, name)
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, linktype))
        for i, frame in enumerate(frames):
            frac = 123_456_789 if nanoseconds else 0
            f.write(struct.pack("<IIII", EPOCH + i, frac, len(frame), len(frame)))
            f.write(frame)
    return path


def pcapng_block(block_type: int, body: bytes, e: str) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return struct.pack(e + "II", block_type, total) + body + struct.pack(e + "I", total)


def write_pcapng(name: str, interfaces, packets, big_endian=False):
    """pcapng (draft-ietf-opsawg-pcapng): one section; `interfaces` is a
    list of (linktype, if_tsresol or None); `packets` of (interface, ticks,
    frame), ticks in that interface's unit."""
    e = ">" if big_endian else "<"
    path = os.path.join(OUT, name)
    out = pcapng_block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e)
    for linktype, tsresol in interfaces:
        body = struct.pack(e + "HHI", linktype, 0, 65535)
        if tsresol is not None:
            # if_tsresol (code 9, 1 byte, padded to 4), then opt_endofopt.
            body += struct.pack(e + "HHB3x", 9, 1, tsresol) + struct.pack(e + "HH", 0, 0)
        out += pcapng_block(0x00000001, body, e)
    for iface, ticks, frame in packets:
        epb = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame))
        out += pcapng_block(0x00000006, epb + frame, e)
    with open(path, "wb") as f:
        f.write(out)
    return path


# --- the vectors ------------------------------------------------------------

VIP = IPv4Address("192.0.2.100")
VIPS_RFC = [IPv4Address("192.0.2.100"), IPv4Address("198.51.100.7")]
VIP6 = IPv6Address("2001:db8::100")


def v3_rfc_checksum_packets():
    """v3 over IPv4, checksum over the VRRP message only (no pseudo-header)."""
    a = with_checksum(vrrp_v3(51, 100, 100, [VIP]))
    b = with_checksum(vrrp_v3(7, 200, 35, VIPS_RFC))
    return [v4_frame(ipv4(a, ident=1)), v4_frame(ipv4(b, ident=2))]


def v3_pseudo(vrid=51, prio=100, interval_cs=100, addrs=(VIP,), **kw) -> bytes:
    msg = vrrp_v3(vrid, prio, interval_cs, list(addrs), **kw)
    return with_checksum(msg, pseudo_v4(PEER_V4, VRRP_V4_GROUP, len(msg)))


def bad_checksum_packet():
    msg = v3_pseudo()
    (good,) = struct.unpack("!H", msg[6:8])
    bad = good ^ 0x0101
    # Neither form may accept it.
    assert bad != inet_checksum(vrrp_v3(51, 100, 100, [VIP]))
    return v4_frame(ipv4(msg[:6] + struct.pack("!H", bad) + msg[8:]))


def v2_over_ipv6_packet():
    # A well-formed v2 message carrying one IPv6 address; only the version is
    # wrong. Its checksum is the v2 one (RFC 3768 section 5.3.8: the VRRP
    # message only), which tshark accepts.
    msg = vrrp_v2(51, 100, 1, [VIP6])
    return v6_frame(ipv6(with_checksum(msg)))


def padded(frame: bytes) -> bytes:
    """Ethernet minimum frame: 60 bytes before the FCS (IEEE 802.3), as a
    real NIC delivers a short advert; the IP total length says where it ends."""
    return frame + b"\0" * max(0, 60 - len(frame))


def vlan_tagged(frame: bytes, vid: int) -> bytes:
    """Insert an IEEE 802.1Q tag after the MAC addresses."""
    return frame[:12] + struct.pack("!HH", 0x8100, vid) + frame[12:]


def v2_ah_packet():
    """RFC 2338 auth type 2: an IP Authentication Header (RFC 4302) between
    IPv4 (protocol 51) and VRRP. 24-byte AH: Payload Len = 24/4 - 2 = 4,
    12-byte ICV (not verifiable here, any value)."""
    msg = with_checksum(vrrp_v2(51, 100, 1, [VIP], auth_type=2))
    ah = struct.pack("!BBHII", PROTO_VRRP, 4, 0, 0x100, 1) + bytes([0xA5] * 12)
    payload = ah + msg
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, 255, 51, 0,
                       PEER_V4.packed, VRRP_V4_GROUP.packed)
    head = head[:10] + struct.pack("!H", inet_checksum(head)) + head[12:]
    return v4_frame(head + payload)


def v3_ipv6_packet():
    msg = vrrp_v3(51, 100, 100, [VIP6])
    return ipv6(with_checksum(msg, pseudo_v6(PEER_V6, VRRP_V6_GROUP, len(msg))))


# name: (writer, decode args, checksum form of the good packets or None).
# The writer is called with the path's base name.
VECTORS = {
    "v3-ipv4-rfc-checksum.pcap": (
        lambda n: write_pcap(n, v3_rfc_checksum_packets()), "", "no-pseudo-header"),
    # Raw IP link type in a pcapng: one IPv4 and one IPv6 advert.
    "raw-ip.pcapng": (
        lambda n: write_pcapng(n, [(LINKTYPE_RAW, None)],
                               [(0, (EPOCH + i) * 1_000_000, f)
                                for i, f in enumerate([ipv4(v3_pseudo()), v3_ipv6_packet()])]),
        "", "pseudo-header"),
    # What real NICs deliver: an advert padded to 60 bytes, then the same
    # in an 802.1Q tag (VLAN 100).
    "v3-ipv4-padded-vlan.pcap": (
        lambda n: write_pcap(n, [padded(v4_frame(ipv4(v3_pseudo()))),
                                 padded(vlan_tagged(v4_frame(ipv4(v3_pseudo())), 100))]),
        "", "pseudo-header"),
    "v2-auth-ah.pcap": (lambda n: write_pcap(n, [v2_ah_packet()]), "", "no-pseudo-header"),
    # Nanosecond pcap, link type IPV4 (228).
    "nanosecond-ipv4.pcap": (
        lambda n: write_pcap(n, [ipv4(v3_pseudo())], LINKTYPE_IPV4, nanoseconds=True),
        "", "pseudo-header"),
    # Big-endian pcapng, two interfaces: Ethernet in nanoseconds
    # (if_tsresol 9) and raw IP in 2^-10 s (if_tsresol 0x8a).
    "multi-interface-be.pcapng": (
        lambda n: write_pcapng(
            n, [(LINKTYPE_ETHERNET, 9), (LINKTYPE_RAW, 0x8A)],
            [(0, EPOCH * 1_000_000_000 + 987_654_321, v6_frame(v3_ipv6_packet())),
             (1, (EPOCH + 1) * 1024 + 512, ipv4(v3_pseudo()))],
            big_endian=True),
        "", "pseudo-header"),
    "neg-rfc-checksum-where-pseudo-required.pcap": (
        lambda n: write_pcap(n, v3_rfc_checksum_packets()[:1]), "--checksum pseudo-header", None),
    "neg-ttl254.pcap": (lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo(), ttl=254))]), "", None),
    "neg-bad-checksum.pcap": (lambda n: write_pcap(n, [bad_checksum_packet()]), "", None),
    # 6 octets: shorter than the 8-octet fixed header of RFC 9568 section 5.1.
    "neg-truncated.pcap": (lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo()[:6]))]), "", None),
    # Count IPvX Addr says 2, one address follows; then says 1, two follow.
    "neg-count-mismatch.pcap": (
        lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo(count=2))),
                                 v4_frame(ipv4(v3_pseudo(addrs=VIPS_RFC, count=1)))]), "", None),
    "neg-v2-where-v3-expected.pcap": (
        lambda n: write_pcap(n, [v4_frame(ipv4(with_checksum(vrrp_v2(51, 100, 1, [VIP]))))]),
        "--expect-version 3", None),
    "neg-bad-version.pcap": (lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo(version=4)))]), "", None),
    "neg-bad-type.pcap": (lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo(typ=2)))]), "", None),
    "neg-interval-zero.pcap": (
        lambda n: write_pcap(n, [v4_frame(ipv4(v3_pseudo(interval_cs=0)))]), "", None),
    "neg-v2-over-ipv6.pcap": (lambda n: write_pcap(n, [v2_over_ipv6_packet()]), "", None),
}


def tshark_fields(path, *prefs):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=|"]
    for p in prefs:
        cmd += ["-o", p]
    for field in ["frame.number", "vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.checksum.status"]:
        cmd += ["-e", field]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines()]


def verify_with_tshark(path, form):
    """tshark's checksum status: 1 good, 0 bad (Wireshark's PROTO_CHECKSUM_E_*)."""
    pref = "vrrp.v3_checksum_as_in_v2:" + ("TRUE" if form == "no-pseudo-header" else "FALSE")
    for row in tshark_fields(path, pref):
        if row[4] != "1":
            sys.exit(f"craft-vectors: tshark says the checksum of {path} frame {row[0]} is not good: {row}")


def verify_bad_checksum(path):
    for pref in ["vrrp.v3_checksum_as_in_v2:TRUE", "vrrp.v3_checksum_as_in_v2:FALSE"]:
        for row in tshark_fields(path, pref):
            if row[4] != "0":
                sys.exit(f"craft-vectors: tshark accepts the checksum of {path} with {pref}: {row}")


def verify_with_scapy(path):
    """Independent field check of the good vectors with scapy's dissectors."""
    from scapy.all import IP, VRRP, IPv6, VRRPv3, rdpcap  # noqa: PLC0415 (slow import, only here)

    for pkt in rdpcap(path):
        if IP not in pkt and IPv6 not in pkt:
            raw = bytes(pkt)
            pkt = IP(raw) if raw[0] >> 4 == 4 else IPv6(raw)
        if VRRPv3 in pkt:
            v = pkt[VRRPv3]
            ok = v.version == 3 and v.type == 1 and v.ipcount == len(v.addrlist)
        elif VRRP in pkt:
            v = pkt[VRRP]
            ok = v.version == 2 and v.type == 1 and v.ipcount == len(v.addrlist)
        else:
            # scapy does not dissect VRRP behind AH; tshark has checked it.
            ok = "AH" in pkt
            v = pkt
        if not ok:
            sys.exit(f"craft-vectors: scapy disagrees on {path}: {v.summary()}")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, (write, decode_args, form) in VECTORS.items():
        path = write(name)
        args_path = os.path.join(OUT, name.rsplit(".", 1)[0] + ".args")
        if decode_args:
            with open(args_path, "w") as f:
                f.write(decode_args + "\n")
        elif os.path.exists(args_path):
            os.remove(args_path)
        if form is not None:
            verify_with_tshark(path, form)
            verify_with_scapy(path)
        print(f"crafted {path}")
    verify_bad_checksum(os.path.join(OUT, "neg-bad-checksum.pcap"))


if __name__ == "__main__":
    main()
