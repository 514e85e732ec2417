//! The Neighbor Advertisement (RFC 4861 4.4) that an Active router sends,
//! unsolicited, for each virtual IPv6 address (RFC 9568 6.4.1 / 6.4.2, RFC
//! 4861 7.2.6), and its parse for the decoder.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                       Target Address                          +
//! |                        (16 bytes)                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Options ...  Target Link-Layer Address (RFC 4861 4.6.1):
//! |   Type 2 | Length 1 (x 8 bytes) | MAC (6 bytes)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-
//! ```
//!
//! What keepalived 2.2.7 sends (captured; `vrrp_ndisc.c`), and so what
//! [`emit_unsolicited_na`] writes, 86 bytes in all: Ethernet to
//! 33:33:00:00:00:01 from our MAC; IPv6 with traffic class and flow label 0,
//! Hop Limit 255, source = the virtual address itself, destination ff02::1
//! (all nodes); ICMPv6 type 136 code 0 with Override set, Solicited clear,
//! and Router set only when the interface forwards IPv6 (keepalived reads
//! `net.ipv6.conf.IF.forwarding`; FRR's vrrpd always sets it); the target
//! is the virtual address and the one option is the Target Link-Layer
//! Address, our MAC.

use std::net::Ipv6Addr;

use super::bytes::{read_array, read_u8, read_u16, write_bytes};
use super::checksum;
use super::error::{EmitError, FrameError};
use super::ethernet::{self, EtherType, EthernetRepr, MacAddr};
use super::ipv6::{self, Ipv6Header};

mod field {
    use std::ops::Range;

    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const FLAGS: usize = 4;
    pub const TARGET: Range<usize> = 8..24;
    pub const OPTIONS: usize = 24;
}

/// ICMPv6 type of a Neighbor Advertisement.
pub const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// Length of the message without options.
pub const MESSAGE_LEN: usize = 24;
/// Length of a Target Link-Layer Address option for Ethernet.
pub const TLLA_OPTION_LEN: usize = 8;
/// Ethernet + IPv6 + NA + TLLA option.
pub const FRAME_LEN: usize =
    ethernet::HEADER_LEN + ipv6::HEADER_LEN + MESSAGE_LEN + TLLA_OPTION_LEN;
/// RFC 4861 7.1.2: Hop Limit of every Neighbor Discovery message.
pub const HOP_LIMIT: u8 = 255;
/// The all-nodes group an unsolicited advertisement goes to (RFC 4861 7.2.6).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;
const OPTION_TARGET_LLADDR: u8 = 2;

