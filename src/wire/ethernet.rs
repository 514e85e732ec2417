//! Link-layer headers: Ethernet II (IEEE 802.3 / RFC 894), which we write
//! for gratuitous ARP and Neighbor Advertisements on an AF_PACKET socket,
//! and the Linux "cooked" capture headers SLL and SLL2 that `tcpdump -i any`
//! writes, so `ha-vip decode` can read such captures.
//!
//! Ethernet II:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination MAC (6 bytes)                  |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+       Source MAC (6 bytes)    +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           EtherType           |  Payload ...
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! SLL (LINKTYPE_LINUX_SLL, 113), 16 bytes:
//!
//! ```text
//! +---------------------------+---------------------------+
//! | Packet type (2)           | ARPHRD type (2)           |
//! +---------------------------+---------------------------+
//! | Link-layer address length (2) | Link-layer address (8) |
//! +---------------------------+---------------------------+
//! | Protocol type (2)         | Payload ...
//! +---------------------------+
//! ```
//!
//! SLL2 (LINKTYPE_LINUX_SLL2, 276), 20 bytes:
//!
//! ```text
//! +----------------+---------------+-----------------------------+
//! | Protocol (2)   | Reserved (2)  | Interface index (4)         |
//! +----------------+---------------+-----------------------------+
//! | ARPHRD type (2)| Pkt type (1)  | Addr len (1) | Address (8)  |
//! +----------------+---------------+-----------------------------+
//! ```

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::Family;
use super::bytes::{read_array, read_u8, read_u16, read_u32, write_bytes};
use super::error::{EmitError, FrameError};

mod field {
    use std::ops::Range;

    pub const DESTINATION: usize = 0;
    pub const SOURCE: usize = 6;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = 14;
}

/// Length of an Ethernet II header (no VLAN tag).
pub const HEADER_LEN: usize = 14;
/// Length of a Linux cooked capture v1 header.
pub const SLL_HEADER_LEN: usize = 16;
/// Length of a Linux cooked capture v2 header.
pub const SLL2_HEADER_LEN: usize = 20;
/// ARPHRD_ETHER: the SLL address is a MAC.
pub const ARPHRD_ETHER: u16 = 1;

/// An Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const UNSPECIFIED: MacAddr = MacAddr([0; 6]);

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    /// The I/G bit: group (multicast or broadcast) address.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// RFC 2464 7: 33:33 and the last four bytes of the IPv6 group.
    pub fn from_ipv6_multicast(group: &Ipv6Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }

    /// RFC 1112 6.4: 01:00:5e and the low 23 bits of the IPv4 group.
    pub fn from_ipv4_multicast(group: &Ipv4Addr) -> MacAddr {
        let o = group.octets();
        MacAddr([0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]])
    }

    /// RFC 9568 7.3: the virtual router MAC address, 00-00-5E-00-01-{VRID}
    /// for IPv4 and 00-00-5E-00-02-{VRID} for IPv6.
    pub fn vrrp_virtual(family: Family, vrid: u8) -> MacAddr {
        let block = match family {
            Family::Ipv4 => 0x01,
            Family::Ipv6 => 0x02,
        };
        MacAddr([0x00, 0x00, 0x5e, 0x00, block, vrid])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The error of parsing a MAC address string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address, expected six hex bytes like 02:00:5e:00:00:01")]
pub struct MacAddrParseError;

impl FromStr for MacAddr {
    type Err = MacAddrParseError;

    /// Six hex bytes separated by `:` or `-`.
    fn from_str(s: &str) -> Result<MacAddr, MacAddrParseError> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in &mut out {
            let part = parts.next().ok_or(MacAddrParseError)?;
            if part.is_empty() || part.len() > 2 {
                return Err(MacAddrParseError);
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| MacAddrParseError)?;
        }
        if parts.next().is_some() {
            return Err(MacAddrParseError);
        }
        Ok(MacAddr(out))
    }
}

/// An EtherType (or SLL protocol) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const ARP: EtherType = EtherType(0x0806);
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// IEEE 802.1Q tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// IEEE 802.1ad (QinQ) outer tag.
    pub const QINQ: EtherType = EtherType(0x88a8);

    fn is_vlan_tag(self) -> bool {
        self == EtherType::VLAN || self == EtherType::QINQ
    }
}

