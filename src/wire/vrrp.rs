//! VRRP advertisements: version 3 (RFC 9568 section 5) over IPv4 and IPv6,
//! version 2 (RFC 3768 section 5) over IPv4.
//!
//! VRRPv3 (RFC 9568 5.1):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                       IPvX Address(es)                        |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! VRRPv2 (RFC 3768 5.1):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Adver Int   |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (1)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            .                                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         IP Address (n)                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (1)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authentication Data (2)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The checksum (RFC 9568 5.2.8, RFC 3768 5.3.8) is the Internet checksum
//! of the VRRP message with, depending on version, family and peer, the
//! pseudo-header of the IP layer in front:
//!
//! | version | family | pseudo-header                                      |
//! |---------|--------|----------------------------------------------------|
//! | 2       | IPv4   | never                                              |
//! | 3       | IPv6   | always (RFC 8200 8.1, next header 112)             |
//! | 3       | IPv4   | [`ChecksumForm`]: keepalived and FRR include it by |
//! |         |        | default, RFC 9568 and Cisco/Juniper/Arista do not  |
//!
//! `docs/wire.md` tells the whole story.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::bytes::{read_u8, read_u16, write_bytes};
use super::error::{EmitError, IpHeaderProblem, Layer, ParseError};
use super::ipv4::{self, Ipv4Header};
use super::ipv6;
use super::{Addresses, AdvertRepr, Auth, Family, Version, checksum};

mod field {
    use std::ops::Range;

    pub const VER_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    /// v3: 4 reserved bits, then the 12-bit Max Adver Int (centiseconds).
    pub const RSVD_MAX_ADVER_INT: Range<usize> = 4..6;
    /// v2: Auth Type.
    pub const AUTH_TYPE: usize = 4;
    /// v2: Adver Int (seconds).
    pub const ADVER_INT: usize = 5;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// The fixed part of both versions.
pub const HEADER_LEN: usize = 8;
/// VRRPv2 Authentication Data after the addresses (RFC 3768 5.3.10).
pub const V2_AUTH_DATA_LEN: usize = 8;
/// The only VRRP type (RFC 9568 5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// TTL / Hop Limit of every VRRP packet (RFC 9568 5.1.1.3, 5.1.2.3).
pub const TTL: u8 = 255;
/// The largest advert: the 8-byte header and 255 IPv6 addresses.
pub const MAX_ADVERT_LEN: usize = HEADER_LEN + 255 * 16;
/// Max Advertise Interval is 12 bits (RFC 9568 5.2.7).
pub const V3_MAX_INTERVAL_CS: u16 = 0x0fff;
/// Adver Int is 8 bits of seconds (RFC 3768 5.3.7): 255 s.
pub const V2_MAX_INTERVAL_CS: u16 = 255 * 100;
/// IPv4 multicast group (RFC 9568 5.1.1.2).
pub const MULTICAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// IPv6 multicast group (RFC 9568 5.1.2.2).
pub const MULTICAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

const V2_AUTH_NONE: u8 = 0;
const V2_AUTH_SIMPLE_TEXT: u8 = 1;
const V2_AUTH_AH: u8 = 2;

/// How the checksum of a VRRPv3 advert over IPv4 is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumForm {
    /// With the IPv4 pseudo-header in front: keepalived (all versions, by
    /// default) and FRR (default `checksum-with-ipv4-pseudoheader`). Also
    /// reported for IPv6, where the pseudo-header is always included.
    PseudoHeader,
    /// The VRRP message alone: RFC 9568 5.2.8 for IPv4, Cisco, Juniper,
    /// Arista, keepalived with `v3_checksum_as_v2` (2.2.8+), FRR with
    /// `no checksum-with-ipv4-pseudoheader`. Also reported for VRRPv2, whose
    /// checksum never had a pseudo-header (RFC 3768 5.3.8).
    NoPseudoHeader,
}

impl ChecksumForm {
    /// The name used in configuration files, logs and decodes.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumForm::PseudoHeader => "pseudo-header",
            ChecksumForm::NoPseudoHeader => "no-pseudo-header",
        }
    }
}

