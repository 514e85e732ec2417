#!/usr/bin/python3
"""Write packets/NAME.expected.json from tshark's reading of each capture.

Run with /usr/bin/python3: scripts/expected-from-tshark.py [NAME.pcap ...]

The expected decodes must not come from our own decoder (that would test
nothing), so this script takes every field from tshark (Wireshark's
dissectors, a second implementation) and adds only what tshark cannot know:
the verdicts of the negative vectors, written by hand in HAND_VERDICTS below
from the wire module's error variants. Review the output by eye (git diff)
before committing it.

The JSON shape is the one `ha-vip decode --json` prints (src/decode.rs,
`Decoded`); a field that does not apply to a packet is absent.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PACKETS = os.path.join(os.path.dirname(HERE), "packets")

# tshark's frame.encap_type numbers (wiretap WTAP_ENCAP_*).
# 7 is LINKTYPE_RAW, 129/130 LINKTYPE_IPV4/IPV6: decode calls all three "raw".
LINKS = {"1": "ethernet", "25": "linux-sll", "210": "linux-sll2", "7": "raw", "129": "raw",
         "130": "raw"}

FIELDS = [
    "frame.number", "frame.time_epoch", "frame.encap_type", "frame.protocols",
    "eth.type", "sll.etype", "sll.ltype",
    "ip.src", "ip.dst", "ip.ttl", "ip.proto",
    "ipv6.src", "ipv6.dst", "ipv6.hlim", "ipv6.nxt",
    "vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
    "vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.checksum.status",
    "vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.auth_string",
    "arp.opcode", "arp.src.hw_mac", "arp.src.proto_ipv4", "arp.dst.hw_mac",
    "arp.dst.proto_ipv4", "arp.isgratuitous",
    "icmpv6.type", "icmpv6.checksum.status", "icmpv6.nd.na.target_address", "icmpv6.nd.na.flag.r",
    "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o", "icmpv6.opt.target_linkaddr",
]

# Verdicts tshark cannot give: (file, frame number) -> what decode must say
# instead of the advert's fields. Counter names and messages are those of
# ha_vip::wire::ParseError (its `counter()` and Display).
#
# The checksum values in the messages are tshark's ("Bad checksum [should be
# 0x....]" with vrrp.v3_checksum_as_in_v2 FALSE, then TRUE), not ours.
HAND_VERDICTS = {
    ("neg-ttl254.pcap", 1): {
        "error": {"counter": "ttl_not_255", "message": "TTL/hop limit 254, must be 255"}},
    ("neg-bad-checksum.pcap", 1): {
        "checksum": "bad",
        "error": {"counter": "bad_checksum",
                  "message": "bad VRRP checksum 0x0470, expected 0x0571 with the pseudo-header,"
                             " expected 0xa802 without the pseudo-header"}},
    # Decoded with --checksum pseudo-header (the .args file): only that form is tried.
    ("neg-rfc-checksum-where-pseudo-required.pcap", 1): {
        "checksum": "bad",
        "error": {"counter": "bad_checksum",
                  "message": "bad VRRP checksum 0xa802, expected 0x0571 with the pseudo-header"}},
    # 6 bytes of VRRP: the fixed header is 8 (RFC 9568 section 5.1).
    ("neg-truncated.pcap", 1): {
        "error": {"counter": "truncated_vrrp_header",
                  "message": "truncated VRRP header: 6 bytes, need 8"}},
    # Count 2, one IPv4 address: 12 bytes where 8 + 2 x 4 = 16 are needed.
    ("neg-count-mismatch.pcap", 1): {
        "error": {"counter": "truncated_addresses",
                  "message": "truncated VRRP address list: 12 bytes, need 16"}},
    # Count 1, two IPv4 addresses: 8 address bytes.
    ("neg-count-mismatch.pcap", 2): {
        "error": {"counter": "address_count_mismatch",
                  "message": "1 addresses announced but 8 address bytes carried"}},
    # Decoded with --expect-version 3 (the .args file).
    ("neg-v2-where-v3-expected.pcap", 1): {
        "error": {"counter": "unexpected_version",
                  "message": "VRRP version 2, this router expects version 3"}},
    ("neg-bad-version.pcap", 1): {
        "error": {"counter": "bad_version", "message": "VRRP version 4, expected 2 or 3"}},
    ("neg-bad-type.pcap", 1): {
        "error": {"counter": "bad_type", "message": "VRRP type 2, expected 1 (advertisement)"}},
    ("neg-interval-zero.pcap", 1): {
        "error": {"counter": "interval_zero", "message": "advertisement interval is zero"}},
    ("neg-v2-over-ipv6.pcap", 1): {
        "error": {"counter": "v2_over_ipv6", "message": "VRRP version 2 over IPv6"}},
}


def tshark(path, v3_no_pseudo):
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,",
           "-E", "occurrence=a", "-o", "vrrp.v3_checksum_as_in_v2:" + ("TRUE" if v3_no_pseudo else "FALSE")]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def flag(v):
    return {"1": True, "0": False, "True": True, "False": False}[v]


def ttl_fields(row, obj):
    ttl = row["ip.ttl"] or row["ipv6.hlim"]
    obj["ttl"] = int(ttl)
    # RFC 9568 section 7.1 (and RFC 4861 section 7.1.2 for NA): 255 only.
    obj["ttl_verdict"] = "ok" if ttl == "255" else "bad"


def decode_row(name, row, row_rfc):
    obj = {
        "frame": int(row["frame.number"]),
        "time": row["frame.time_epoch"],
        "link": LINKS[row["frame.encap_type"]],
    }
    src = row["ip.src"] or row["ipv6.src"]
    dst = row["ip.dst"] or row["ipv6.dst"]
    protos = row["frame.protocols"].split(":")
    verdict = HAND_VERDICTS.get((name, obj["frame"]))
    if verdict is not None or "vrrp" in protos:
        obj["proto"] = "vrrp"
        obj["src"], obj["dst"] = src, dst
        ttl_fields(row, obj)
        if verdict is not None:
            obj.update(verdict)
            return obj
        version = int(row["vrrp.version"])
        obj["version"] = version
        obj["vrid"] = int(row["vrrp.virt_rtr_id"])
        obj["priority"] = int(row["vrrp.prio"])
        if version == 3:
            obj["interval_cs"] = int(row["vrrp.short_adver_int"])
        else:
            # RFC 3768 section 5.3.7: whole seconds; decode reports centiseconds.
            obj["interval_cs"] = int(row["vrrp.adver_int"]) * 100
        addrs = row["vrrp.ip_addr"] or row["vrrp.ipv6_addr"]
        obj["addresses"] = addrs.split(",") if addrs else []
        assert len(obj["addresses"]) == int(row["vrrp.addr_count"]), (name, row)
        if version == 2:
            auth = int(row["vrrp.auth_type"])
            if auth == 0:
                obj["auth"] = {"type": "none"}
            elif auth == 1:
                obj["auth"] = {"type": "simple-text", "password": row["vrrp.auth_string"]}
            elif auth == 2:
                obj["auth"] = {"type": "ah"}
            else:
                raise SystemExit(f"{name}: auth type {auth} not handled here")
        obj["checksum"] = "ok"
        # tshark checks v3 over IPv4 with the pseudo-header unless told
        # otherwise; v2 never has one (RFC 3768 section 5.3.8).
        if version == 2:
            ok, form = row["vrrp.checksum.status"] == "1", "no-pseudo-header"
        elif row["vrrp.checksum.status"] == "1":
            ok, form = True, "pseudo-header"
        else:
            ok, form = row_rfc["vrrp.checksum.status"] == "1", "no-pseudo-header"
        if not ok:
            raise SystemExit(f"{name} frame {obj['frame']}: tshark finds the checksum bad; add a HAND_VERDICT")
        obj["checksum_form"] = form
        return obj
    if "arp" in protos:
        obj["proto"] = "arp"
        obj["src"], obj["dst"] = row["arp.src.proto_ipv4"], row["arp.dst.proto_ipv4"]
        op = {"1": "request", "2": "reply"}[row["arp.opcode"]]
        obj["arp"] = {
            "op": op,
            "sender_mac": row["arp.src.hw_mac"],
            "sender_ip": row["arp.src.proto_ipv4"],
            "target_mac": row["arp.dst.hw_mac"],
            "target_ip": row["arp.dst.proto_ipv4"],
            "gratuitous": row["arp.isgratuitous"] == "1",
        }
        return obj
    if row["icmpv6.type"] == "136":
        obj["proto"] = "na"
        obj["src"], obj["dst"] = src, dst
        ttl_fields(row, obj)
        if row["icmpv6.checksum.status"] != "1":
            raise SystemExit(f"{name} frame {obj['frame']}: bad ICMPv6 checksum; add a HAND_VERDICT")
        obj["checksum"] = "ok"
        na = {
            "target": row["icmpv6.nd.na.target_address"],
            "router": flag(row["icmpv6.nd.na.flag.r"]),
            "solicited": flag(row["icmpv6.nd.na.flag.s"]),
            "override": flag(row["icmpv6.nd.na.flag.o"]),
        }
        if row["icmpv6.opt.target_linkaddr"]:
            na["target_mac"] = row["icmpv6.opt.target_linkaddr"]
        obj["na"] = na
        return obj
    obj["proto"] = "other"
    if row["ip.proto"]:
        obj["src"], obj["dst"] = src, dst
        obj["info"] = f"IPv4 protocol {row['ip.proto']}"
    elif row["ipv6.nxt"]:
        obj["src"], obj["dst"] = src, dst
        # The first Next Header: decode does not walk extension headers.
        obj["info"] = f"IPv6 next header {row['ipv6.nxt'].split(',')[0]}"
    else:
        ethertype = row["eth.type"] or row["sll.etype"] or row["sll.ltype"]
        obj["info"] = f"ethertype {ethertype}"
    return obj


def main():
    names = sys.argv[1:] or sorted(
        f for f in os.listdir(PACKETS) if f.endswith(".pcap") or f.endswith(".pcapng"))
    for name in names:
        path = os.path.join(PACKETS, name)
        if name.startswith("neg-"):
            frames = len(tshark(path, False))
            missing = [i for i in range(1, frames + 1) if (name, i) not in HAND_VERDICTS]
            if missing:
                raise SystemExit(f"{name}: negative vector without a HAND_VERDICT for frames {missing}")
        rows = tshark(path, False)
        rows_rfc = tshark(path, True)
        objs = [decode_row(name, r, rr) for r, rr in zip(rows, rows_rfc)]
        out = os.path.join(PACKETS, name.rsplit(".", 1)[0] + ".expected.json")
        with open(out, "w") as f:
            f.write("[\n" + ",\n".join("  " + json.dumps(o) for o in objs) + "\n]\n")
        print(f"wrote {out} ({len(objs)} packets)")


if __name__ == "__main__":
    main()
