//! The IPv4 header (RFC 791 section 3.1) of a received datagram.
//!
//! A raw IPv4 socket delivers the whole datagram, header included; the
//! kernel has already verified the header checksum, so [`Ipv4Header::parse`]
//! does not require it to be right (a capture of our own outgoing packets
//! may carry a zero checksum left for the NIC), but the length fields must
//! agree with each other and with the buffer.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv4Addr;

use super::bytes::{read_array, read_u8, read_u16, write_bytes};
use super::checksum;
use super::error::{EmitError, IpHeaderProblem, Layer, ParseError};

mod field {
    use std::ops::Range;

    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = 20;
/// IP protocol number of VRRP (RFC 9568 5.1.1.3, RFC 3768 5.2.4).
pub const PROTOCOL_VRRP: u8 = 112;
/// IP protocol number of the Authentication Header (RFC 4302), which a
/// VRRPv2 router using RFC 2338 auth type 2 puts in front of VRRP.
pub const PROTOCOL_AH: u8 = 51;
/// TOS "Internetwork Control" (precedence 6): what keepalived (setsockopt
/// IP_TOS) and FRR put on VRRP packets; written by [`Ipv4Header::emit`].
pub const TOS_INTERNETWORK_CONTROL: u8 = 0xc0;

const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A read (and write) view of an IPv4 header and its payload.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking. Accessors never panic, but on a short buffer
    /// they read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap and check the length fields (see [`Packet::check_len`]).
    pub fn new_checked(buffer: T) -> Result<Packet<T>, ParseError> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// The buffer holds a whole header (IHL x 4 bytes, IHL >= 5, version 4)
    /// and at least Total Length bytes, and Total Length covers the header.
    /// Bytes past Total Length (Ethernet padding in a capture) are ignored.
    pub fn check_len(&self) -> Result<(), ParseError> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(ParseError::Truncated {
                layer: Layer::IpHeader,
                len,
                need: MIN_HEADER_LEN,
            });
        }
        if self.version() != 4 {
            return Err(ParseError::IpHeaderInvalid(IpHeaderProblem::Version(
                self.version(),
            )));
        }
        let ihl = self.ihl();
        if ihl < 5 {
            return Err(ParseError::IpHeaderInvalid(IpHeaderProblem::IhlTooSmall(
                ihl,
            )));
        }
        let header_len = self.header_len();
        if len < header_len {
            return Err(ParseError::Truncated {
                layer: Layer::IpHeader,
                len,
                need: header_len,
            });
        }
        let total_len = self.total_len();
        if usize::from(total_len) < header_len {
            return Err(ParseError::IpHeaderInvalid(
                IpHeaderProblem::TotalLengthBelowHeader {
                    total_len,
                    header_len,
                },
            ));
        }
        if len < usize::from(total_len) {
            return Err(ParseError::Truncated {
                layer: Layer::IpPayload,
                len,
                need: usize::from(total_len),
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VER_IHL) >> 4
    }

    /// Internet Header Length in 32-bit words.
    pub fn ihl(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::VER_IHL) & 0x0f
    }

    /// Header length in bytes (IHL x 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    pub fn tos(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TOS)
    }

    pub fn total_len(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::LENGTH)
    }

    pub fn ident(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::IDENT)
    }

    pub fn more_fragments(&self) -> bool {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FLAG_MORE_FRAGMENTS != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::FLG_OFF) & FRAG_OFFSET_MASK
    }

    pub fn ttl(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::TTL)
    }

    pub fn protocol(&self) -> u8 {
        read_u8(self.buffer.as_ref(), field::PROTOCOL)
    }

    pub fn header_checksum(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::SRC_ADDR.start))
    }

    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buffer.as_ref(), field::DST_ADDR.start))
    }

    /// The header sums to 0xffff. Informational: the kernel checked it.
    pub fn verify_checksum(&self) -> bool {
        let header = self
            .buffer
            .as_ref()
            .get(..self.header_len())
            .unwrap_or_default();
        !header.is_empty() && checksum::data(header) == 0xffff
    }

    /// The bytes from the end of the header to Total Length (clamped to the
    /// buffer, so never panicking even unchecked).
    pub fn payload(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(buf.len());
        buf.get(self.header_len()..end).unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, bytes);
    }

    pub fn set_version_ihl(&mut self, version: u8, ihl: u8) {
        self.put(field::VER_IHL, &[(version << 4) | (ihl & 0x0f)]);
    }

    pub fn set_tos(&mut self, tos: u8) {
        self.put(field::TOS, &[tos]);
    }

    pub fn set_total_len(&mut self, len: u16) {
        self.put(field::LENGTH.start, &len.to_be_bytes());
    }

    pub fn set_ident(&mut self, ident: u16) {
        self.put(field::IDENT.start, &ident.to_be_bytes());
    }

    /// Flags and fragment offset together (0 for "not fragmented, DF clear").
    pub fn set_flags_frag_offset(&mut self, value: u16) {
        self.put(field::FLG_OFF.start, &value.to_be_bytes());
    }

    pub fn set_ttl(&mut self, ttl: u8) {
        self.put(field::TTL, &[ttl]);
    }

    pub fn set_protocol(&mut self, protocol: u8) {
        self.put(field::PROTOCOL, &[protocol]);
    }

    pub fn set_header_checksum(&mut self, value: u16) {
        self.put(field::CHECKSUM.start, &value.to_be_bytes());
    }

    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.put(field::SRC_ADDR.start, &addr.octets());
    }

    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.put(field::DST_ADDR.start, &addr.octets());
    }

    /// Compute and write the header checksum over IHL x 4 bytes.
    pub fn fill_checksum(&mut self) {
        self.set_header_checksum(0);
        let header_len = self.header_len();
        let sum = checksum::data(self.buffer.as_ref().get(..header_len).unwrap_or_default());
        self.set_header_checksum(!sum);
    }
}