/// Which VRRPv3-over-IPv4 checksum forms [`parse_ipv4`] accepts. Ignored
/// for VRRPv2 and for IPv6, where only one form exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumPolicy {
    /// Accept either; `PseudoHeader` is tried first.
    Either,
    Only(ChecksumForm),
}

/// Choices the caller makes about what a valid packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    pub checksum: ChecksumPolicy,
    /// `Some(v)`: a packet of the other version is [`ParseError::UnexpectedVersion`].
    pub expect_version: Option<Version>,
}

impl Default for ParseOptions {
    /// Accept both checksum forms and both versions.
    fn default() -> ParseOptions {
        ParseOptions {
            checksum: ChecksumPolicy::Either,
            expect_version: None,
        }
    }
}

/// A received, validated advertisement and its IP-layer facts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Received<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 Hop Limit (always 255 once parsed).
    pub ttl: u8,
    /// The form the checksum verified with.
    pub checksum_form: ChecksumForm,
    /// Its `addresses` borrow the packet (`Addresses::Wire`).
    pub advert: AdvertRepr<'a>,
}

/// A read (and write) view of a VRRP message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap without checking. Accessors never panic; missing bytes read 0.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wrap, checking that the 8-byte fixed header is there. The address
    /// list is checked by [`parse_ipv4`] / [`parse_ipv6`], which know the
    /// family.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, ParseError> {
        let len = buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(ParseError::Truncated {
                layer: Layer::VrrpHeader,
                len,
                need: HEADER_LEN,
            });
        }
        Ok(Packet::new_unchecked(buffer))
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn buf(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// The Version nibble (2 or 3 when valid).
    pub fn version(&self) -> u8 {
        read_u8(self.buf(), field::VER_TYPE) >> 4
    }

    /// The Type nibble (1 = ADVERTISEMENT).
    pub fn msg_type(&self) -> u8 {
        read_u8(self.buf(), field::VER_TYPE) & 0x0f
    }

    pub fn vrid(&self) -> u8 {
        read_u8(self.buf(), field::VRID)
    }

    pub fn priority(&self) -> u8 {
        read_u8(self.buf(), field::PRIORITY)
    }

    /// Count IPvX Addrs.
    pub fn count(&self) -> u8 {
        read_u8(self.buf(), field::COUNT)
    }

    /// v3: the 4 reserved bits (sent 0, ignored on receipt, RFC 9568 5.2.6).
    pub fn v3_reserved(&self) -> u8 {
        read_u8(self.buf(), field::RSVD_MAX_ADVER_INT.start) >> 4
    }

    /// v3: Max Adver Int in centiseconds (12 bits).
    pub fn v3_max_advert_interval_cs(&self) -> u16 {
        read_u16(self.buf(), field::RSVD_MAX_ADVER_INT) & V3_MAX_INTERVAL_CS
    }

    /// v2: Auth Type.
    pub fn v2_auth_type(&self) -> u8 {
        read_u8(self.buf(), field::AUTH_TYPE)
    }

    /// v2: Adver Int in seconds.
    pub fn v2_advert_interval_s(&self) -> u8 {
        read_u8(self.buf(), field::ADVER_INT)
    }

    pub fn checksum(&self) -> u16 {
        read_u16(self.buf(), field::CHECKSUM)
    }

    /// The `count` addresses of `family`, if all their bytes are present.
    pub fn address_bytes(&self, family: Family) -> Option<&[u8]> {
        let end = field::ADDRESSES + usize::from(self.count()) * family.addr_len();
        self.buf().get(field::ADDRESSES..end)
    }

    /// v2: the 8 bytes of Authentication Data after the IPv4 addresses, if
    /// present.
    pub fn v2_auth_data(&self) -> Option<[u8; V2_AUTH_DATA_LEN]> {
        let start = field::ADDRESSES + usize::from(self.count()) * Family::Ipv4.addr_len();
        let bytes = self.buf().get(start..start + V2_AUTH_DATA_LEN)?;
        bytes.try_into().ok()
    }

    /// Sum of the whole message and an optional pseudo-header sum is 0xffff.
    pub fn verify_checksum(&self, pseudo_header: Option<u16>) -> bool {
        let sum = checksum::data(self.buf());
        checksum::combine(&[pseudo_header.unwrap_or(0), sum]) == 0xffff
    }

    /// The checksum the message should carry, computed with its checksum
    /// field taken as zero.
    pub fn compute_checksum(&self, pseudo_header: Option<u16>) -> u16 {
        let buf = self.buf();
        checksum::finish(&[
            pseudo_header.unwrap_or(0),
            checksum::data(buf.get(..field::CHECKSUM.start).unwrap_or_default()),
            checksum::data(buf.get(field::CHECKSUM.end..).unwrap_or_default()),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        write_bytes(self.buffer.as_mut(), at, bytes);
    }

    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.put(field::VER_TYPE, &[(version << 4) | (msg_type & 0x0f)]);
    }

    pub fn set_vrid(&mut self, vrid: u8) {
        self.put(field::VRID, &[vrid]);
    }

    pub fn set_priority(&mut self, priority: u8) {
        self.put(field::PRIORITY, &[priority]);
    }

    pub fn set_count(&mut self, count: u8) {
        self.put(field::COUNT, &[count]);
    }

    /// v3: writes the reserved bits as zero and the low 12 bits of `cs`.
    pub fn set_v3_max_advert_interval_cs(&mut self, cs: u16) {
        self.put(
            field::RSVD_MAX_ADVER_INT.start,
            &(cs & V3_MAX_INTERVAL_CS).to_be_bytes(),
        );
    }

    pub fn set_v2_auth_type(&mut self, auth_type: u8) {
        self.put(field::AUTH_TYPE, &[auth_type]);
    }

    pub fn set_v2_advert_interval_s(&mut self, seconds: u8) {
        self.put(field::ADVER_INT, &[seconds]);
    }

    pub fn set_checksum(&mut self, value: u16) {
        self.put(field::CHECKSUM.start, &value.to_be_bytes());
    }

    /// Write address bytes starting at the first address slot.
    pub fn set_address_bytes(&mut self, index: usize, address: &[u8]) {
        self.put(field::ADDRESSES + index * address.len(), address);
    }

    /// v2: write the 8 bytes of Authentication Data after `count` addresses.
    pub fn set_v2_auth_data(&mut self, data: &[u8; V2_AUTH_DATA_LEN]) {
        let start = field::ADDRESSES + usize::from(self.count()) * Family::Ipv4.addr_len();
        self.put(start, data);
    }

    /// Compute and write the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, pseudo_header: Option<u16>) {
        let value = self.compute_checksum(pseudo_header);
        self.set_checksum(value);
    }
}

