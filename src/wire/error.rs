//! Errors of the wire layer.
//!
//! [`ParseError`] is what a received VRRP datagram can be refused for: one
//! variant (or, for truncation, one [`Layer`]) per reason, each with a stable
//! snake_case [`ParseError::counter`] name that the daemon uses as a metric
//! label. The order in which they are checked is documented in
//! `docs/wire.md` and on [`crate::wire::parse_ipv4`].
//!
//! [`EmitError`] is what `emit_*` refuses to write. [`FrameError`] covers the
//! link-layer helpers (Ethernet, SLL, ARP, Neighbor Advertisement) that the
//! decoder and the tests use; those are not counted by the daemon.

use super::{Family, Version};

/// Which part of a packet was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Fewer than 20 bytes, or fewer than IHL x 4.
    IpHeader,
    /// The buffer ends before the IPv4 Total Length says it does.
    IpPayload,
    /// Fewer than the 8 fixed bytes of the VRRP header.
    VrrpHeader,
    /// Fewer address bytes than Count IPvX Addrs promises.
    Addresses,
    /// VRRPv2: the 8 bytes of Authentication Data are missing.
    AuthData,
    /// The IP Authentication Header in front of a VRRPv2 message.
    AuthHeader,
}

impl Layer {
    fn describe(self) -> &'static str {
        match self {
            Layer::IpHeader => "IPv4 header",
            Layer::IpPayload => "IPv4 payload (shorter than Total Length)",
            Layer::VrrpHeader => "VRRP header",
            Layer::Addresses => "VRRP address list",
            Layer::AuthData => "VRRPv2 authentication data",
            Layer::AuthHeader => "IP Authentication Header",
        }
    }
}

/// What is wrong with an IP header whose bytes are all there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpHeaderProblem {
    /// The version nibble is not the one expected (4 for `parse_ipv4`, 4 or
    /// 6 for `parse_ip_packet`).
    Version(u8),
    /// IHL below 5 (20 bytes).
    IhlTooSmall(u8),
    /// Total Length smaller than the header itself.
    TotalLengthBelowHeader { total_len: u16, header_len: usize },
    /// More Fragments set or a non-zero offset: VRRP is never fragmented and
    /// a fragment does not hold a whole advertisement.
    Fragment,
}

impl std::fmt::Display for IpHeaderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpHeaderProblem::Version(v) => write!(f, "unexpected IP version {v}"),
            IpHeaderProblem::IhlTooSmall(ihl) => {
                write!(f, "IHL {ihl} below the minimum 5 (20 bytes)")
            }
            IpHeaderProblem::TotalLengthBelowHeader {
                total_len,
                header_len,
            } => write!(
                f,
                "total length {total_len} smaller than the {header_len}-byte header"
            ),
            IpHeaderProblem::Fragment => write!(f, "datagram is a fragment"),
        }
    }
}