/// A read (and write) view of a Neighbor Advertisement message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking; accessors read missing bytes as zero.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the 24 fixed bytes are there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, FrameError> {
        let len = buffer.as_ref().len();
        if len < MESSAGE_LEN {
            return Err(FrameError::Truncated {
                what: "Neighbor Advertisement",
                len,
                need: MESSAGE_LEN,
            });
        }
        Ok(Packet::new_unchecked(buffer))
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    pub fn msg_type(&self) -> u8 {
        read_u8(self.buf(), field::TYPE)
    }

    pub fn code(&self) -> u8 {
        read_u8(self.buf(), field::CODE)
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buf(), field::CHECKSUM)
    }

    pub fn router_flag(&self) -> bool {
        read_u8(self.buf(), field::FLAGS) & FLAG_ROUTER != 0
    }

    pub fn solicited_flag(&self) -> bool {
        read_u8(self.buf(), field::FLAGS) & FLAG_SOLICITED != 0
    }

    pub fn override_flag(&self) -> bool {
        read_u8(self.buf(), field::FLAGS) & FLAG_OVERRIDE != 0
    }

    pub fn target(&self) -> Ipv6Addr {
        Ipv6Addr::from(read_array::<16>(self.buf(), field::TARGET.start))
    }

    pub fn options(&self) -> &[u8] {
        self.buf().get(field::OPTIONS..).unwrap_or_default()
    }

    /// The MAC of the first Target Link-Layer Address option. `Err` when an
    /// option has length 0 or runs past the end (RFC 4861 4.6).
    pub fn target_lladdr(&self) -> Result<Option<MacAddr>, FrameError> {
        let mut options = self.options();
        let mut found = None;
        while !options.is_empty() {
            let kind = read_u8(options, 0);
            let len = usize::from(read_u8(options, 1)) * 8;
            if len == 0 {
                return Err(FrameError::BadOption);
            }
            let option = options.get(..len).ok_or(FrameError::BadOption)?;
            if kind == OPTION_TARGET_LLADDR && found.is_none() && len == TLLA_OPTION_LEN {
                found = Some(MacAddr(read_array(option, 2)));
            }
            options = options.get(len..).unwrap_or_default();
        }
        Ok(found)
    }

    /// The message and its pseudo-header sum to 0xffff.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let Ok(len) = u32::try_from(self.buf().len()) else {
            return false;
        };
        let pseudo = checksum::pseudo_header_v6(src, dst, ipv6::NEXT_HEADER_ICMPV6, len);
        checksum::combine(&[pseudo, checksum::data(self.buf())]) == 0xffff
    }

    /// The checksum the message should carry.
    pub fn compute_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> u16 {
        let buf = self.buf();
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        checksum::finish(&[
            checksum::pseudo_header_v6(src, dst, ipv6::NEXT_HEADER_ICMPV6, len),
            checksum::data(buf.get(..field::CHECKSUM.start).unwrap_or_default()),
            checksum::data(buf.get(field::CHECKSUM.end..).unwrap_or_default()),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, bytes);
    }

    /// Type 136, code 0.
    pub fn set_neighbor_advert(&mut self) {
        self.put(field::TYPE, &[ICMPV6_NEIGHBOR_ADVERT, 0]);
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.put(field::CHECKSUM.start, &value.to_be_bytes());
    }

    /// The flags byte and the 29 reserved bits (written as zero).
    pub fn set_flags(&mut self, router: bool, solicited: bool, override_flag: bool) {
        let mut flags = 0;
        if router {
            flags |= FLAG_ROUTER;
        }
        if solicited {
            flags |= FLAG_SOLICITED;
        }
        if override_flag {
            flags |= FLAG_OVERRIDE;
        }
        self.put(field::FLAGS, &[flags, 0, 0, 0]);
    }

    pub fn set_target(&mut self, target: Ipv6Addr) {
        self.put(field::TARGET.start, &target.octets());
    }

    /// Write a Target Link-Layer Address option as the first option.
    pub fn set_target_lladdr(&mut self, mac: MacAddr) {
        self.put(field::OPTIONS, &[OPTION_TARGET_LLADDR, 1]);
        self.put(field::OPTIONS + 2, &mac.0);
    }

    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let value = self.compute_checksum(src, dst);
        self.set_checksum(value);
    }
}

/// A Neighbor Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighborAdvertRepr {
    pub router_flag: bool,
    pub solicited_flag: bool,
    pub override_flag: bool,
    pub target: Ipv6Addr,
    /// The Target Link-Layer Address option, if present.
    pub target_mac: Option<MacAddr>,
}

impl NeighborAdvertRepr {
    /// The unsolicited advertisement for `vip` (RFC 4861 7.2.6: Solicited
    /// clear, Override set so neighbours replace the old MAC).
    pub fn unsolicited(our_mac: MacAddr, vip: Ipv6Addr, router: bool) -> NeighborAdvertRepr {
        NeighborAdvertRepr {
            router_flag: router,
            solicited_flag: false,
            override_flag: true,
            target: vip,
            target_mac: Some(our_mac),
        }
    }