/// The fields of an IPv4 header that VRRP validation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Header {
    /// IHL x 4, options included.
    pub header_len: usize,
    /// Header plus payload, from the Total Length field.
    pub total_len: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Ipv4Header {
    /// A 20-byte header (no options) in front of `payload_len` bytes.
    pub fn new(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        protocol: u8,
        ttl: u8,
        payload_len: usize,
    ) -> Result<Ipv4Header, EmitError> {
        let total_len = u16::try_from(MIN_HEADER_LEN + payload_len)
            .map_err(|_| EmitError::LengthOverflow(MIN_HEADER_LEN + payload_len))?;
        Ok(Ipv4Header {
            header_len: MIN_HEADER_LEN,
            total_len,
            ttl,
            protocol,
            src,
            dst,
        })
    }

    /// Read a checked packet. Fragments are refused: a fragment never holds
    /// a whole VRRP message (and raw sockets see reassembled datagrams).
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Ipv4Header, ParseError> {
        packet.check_len()?;
        if packet.more_fragments() || packet.frag_offset() != 0 {
            return Err(ParseError::IpHeaderInvalid(IpHeaderProblem::Fragment));
        }
        Ok(Ipv4Header {
            header_len: packet.header_len(),
            total_len: packet.total_len(),
            ttl: packet.ttl(),
            protocol: packet.protocol(),
            src: packet.src_addr(),
            dst: packet.dst_addr(),
        })
    }

    /// Bytes after the header according to Total Length.
    pub fn payload_len(&self) -> usize {
        usize::from(self.total_len).saturating_sub(self.header_len)
    }

    /// Bytes [`Ipv4Header::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        MIN_HEADER_LEN
    }

    /// Write a 20-byte header: TOS 0xc0, identification 0, no flags, and a
    /// correct header checksum. Options are not supported.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        if self.header_len != MIN_HEADER_LEN {
            return Err(EmitError::Ipv4OptionsUnsupported(self.header_len));
        }
        if usize::from(self.total_len) < MIN_HEADER_LEN {
            return Err(EmitError::LengthOverflow(usize::from(self.total_len)));
        }
        let header = crate::wire::bytes::emit_area(buf, MIN_HEADER_LEN)?;
        let mut packet = Packet::new_unchecked(header);
        packet.set_version_ihl(4, 5);
        packet.set_tos(TOS_INTERNETWORK_CONTROL);
        packet.set_total_len(self.total_len);
        packet.set_ident(0);
        packet.set_flags_frag_offset(0);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src);
        packet.set_dst_addr(self.dst);
        packet.fill_checksum();
        Ok(MIN_HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's VRRPv3 advert, IPv4 header and VRRP message,
    /// captured on a veth (see `docs/wire.md`): identification 5.
    static PACKET_BYTES: [u8; 36] = [
        0x45, 0xc0, 0x00, 0x24, 0x00, 0x05, 0x00, 0x00, 0xff, 0x70, 0x18, 0x91, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12, 0x31, 0x33, 0xc8, 0x02, 0x00, 0x64, 0xdf, 0x06, 0xc0, 0x00,
        0x02, 0x64, 0xc0, 0x00, 0x02, 0x65,
    ];

    /// The same header as `emit` writes it: identification 0.
    static EMITTED_HEADER: [u8; 20] = [
        0x45, 0xc0, 0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0xff, 0x70, 0x18, 0x96, 0xc0, 0x00, 0x02,
        0x01, 0xe0, 0x00, 0x00, 0x12,
    ];

    fn repr() -> Ipv4Header {
        Ipv4Header {
            header_len: 20,
            total_len: 36,
            ttl: 255,
            protocol: PROTOCOL_VRRP,
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(224, 0, 0, 18),
        }
    }

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(packet.version(), 4);
        assert_eq!(packet.header_len(), 20);
        assert_eq!(packet.tos(), 0xc0);
        assert_eq!(packet.total_len(), 36);
        assert_eq!(packet.ident(), 5);
        assert!(!packet.more_fragments());
        assert_eq!(packet.frag_offset(), 0);
        assert_eq!(packet.ttl(), 255);
        assert_eq!(packet.protocol(), 112);
        assert_eq!(packet.header_checksum(), 0x1891);
        assert_eq!(packet.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(packet.dst_addr(), Ipv4Addr::new(224, 0, 0, 18));
        assert!(packet.verify_checksum());
        assert_eq!(packet.payload(), &PACKET_BYTES[20..]);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 20];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_version_ihl(4, 5);
        packet.set_tos(0xc0);
        packet.set_total_len(36);
        packet.set_ident(5);
        packet.set_flags_frag_offset(0);
        packet.set_ttl(255);
        packet.set_protocol(112);
        packet.set_src_addr(Ipv4Addr::new(192, 0, 2, 1));
        packet.set_dst_addr(Ipv4Addr::new(224, 0, 0, 18));
        packet.fill_checksum();
        assert_eq!(&bytes[..], &PACKET_BYTES[..20]);
    }

    #[test]
    fn parse() {
        let packet = Packet::new_checked(&PACKET_BYTES[..]).unwrap();
        assert_eq!(Ipv4Header::parse(&packet).unwrap(), repr());
        assert_eq!(repr().payload_len(), 16);
    }

    #[test]
    fn emit() {
        let mut bytes = [0xa5u8; 22];
        assert_eq!(repr().emit(&mut bytes).unwrap(), 20);
        assert_eq!(&bytes[..20], &EMITTED_HEADER[..]);
        assert_eq!(&bytes[20..], &[0xa5, 0xa5], "wrote past the header");
        assert!(Packet::new_unchecked(&bytes[..20]).verify_checksum());
    }

    #[test]
    fn emit_refuses_options_and_short_buffers() {
        let mut r = repr();
        r.header_len = 24;
        assert_eq!(
            r.emit(&mut [0; 24]),
            Err(EmitError::Ipv4OptionsUnsupported(24))
        );
        assert_eq!(
            repr().emit(&mut [0; 19]),
            Err(EmitError::BufferTooSmall { need: 20, have: 19 })
        );
        assert!(Ipv4Header::new(r.src, r.dst, 112, 255, 70_000).is_err());
        assert_eq!(Ipv4Header::new(r.src, r.dst, 112, 255, 16).unwrap(), repr());
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one 4-byte option (a NOP pad), total length 40.
        let mut bytes = Vec::from(&PACKET_BYTES[..20]);
        bytes.extend_from_slice(&[1, 1, 1, 1]);
        bytes.extend_from_slice(&PACKET_BYTES[20..]);
        bytes[0] = 0x46;
        bytes[3] = 40;
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.header_len(), 24);
        assert_eq!(packet.payload(), &PACKET_BYTES[20..]);
        assert_eq!(Ipv4Header::parse(&packet).unwrap().header_len, 24);
    }

    #[test]
    fn trailing_padding_is_ignored() {
        let mut bytes = Vec::from(&PACKET_BYTES[..]);
        bytes.extend_from_slice(&[0; 10]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(packet.payload(), &PACKET_BYTES[20..]);
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            Packet::new_checked(&PACKET_BYTES[..19]).unwrap_err(),
            ParseError::Truncated {
                layer: Layer::IpHeader,
                len: 19,
                need: 20
            }
        );
        let mut bytes = PACKET_BYTES;
        bytes[0] = 0x44;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            ParseError::IpHeaderInvalid(IpHeaderProblem::IhlTooSmall(4))
        );
        bytes[0] = 0x65;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            ParseError::IpHeaderInvalid(IpHeaderProblem::Version(6))
        );
        bytes[0] = 0x4f; // 60-byte header in a 36-byte buffer
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            ParseError::Truncated {
                layer: Layer::IpHeader,
                len: 36,
                need: 60
            }
        );
        let mut bytes = PACKET_BYTES;
        bytes[3] = 19;
        assert_eq!(
            Packet::new_checked(&bytes[..]).unwrap_err(),
            ParseError::IpHeaderInvalid(IpHeaderProblem::TotalLengthBelowHeader {
                total_len: 19,
                header_len: 20
            })
        );
        assert_eq!(
            Packet::new_checked(&PACKET_BYTES[..35]).unwrap_err(),
            ParseError::Truncated {
                layer: Layer::IpPayload,
                len: 35,
                need: 36
            }
        );
        let mut bytes = PACKET_BYTES;
        bytes[6] = 0x20; // More Fragments
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            Ipv4Header::parse(&packet).unwrap_err(),
            ParseError::IpHeaderInvalid(IpHeaderProblem::Fragment)
        );
    }

    #[test]
    fn unchecked_accessors_do_not_panic() {
        let packet = Packet::new_unchecked(&[0x4f][..]);
        assert_eq!(packet.total_len(), 0);
        assert_eq!(packet.payload(), &[] as &[u8]);
        assert_eq!(packet.src_addr(), Ipv4Addr::UNSPECIFIED);
        assert!(!packet.verify_checksum());
    }
}
