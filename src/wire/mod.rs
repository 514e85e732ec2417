//! VRRP on the wire: parse and emit, zero-copy, never panicking.
//!
//! Layout of this module (smoltcp style, one file per protocol):
//! - `vrrp`: the VRRPv2/v3 advertisement (`Packet` view, `AdvertRepr`,
//!   [`parse_ipv4`], [`parse_ipv6`], [`emit_advert`]).
//! - `ipv4`: the IPv4 header of a received datagram (raw sockets give it).
//! - `ipv6`: the fixed IPv6 header, for Neighbor Advertisements and captures.
//! - `checksum`: the Internet checksum and the pseudo-headers.
//! - `ethernet`: Ethernet II, and Linux cooked capture (SLL, SLL2) headers.
//! - `arp`: gratuitous ARP, emit and parse.
//! - `ndisc`: unsolicited Neighbor Advertisement, emit and parse.
//! - `error`: `ParseError`, one variant per reason, each a counter.
//!
//! Nothing here allocates, reads a clock or does I/O, and no input makes
//! any function panic (views read missing bytes as zero; `new_checked`
//! guarantees the bytes a caller relies on). `docs/wire.md` has the packet
//! layouts, the two VRRPv3/IPv4 checksum forms and the validation order.

pub mod arp;
mod bytes;
pub mod checksum;
pub mod error;
pub mod ethernet;
pub mod ipv4;
pub mod ipv6;
pub mod ndisc;
pub mod vrrp;

pub use arp::{ArpOperation, ArpRepr};
pub use error::{EmitError, FrameError, IpHeaderProblem, Layer, ParseError};
pub use ethernet::{EtherType, EthernetRepr, MacAddr};
pub use ipv4::Ipv4Header;
pub use ipv6::Ipv6Header;
pub use ndisc::NeighborAdvertRepr;
pub use vrrp::{
    ChecksumForm, ChecksumPolicy, ParseOptions, Received, advert_len, emit_advert, parse_ip_packet,
    parse_ipv4, parse_ipv6,
};

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// VRRP protocol version carried in the top nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// RFC 3768, IPv4 only, interval in whole seconds, authentication fields.
    V2,
    /// RFC 9568, IPv4 and IPv6, interval in centiseconds.
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of a virtual router and of the addresses it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    /// Size in bytes of one address of this family.
    pub fn addr_len(self) -> usize {
        match self {
            Family::Ipv4 => 4,
            Family::Ipv6 => 16,
        }
    }

    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// The list of IPvX addresses of an advertisement.
///
/// Parsing borrows the bytes of the packet (`Wire`); emitting borrows the
/// router's configured list (`V4` / `V6`). Both iterate as `IpAddr`.
#[derive(Debug, Clone, Copy)]
pub enum Addresses<'a> {
    /// As received: whole addresses of `family`, packed in network order.
    Wire {
        family: Family,
        bytes: &'a [u8],
    },
    V4(&'a [Ipv4Addr]),
    V6(&'a [Ipv6Addr]),
}

impl<'a> Addresses<'a> {
    pub fn family(&self) -> Family {
        match self {
            Addresses::Wire { family, .. } => *family,
            Addresses::V4(_) => Family::Ipv4,
            Addresses::V6(_) => Family::Ipv6,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Addresses::Wire { family, bytes } => bytes.len() / family.addr_len(),
            Addresses::V4(a) => a.len(),
            Addresses::V6(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The i-th address, if any.
    pub fn get(&self, i: usize) -> Option<IpAddr> {
        match self {
            Addresses::Wire { family, bytes } => {
                let n = family.addr_len();
                let start = i.checked_mul(n)?;
                let chunk = bytes.get(start..start.checked_add(n)?)?;
                Some(match family {
                    Family::Ipv4 => {
                        let b: [u8; 4] = chunk.try_into().ok()?;
                        IpAddr::V4(Ipv4Addr::from(b))
                    }
                    Family::Ipv6 => {
                        let b: [u8; 16] = chunk.try_into().ok()?;
                        IpAddr::V6(Ipv6Addr::from(b))
                    }
                })
            }
            Addresses::V4(a) => a.get(i).copied().map(IpAddr::V4),
            Addresses::V6(a) => a.get(i).copied().map(IpAddr::V6),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

impl PartialEq for Addresses<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.family() == other.family()
            && self.len() == other.len()
            && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

/// `addresses` split by family, in their order: what
/// [`Addresses::V4`] / [`Addresses::V6`] borrow.
pub fn split_families(addresses: &[IpAddr]) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for a in addresses {
        match a {
            IpAddr::V4(a) => v4.push(*a),
            IpAddr::V6(a) => v6.push(*a),
        }
    }
    (v4, v6)
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6). Always `None` for v3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Type 0: no authentication.
    None,
    /// Type 1: simple text password, 8 octets, zero padded. No protection.
    SimpleText([u8; 8]),
    /// Type 2: IP Authentication Header. Recognised and reported, not verified.
    Ah,
    /// Any other type value, reported as is.
    Unknown(u8),
}

/// A VRRP advertisement, version-independent, as the core sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdvertRepr<'a> {
    pub version: Version,
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    /// 0 = the Active router stops; 255 = address owner.
    pub priority: u8,
    /// The advertisement interval in centiseconds for both versions
    /// (v3: the 12-bit Max Advertise Interval; v2: Adver Int seconds x 100).
    pub max_advert_interval_cs: u16,
    /// v2 only; `Auth::None` for v3.
    pub auth: Auth,
    pub addresses: Addresses<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_addresses_iterate_and_compare_with_configured_ones() {
        let bytes = [192, 0, 2, 100, 192, 0, 2, 101];
        let wire = Addresses::Wire {
            family: Family::Ipv4,
            bytes: &bytes,
        };
        let configured = [Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 101)];
        assert_eq!(wire.len(), 2);
        assert_eq!(wire.get(1), Some(IpAddr::V4(configured[1])));
        assert_eq!(wire.get(2), None);
        assert_eq!(wire.get(usize::MAX), None);
        assert_eq!(wire, Addresses::V4(&configured));
        assert_ne!(wire, Addresses::V4(&configured[..1]));
        assert_ne!(wire, Addresses::V6(&[]));
        let v6 = ["2001:db8::1".parse::<Ipv6Addr>().unwrap()];
        let v6_bytes = v6[0].octets();
        let wire6 = Addresses::Wire {
            family: Family::Ipv6,
            bytes: &v6_bytes,
        };
        assert_eq!(wire6, Addresses::V6(&v6));
        assert_eq!(wire6.iter().collect::<Vec<_>>(), vec![IpAddr::V6(v6[0])]);
        assert!(Addresses::V4(&[]).is_empty());
    }
}