/// Why a received VRRP datagram was refused. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ParseError {
    #[error("truncated {}: {len} bytes, need {need}", layer.describe())]
    Truncated {
        layer: Layer,
        len: usize,
        need: usize,
    },
    #[error("invalid IP header: {0}")]
    IpHeaderInvalid(IpHeaderProblem),
    #[error("not VRRP: IP protocol {0}, expected 112")]
    NotVrrp(u8),
    /// RFC 9568 7.1 / RFC 3768 7.1: TTL or Hop Limit MUST be 255.
    #[error("TTL/hop limit {0}, must be 255")]
    TtlNot255(u8),
    #[error("VRRP version {0}, expected 2 or 3")]
    BadVersion(u8),
    #[error("VRRP version {}, this router expects version {}", got.number(), expected.number())]
    UnexpectedVersion { got: Version, expected: Version },
    /// RFC 3768 is IPv4 only.
    #[error("VRRP version 2 over IPv6")]
    V2OverIpv6,
    /// RFC 9568 5.2.2: only type 1 (ADVERTISEMENT) exists.
    #[error("VRRP type {0}, expected 1 (advertisement)")]
    BadType(u8),
    /// Each `Some` is the checksum a form would have required; `None` when
    /// that form was not tried (the policy, the version or the family).
    #[error(
        "bad VRRP checksum 0x{got:04x}{}{}",
        with_pseudo_header.map(|c| format!(", expected 0x{c:04x} with the pseudo-header")).unwrap_or_default(),
        without_pseudo_header.map(|c| format!(", expected 0x{c:04x} without the pseudo-header")).unwrap_or_default()
    )]
    BadChecksum {
        got: u16,
        with_pseudo_header: Option<u16>,
        without_pseudo_header: Option<u16>,
    },
    /// More address bytes than Count IPvX Addrs (x 4 or 16) accounts for.
    #[error("{count} addresses announced but {bytes} address bytes carried")]
    AddressCountMismatch { count: u8, bytes: usize },
    /// The address bytes are exactly `count` addresses of the *other*
    /// family: an IPv6 list in an IPv4 datagram or the reverse.
    #[error("{count} addresses in {bytes} bytes are not {family:?} addresses")]
    AddressFamilyMismatch {
        family: Family,
        count: u8,
        bytes: usize,
    },
    /// RFC 9568 5.2.7: an interval of 0 would make Master_Down_Interval
    /// zero; RFC 3768 5.3.7: Adver Int of 0 seconds likewise.
    #[error("advertisement interval is zero")]
    IntervalZero,
    /// RFC 9568 5.2.5: the minimum Count IPvX Addrs is 1.
    #[error("count of addresses is zero")]
    ZeroAddresses,
    /// RFC 3768 5.3.6: a packet with an unknown authentication type MUST
    /// be discarded. Types 0, 1 and 2 are known (2 is reported, not verified).
    #[error("VRRPv2 authentication type {0} is unknown")]
    BadAuthType(u8),
}

impl ParseError {
    /// A stable snake_case name for the metric label. Never change one: the
    /// dashboards and alerts of users key on them.
    pub fn counter(&self) -> &'static str {
        match self {
            ParseError::Truncated { layer, .. } => match layer {
                Layer::IpHeader => "truncated_ip_header",
                Layer::IpPayload => "truncated_ip_payload",
                Layer::VrrpHeader => "truncated_vrrp_header",
                Layer::Addresses => "truncated_addresses",
                Layer::AuthData => "truncated_auth_data",
                Layer::AuthHeader => "truncated_auth_header",
            },
            ParseError::IpHeaderInvalid(_) => "ip_header_invalid",
            ParseError::NotVrrp(_) => "not_vrrp",
            ParseError::TtlNot255(_) => "ttl_not_255",
            ParseError::BadVersion(_) => "bad_version",
            ParseError::UnexpectedVersion { .. } => "unexpected_version",
            ParseError::V2OverIpv6 => "v2_over_ipv6",
            ParseError::BadType(_) => "bad_type",
            ParseError::BadChecksum { .. } => "bad_checksum",
            ParseError::AddressCountMismatch { .. } => "address_count_mismatch",
            ParseError::AddressFamilyMismatch { .. } => "address_family_mismatch",
            ParseError::IntervalZero => "interval_zero",
            ParseError::ZeroAddresses => "zero_addresses",
            ParseError::BadAuthType(_) => "bad_auth_type",
        }
    }

    /// Every counter name, for pre-registering metrics at zero.
    pub const COUNTERS: &'static [&'static str] = &[
        "truncated_ip_header",
        "truncated_ip_payload",
        "truncated_vrrp_header",
        "truncated_addresses",
        "truncated_auth_data",
        "truncated_auth_header",
        "ip_header_invalid",
        "not_vrrp",
        "ttl_not_255",
        "bad_version",
        "unexpected_version",
        "v2_over_ipv6",
        "bad_type",
        "bad_checksum",
        "address_count_mismatch",
        "address_family_mismatch",
        "interval_zero",
        "zero_addresses",
        "bad_auth_type",
    ];
}