    /// Parse and validate (RFC 4861 7.1.2: type, code 0, checksum, no
    /// multicast target, well-formed options) a message sent from `src` to
    /// `dst`.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &Packet<T>,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Result<NeighborAdvertRepr, FrameError> {
        Packet::new_checked(packet.buf())?;
        if packet.msg_type() != ICMPV6_NEIGHBOR_ADVERT || packet.code() != 0 {
            return Err(FrameError::NotNeighborAdvert(
                packet.msg_type(),
                packet.code(),
            ));
        }
        if !packet.verify_checksum(src, dst) {
            return Err(FrameError::BadChecksum {
                got: packet.checksum(),
                expected: packet.compute_checksum(src, dst),
            });
        }
        if packet.target().is_multicast() {
            return Err(FrameError::MulticastTarget);
        }
        Ok(NeighborAdvertRepr {
            router_flag: packet.router_flag(),
            solicited_flag: packet.solicited_flag(),
            override_flag: packet.override_flag(),
            target: packet.target(),
            target_mac: packet.target_lladdr()?,
        })
    }

    /// Bytes of the ICMPv6 message.
    pub fn buffer_len(&self) -> usize {
        MESSAGE_LEN
            + if self.target_mac.is_some() {
                TLLA_OPTION_LEN
            } else {
                0
            }
    }

    /// Write the ICMPv6 message, checksum computed for `src` -> `dst`.
    pub fn emit(&self, src: &Ipv6Addr, dst: &Ipv6Addr, buf: &mut [u8]) -> Result<usize, EmitError> {
        let len = self.buffer_len();
        let out = crate::wire::bytes::emit_area(buf, len)?;
        let mut packet = Packet::new_unchecked(out);
        packet.set_neighbor_advert();
        packet.set_checksum(0);
        packet.set_flags(self.router_flag, self.solicited_flag, self.override_flag);
        packet.set_target(self.target);
        if let Some(mac) = self.target_mac {
            packet.set_target_lladdr(mac);
        }
        packet.fill_checksum(src, dst);
        Ok(len)
    }

    /// Write the whole frame: Ethernet from `src_mac` to the MAC of `dst`
    /// (a multicast group), IPv6 from `src` to `dst` with Hop Limit 255, then
    /// the message.
    pub fn emit_frame(
        &self,
        src_mac: MacAddr,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        buf: &mut [u8],
    ) -> Result<usize, EmitError> {
        let message_len = self.buffer_len();
        let need = ethernet::HEADER_LEN + ipv6::HEADER_LEN + message_len;
        if buf.len() < need {
            return Err(EmitError::BufferTooSmall {
                need,
                have: buf.len(),
            });
        }
        let eth = EthernetRepr {
            src: src_mac,
            dst: MacAddr::from_ipv6_multicast(&dst),
            ethertype: EtherType::IPV6,
        };
        let payload_len =
            u16::try_from(message_len).map_err(|_| EmitError::LengthOverflow(message_len))?;
        let ip = Ipv6Header {
            traffic_class: 0,
            flow_label: 0,
            payload_len,
            next_header: ipv6::NEXT_HEADER_ICMPV6,
            hop_limit: HOP_LIMIT,
            src,
            dst,
        };
        let mut at = eth.emit(buf)?;
        at += ip.emit(buf.get_mut(at..).unwrap_or_default())?;
        at += self.emit(&src, &dst, buf.get_mut(at..).unwrap_or_default())?;
        Ok(at)
    }

    /// Parse a whole Ethernet frame holding a Neighbor Advertisement.
    pub fn parse_frame(
        frame: &[u8],
    ) -> Result<(EthernetRepr, Ipv6Header, NeighborAdvertRepr), FrameError> {
        let (eth, inner, payload) = ethernet::parse_frame(frame)?;
        if inner != EtherType::IPV6 {
            return Err(FrameError::WrongEtherType {
                got: inner.0,
                expected: EtherType::IPV6.0,
            });
        }
        let (ip, message) = parse_ipv6_icmp(payload)?;
        let na = NeighborAdvertRepr::parse(&Packet::new_checked(message)?, &ip.src, &ip.dst)?;
        Ok((eth, ip, na))
    }
}

/// The IPv6 header of a Neighbor Discovery packet and its ICMPv6 message.
fn parse_ipv6_icmp(payload: &[u8]) -> Result<(Ipv6Header, &[u8]), FrameError> {
    let packet = ipv6::Packet::new_checked(payload)?;
    let ip = Ipv6Header::parse(&packet)?;
    if ip.next_header != ipv6::NEXT_HEADER_ICMPV6 {
        return Err(FrameError::NotIcmpv6(ip.next_header));
    }
    if ip.hop_limit != HOP_LIMIT {
        return Err(FrameError::HopLimitNot255(ip.hop_limit));
    }
    let end = ipv6::HEADER_LEN + usize::from(ip.payload_len);
    Ok((ip, payload.get(ipv6::HEADER_LEN..end).unwrap_or_default()))
}