/// A read (and write) view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wrap without checking; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wrap, checking the 14-byte header is there.
    pub fn new_checked(buffer: T) -> Result<Frame<T>, FrameError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(FrameError::Truncated {
                what: "Ethernet header",
                len,
                need: HEADER_LEN,
            });
        }
        Ok(Frame::new_unchecked(buffer))
    }

    pub fn dst_addr(&self) -> MacAddr {
        MacAddr(read_array(self.buffer.as_ref(), field::DESTINATION))
    }

    pub fn src_addr(&self) -> MacAddr {
        MacAddr(read_array(self.buffer.as_ref(), field::SOURCE))
    }

    pub fn ethertype(&self) -> EtherType {
        EtherType(read_u16(self.buffer.as_ref(), field::ETHERTYPE))
    }

    /// Everything after the 14-byte header (VLAN tags included, if any; see
    /// [`skip_vlan_tags`]). May hold trailing padding up to 60 bytes.
    pub fn payload(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(field::PAYLOAD..)
            .unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, addr: MacAddr) {
        write_bytes(self.buffer.as_mut(), field::DESTINATION, &addr.0);
    }

    pub fn set_src_addr(&mut self, addr: MacAddr) {
        write_bytes(self.buffer.as_mut(), field::SOURCE, &addr.0);
    }

    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        write_bytes(
            self.buffer.as_mut(),
            field::ETHERTYPE.start,
            &ethertype.0.to_be_bytes(),
        );
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(field::PAYLOAD..)
            .unwrap_or_default()
    }
}

/// An Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub ethertype: EtherType,
}

impl EthernetRepr {
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<EthernetRepr, FrameError> {
        Frame::new_checked(frame.buffer.as_ref())?;
        Ok(EthernetRepr {
            src: frame.src_addr(),
            dst: frame.dst_addr(),
            ethertype: frame.ethertype(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 14-byte header at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        if buf.len() < HEADER_LEN {
            return Err(EmitError::BufferTooSmall {
                need: HEADER_LEN,
                have: buf.len(),
            });
        }
        let mut frame = Frame::new_unchecked(buf);
        frame.set_dst_addr(self.dst);
        frame.set_src_addr(self.src);
        frame.set_ethertype(self.ethertype);
        Ok(HEADER_LEN)
    }
}

/// Skip up to two 802.1Q / 802.1ad tags: returns the inner EtherType and
/// the bytes after the tags.
pub fn skip_vlan_tags(ethertype: EtherType, payload: &[u8]) -> (EtherType, &[u8]) {
    let mut ethertype = ethertype;
    let mut rest = payload;
    for _ in 0..2 {
        if !ethertype.is_vlan_tag() {
            break;
        }
        // A tag: TCI (2 bytes), then the next EtherType (2 bytes).
        match rest.get(4..) {
            Some(after) => {
                ethertype = EtherType(read_u16(rest, 2..4));
                rest = after;
            }
            None => break,
        }
    }
    (ethertype, rest)
}

/// Parse an Ethernet frame: its header, and after any VLAN tags, the inner
/// EtherType and payload.
pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, EtherType, &[u8]), FrameError> {
    let view = Frame::new_checked(frame)?;
    let repr = EthernetRepr::parse(&view)?;
    let payload = frame.get(HEADER_LEN..).unwrap_or_default();
    let (inner, payload) = skip_vlan_tags(repr.ethertype, payload);
    Ok((repr, inner, payload))
}

/// `sll_pkttype` values (linux/if_packet.h).
pub mod packet_type {
    pub const HOST: u16 = 0;
    pub const BROADCAST: u16 = 1;
    pub const MULTICAST: u16 = 2;
    pub const OTHERHOST: u16 = 3;
    pub const OUTGOING: u16 = 4;
}

/// A Linux cooked capture v1 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SllRepr {
    /// See [`packet_type`].
    pub packet_type: u16,
    pub arphrd_type: u16,
    /// Bytes of `addr` in use (6 for Ethernet).
    pub addr_len: u16,
    pub addr: [u8; 8],
    pub protocol: EtherType,
}

impl SllRepr {
    /// Parse the header and return it with the payload after it.
    pub fn parse(frame: &[u8]) -> Result<(SllRepr, &[u8]), FrameError> {
        let payload = frame.get(SLL_HEADER_LEN..).ok_or(FrameError::Truncated {
            what: "SLL header",
            len: frame.len(),
            need: SLL_HEADER_LEN,
        })?;
        let repr = SllRepr {
            packet_type: read_u16(frame, 0..2),
            arphrd_type: read_u16(frame, 2..4),
            addr_len: read_u16(frame, 4..6),
            addr: read_array(frame, 6),
            protocol: EtherType(read_u16(frame, 14..16)),
        };
        Ok((repr, payload))
    }