/// Why an emit refused to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EmitError {
    #[error("buffer of {have} bytes too small, need {need}")]
    BufferTooSmall { need: usize, have: usize },
    /// RFC 3768 5.3.7: Adver Int is in whole seconds.
    #[error("VRRPv2 interval {interval_cs} cs is not a whole number of seconds")]
    V2IntervalNotWholeSeconds { interval_cs: u16 },
    /// RFC 3768 5.3.7: Adver Int is 8 bits: at most 255 s.
    #[error("VRRPv2 interval {interval_cs} cs exceeds 255 s")]
    V2IntervalTooLarge { interval_cs: u16 },
    /// RFC 9568 5.2.7: Max Advertise Interval is 12 bits: at most 4095 cs.
    #[error("VRRPv3 interval {interval_cs} cs exceeds 4095 cs")]
    V3IntervalTooLarge { interval_cs: u16 },
    #[error("advertisement interval is zero")]
    IntervalZero,
    /// The addresses, the source and the destination must share a family.
    #[error(
        "address family mismatch: addresses {addresses:?}, source {src:?}, destination {dst:?}"
    )]
    AddressFamilyMismatch {
        addresses: Family,
        src: Family,
        dst: Family,
    },
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    /// Count IPvX Addrs is 8 bits.
    #[error("{0} addresses, at most 255 fit an advertisement")]
    TooManyAddresses(usize),
    /// RFC 9568 5.2.5: at least one address.
    #[error("an advertisement needs at least one address")]
    NoAddresses,
    /// Authentication exists in VRRPv2 only (RFC 9568 removed it).
    #[error("authentication given for a VRRPv3 advertisement")]
    AuthWithV3,
    /// `Ipv4Header::emit` writes a 20-byte header and no options.
    #[error("IPv4 header length {0} unsupported: emit writes 20 bytes without options")]
    Ipv4OptionsUnsupported(usize),
    /// A length that does not fit its 16-bit field.
    #[error("length {0} does not fit the header's length field")]
    LengthOverflow(usize),
}

/// Why a link-layer frame (Ethernet, Linux cooked capture, ARP, Neighbor
/// Advertisement) was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FrameError {
    #[error("truncated {what}: {len} bytes, need {need}")]
    Truncated {
        what: &'static str,
        len: usize,
        need: usize,
    },
    #[error("EtherType 0x{got:04x}, expected 0x{expected:04x}")]
    WrongEtherType { got: u16, expected: u16 },
    /// Only Ethernet/IPv4 ARP (htype 1, ptype 0x0800, 6/4) is handled.
    #[error("ARP htype {htype} ptype 0x{ptype:04x} hlen {hlen} plen {plen} is not Ethernet/IPv4")]
    UnsupportedArp {
        htype: u16,
        ptype: u16,
        hlen: u8,
        plen: u8,
    },
    #[error("invalid IPv6 header: {0}")]
    Ipv6HeaderInvalid(&'static str),
    #[error("IPv6 next header {0}, expected 58 (ICMPv6)")]
    NotIcmpv6(u8),
    #[error("ICMPv6 type {0} code {1}, expected 136 code 0 (Neighbor Advertisement)")]
    NotNeighborAdvert(u8, u8),
    /// RFC 4861 7.1.2: hop limit MUST be 255.
    #[error("hop limit {0}, must be 255")]
    HopLimitNot255(u8),
    #[error("bad ICMPv6 checksum 0x{got:04x}, expected 0x{expected:04x}")]
    BadChecksum { got: u16, expected: u16 },
    /// RFC 4861 4.6: an option of length 0 MUST cause the packet to be
    /// discarded; an option may not run past the end of the message.
    #[error("malformed Neighbor Discovery option")]
    BadOption,
    /// RFC 4861 7.1.2: the target of an advertisement is never multicast.
    #[error("Neighbor Advertisement target is a multicast address")]
    MulticastTarget,
}