impl Version {
    /// The version of a Version nibble, if VRRP has one of that number.
    pub fn from_number(number: u8) -> Option<Version> {
        match number {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

impl Family {
    fn other(self) -> Family {
        match self {
            Family::Ipv4 => Family::Ipv6,
            Family::Ipv6 => Family::Ipv4,
        }
    }
}

impl Auth {
    /// The VRRPv2 Auth Type number (RFC 3768 5.3.6, RFC 2338 5.3.6).
    pub fn type_number(&self) -> u8 {
        match self {
            Auth::None => V2_AUTH_NONE,
            Auth::SimpleText(_) => V2_AUTH_SIMPLE_TEXT,
            Auth::Ah => V2_AUTH_AH,
            Auth::Unknown(t) => *t,
        }
    }

    /// The 8 bytes of Authentication Data: the password for type 1, zero
    /// otherwise.
    pub fn data(&self) -> [u8; V2_AUTH_DATA_LEN] {
        match self {
            Auth::SimpleText(password) => *password,
            _ => [0; V2_AUTH_DATA_LEN],
        }
    }
}

impl<'a> AdvertRepr<'a> {
    /// Bytes of the VRRP message, see [`advert_len`].
    pub fn buffer_len(&self) -> usize {
        advert_len(self)
    }

    /// See [`emit_advert`].
    pub fn emit(
        &self,
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
        buf: &mut [u8],
    ) -> Result<usize, EmitError> {
        emit_advert(self, src, dst, form, buf)
    }
}

impl std::fmt::Display for AdvertRepr<'_> {
    /// One line, as `ha-vip decode` and the logs print an advert, e.g.
    /// `VRRPv3 vrid 51 priority 200 interval 100cs addresses 192.0.2.100,192.0.2.101`.
    /// A v2 password is not printed, only that there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VRRPv{} vrid {} priority {} interval {}cs",
            self.version.number(),
            self.vrid,
            self.priority,
            self.max_advert_interval_cs
        )?;
        if self.version == Version::V2 {
            match self.auth {
                Auth::None => write!(f, " auth none")?,
                Auth::SimpleText(_) => write!(f, " auth simple-text")?,
                Auth::Ah => write!(f, " auth ah")?,
                Auth::Unknown(t) => write!(f, " auth type-{t}")?,
            }
        }
        write!(f, " addresses ")?;
        for (i, address) in self.addresses.iter().enumerate() {
            if i > 0 {
                write!(f, ",")?;
            }
            write!(f, "{address}")?;
        }
        Ok(())
    }
}