    /// The link-layer source address as a MAC, if it is one.
    pub fn mac(&self) -> Option<MacAddr> {
        (self.arphrd_type == ARPHRD_ETHER && self.addr_len == 6)
            .then(|| MacAddr(read_array(&self.addr, 0)))
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let out = crate::wire::bytes::emit_area(buf, SLL_HEADER_LEN)?;
        write_bytes(out, 0, &self.packet_type.to_be_bytes());
        write_bytes(out, 2, &self.arphrd_type.to_be_bytes());
        write_bytes(out, 4, &self.addr_len.to_be_bytes());
        write_bytes(out, 6, &self.addr);
        write_bytes(out, 14, &self.protocol.0.to_be_bytes());
        Ok(SLL_HEADER_LEN)
    }
}

/// A Linux cooked capture v2 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sll2Repr {
    pub protocol: EtherType,
    pub if_index: u32,
    pub arphrd_type: u16,
    /// See [`packet_type`] (one byte here).
    pub packet_type: u8,
    pub addr_len: u8,
    pub addr: [u8; 8],
}

impl Sll2Repr {
    /// Parse the header and return it with the payload after it.
    pub fn parse(frame: &[u8]) -> Result<(Sll2Repr, &[u8]), FrameError> {
        let payload = frame.get(SLL2_HEADER_LEN..).ok_or(FrameError::Truncated {
            what: "SLL2 header",
            len: frame.len(),
            need: SLL2_HEADER_LEN,
        })?;
        let repr = Sll2Repr {
            protocol: EtherType(read_u16(frame, 0..2)),
            if_index: read_u32(frame, 4),
            arphrd_type: read_u16(frame, 8..10),
            packet_type: read_u8(frame, 10),
            addr_len: read_u8(frame, 11),
            addr: read_array(frame, 12),
        };
        Ok((repr, payload))
    }

    /// The link-layer source address as a MAC, if it is one.
    pub fn mac(&self) -> Option<MacAddr> {
        (self.arphrd_type == ARPHRD_ETHER && self.addr_len == 6)
            .then(|| MacAddr(read_array(&self.addr, 0)))
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let out = crate::wire::bytes::emit_area(buf, SLL2_HEADER_LEN)?;
        write_bytes(out, 0, &self.protocol.0.to_be_bytes());
        write_bytes(out, 2, &[0, 0]);
        write_bytes(out, 4, &self.if_index.to_be_bytes());
        write_bytes(out, 8, &self.arphrd_type.to_be_bytes());
        write_bytes(out, 10, &[self.packet_type, self.addr_len]);
        write_bytes(out, 12, &self.addr);
        Ok(SLL2_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Ethernet header of keepalived's VRRPv3 advert (captured).
    static FRAME_BYTES: [u8; 16] = [
        0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa, 0x08, 0x00, 0x45,
        0xc0,
    ];

    fn repr() -> EthernetRepr {
        EthernetRepr {
            dst: MacAddr([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]),
            src: MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa]),
            ethertype: EtherType::IPV4,
        }
    }

