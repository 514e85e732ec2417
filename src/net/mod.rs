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
//! - [`sysctl`]: the per-interface `/proc/sys/net` settings a virtual MAC
//!   needs.
//!
//! The protocol's constants (groups, TTL, virtual MAC) live in `wire`.

pub mod mmsg;
pub mod netlink;
pub mod packet;
pub mod socket;
pub mod sysctl;

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