/// Parse a whole IPv4 datagram, header included, as a raw socket of
/// protocol 112 delivers it (or as taken from a capture).
///
/// Checks, in this order (RFC 9568 7.1, RFC 3768 7.1), stopping at the
/// first failure:
/// 1. the IPv4 header: length fields, version, not a fragment;
/// 2. protocol 112, or 51 (AH, RFC 2338) followed by 112;
/// 3. TTL 255;
/// 4. the VRRP fixed header is present;
/// 5. version 2 or 3, not 2 over IPv6, the expected version if one is set;
/// 6. type 1;
/// 7. count > 0, and the length matches count (and the v2 auth data):
///    family mismatch, truncation, or extra bytes;
/// 8. the checksum, per version, family and [`ParseOptions::checksum`];
/// 9. v2: a known auth type (0, 1, 2);
/// 10. a non-zero interval.
///
/// What needs configuration (VRID, owner, configured interval, auth
/// password) is the core's to check.
pub fn parse_ipv4<'a>(datagram: &'a [u8], opts: &ParseOptions) -> Result<Received<'a>, ParseError> {
    let packet = ipv4::Packet::new_checked(datagram)?;
    let header = Ipv4Header::parse(&packet)?;
    let payload: &'a [u8] = {
        let end = usize::from(header.total_len).min(datagram.len());
        datagram.get(header.header_len..end).unwrap_or_default()
    };
    let message = match header.protocol {
        ipv4::PROTOCOL_VRRP => payload,
        ipv4::PROTOCOL_AH => skip_auth_header(payload)?,
        other => return Err(ParseError::NotVrrp(other)),
    };
    parse_message(
        message,
        IpAddr::V4(header.src),
        IpAddr::V4(header.dst),
        header.ttl,
        opts,
    )
}

/// Parse the VRRP message of an IPv6 packet; the kernel strips the IPv6
/// header, so its source, destination and Hop Limit (`IPV6_RECVHOPLIMIT`)
/// come as arguments. Same checks as [`parse_ipv4`] from step 3 on.
pub fn parse_ipv6<'a>(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    payload: &'a [u8],
    opts: &ParseOptions,
) -> Result<Received<'a>, ParseError> {
    parse_message(payload, IpAddr::V6(src), IpAddr::V6(dst), hop_limit, opts)
}

/// Parse a whole IP packet of either version, as a capture holds it after
/// the link-layer header: IPv4 goes to [`parse_ipv4`]; IPv6 has its fixed
/// header read (extension headers are not walked: a Next Header other than
/// 112 is [`ParseError::NotVrrp`]) and goes to [`parse_ipv6`]. Bytes past
/// the IP length (Ethernet padding) are ignored.
pub fn parse_ip_packet<'a>(
    packet: &'a [u8],
    opts: &ParseOptions,
) -> Result<Received<'a>, ParseError> {
    match packet.first().map(|b| b >> 4) {
        None => Err(ParseError::Truncated {
            layer: Layer::IpHeader,
            len: 0,
            need: ipv4::MIN_HEADER_LEN,
        }),
        Some(4) => parse_ipv4(packet, opts),
        Some(6) => {
            let len = packet.len();
            if len < ipv6::HEADER_LEN {
                return Err(ParseError::Truncated {
                    layer: Layer::IpHeader,
                    len,
                    need: ipv6::HEADER_LEN,
                });
            }
            let header = ipv6::Packet::new_unchecked(packet);
            let end = ipv6::HEADER_LEN + usize::from(header.payload_len());
            let payload = packet
                .get(ipv6::HEADER_LEN..end)
                .ok_or(ParseError::Truncated {
                    layer: Layer::IpPayload,
                    len,
                    need: end,
                })?;
            if header.next_header() != ipv6::NEXT_HEADER_VRRP {
                return Err(ParseError::NotVrrp(header.next_header()));
            }
            parse_ipv6(
                header.src_addr(),
                header.dst_addr(),
                header.hop_limit(),
                payload,
                opts,
            )
        }
        Some(version) => Err(ParseError::IpHeaderInvalid(IpHeaderProblem::Version(
            version,
        ))),
    }
}

