//! The fixed IPv6 header (RFC 8200 section 3): written in front of the
//! Neighbor Advertisements we send on an AF_PACKET socket, and read from
//! captures by the decoder. (A raw IPv6 socket never shows it: the kernel
//! hands [`crate::wire::parse_ipv6`] the addresses and the Hop Limit.)
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                         Source Address                        +
//! |                          (16 bytes)                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                      Destination Address                      +
//! |                          (16 bytes)                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Extension headers are not walked: VRRP and Neighbor Discovery packets do
//! not carry them, and the decoder reports such a packet by its Next Header.

use std::net::Ipv6Addr;

use super::bytes::{read_array, read_u8, read_u16, read_u32, write_bytes};
use super::error::{EmitError, FrameError};

mod field {
    use std::ops::Range;

    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
    pub const PAYLOAD: usize = 40;
}

pub const HEADER_LEN: usize = 40;
/// Next Header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// Next Header value of VRRP.
pub const NEXT_HEADER_VRRP: u8 = 112;

/// A read (and write) view of an IPv6 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking the version, the header and Payload Length bytes.
    /// Bytes past Payload Length (Ethernet padding) are ignored.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, FrameError> {
        let packet = Packet::new_unchecked(buffer);
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(FrameError::Truncated {
                what: "IPv6 header",
                len,
                need: HEADER_LEN,
            });
        }
        if packet.version() != 6 {
            return Err(FrameError::Ipv6HeaderInvalid("version is not 6"));
        }
        let need = HEADER_LEN + usize::from(packet.payload_len());
        if len < need {
            return Err(FrameError::Truncated {
                what: "IPv6 payload",
                len,
                need,
            });
        }
        Ok(packet)
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn version(&self) -> u8 {
        read_u8(self.buf(), 0) >> 4
    }

    pub fn traffic_class(&self) -> u8 {
        ((read_u32(self.buf(), field::VER_TC_FLOW.start) >> 20) & 0xff) as u8
    }

    pub fn flow_label(&self) -> u32 {
        read_u32(self.buf(), field::VER_TC_FLOW.start) & 0x000f_ffff
    }

    pub fn payload_len(&self) -> u16 {
        read_u16(self.buf(), field::LENGTH)
    }

    pub fn next_header(&self) -> u8 {
        read_u8(self.buf(), field::NEXT_HEADER)
    }

    pub fn hop_limit(&self) -> u8 {
        read_u8(self.buf(), field::HOP_LIMIT)
    }

    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(read_array::<16>(self.buf(), field::SRC_ADDR.start))
    }

    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(read_array::<16>(self.buf(), field::DST_ADDR.start))
    }

    /// The Payload Length bytes after the header (clamped to the buffer).
    pub fn payload(&self) -> &[u8] {
        let end = (field::PAYLOAD + usize::from(self.payload_len())).min(self.buf().len());
        self.buf().get(field::PAYLOAD..end).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, bytes);
    }

    /// Version 6, with the traffic class and the low 20 bits of `flow_label`.
    pub fn set_version_tc_flow(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0x000f_ffff);
        self.put(field::VER_TC_FLOW.start, &word.to_be_bytes());
    }

    pub fn set_payload_len(&mut self, len: u16) {
        self.put(field::LENGTH.start, &len.to_be_bytes());
    }

    pub fn set_next_header(&mut self, next_header: u8) {
        self.put(field::NEXT_HEADER, &[next_header]);
    }

    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.put(field::HOP_LIMIT, &[hop_limit]);
    }

    pub fn set_src_addr(&mut self, addr: Ipv6Addr) {
        self.put(field::SRC_ADDR.start, &addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv6Addr) {
        self.put(field::DST_ADDR.start, &addr.octets());
    }
}

/// The fixed IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Header {
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub payload_len: u16,
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
}

impl Ipv6Header {
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Ipv6Header, FrameError> {
        Packet::new_checked(packet.buf())?;
        Ok(Ipv6Header {
            traffic_class: packet.traffic_class(),
            flow_label: packet.flow_label(),
            payload_len: packet.payload_len(),
            next_header: packet.next_header(),
            hop_limit: packet.hop_limit(),
            src: packet.src_addr(),
            dst: packet.dst_addr(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the 40-byte header at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let header = crate::wire::bytes::emit_area(buf, HEADER_LEN)?;
        let mut packet = Packet::new_unchecked(header);
        packet.set_version_tc_flow(self.traffic_class, self.flow_label);
        packet.set_payload_len(self.payload_len);
        packet.set_next_header(self.next_header);
        packet.set_hop_limit(self.hop_limit);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's VRRPv3 IPv6 advert (captured, Ethernet header
    /// removed): traffic class 0xc0, flow label 0x7380f, 40-byte payload.
    pub(crate) static PACKET_BYTES: [u8; 80] = [
        0x6c, 0x07, 0x38, 0x0f, 0x00, 0x28, 0x70, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x5e, 0xff, 0xfe, 0x00, 0x00, 0xaa, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x31, 0x35, 0x64, 0x02, 0x00,
        0x32, 0xe1, 0xdd, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x53, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x53,
    ];

    fn repr() -> Ipv6Header {
        Ipv6Header {
            traffic_class: 0xc0,
            flow_label: 0x7380f,
            payload_len: 40,
            next_header: NEXT_HEADER_VRRP,
            hop_limit: 255,
            src: "fe80::5eff:fe00:aa".parse().unwrap(),
            dst: "ff02::12".parse().unwrap(),
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), 6);
        assert_eq!(packet.traffic_class(), 0xc0);
        assert_eq!(packet.flow_label(), 0x7380f);
        assert_eq!(packet.payload_len(), 40);
        assert_eq!(packet.next_header(), 112);
        assert_eq!(packet.hop_limit(), 255);
        assert_eq!(packet.src_addr(), repr().src);
        assert_eq!(packet.dst_addr(), repr().dst);
        assert_eq!(packet.payload(), &PACKET_BYTES[40..]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 80];
        bytes[40..].copy_from_slice(&PACKET_BYTES[40..]);
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version_tc_flow(0xc0, 0x7380f);
        packet.set_payload_len(40);
        packet.set_next_header(112);
        packet.set_hop_limit(255);
        packet.set_src_addr(repr().src);
        packet.set_dst_addr(repr().dst);
        assert_eq!(bytes, PACKET_BYTES);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Ipv6Header::parse(&packet).unwrap(), repr());
    }

    #[test]
    fn emit() {
        let mut bytes = [0xa5u8; 41];
        assert_eq!(repr().emit(&mut bytes).unwrap(), 40);
        assert_eq!(&bytes[..40], &PACKET_BYTES[..40]);
        assert_eq!(bytes[40], 0xa5);
        assert_eq!(
            repr().emit(&mut [0; 39]),
            Err(EmitError::BufferTooSmall { need: 40, have: 39 })
        );
    }

    #[test]
    fn length_errors() {
        assert!(matches!(
            Packet::new_checked(&PACKET_BYTES[..39]),
            Err(FrameError::Truncated { need: 40, .. })
        ));
        assert!(matches!(
            Packet::new_checked(&PACKET_BYTES[..79]),
            Err(FrameError::Truncated { need: 80, .. })
        ));
        let mut bytes = PACKET_BYTES;
        bytes[0] = 0x4c;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            FrameError::Ipv6HeaderInvalid("version is not 6")
        );
        let unchecked = Packet::new_unchecked(&PACKET_BYTES[..50]);
        assert_eq!(unchecked.payload(), &PACKET_BYTES[40..50]);
    }
}
