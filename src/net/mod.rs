//! The Linux side: raw sockets, netlink, AF_PACKET.
//!
//! Nothing here decides anything about the protocol: these are the
//! syscalls the daemon makes on the core's behalf.
//!
//! - [`mmsg`]: recvmmsg / sendmmsg batches for the VRRP socket.
//! - [`socket`]: one raw IP socket (protocol 112) per interface and family,
//!   shared by every virtual router on it.
//! - [`netlink`]: addresses, links, macvlan virtual MACs, link/address events.
//! - [`packet`]: an AF_PACKET socket to send gratuitous ARP and unsolicited
//!   Neighbor Advertisement frames.

pub mod mmsg;
pub mod netlink;
pub mod packet;
pub mod socket;

/// The VRRP multicast groups (RFC 9568 section 5.1.1.2 / 5.1.2.2).
pub const VRRP_GROUP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_GROUP_V6: std::net::Ipv6Addr =
    std::net::Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The largest advert: 8-byte header + 255 IPv6 addresses.
pub const MAX_ADVERT: usize = 8 + 255 * 16;
/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