/// The IP Authentication Header (RFC 4302 2, as RFC 2338 auth type 2 uses
/// it): Next Header, Payload Len (in 4-byte words, minus 2), ... Recognised
/// and skipped; the ICV is not verified.
fn skip_auth_header(payload: &[u8]) -> Result<&[u8], ParseError> {
    const AH_MIN_LEN: usize = 12;
    if payload.len() < AH_MIN_LEN {
        return Err(ParseError::Truncated {
            layer: Layer::AuthHeader,
            len: payload.len(),
            need: AH_MIN_LEN,
        });
    }
    let next_header = read_u8(payload, 0);
    let ah_len = (usize::from(read_u8(payload, 1)) + 2) * 4;
    let rest = payload.get(ah_len..).ok_or(ParseError::Truncated {
        layer: Layer::AuthHeader,
        len: payload.len(),
        need: ah_len,
    })?;
    if next_header != ipv4::PROTOCOL_VRRP {
        return Err(ParseError::NotVrrp(next_header));
    }
    Ok(rest)
}

/// Parse a VRRP message whose IP header fields are known (the kernel
/// stripped the header, or a simulator carries them): steps 3 on of
/// [`parse_ipv4`], for either family.
pub fn parse_message<'a>(
    message: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    opts: &ParseOptions,
) -> Result<Received<'a>, ParseError> {
    let family = Family::of(&src);
    if ttl != TTL {
        return Err(ParseError::TtlNot255(ttl));
    }
    let packet = Packet::new_checked(message)?;

    let version =
        Version::from_number(packet.version()).ok_or(ParseError::BadVersion(packet.version()))?;
    if version == Version::V2 && family == Family::Ipv6 {
        return Err(ParseError::V2OverIpv6);
    }
    if let Some(expected) = opts.expect_version
        && expected != version
    {
        return Err(ParseError::UnexpectedVersion {
            got: version,
            expected,
        });
    }
    if packet.msg_type() != TYPE_ADVERTISEMENT {
        return Err(ParseError::BadType(packet.msg_type()));
    }

    check_length(&packet, version, family)?;
    let checksum_form = check_checksum(&packet, version, &src, &dst, opts.checksum)?;

    let auth = match version {
        Version::V3 => Auth::None,
        Version::V2 => match packet.v2_auth_type() {
            V2_AUTH_NONE => Auth::None,
            V2_AUTH_SIMPLE_TEXT => Auth::SimpleText(packet.v2_auth_data().unwrap_or_default()),
            V2_AUTH_AH => Auth::Ah,
            other => return Err(ParseError::BadAuthType(other)),
        },
    };
    let max_advert_interval_cs = match version {
        Version::V3 => packet.v3_max_advert_interval_cs(),
        Version::V2 => u16::from(packet.v2_advert_interval_s()) * 100,
    };
    if max_advert_interval_cs == 0 {
        return Err(ParseError::IntervalZero);
    }

    // check_length made sure all `count` addresses are there.
    let end = field::ADDRESSES + usize::from(packet.count()) * family.addr_len();
    let bytes = message.get(field::ADDRESSES..end).unwrap_or_default();
    Ok(Received {
        src,
        dst,
        ttl,
        checksum_form,
        advert: AdvertRepr {
            version,
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_advert_interval_cs,
            auth,
            addresses: Addresses::Wire { family, bytes },
        },
    })
}

