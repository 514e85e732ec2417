//! ARP (RFC 826) for Ethernet and IPv4, and the gratuitous ARP an Active
//! router sends for each virtual IPv4 address (RFC 9568 6.4.1 / 6.4.2: "for
//! each IPv4 address associated with the Virtual Router, broadcast a
//! gratuitous ARP request").
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Hardware Type (1)          |    Protocol Type (0x0800)     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  HLen (6)     |  PLen (4)     |          Operation            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |             Sender Hardware Address (6 bytes)                 |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                               | Sender Protocol Address (4)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                               | Target Hardware Address (6)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |              Target Protocol Address (4 bytes)                |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! What keepalived 2.2.7 sends (captured; `vrrp_arp.c`), and so what
//! [`ArpRepr::gratuitous`] builds: Ethernet destination ff:ff:ff:ff:ff:ff,
//! source our MAC; an ARP *request* with sender MAC = our MAC, sender IP =
//! target IP = the virtual address, and target MAC ff:ff:ff:ff:ff:ff (FRR's
//! vrrpd does the same). RFC 5227 2.3 would put zeros in the target MAC of
//! an ARP Announcement; receivers ignore the field either way, so we follow
//! the implementations we share the link with. A caller that wants zeros
//! sets `target_mac` to [`MacAddr::UNSPECIFIED`]. The frame is 42 bytes; the
//! NIC pads it to the 60-byte minimum.

use std::net::Ipv4Addr;

use super::bytes::{read_array, read_u8, read_u16, write_bytes};
use super::error::{EmitError, FrameError};
use super::ethernet::{self, EtherType, EthernetRepr, MacAddr};

mod field {
    use std::ops::Range;

    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: usize = 8;
    pub const SPA: usize = 14;
    pub const THA: usize = 18;
    pub const TPA: usize = 24;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// Ethernet header plus ARP packet, before padding.
pub const FRAME_LEN: usize = ethernet::HEADER_LEN + PACKET_LEN;
const HTYPE_ETHERNET: u16 = 1;

/// The ARP Operation field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    Request,
    Reply,
    Unknown(u16),
}

impl ArpOperation {
    pub fn number(self) -> u16 {
        match self {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(n) => n,
        }
    }

    pub fn from_number(n: u16) -> ArpOperation {
        match n {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            n => ArpOperation::Unknown(n),
        }
    }
}

/// A read (and write) view of an ARP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the 28 bytes of an Ethernet/IPv4 ARP packet are
    /// there and that it is one.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, FrameError> {
        let packet = Packet::new_unchecked(buffer);
        let len = packet.buf().len();
        if len < PACKET_LEN {
            return Err(FrameError::Truncated {
                what: "ARP packet",
                len,
                need: PACKET_LEN,
            });
        }
        let (htype, ptype, hlen, plen) = (
            packet.hardware_type(),
            packet.protocol_type(),
            packet.hardware_len(),
            packet.protocol_len(),
        );
        if htype != HTYPE_ETHERNET || EtherType(ptype) != EtherType::IPV4 || hlen != 6 || plen != 4
        {
            return Err(FrameError::UnsupportedArp {
                htype,
                ptype,
                hlen,
                plen,
            });
        }
        Ok(packet)
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn hardware_type(&self) -> u16 {
        read_u16(self.buf(), field::HTYPE)
    }

    pub fn protocol_type(&self) -> u16 {
        read_u16(self.buf(), field::PTYPE)
    }

    pub fn hardware_len(&self) -> u8 {
        read_u8(self.buf(), field::HLEN)
    }

    pub fn protocol_len(&self) -> u8 {
        read_u8(self.buf(), field::PLEN)
    }

    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from_number(read_u16(self.buf(), field::OPER))
    }

    pub fn sender_mac(&self) -> MacAddr {
        MacAddr(read_array(self.buf(), field::SHA))
    }

    pub fn sender_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buf(), field::SPA))
    }

    pub fn target_mac(&self) -> MacAddr {
        MacAddr(read_array(self.buf(), field::THA))
    }

    pub fn target_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(read_array::<4>(self.buf(), field::TPA))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, bytes);
    }

    /// Hardware type Ethernet, protocol IPv4, lengths 6 and 4.
    pub fn set_ethernet_ipv4(&mut self) {
        self.put(field::HTYPE.start, &HTYPE_ETHERNET.to_be_bytes());
        self.put(field::PTYPE.start, &EtherType::IPV4.0.to_be_bytes());
        self.put(field::HLEN, &[6, 4]);
    }

    pub fn set_operation(&mut self, operation: ArpOperation) {
        self.put(field::OPER.start, &operation.number().to_be_bytes());
    }

    pub fn set_sender_mac(&mut self, mac: MacAddr) {
        self.put(field::SHA, &mac.0);
    }

    pub fn set_sender_ip(&mut self, ip: Ipv4Addr) {
        self.put(field::SPA, &ip.octets());
    }

    pub fn set_target_mac(&mut self, mac: MacAddr) {
        self.put(field::THA, &mac.0);
    }

    pub fn set_target_ip(&mut self, ip: Ipv4Addr) {
        self.put(field::TPA, &ip.octets());
    }
}