    #[test]
    fn deconstruct() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(frame.dst_addr(), MacAddr([0x01, 0x00, 0x5e, 0, 0, 0x12]));
        assert_eq!(frame.src_addr(), MacAddr([0x02, 0x00, 0x5e, 0, 0, 0xaa]));
        assert_eq!(frame.ethertype(), EtherType::IPV4);
        assert_eq!(frame.payload(), &[0x45, 0xc0]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 16];
        let mut frame = Frame::new_unchecked(&mut bytes[..]);
        frame.set_dst_addr(MacAddr([0x01, 0x00, 0x5e, 0, 0, 0x12]));
        frame.set_src_addr(MacAddr([0x02, 0x00, 0x5e, 0, 0, 0xaa]));
        frame.set_ethertype(EtherType::IPV4);
        frame.payload_mut().copy_from_slice(&[0x45, 0xc0]);
        assert_eq!(bytes, FRAME_BYTES);
    }

    #[test]
    fn parse() {
        let frame = Frame::new_checked(&FRAME_BYTES[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&frame).unwrap(), repr());
        let (r, inner, payload) = parse_frame(&FRAME_BYTES).unwrap();
        assert_eq!(
            (r, inner, payload),
            (repr(), EtherType::IPV4, &[0x45, 0xc0][..])
        );
    }

    #[test]
    fn emit() {
        let mut bytes = [0xa5u8; 16];
        assert_eq!(repr().emit(&mut bytes).unwrap(), 14);
        assert_eq!(&bytes[..14], &FRAME_BYTES[..14]);
        assert_eq!(&bytes[14..], &[0xa5, 0xa5]);
        assert_eq!(
            repr().emit(&mut [0; 13]),
            Err(EmitError::BufferTooSmall { need: 14, have: 13 })
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Frame::new_checked(&FRAME_BYTES[..13]).unwrap_err(),
            FrameError::Truncated {
                what: "Ethernet header",
                len: 13,
                need: 14
            }
        );
        assert!(parse_frame(&[]).is_err());
        let unchecked = Frame::new_unchecked(&[1u8, 2][..]);
        assert_eq!(unchecked.ethertype(), EtherType(0));
        assert!(EthernetRepr::parse(&unchecked).is_err());
    }

    #[test]
    fn vlan_tags_are_skipped() {
        let mut bytes = Vec::from(&FRAME_BYTES[..12]);
        bytes.extend_from_slice(&[0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x86, 0xdd]);
        bytes.extend_from_slice(&[0x60, 0x00]);
        let (r, inner, payload) = parse_frame(&bytes).unwrap();
        assert_eq!(r.ethertype, EtherType::QINQ);
        assert_eq!(inner, EtherType::IPV6);
        assert_eq!(payload, &[0x60, 0x00]);
        // A tag cut short leaves the outer type.
        let (inner, rest) = skip_vlan_tags(EtherType::VLAN, &[0, 1]);
        assert_eq!((inner, rest), (EtherType::VLAN, &[0u8, 1][..]));
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(
            MacAddr::from_ipv6_multicast(&"ff02::1".parse().unwrap()).to_string(),
            "33:33:00:00:00:01"
        );
        assert_eq!(
            MacAddr::from_ipv4_multicast(&Ipv4Addr::new(224, 128, 0, 18)).to_string(),
            "01:00:5e:00:00:12"
        );
        assert_eq!(
            MacAddr::vrrp_virtual(Family::Ipv4, 51).to_string(),
            "00:00:5e:00:01:33"
        );
        assert_eq!(
            MacAddr::vrrp_virtual(Family::Ipv6, 255).to_string(),
            "00:00:5e:00:02:ff"
        );
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr([0x02, 0, 0, 0, 0, 1]).is_multicast());
        assert_eq!(
            "02-00-5E-00-00-aa".parse::<MacAddr>(),
            Ok(MacAddr([2, 0, 0x5e, 0, 0, 0xaa]))
        );
        for bad in [
            "",
            "02:00:5e:00:00",
            "02:00:5e:00:00:aa:bb",
            "02:00:5e:00:00:xyz",
            "2::5e:0:0:1",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(MacAddrParseError), "{bad}");
        }
    }

    /// An SLL header as `tcpdump -i any` writes it for an incoming multicast
    /// VRRP packet from 02:00:5e:00:00:aa.
    static SLL_BYTES: [u8; 17] = [
        0x00, 0x02, 0x00, 0x01, 0x00, 0x06, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa, 0x00, 0x00, 0x08,
        0x00, 0x45,
    ];

    static SLL2_BYTES: [u8; 21] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x01, 0x02, 0x06, 0x02, 0x00, 0x5e,
        0x00, 0x00, 0xaa, 0x00, 0x00, 0x45,
    ];

    #[test]
    fn sll_parse_and_emit() {
        let (repr, payload) = SllRepr::parse(&SLL_BYTES).unwrap();
        assert_eq!(repr.packet_type, packet_type::MULTICAST);
        assert_eq!(repr.protocol, EtherType::IPV4);
        assert_eq!(repr.mac(), Some(MacAddr([2, 0, 0x5e, 0, 0, 0xaa])));
        assert_eq!(payload, &[0x45]);
        let mut out = [0xa5u8; 17];
        assert_eq!(repr.emit(&mut out).unwrap(), 16);
        assert_eq!(&out[..16], &SLL_BYTES[..16]);
        assert_eq!(out[16], 0xa5);
        assert!(SllRepr::parse(&SLL_BYTES[..15]).is_err());
    }

    #[test]
    fn sll2_parse_and_emit() {
        let (repr, payload) = Sll2Repr::parse(&SLL2_BYTES).unwrap();
        assert_eq!(repr.protocol, EtherType::IPV4);
        assert_eq!(repr.if_index, 6);
        assert_eq!(repr.packet_type, 2);
        assert_eq!(repr.mac(), Some(MacAddr([2, 0, 0x5e, 0, 0, 0xaa])));
        assert_eq!(payload, &[0x45]);
        let mut out = [0xa5u8; 21];
        assert_eq!(repr.emit(&mut out).unwrap(), 20);
        assert_eq!(&out[..20], &SLL2_BYTES[..20]);
        assert_eq!(out[20], 0xa5);
        assert!(Sll2Repr::parse(&SLL2_BYTES[..19]).is_err());
        let loopback = Sll2Repr {
            arphrd_type: 772,
            ..repr
        };
        assert_eq!(loopback.mac(), None);
    }
}