/// RFC 9568 7.1 / RFC 3768 7.1: the packet holds the complete message, and
/// (as keepalived and FRR check too) nothing more.
fn check_length(
    packet: &Packet<&[u8]>,
    version: Version,
    family: Family,
) -> Result<(), ParseError> {
    let count = packet.count();
    if count == 0 {
        return Err(ParseError::ZeroAddresses);
    }
    let len = packet.buf().len();
    let body = len.saturating_sub(HEADER_LEN);
    let auth_len = match version {
        Version::V2 => V2_AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    let addr_bytes = usize::from(count) * family.addr_len();
    if body == addr_bytes + auth_len {
        return Ok(());
    }
    let other_bytes = usize::from(count) * family.other().addr_len();
    if body == other_bytes + auth_len {
        return Err(ParseError::AddressFamilyMismatch {
            family,
            count,
            bytes: other_bytes,
        });
    }
    if body < addr_bytes {
        return Err(ParseError::Truncated {
            layer: Layer::Addresses,
            len,
            need: HEADER_LEN + addr_bytes + auth_len,
        });
    }
    if body < addr_bytes + auth_len {
        return Err(ParseError::Truncated {
            layer: Layer::AuthData,
            len,
            need: HEADER_LEN + addr_bytes + auth_len,
        });
    }
    Err(ParseError::AddressCountMismatch {
        count,
        bytes: body - auth_len,
    })
}

fn check_checksum(
    packet: &Packet<&[u8]>,
    version: Version,
    src: &IpAddr,
    dst: &IpAddr,
    policy: ChecksumPolicy,
) -> Result<ChecksumForm, ParseError> {
    let len = packet.buf().len();
    // src and dst come from one IP header, so the families agree.
    let pseudo = checksum::pseudo_header(src, dst, ipv4::PROTOCOL_VRRP, len);
    let forms: &[ChecksumForm] = match (version, Family::of(src), policy) {
        (Version::V2, _, _) => &[ChecksumForm::NoPseudoHeader],
        (Version::V3, Family::Ipv6, _) => &[ChecksumForm::PseudoHeader],
        (Version::V3, Family::Ipv4, ChecksumPolicy::Either) => {
            &[ChecksumForm::PseudoHeader, ChecksumForm::NoPseudoHeader]
        }
        (Version::V3, Family::Ipv4, ChecksumPolicy::Only(ChecksumForm::PseudoHeader)) => {
            &[ChecksumForm::PseudoHeader]
        }
        (Version::V3, Family::Ipv4, ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader)) => {
            &[ChecksumForm::NoPseudoHeader]
        }
    };
    // `None`: the form cannot be computed (mixed families, cannot happen
    // for addresses taken from one IP header); `Some(p)`: the pseudo-header
    // sum to add, if any.
    let pseudo_of = |form: ChecksumForm| match form {
        ChecksumForm::PseudoHeader => pseudo.map(Some),
        ChecksumForm::NoPseudoHeader => Some(None),
    };
    for form in forms {
        if let Some(p) = pseudo_of(*form)
            && packet.verify_checksum(p)
        {
            return Ok(*form);
        }
    }
    let expected = |wanted: ChecksumForm| {
        if forms.contains(&wanted) {
            pseudo_of(wanted).map(|p| packet.compute_checksum(p))
        } else {
            None
        }
    };
    Err(ParseError::BadChecksum {
        got: packet.checksum(),
        with_pseudo_header: expected(ChecksumForm::PseudoHeader),
        without_pseudo_header: expected(ChecksumForm::NoPseudoHeader),
    })
}

/// Bytes of the VRRP message of `repr`: 8, the addresses, and for v2 the
/// 8 bytes of Authentication Data.
pub fn advert_len(repr: &AdvertRepr) -> usize {
    let auth_len = match repr.version {
        Version::V2 => V2_AUTH_DATA_LEN,
        Version::V3 => 0,
    };
    HEADER_LEN + repr.addresses.len() * repr.addresses.family().addr_len() + auth_len
}

