//! Per-interface settings under `/proc/sys/net`.
//!
//! A setting that already has the wanted value is not written: under
//! systemd's `ProtectKernelTunables=yes` or in a pod /proc/sys is read-only,
//! and an operator can set these beforehand (sysctl.d) instead.

use std::io;

/// Set `/proc/sys/net/PATH` to `value` unless it has it: the full path and
/// the error when it could not be.
fn ensure(path: &str, value: &str) -> Result<(), (String, io::Error)> {
    let full = format!("/proc/sys/net/{path}");
    if std::fs::read_to_string(&full).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&full, value).map_err(|e| (full, e))
}

/// The two IPv4 settings a parent interface needs beside a virtual MAC
/// (RFC 9568 7.3): answer ARP only for addresses of the interface the
/// request came in on (`arp_ignore=1`), so the parent never ties a VIP on
/// its macvlan to its own MAC, and never use a VIP as the sender of its own
/// ARP requests (`arp_announce=2`). keepalived and FRR document the same
/// two settings for their virtual MACs. Returns what could not be set.
pub fn set_virtual_mac_parent(interface: &str) -> Vec<(String, io::Error)> {
    [("arp_ignore", "1"), ("arp_announce", "2")]
        .into_iter()
        .filter_map(|(key, value)| ensure(&format!("ipv4/conf/{interface}/{key}"), value).err())
        .collect()
}

/// A new macvlan's IPv6 settings, before it first comes up: a random
/// link-local (`addr_gen_mode=3`; the EUI-64 one of the shared virtual MAC
/// would be the same on every node, as FRR avoids too) and no duplicate
/// address detection for it (`accept_dad=0`: a random address, and
/// adverts must leave from it the moment the router is Active). Returns
/// what could not be set.
pub fn set_virtual_mac_link(name: &str) -> Vec<(String, io::Error)> {
    [("addr_gen_mode", "3"), ("accept_dad", "0")]
        .into_iter()
        .filter_map(|(key, value)| ensure(&format!("ipv6/conf/{name}/{key}"), value).err())
        .collect()
}

/// Whether `interface` forwards IPv6 (`net.ipv6.conf.IF.forwarding`); an
/// unreadable value (no IPv6 on the interface) is no.
pub fn ipv6_forwarding(interface: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{interface}/forwarding"))
        .is_ok_and(|v| v.trim() != "0")
}