/// Write the 86-byte unsolicited Neighbor Advertisement frame keepalived
/// sends for `vip`: from `vip` to ff02::1, Override set, `router` as the
/// Router flag, Target Link-Layer Address `our_mac`.
pub fn emit_unsolicited_na(
    our_mac: MacAddr,
    vip: Ipv6Addr,
    router: bool,
    buf: &mut [u8],
) -> Result<usize, EmitError> {
    NeighborAdvertRepr::unsolicited(our_mac, vip, router).emit_frame(our_mac, vip, ALL_NODES, buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's unsolicited NA for 2001:db8::53 from
    /// 02:00:5e:00:00:aa, the whole frame as captured (forwarding off, so
    /// no Router flag).
    static FRAME_BYTES: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x99, 0xdd, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x53, 0x02, 0x01, 0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa,
    ];

    /// The same for the link-local fe80::53: only the addresses and the
    /// checksum (0xf84d) differ.
    fn link_local_frame() -> [u8; 86] {
        let mut bytes = FRAME_BYTES;
        let ll: Ipv6Addr = "fe80::53".parse().unwrap();
        bytes[22..38].copy_from_slice(&ll.octets());
        bytes[62..78].copy_from_slice(&ll.octets());
        bytes[56..58].copy_from_slice(&[0xf8, 0x4d]);
        bytes
    }

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0x5e, 0x00, 0x00, 0xaa]);

    fn vip() -> Ipv6Addr {
        "2001:db8::53".parse().unwrap()
    }

    const MESSAGE: std::ops::Range<usize> = 54..86;

    #[test]
    fn deconstruct() {
        let packet = Packet::new_checked(&FRAME_BYTES[MESSAGE]).unwrap();
        assert_eq!(packet.msg_type(), 136);
        assert_eq!(packet.code(), 0);
        assert_eq!(packet.checksum(), 0x99dd);
        assert!(!packet.router_flag());
        assert!(!packet.solicited_flag());
        assert!(packet.override_flag());
        assert_eq!(packet.target(), vip());
        assert_eq!(packet.target_lladdr(), Ok(Some(MAC)));
        assert!(packet.verify_checksum(&vip(), &ALL_NODES));
    }

    #[test]
    fn construct() {
        let mut bytes = [0xa5u8; 32];
        let mut packet = Packet::new_unchecked(&mut bytes[..]);
        packet.set_neighbor_advert();
        packet.set_checksum(0);
        packet.set_flags(false, false, true);
        packet.set_target(vip());
        packet.set_target_lladdr(MAC);
        packet.fill_checksum(&vip(), &ALL_NODES);
        assert_eq!(&bytes[..], &FRAME_BYTES[MESSAGE]);
    }

    #[test]
    fn parse() {
        let (eth, ip, na) = NeighborAdvertRepr::parse_frame(&FRAME_BYTES).unwrap();
        assert_eq!(eth.src, MAC);
        assert_eq!(eth.dst, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!((ip.src, ip.dst, ip.hop_limit), (vip(), ALL_NODES, 255));
        assert_eq!(na, NeighborAdvertRepr::unsolicited(MAC, vip(), false));
        let (_, _, na) = NeighborAdvertRepr::parse_frame(&link_local_frame()).unwrap();
        assert_eq!(na.target, "fe80::53".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn emit() {
        let mut bytes = [0xa5u8; 88];
        assert_eq!(
            emit_unsolicited_na(MAC, vip(), false, &mut bytes).unwrap(),
            86
        );
        assert_eq!(&bytes[..86], &FRAME_BYTES[..]);
        assert_eq!(&bytes[86..], &[0xa5, 0xa5]);
        let mut bytes = [0xa5u8; 86];
        emit_unsolicited_na(MAC, "fe80::53".parse().unwrap(), false, &mut bytes).unwrap();
        assert_eq!(bytes, link_local_frame());
        assert_eq!(
            emit_unsolicited_na(MAC, vip(), false, &mut [0; 85]),
            Err(EmitError::BufferTooSmall { need: 86, have: 85 })
        );
    }

    #[test]
    fn router_flag_round_trips() {
        let mut bytes = [0u8; FRAME_LEN];
        emit_unsolicited_na(MAC, vip(), true, &mut bytes).unwrap();
        assert_eq!(bytes[58], 0xa0, "Router and Override");
        let (_, _, na) = NeighborAdvertRepr::parse_frame(&bytes).unwrap();
        assert!(na.router_flag && na.override_flag && !na.solicited_flag);
    }

    #[test]
    fn without_option() {
        let repr = NeighborAdvertRepr {
            target_mac: None,
            ..NeighborAdvertRepr::unsolicited(MAC, vip(), false)
        };
        let mut bytes = [0xa5u8; 24];
        assert_eq!(repr.emit(&vip(), &ALL_NODES, &mut bytes).unwrap(), 24);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(
            NeighborAdvertRepr::parse(&packet, &vip(), &ALL_NODES),
            Ok(repr)
        );
    }

    #[test]
    fn errors() {
        let mut bytes = FRAME_BYTES;
        bytes[57] ^= 1;
        assert!(matches!(
            NeighborAdvertRepr::parse_frame(&bytes),
            Err(FrameError::BadChecksum {
                got: 0x99dc,
                expected: 0x99dd
            })
        ));
        let mut bytes = FRAME_BYTES;
        bytes[21] = 1;
        assert_eq!(
            NeighborAdvertRepr::parse_frame(&bytes).unwrap_err(),
            FrameError::HopLimitNot255(1)
        );
        let mut bytes = FRAME_BYTES;
        bytes[20] = 17;
        assert_eq!(
            NeighborAdvertRepr::parse_frame(&bytes).unwrap_err(),
            FrameError::NotIcmpv6(17)
        );
        let mut bytes = FRAME_BYTES;
        bytes[54] = 135;
        assert_eq!(
            NeighborAdvertRepr::parse_frame(&bytes).unwrap_err(),
            FrameError::NotNeighborAdvert(135, 0)
        );
        let mut bytes = FRAME_BYTES;
        bytes[13] = 0x00;
        assert!(matches!(
            NeighborAdvertRepr::parse_frame(&bytes),
            Err(FrameError::WrongEtherType { .. })
        ));
        assert!(matches!(
            NeighborAdvertRepr::parse_frame(&FRAME_BYTES[..85]),
            Err(FrameError::Truncated { .. })
        ));
        // A zero-length option, checksum fixed up so that only it is wrong.
        let mut message = [0u8; 32];
        message.copy_from_slice(&FRAME_BYTES[MESSAGE]);
        message[25] = 0;
        let mut packet = Packet::new_unchecked(&mut message[..]);
        packet.fill_checksum(&vip(), &ALL_NODES);
        let packet = Packet::new_checked(&message[..]).unwrap();
        assert_eq!(
            NeighborAdvertRepr::parse(&packet, &vip(), &ALL_NODES),
            Err(FrameError::BadOption)
        );
        // A multicast target.
        let mut message = [0u8; 32];
        message.copy_from_slice(&FRAME_BYTES[MESSAGE]);
        message[8] = 0xff;
        let mut packet = Packet::new_unchecked(&mut message[..]);
        packet.fill_checksum(&vip(), &ALL_NODES);
        let packet = Packet::new_checked(&message[..]).unwrap();
        assert_eq!(
            NeighborAdvertRepr::parse(&packet, &vip(), &ALL_NODES),
            Err(FrameError::MulticastTarget)
        );
        // An option longer than the message.
        let long = Packet::new_unchecked(
            &[
                0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0,
                0,
            ][..],
        );
        assert_eq!(long.target_lladdr(), Err(FrameError::BadOption));
    }
}