fn check_emittable(repr: &AdvertRepr, src: &IpAddr, dst: &IpAddr) -> Result<(), EmitError> {
    let family = repr.addresses.family();
    if Family::of(src) != family || Family::of(dst) != family {
        return Err(EmitError::AddressFamilyMismatch {
            addresses: family,
            src: Family::of(src),
            dst: Family::of(dst),
        });
    }
    if repr.version == Version::V2 && family == Family::Ipv6 {
        return Err(EmitError::V2OverIpv6);
    }
    let count = repr.addresses.len();
    if count == 0 {
        return Err(EmitError::NoAddresses);
    }
    if count > usize::from(u8::MAX) {
        return Err(EmitError::TooManyAddresses(count));
    }
    let interval_cs = repr.max_advert_interval_cs;
    if interval_cs == 0 {
        return Err(EmitError::IntervalZero);
    }
    match repr.version {
        Version::V3 => {
            if interval_cs > V3_MAX_INTERVAL_CS {
                return Err(EmitError::V3IntervalTooLarge { interval_cs });
            }
            if repr.auth != Auth::None {
                return Err(EmitError::AuthWithV3);
            }
        }
        Version::V2 => {
            if !interval_cs.is_multiple_of(100) {
                return Err(EmitError::V2IntervalNotWholeSeconds { interval_cs });
            }
            if interval_cs > V2_MAX_INTERVAL_CS {
                return Err(EmitError::V2IntervalTooLarge { interval_cs });
            }
        }
    }
    Ok(())
}

/// Write the VRRP message of `repr` (no IP header: the kernel adds it) at
/// the start of `buf` and return its length.
///
/// `form` matters only for VRRPv3 over IPv4; VRRPv2 never has a
/// pseudo-header and IPv6 always has one. `src` and `dst` are the IP
/// addresses the packet will carry; for the pseudo-header they must be
/// exactly those (for unicast, the peer's address, not 224.0.0.18).
pub fn emit_advert(
    repr: &AdvertRepr,
    src: IpAddr,
    dst: IpAddr,
    form: ChecksumForm,
    buf: &mut [u8],
) -> Result<usize, EmitError> {
    check_emittable(repr, &src, &dst)?;
    let len = advert_len(repr);
    let message = crate::wire::bytes::emit_area(buf, len)?;
    let count = u8::try_from(repr.addresses.len())
        .map_err(|_| EmitError::TooManyAddresses(repr.addresses.len()))?;

    let mut packet = Packet::new_unchecked(message);
    packet.set_version_type(repr.version.number(), TYPE_ADVERTISEMENT);
    packet.set_vrid(repr.vrid);
    packet.set_priority(repr.priority);
    packet.set_count(count);
    match repr.version {
        Version::V3 => packet.set_v3_max_advert_interval_cs(repr.max_advert_interval_cs),
        Version::V2 => {
            packet.set_v2_auth_type(repr.auth.type_number());
            // check_emittable bounded it to 255 s.
            let seconds = u8::try_from(repr.max_advert_interval_cs / 100).unwrap_or(u8::MAX);
            packet.set_v2_advert_interval_s(seconds);
        }
    }
    packet.set_checksum(0);
    for (i, address) in repr.addresses.iter().enumerate() {
        match address {
            IpAddr::V4(a) => packet.set_address_bytes(i, &a.octets()),
            IpAddr::V6(a) => packet.set_address_bytes(i, &a.octets()),
        }
    }
    if repr.version == Version::V2 {
        packet.set_v2_auth_data(&repr.auth.data());
    }

    let pseudo = match (repr.version, repr.addresses.family(), form) {
        (Version::V2, _, _) => None,
        (Version::V3, Family::Ipv4, ChecksumForm::NoPseudoHeader) => None,
        (Version::V3, _, _) => Some(
            checksum::pseudo_header(&src, &dst, ipv4::PROTOCOL_VRRP, len)
                .ok_or(EmitError::LengthOverflow(len))?,
        ),
    };
    packet.fill_checksum(pseudo);
    Ok(len)
}

/// The 8-byte v2 simple-text password field from a configured string:
/// zero padded, at most 8 bytes (RFC 2338 5.3.10; keepalived truncates to
/// 8 likewise). `None` if longer than 8 bytes.
pub fn v2_simple_text(password: &str) -> Option<[u8; V2_AUTH_DATA_LEN]> {
    let bytes = password.as_bytes();
    let mut out = [0u8; V2_AUTH_DATA_LEN];
    out.get_mut(..bytes.len())?.copy_from_slice(bytes);
    Some(out)
}

#[cfg(test)]
mod tests;
