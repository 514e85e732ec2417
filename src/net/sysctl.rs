//! Per-interface settings under `/proc/sys/net`.

use std::io;

/// The two IPv4 settings a parent interface needs beside a virtual MAC
/// (RFC 9568 7.3): answer ARP only for addresses of the interface the
/// request came in on (`arp_ignore=1`), so the parent never ties a VIP on
/// its macvlan to its own MAC, and never use a VIP as the sender of its own
/// ARP requests (`arp_announce=2`). keepalived and FRR document the same
/// two settings for their virtual MACs.
pub fn set_virtual_mac_parent(interface: &str) -> Vec<(String, io::Error)> {
    let mut failed = Vec::new();
    for (key, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
        let path = format!("/proc/sys/net/ipv4/conf/{interface}/{key}");
        if let Err(e) = std::fs::write(&path, value) {
            failed.push((path, e));
        }
    }
    failed
}

/// Whether `interface` forwards IPv6 (`net.ipv6.conf.IF.forwarding`); an
/// unreadable value (no IPv6 on the interface) is no.
pub fn ipv6_forwarding(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() != "0")
}