/// An Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    pub operation: ArpOperation,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// The gratuitous ARP request keepalived sends for `vip` (see the
    /// module documentation).
    pub fn gratuitous(our_mac: MacAddr, vip: Ipv4Addr) -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            sender_mac: our_mac,
            sender_ip: vip,
            target_mac: MacAddr::BROADCAST,
            target_ip: vip,
        }
    }

    /// Sender and target protocol addresses are the same (a request or a
    /// reply announcing the sender's binding).
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }

    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<ArpRepr, FrameError> {
        Packet::new_checked(packet.buf())?;
        Ok(ArpRepr {
            operation: packet.operation(),
            sender_mac: packet.sender_mac(),
            sender_ip: packet.sender_ip(),
            target_mac: packet.target_mac(),
            target_ip: packet.target_ip(),
        })
    }

    pub fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Write the 28-byte ARP packet at the start of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let out = crate::wire::bytes::emit_area(buf, PACKET_LEN)?;
        let mut packet = Packet::new_unchecked(out);
        packet.set_ethernet_ipv4();
        packet.set_operation(self.operation);
        packet.set_sender_mac(self.sender_mac);
        packet.set_sender_ip(self.sender_ip);
        packet.set_target_mac(self.target_mac);
        packet.set_target_ip(self.target_ip);
        Ok(PACKET_LEN)
    }

    /// Write the whole 42-byte Ethernet frame: broadcast destination, source
    /// `sender_mac`, EtherType ARP, then the packet.
    pub fn emit_frame(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        if buf.len() < FRAME_LEN {
            return Err(EmitError::BufferTooSmall {
                need: FRAME_LEN,
                have: buf.len(),
            });
        }
        let eth = EthernetRepr {
            src: self.sender_mac,
            dst: MacAddr::BROADCAST,
            ethertype: EtherType::ARP,
        };
        let n = eth.emit(buf)?;
        let rest = buf.get_mut(n..).unwrap_or_default();
        Ok(n + self.emit(rest)?)
    }

    /// Parse an Ethernet frame holding an ARP packet (VLAN tags skipped,
    /// trailing padding ignored).
    pub fn parse_frame(frame: &[u8]) -> Result<(EthernetRepr, ArpRepr), FrameError> {
        let (eth, inner, payload) = ethernet::parse_frame(frame)?;
        if inner != EtherType::ARP {
            return Err(FrameError::WrongEtherType {
                got: inner.0,
                expected: EtherType::ARP.0,
            });
        }
        let arp = ArpRepr::parse(&Packet::new_checked(payload)?)?;
        Ok((eth, arp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's gratuitous ARP for 192.0.2.100 from
    /// 02:00:5e:00:00:aa, the whole frame as captured.
    static FRAME_BYTES: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa, 0xc0, 0x00,
        0x02, 0x64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc0, 0x00, 0x02, 0x64,
    ];

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa]);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&FRAME_BYTES[14..]).unwrap();
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), 0x0800);
        assert_eq!(packet.hardware_len(), 6);
        assert_eq!(packet.protocol_len(), 4);
        assert_eq!(packet.operation(), ArpOperation::Request);
        assert_eq!(packet.sender_mac(), MAC);
        assert_eq!(packet.sender_ip(), VIP);
        assert_eq!(packet.target_mac(), MacAddr::BROADCAST);
        assert_eq!(packet.target_ip(), VIP);
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 28];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_ethernet_ipv4();
        packet.set_operation(ArpOperation::Request);
        packet.set_sender_mac(MAC);
        packet.set_sender_ip(VIP);
        packet.set_target_mac(MacAddr::BROADCAST);
        packet.set_target_ip(VIP);
        assert_eq!(&bytes[..], &FRAME_BYTES[14..]);
    }

    #[test]
    fn parse() {
        let (eth, arp) = ArpRepr::parse_frame(&FRAME_BYTES).unwrap();
        assert_eq!(eth.dst, MacAddr::BROADCAST);
        assert_eq!(eth.src, MAC);
        assert_eq!(arp, ArpRepr::gratuitous(MAC, VIP));
        assert!(arp.is_gratuitous());
        // With the padding a NIC adds to reach 60 bytes.
        let mut padded = [0u8; 60];
        padded[..42].copy_from_slice(&FRAME_BYTES);
        assert_eq!(ArpRepr::parse_frame(&padded).unwrap().1, arp);
    }

    #[test]
    fn emit() {
        let mut bytes = [0xa5u8; 44];
        assert_eq!(
            ArpRepr::gratuitous(MAC, VIP)
                .emit_frame(&mut bytes)
                .unwrap(),
            42
        );
        assert_eq!(&bytes[..42], &FRAME_BYTES[..]);
        assert_eq!(&bytes[42..], &[0xa5, 0xa5]);
        assert_eq!(
            ArpRepr::gratuitous(MAC, VIP).emit_frame(&mut [0; 41]),
            Err(EmitError::BufferTooSmall { need: 42, have: 41 })
        );
        assert_eq!(
            ArpRepr::gratuitous(MAC, VIP).emit(&mut [0; 27]),
            Err(EmitError::BufferTooSmall { need: 28, have: 27 })
        );
    }

    #[test]
    fn rfc5227_style_zero_target_mac() {
        let repr = ArpRepr {
            target_mac: MacAddr::UNSPECIFIED,
            ..ArpRepr::gratuitous(MAC, VIP)
        };
        let mut bytes = [0xa5u8; 42];
        repr.emit_frame(&mut bytes).unwrap();
        assert_eq!(&bytes[32..38], &[0; 6]);
        assert_eq!(ArpRepr::parse_frame(&bytes).unwrap().1, repr);
    }

    #[test]
    fn errors() {
        assert_eq!(
            ArpRepr::parse_frame(&FRAME_BYTES[..41]).unwrap_err(),
            FrameError::Truncated {
                what: "ARP packet",
                len: 27,
                need: 28
            }
        );
        let mut bytes = FRAME_BYTES;
        bytes[13] = 0x00;
        assert_eq!(
            ArpRepr::parse_frame(&bytes).unwrap_err(),
            FrameError::WrongEtherType {
                got: 0x0800,
                expected: 0x0806
            }
        );
        let mut bytes = FRAME_BYTES;
        bytes[18] = 8; // hlen
        assert_eq!(
            ArpRepr::parse_frame(&bytes).unwrap_err(),
            FrameError::UnsupportedArp {
                htype: 1,
                ptype: 0x0800,
                hlen: 8,
                plen: 4
            }
        );
        let reply = Packet::new_unchecked([0u8; 0]);
        assert_eq!(reply.operation(), ArpOperation::Unknown(0));
        assert_eq!(ArpOperation::from_number(2), ArpOperation::Reply);
        assert_eq!(ArpOperation::Reply.number(), 2);
    }
}
