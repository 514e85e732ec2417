//! Vectors: keepalived 2.2.7 on a veth pair in a namespace, captured with
//! tcpdump (see `docs/wire.md`, "Making new vectors"). The NoPseudoHeader
//! vector is the keepalived one with its checksum recomputed without the
//! pseudo-header (by hand, outside this code).

use super::*;
use crate::wire::error::IpHeaderProblem;

// ---- keepalived VRRPv3 over IPv4: VRID 51, priority 200, 100 cs,
// 192.0.2.100 and 192.0.2.101, from 192.0.2.1 to 224.0.0.18.
static V3_V4_DATAGRAM: [u8; 36] = [
    0x45, 0xc0, 0x00, 0x24, 0x00, 0x05, 0x00, 0x00, 0xff, 0x70, 0x18, 0x91, 0xc0, 0x00, 0x02, 0x01,
    0xe0, 0x00, 0x00, 0x12, // IPv4
    0x31, 0x33, 0xc8, 0x02, 0x00, 0x64, 0xdf, 0x06, 0xc0, 0x00, 0x02, 0x64, 0xc0, 0x00, 0x02, 0x65,
];
/// The same message, checksum without the pseudo-header (RFC 9568 text).
static V3_V4_NO_PSEUDO_MESSAGE: [u8; 16] = [
    0x31, 0x33, 0xc8, 0x02, 0x00, 0x64, 0x81, 0x9b, 0xc0, 0x00, 0x02, 0x64, 0xc0, 0x00, 0x02, 0x65,
];

// ---- keepalived VRRPv2, no authentication: VRID 54, priority 100, 1 s,
// 198.51.100.54.
static V2_NONE_DATAGRAM: [u8; 40] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x91, 0xc0, 0x00, 0x02, 0x01,
    0xe0, 0x00, 0x00, 0x12, // IPv4
    0x21, 0x36, 0x64, 0x01, 0x00, 0x01, 0x50, 0x5d, 0xc6, 0x33, 0x64, 0x36, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
];

// ---- keepalived VRRPv2, auth_type PASS "secret1", priority 0 (it was
// stopping): VRID 52, 2 s, 198.51.100.100.
static V2_PASS_DATAGRAM: [u8; 40] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x03, 0x00, 0x00, 0xff, 0x70, 0x18, 0x8f, 0xc0, 0x00, 0x02, 0x01,
    0xe0, 0x00, 0x00, 0x12, // IPv4
    0x21, 0x34, 0x00, 0x01, 0x01, 0x02, 0x45, 0xe4, 0xc6, 0x33, 0x64, 0x64, 0x73, 0x65, 0x63, 0x72,
    0x65, 0x74, 0x31, 0x00,
];

// ---- keepalived VRRPv3 over IPv6: VRID 53, priority 100, 50 cs, fe80::53
// and 2001:db8::53, from fe80::5eff:fe00:aa to ff02::12.
static V3_V6_MESSAGE: [u8; 40] = [
    0x31, 0x35, 0x64, 0x02, 0x00, 0x32, 0xe1, 0xdd, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x53,
];

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
static V3_V4_ADDRS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 101)];
static V2_NONE_ADDRS: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 51, 100, 54)];
static V2_PASS_ADDRS: [Ipv4Addr; 1] = [Ipv4Addr::new(198, 51, 100, 100)];

fn src6() -> Ipv6Addr {
    "fe80::5eff:fe00:aa".parse().unwrap()
}

fn v3_v6_addrs() -> [Ipv6Addr; 2] {
    ["fe80::53".parse().unwrap(), "2001:db8::53".parse().unwrap()]
}

fn v3_v4_repr() -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 200,
        max_advert_interval_cs: 100,
        auth: Auth::None,
        addresses: Addresses::V4(&V3_V4_ADDRS),
    }
}

fn v2_none_repr() -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V2,
        vrid: 54,
        priority: 100,
        max_advert_interval_cs: 100,
        auth: Auth::None,
        addresses: Addresses::V4(&V2_NONE_ADDRS),
    }
}

fn v2_pass_repr() -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V2,
        vrid: 52,
        priority: 0,
        max_advert_interval_cs: 200,
        auth: Auth::SimpleText(*b"secret1\0"),
        addresses: Addresses::V4(&V2_PASS_ADDRS),
    }
}

fn v3_v6_repr(addrs: &[Ipv6Addr]) -> AdvertRepr<'_> {
    AdvertRepr {
        version: Version::V3,
        vrid: 53,
        priority: 100,
        max_advert_interval_cs: 50,
        auth: Auth::None,
        addresses: Addresses::V6(addrs),
    }
}

fn v4(a: Ipv4Addr) -> IpAddr {
    IpAddr::V4(a)
}

fn mcast4() -> IpAddr {
    IpAddr::V4(MULTICAST_V4)
}

fn opts() -> ParseOptions {
    ParseOptions::default()
}

/// An IPv4 datagram (TTL 255, 192.0.2.1 -> 224.0.0.18, protocol 112)
/// around `message`, header built by this crate's Ipv4Header (tested
/// against captured bytes in ipv4.rs).
fn datagram(message: &[u8]) -> Vec<u8> {
    let header = Ipv4Header::new(SRC4, MULTICAST_V4, 112, 255, message.len()).unwrap();
    let mut out = vec![0u8; 20];
    header.emit(&mut out).unwrap();
    out.extend_from_slice(message);
    out
}

/// Recompute the VRRP checksum of a v3/IPv4 message with the pseudo-header
/// for 192.0.2.1 -> 224.0.0.18, so a test can break exactly one thing.
fn fix_v3_v4(message: &mut [u8]) {
    let pseudo = checksum::pseudo_header_v4(&SRC4, &MULTICAST_V4, 112, message.len() as u16);
    Packet::new_unchecked(message).fill_checksum(Some(pseudo));
}

fn fix_v2(message: &mut [u8]) {
    Packet::new_unchecked(message).fill_checksum(None);
}

fn message_of(datagram: &[u8]) -> Vec<u8> {
    datagram[20..].to_vec()
}

// ------------------------------------------------------------------ v3/IPv4

#[test]
fn v3_v4_deconstruct() {
    let packet = Packet::new_checked(&V3_V4_DATAGRAM[20..]).unwrap();
    assert_eq!(packet.version(), 3);
    assert_eq!(packet.msg_type(), 1);
    assert_eq!(packet.vrid(), 51);
    assert_eq!(packet.priority(), 200);
    assert_eq!(packet.count(), 2);
    assert_eq!(packet.v3_reserved(), 0);
    assert_eq!(packet.v3_max_advert_interval_cs(), 100);
    assert_eq!(packet.checksum(), 0xdf06);
    assert_eq!(
        packet.address_bytes(Family::Ipv4),
        Some(&[192, 0, 2, 100, 192, 0, 2, 101][..])
    );
    assert_eq!(packet.address_bytes(Family::Ipv6), None);
    let pseudo = checksum::pseudo_header_v4(&SRC4, &MULTICAST_V4, 112, 16);
    assert!(packet.verify_checksum(Some(pseudo)));
    assert!(!packet.verify_checksum(None));
    assert_eq!(packet.compute_checksum(Some(pseudo)), 0xdf06);
    assert_eq!(packet.compute_checksum(None), 0x819b);
}

#[test]
fn v3_v4_construct() {
    let mut bytes = [0xa5u8; 16];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_version_type(3, 1);
    packet.set_vrid(51);
    packet.set_priority(200);
    packet.set_count(2);
    packet.set_v3_max_advert_interval_cs(100);
    packet.set_address_bytes(0, &[192, 0, 2, 100]);
    packet.set_address_bytes(1, &[192, 0, 2, 101]);
    let pseudo = checksum::pseudo_header_v4(&SRC4, &MULTICAST_V4, 112, 16);
    packet.fill_checksum(Some(pseudo));
    assert_eq!(&bytes[..], &V3_V4_DATAGRAM[20..]);
}

#[test]
fn v3_v4_parse() {
    let received = parse_ipv4(&V3_V4_DATAGRAM, &opts()).unwrap();
    assert_eq!(received.src, v4(SRC4));
    assert_eq!(received.dst, mcast4());
    assert_eq!(received.ttl, 255);
    assert_eq!(received.checksum_form, ChecksumForm::PseudoHeader);
    assert_eq!(received.advert, v3_v4_repr());
    assert!(matches!(
        received.advert.addresses,
        Addresses::Wire {
            family: Family::Ipv4,
            bytes
        } if bytes.as_ptr() == V3_V4_DATAGRAM[28..].as_ptr()
    ));
}

#[test]
fn v3_v4_emit() {
    let mut bytes = [0xa5u8; 18];
    let n = emit_advert(
        &v3_v4_repr(),
        v4(SRC4),
        mcast4(),
        ChecksumForm::PseudoHeader,
        &mut bytes,
    )
    .unwrap();
    assert_eq!(n, 16);
    assert_eq!(advert_len(&v3_v4_repr()), 16);
    assert_eq!(&bytes[..16], &V3_V4_DATAGRAM[20..]);
    assert_eq!(&bytes[16..], &[0xa5, 0xa5]);
}

#[test]
fn v3_v4_no_pseudo_header_form() {
    let mut bytes = [0xa5u8; 16];
    v3_v4_repr()
        .emit(v4(SRC4), mcast4(), ChecksumForm::NoPseudoHeader, &mut bytes)
        .unwrap();
    assert_eq!(bytes, V3_V4_NO_PSEUDO_MESSAGE);

    let d = datagram(&V3_V4_NO_PSEUDO_MESSAGE);
    let r = parse_ipv4(&d, &opts()).unwrap();
    assert_eq!(r.checksum_form, ChecksumForm::NoPseudoHeader);
    assert_eq!(r.advert, v3_v4_repr());

    let only_plain = ParseOptions {
        checksum: ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
        ..opts()
    };
    let only_pseudo = ParseOptions {
        checksum: ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
        ..opts()
    };
    assert_eq!(
        parse_ipv4(&d, &only_plain).unwrap().checksum_form,
        ChecksumForm::NoPseudoHeader
    );
    assert_eq!(
        parse_ipv4(&d, &only_pseudo).unwrap_err(),
        ParseError::BadChecksum {
            got: 0x819b,
            with_pseudo_header: Some(0xdf06),
            without_pseudo_header: None
        }
    );
    assert_eq!(
        parse_ipv4(&V3_V4_DATAGRAM, &only_plain).unwrap_err(),
        ParseError::BadChecksum {
            got: 0xdf06,
            with_pseudo_header: None,
            without_pseudo_header: Some(0x819b)
        }
    );
}

/// For unicast the pseudo-header holds the unicast destination (keepalived
/// since 1.3.6, FRR), not 224.0.0.18.
#[test]
fn v3_v4_unicast_pseudo_header_uses_real_destination() {
    let peer = Ipv4Addr::new(198, 51, 100, 2);
    let mut msg = [0u8; 16];
    v3_v4_repr()
        .emit(v4(SRC4), v4(peer), ChecksumForm::PseudoHeader, &mut msg)
        .unwrap();
    assert_ne!(&msg[..], &V3_V4_DATAGRAM[20..]);
    let header = Ipv4Header::new(SRC4, peer, 112, 255, 16).unwrap();
    let mut d = vec![0u8; 20];
    header.emit(&mut d).unwrap();
    d.extend_from_slice(&msg);
    let r = parse_ipv4(&d, &opts()).unwrap();
    assert_eq!(r.dst, v4(peer));
    assert_eq!(r.checksum_form, ChecksumForm::PseudoHeader);
}

// ------------------------------------------------------------------ v2

#[test]
fn v2_deconstruct() {
    let packet = Packet::new_checked(&V2_PASS_DATAGRAM[20..]).unwrap();
    assert_eq!(packet.version(), 2);
    assert_eq!(packet.msg_type(), 1);
    assert_eq!(packet.vrid(), 52);
    assert_eq!(packet.priority(), 0);
    assert_eq!(packet.count(), 1);
    assert_eq!(packet.v2_auth_type(), 1);
    assert_eq!(packet.v2_advert_interval_s(), 2);
    assert_eq!(packet.checksum(), 0x45e4);
    assert_eq!(
        packet.address_bytes(Family::Ipv4),
        Some(&[198, 51, 100, 100][..])
    );
    assert_eq!(packet.v2_auth_data(), Some(*b"secret1\0"));
    assert!(packet.verify_checksum(None));

    let packet = Packet::new_checked(&V2_NONE_DATAGRAM[20..]).unwrap();
    assert_eq!(packet.v2_auth_type(), 0);
    assert_eq!(packet.v2_advert_interval_s(), 1);
    assert_eq!(packet.v2_auth_data(), Some([0; 8]));
    assert!(packet.verify_checksum(None));
}

#[test]
fn v2_construct() {
    let mut bytes = [0xa5u8; 20];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_version_type(2, 1);
    packet.set_vrid(52);
    packet.set_priority(0);
    packet.set_count(1);
    packet.set_v2_auth_type(1);
    packet.set_v2_advert_interval_s(2);
    packet.set_address_bytes(0, &[198, 51, 100, 100]);
    packet.set_v2_auth_data(b"secret1\0");
    packet.fill_checksum(None);
    assert_eq!(&bytes[..], &V2_PASS_DATAGRAM[20..]);
}

#[test]
fn v2_parse() {
    let r = parse_ipv4(&V2_PASS_DATAGRAM, &opts()).unwrap();
    assert_eq!(r.checksum_form, ChecksumForm::NoPseudoHeader);
    assert_eq!(r.advert, v2_pass_repr());
    let r = parse_ipv4(&V2_NONE_DATAGRAM, &opts()).unwrap();
    assert_eq!(r.advert, v2_none_repr());
    assert_eq!(r.advert.max_advert_interval_cs, 100);
    // The policy is for v3/IPv4 only.
    let strict = ParseOptions {
        checksum: ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
        expect_version: Some(Version::V2),
    };
    assert_eq!(
        parse_ipv4(&V2_NONE_DATAGRAM, &strict).unwrap().advert,
        v2_none_repr()
    );
}

#[test]
fn v2_emit() {
    for (repr, datagram) in [
        (v2_pass_repr(), &V2_PASS_DATAGRAM),
        (v2_none_repr(), &V2_NONE_DATAGRAM),
    ] {
        let mut bytes = [0xa5u8; 22];
        // The form is ignored for v2.
        for form in [ChecksumForm::PseudoHeader, ChecksumForm::NoPseudoHeader] {
            let n = emit_advert(&repr, v4(SRC4), mcast4(), form, &mut bytes).unwrap();
            assert_eq!(n, 20);
            assert_eq!(&bytes[..20], &datagram[20..]);
            assert_eq!(&bytes[20..], &[0xa5, 0xa5]);
        }
    }
}

#[test]
fn v2_auth_header_type_2_is_recognised() {
    // RFC 2338 type 2: IPv4 protocol 51, a 24-byte AH (next header 112,
    // payload len 4), then VRRP with auth type 2 and zero auth data.
    let mut message = message_of(&V2_NONE_DATAGRAM);
    message[4] = 2;
    fix_v2(&mut message);
    let mut ah = vec![112u8, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
    ah.extend_from_slice(&[0x5a; 12]);
    let mut payload = ah.clone();
    payload.extend_from_slice(&message);
    let header = Ipv4Header::new(SRC4, MULTICAST_V4, 51, 255, payload.len()).unwrap();
    let mut d = vec![0u8; 20];
    header.emit(&mut d).unwrap();
    d.extend_from_slice(&payload);
    let r = parse_ipv4(&d, &opts()).unwrap();
    assert_eq!(r.advert.auth, Auth::Ah);
    assert_eq!(r.advert.vrid, 54);

    // AH carrying something else.
    let mut other = d.clone();
    other[20] = 6;
    assert_eq!(
        parse_ipv4(&other, &opts()).unwrap_err(),
        ParseError::NotVrrp(6)
    );
}

// ------------------------------------------------------------------ v3/IPv6

#[test]
fn v3_v6_deconstruct() {
    let packet = Packet::new_checked(&V3_V6_MESSAGE[..]).unwrap();
    assert_eq!(packet.version(), 3);
    assert_eq!(packet.vrid(), 53);
    assert_eq!(packet.priority(), 100);
    assert_eq!(packet.count(), 2);
    assert_eq!(packet.v3_max_advert_interval_cs(), 50);
    assert_eq!(packet.checksum(), 0xe1dd);
    assert_eq!(
        packet.address_bytes(Family::Ipv6),
        Some(&V3_V6_MESSAGE[8..])
    );
    let pseudo = checksum::pseudo_header_v6(&src6(), &MULTICAST_V6, 112, 40);
    assert!(packet.verify_checksum(Some(pseudo)));
}

#[test]
fn v3_v6_construct() {
    let mut bytes = [0xa5u8; 40];
    let mut packet = Packet::new_unchecked(&mut bytes[..]);
    packet.set_version_type(3, 1);
    packet.set_vrid(53);
    packet.set_priority(100);
    packet.set_count(2);
    packet.set_v3_max_advert_interval_cs(50);
    for (i, a) in v3_v6_addrs().iter().enumerate() {
        packet.set_address_bytes(i, &a.octets());
    }
    let pseudo = checksum::pseudo_header_v6(&src6(), &MULTICAST_V6, 112, 40);
    packet.fill_checksum(Some(pseudo));
    assert_eq!(bytes, V3_V6_MESSAGE);
}

#[test]
fn v3_v6_parse() {
    let addrs = v3_v6_addrs();
    for policy in [
        ChecksumPolicy::Either,
        ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
        ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
    ] {
        let o = ParseOptions {
            checksum: policy,
            expect_version: Some(Version::V3),
        };
        let r = parse_ipv6(src6(), MULTICAST_V6, 255, &V3_V6_MESSAGE, &o).unwrap();
        assert_eq!(r.src, IpAddr::V6(src6()));
        assert_eq!(r.dst, IpAddr::V6(MULTICAST_V6));
        assert_eq!(r.checksum_form, ChecksumForm::PseudoHeader);
        assert_eq!(r.advert, v3_v6_repr(&addrs));
    }
}

#[test]
fn v3_v6_emit() {
    let addrs = v3_v6_addrs();
    let mut bytes = [0xa5u8; 42];
    // IPv6 always has the pseudo-header, whatever the form says.
    for form in [ChecksumForm::PseudoHeader, ChecksumForm::NoPseudoHeader] {
        let n = emit_advert(
            &v3_v6_repr(&addrs),
            IpAddr::V6(src6()),
            IpAddr::V6(MULTICAST_V6),
            form,
            &mut bytes,
        )
        .unwrap();
        assert_eq!(n, 40);
        assert_eq!(&bytes[..40], &V3_V6_MESSAGE[..]);
        assert_eq!(&bytes[40..], &[0xa5, 0xa5]);
    }
}

#[test]
fn emit_from_wire_addresses_round_trips() {
    let r = parse_ipv4(&V3_V4_DATAGRAM, &opts()).unwrap();
    let mut bytes = [0u8; 16];
    r.advert
        .emit(r.src, r.dst, r.checksum_form, &mut bytes)
        .unwrap();
    assert_eq!(&bytes[..], &V3_V4_DATAGRAM[20..]);
}

// ------------------------------------------------------------------ errors

#[test]
fn error_truncated_ip_header() {
    assert_eq!(
        parse_ipv4(&V3_V4_DATAGRAM[..10], &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::IpHeader,
            len: 10,
            need: 20
        }
    );
}

#[test]
fn error_truncated_ip_payload() {
    assert_eq!(
        parse_ipv4(&V3_V4_DATAGRAM[..30], &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::IpPayload,
            len: 30,
            need: 36
        }
    );
}

#[test]
fn error_truncated_vrrp_header() {
    let d = datagram(&V3_V4_DATAGRAM[20..27]);
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::VrrpHeader,
            len: 7,
            need: 8
        }
    );
    assert!(matches!(
        parse_ipv6(src6(), MULTICAST_V6, 255, &[], &opts()),
        Err(ParseError::Truncated {
            layer: Layer::VrrpHeader,
            ..
        })
    ));
}

#[test]
fn error_truncated_addresses() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[3] = 3; // three addresses announced, two carried
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::Addresses,
            len: 16,
            need: 20
        }
    );
}

#[test]
fn error_truncated_auth_data() {
    let m = &V2_NONE_DATAGRAM[20..36]; // 4 of the 8 auth bytes
    assert_eq!(
        parse_ipv4(&datagram(m), &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::AuthData,
            len: 16,
            need: 20
        }
    );
}

#[test]
fn error_truncated_auth_header() {
    let header = Ipv4Header::new(SRC4, MULTICAST_V4, 51, 255, 8).unwrap();
    let mut d = vec![0u8; 20];
    header.emit(&mut d).unwrap();
    d.extend_from_slice(&[112, 4, 0, 0, 0, 0, 0, 1]);
    assert!(matches!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::AuthHeader,
            len: 8,
            need: 12
        }
    ));
    // Long enough for the fixed part, not for the length it claims.
    let header = Ipv4Header::new(SRC4, MULTICAST_V4, 51, 255, 12).unwrap();
    let mut d = vec![0u8; 20];
    header.emit(&mut d).unwrap();
    d.extend_from_slice(&[112, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::AuthHeader,
            len: 12,
            need: 24
        }
    );
}

#[test]
fn error_ip_header_invalid() {
    let mut d = V3_V4_DATAGRAM;
    d[0] = 0x44;
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::IpHeaderInvalid(IpHeaderProblem::IhlTooSmall(4))
    );
    let mut d = V3_V4_DATAGRAM;
    d[3] = 8;
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::IpHeaderInvalid(IpHeaderProblem::TotalLengthBelowHeader {
            total_len: 8,
            header_len: 20
        })
    );
}

#[test]
fn error_ip_header_invalid_fragment_and_options_skipped() {
    let mut d = V3_V4_DATAGRAM;
    d[7] = 1; // fragment offset 8 bytes
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::IpHeaderInvalid(IpHeaderProblem::Fragment)
    );
    // IHL 6 with a 4-byte option (NOPs, then End of Option List): parsed.
    let mut d = V3_V4_DATAGRAM[..20].to_vec();
    d.extend_from_slice(&[1, 1, 1, 0]);
    d.extend_from_slice(&V3_V4_DATAGRAM[20..]);
    d[0] = 0x46;
    d[3] = 40;
    assert_eq!(parse_ipv4(&d, &opts()).unwrap().advert, v3_v4_repr());
}

#[test]
fn error_not_vrrp() {
    let mut d = V3_V4_DATAGRAM;
    d[9] = 6;
    assert_eq!(parse_ipv4(&d, &opts()).unwrap_err(), ParseError::NotVrrp(6));
}

#[test]
fn error_ttl_not_255() {
    let mut d = V3_V4_DATAGRAM;
    d[8] = 254;
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::TtlNot255(254)
    );
    assert_eq!(
        parse_ipv6(src6(), MULTICAST_V6, 1, &V3_V6_MESSAGE, &opts()).unwrap_err(),
        ParseError::TtlNot255(1)
    );
}

#[test]
fn error_bad_version() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[0] = 0x41;
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::BadVersion(4)
    );
    m[0] = 0x11;
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::BadVersion(1)
    );
}

#[test]
fn error_unexpected_version() {
    let o = ParseOptions {
        expect_version: Some(Version::V2),
        ..opts()
    };
    assert_eq!(
        parse_ipv4(&V3_V4_DATAGRAM, &o).unwrap_err(),
        ParseError::UnexpectedVersion {
            got: Version::V3,
            expected: Version::V2
        }
    );
    let o = ParseOptions {
        expect_version: Some(Version::V3),
        ..opts()
    };
    assert!(matches!(
        parse_ipv4(&V2_NONE_DATAGRAM, &o),
        Err(ParseError::UnexpectedVersion {
            got: Version::V2,
            ..
        })
    ));
}

#[test]
fn error_v2_over_ipv6() {
    let m = &V2_NONE_DATAGRAM[20..];
    assert_eq!(
        parse_ipv6(src6(), MULTICAST_V6, 255, m, &opts()).unwrap_err(),
        ParseError::V2OverIpv6
    );
}

#[test]
fn error_bad_type() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[0] = 0x32;
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::BadType(2)
    );
}

#[test]
fn error_bad_checksum() {
    let mut d = V3_V4_DATAGRAM;
    d[27] ^= 0x01;
    assert_eq!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::BadChecksum {
            got: 0xdf07,
            with_pseudo_header: Some(0xdf06),
            without_pseudo_header: Some(0x819b)
        }
    );
    let mut d = V2_NONE_DATAGRAM;
    d[22] = 101; // priority changed, checksum not
    assert!(matches!(
        parse_ipv4(&d, &opts()).unwrap_err(),
        ParseError::BadChecksum {
            got: 0x505d,
            with_pseudo_header: None,
            without_pseudo_header: Some(_)
        }
    ));
    let mut m = V3_V6_MESSAGE;
    m[2] = 99;
    assert!(matches!(
        parse_ipv6(src6(), MULTICAST_V6, 255, &m, &opts()).unwrap_err(),
        ParseError::BadChecksum {
            got: 0xe1dd,
            with_pseudo_header: Some(_),
            without_pseudo_header: None
        }
    ));
    // A different source address changes the IPv6 pseudo-header.
    assert!(matches!(
        parse_ipv6(
            "fe80::1".parse().unwrap(),
            MULTICAST_V6,
            255,
            &V3_V6_MESSAGE,
            &opts()
        ),
        Err(ParseError::BadChecksum { .. })
    ));
}

#[test]
fn error_address_count_mismatch() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[3] = 1; // one address announced, two carried
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::AddressCountMismatch { count: 1, bytes: 8 }
    );
    let mut m = message_of(&V2_NONE_DATAGRAM);
    m.extend_from_slice(&[0; 4]); // trailing bytes after the auth data
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::AddressCountMismatch { count: 1, bytes: 8 }
    );
}

#[test]
fn error_address_family_mismatch() {
    // Two IPv4 addresses in an IPv6 packet.
    let m = message_of(&V3_V4_DATAGRAM);
    assert_eq!(
        parse_ipv6(src6(), MULTICAST_V6, 255, &m, &opts()).unwrap_err(),
        ParseError::AddressFamilyMismatch {
            family: Family::Ipv6,
            count: 2,
            bytes: 8
        }
    );
    // Two IPv6 addresses in an IPv4 datagram.
    assert_eq!(
        parse_ipv4(&datagram(&V3_V6_MESSAGE), &opts()).unwrap_err(),
        ParseError::AddressFamilyMismatch {
            family: Family::Ipv4,
            count: 2,
            bytes: 32
        }
    );
}

#[test]
fn error_interval_zero() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[4] = 0xf0; // reserved bits set (ignored), interval 0
    m[5] = 0;
    fix_v3_v4(&mut m);
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::IntervalZero
    );
    let mut m = message_of(&V2_NONE_DATAGRAM);
    m[5] = 0;
    fix_v2(&mut m);
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::IntervalZero
    );
}

#[test]
fn reserved_bits_are_ignored() {
    let mut m = message_of(&V3_V4_DATAGRAM);
    m[4] = 0xa0;
    fix_v3_v4(&mut m);
    let d = datagram(&m);
    let r = parse_ipv4(&d, &opts()).unwrap();
    assert_eq!(r.advert.max_advert_interval_cs, 100);
}

#[test]
fn error_zero_addresses() {
    let mut m = V3_V4_DATAGRAM[20..28].to_vec();
    m[3] = 0;
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::ZeroAddresses
    );
}

#[test]
fn error_bad_auth_type() {
    let mut m = message_of(&V2_NONE_DATAGRAM);
    m[4] = 3;
    fix_v2(&mut m);
    assert_eq!(
        parse_ipv4(&datagram(&m), &opts()).unwrap_err(),
        ParseError::BadAuthType(3)
    );
}

#[test]
fn counters_are_distinct_and_listed() {
    let errors = [
        ParseError::Truncated {
            layer: Layer::IpHeader,
            len: 0,
            need: 20,
        },
        ParseError::Truncated {
            layer: Layer::IpPayload,
            len: 0,
            need: 20,
        },
        ParseError::Truncated {
            layer: Layer::VrrpHeader,
            len: 0,
            need: 8,
        },
        ParseError::Truncated {
            layer: Layer::Addresses,
            len: 0,
            need: 8,
        },
        ParseError::Truncated {
            layer: Layer::AuthData,
            len: 0,
            need: 8,
        },
        ParseError::Truncated {
            layer: Layer::AuthHeader,
            len: 0,
            need: 12,
        },
        ParseError::IpHeaderInvalid(IpHeaderProblem::Fragment),
        ParseError::NotVrrp(6),
        ParseError::TtlNot255(1),
        ParseError::BadVersion(4),
        ParseError::UnexpectedVersion {
            got: Version::V2,
            expected: Version::V3,
        },
        ParseError::V2OverIpv6,
        ParseError::BadType(2),
        ParseError::BadChecksum {
            got: 0,
            with_pseudo_header: None,
            without_pseudo_header: None,
        },
        ParseError::AddressCountMismatch { count: 1, bytes: 8 },
        ParseError::AddressFamilyMismatch {
            family: Family::Ipv4,
            count: 1,
            bytes: 16,
        },
        ParseError::IntervalZero,
        ParseError::ZeroAddresses,
        ParseError::BadAuthType(3),
    ];
    let names: Vec<&str> = errors.iter().map(ParseError::counter).collect();
    assert_eq!(names, ParseError::COUNTERS);
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "duplicate counter name");
    for name in names {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name} is not snake_case"
        );
    }
}

#[test]
fn error_messages() {
    assert_eq!(
        ParseError::BadChecksum {
            got: 0xdf07,
            with_pseudo_header: Some(0xdf06),
            without_pseudo_header: Some(0x819b)
        }
        .to_string(),
        "bad VRRP checksum 0xdf07, expected 0xdf06 with the pseudo-header, \
         expected 0x819b without the pseudo-header"
    );
    assert_eq!(
        ParseError::Truncated {
            layer: Layer::Addresses,
            len: 16,
            need: 20
        }
        .to_string(),
        "truncated VRRP address list: 16 bytes, need 20"
    );
    assert_eq!(
        ParseError::TtlNot255(64).to_string(),
        "TTL/hop limit 64, must be 255"
    );
    assert_eq!(
        ParseError::UnexpectedVersion {
            got: Version::V3,
            expected: Version::V2
        }
        .to_string(),
        "VRRP version 3, this router expects version 2"
    );
}

// ------------------------------------------------------------------ emit errors

#[test]
fn emit_errors() {
    let mut buf = [0u8; 64];
    let emit = |repr: &AdvertRepr, src: IpAddr, dst: IpAddr, buf: &mut [u8]| {
        emit_advert(repr, src, dst, ChecksumForm::PseudoHeader, buf)
    };
    assert_eq!(
        emit(&v3_v4_repr(), v4(SRC4), mcast4(), &mut buf[..15]),
        Err(EmitError::BufferTooSmall { need: 16, have: 15 })
    );
    let r = AdvertRepr {
        max_advert_interval_cs: 150,
        ..v2_none_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::V2IntervalNotWholeSeconds { interval_cs: 150 })
    );
    let r = AdvertRepr {
        max_advert_interval_cs: 25600,
        ..v2_none_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::V2IntervalTooLarge { interval_cs: 25600 })
    );
    let r = AdvertRepr {
        max_advert_interval_cs: 25500,
        ..v2_none_repr()
    };
    assert_eq!(emit(&r, v4(SRC4), mcast4(), &mut buf), Ok(20));
    assert_eq!(buf[5], 255);
    let r = AdvertRepr {
        max_advert_interval_cs: 4096,
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::V3IntervalTooLarge { interval_cs: 4096 })
    );
    let r = AdvertRepr {
        max_advert_interval_cs: 0,
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::IntervalZero)
    );
    assert_eq!(
        emit(&v3_v4_repr(), IpAddr::V6(src6()), mcast4(), &mut buf),
        Err(EmitError::AddressFamilyMismatch {
            addresses: Family::Ipv4,
            src: Family::Ipv6,
            dst: Family::Ipv4
        })
    );
    assert!(matches!(
        emit(&v3_v4_repr(), v4(SRC4), IpAddr::V6(MULTICAST_V6), &mut buf),
        Err(EmitError::AddressFamilyMismatch { .. })
    ));
    let addrs = v3_v6_addrs();
    let r = AdvertRepr {
        version: Version::V2,
        max_advert_interval_cs: 100,
        ..v3_v6_repr(&addrs)
    };
    assert_eq!(
        emit(&r, IpAddr::V6(src6()), IpAddr::V6(MULTICAST_V6), &mut buf),
        Err(EmitError::V2OverIpv6)
    );
    let many = [Ipv4Addr::new(192, 0, 2, 7); 256];
    let r = AdvertRepr {
        addresses: Addresses::V4(&many),
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut [0u8; 2048]),
        Err(EmitError::TooManyAddresses(256))
    );
    let r = AdvertRepr {
        addresses: Addresses::V4(&many[..255]),
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut [0u8; 2048]),
        Ok(8 + 255 * 4)
    );
    let r = AdvertRepr {
        addresses: Addresses::V4(&[]),
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::NoAddresses)
    );
    let r = AdvertRepr {
        auth: Auth::SimpleText(*b"secret1\0"),
        ..v3_v4_repr()
    };
    assert_eq!(
        emit(&r, v4(SRC4), mcast4(), &mut buf),
        Err(EmitError::AuthWithV3)
    );
}

#[test]
fn v2_unknown_and_ah_auth_emit_their_type_and_zero_data() {
    let mut buf = [0xa5u8; 20];
    for (auth, t) in [(Auth::Ah, 2), (Auth::Unknown(9), 9)] {
        let r = AdvertRepr {
            auth,
            ..v2_none_repr()
        };
        emit_advert(
            &r,
            v4(SRC4),
            mcast4(),
            ChecksumForm::NoPseudoHeader,
            &mut buf,
        )
        .unwrap();
        assert_eq!(buf[4], t);
        assert_eq!(&buf[12..], &[0; 8]);
        assert!(Packet::new_unchecked(&buf[..]).verify_checksum(None));
    }
}

#[test]
fn simple_text_password() {
    assert_eq!(v2_simple_text("secret1"), Some(*b"secret1\0"));
    assert_eq!(v2_simple_text("12345678"), Some(*b"12345678"));
    assert_eq!(v2_simple_text("123456789"), None);
    assert_eq!(v2_simple_text(""), Some([0; 8]));
}

#[test]
fn default_options_accept_everything_valid() {
    assert_eq!(
        ParseOptions::default(),
        ParseOptions {
            checksum: ChecksumPolicy::Either,
            expect_version: None
        }
    );
    assert_eq!(Version::from_number(2), Some(Version::V2));
    assert_eq!(Version::from_number(3), Some(Version::V3));
    assert_eq!(Version::from_number(1), None);
}

#[test]
fn unchecked_view_does_not_panic() {
    let p = Packet::new_unchecked(&[0x31u8, 0x01, 0x02, 0xff][..]);
    assert_eq!(p.count(), 255);
    assert_eq!(p.checksum(), 0);
    assert_eq!(p.address_bytes(Family::Ipv6), None);
    assert_eq!(p.v2_auth_data(), None);
    let _ = p.verify_checksum(Some(1));
    let _ = p.compute_checksum(None);
}

// ------------------------------------------------------------------ captures

fn v6_packet(next_header: u8, hop_limit: u8, message: &[u8]) -> Vec<u8> {
    let header = crate::wire::Ipv6Header {
        traffic_class: 0xc0,
        flow_label: 0,
        payload_len: message.len() as u16,
        next_header,
        hop_limit,
        src: src6(),
        dst: MULTICAST_V6,
    };
    let mut out = vec![0u8; 40];
    header.emit(&mut out).unwrap();
    out.extend_from_slice(message);
    out
}

#[test]
fn parse_ip_packet_dispatches_on_the_version() {
    let addrs = v3_v6_addrs();
    assert_eq!(
        parse_ip_packet(&V3_V4_DATAGRAM, &opts()).unwrap().advert,
        v3_v4_repr()
    );
    let mut p = v6_packet(112, 255, &V3_V6_MESSAGE);
    p.extend_from_slice(&[0; 6]); // padding is ignored
    let r = parse_ip_packet(&p, &opts()).unwrap();
    assert_eq!(r.advert, v3_v6_repr(&addrs));
    assert_eq!(r.src, IpAddr::V6(src6()));

    assert_eq!(
        parse_ip_packet(&v6_packet(58, 255, &V3_V6_MESSAGE), &opts()).unwrap_err(),
        ParseError::NotVrrp(58)
    );
    assert_eq!(
        parse_ip_packet(&v6_packet(112, 64, &V3_V6_MESSAGE), &opts()).unwrap_err(),
        ParseError::TtlNot255(64)
    );
    let p = v6_packet(112, 255, &V3_V6_MESSAGE);
    assert_eq!(
        parse_ip_packet(&p[..79], &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::IpPayload,
            len: 79,
            need: 80
        }
    );
    assert_eq!(
        parse_ip_packet(&p[..39], &opts()).unwrap_err(),
        ParseError::Truncated {
            layer: Layer::IpHeader,
            len: 39,
            need: 40
        }
    );
    assert_eq!(
        parse_ip_packet(&[0x50; 40], &opts()).unwrap_err(),
        ParseError::IpHeaderInvalid(IpHeaderProblem::Version(5))
    );
    assert!(matches!(
        parse_ip_packet(&[], &opts()),
        Err(ParseError::Truncated {
            layer: Layer::IpHeader,
            ..
        })
    ));
}

#[test]
fn adverts_print_on_one_line() {
    assert_eq!(
        v3_v4_repr().to_string(),
        "VRRPv3 vrid 51 priority 200 interval 100cs addresses 192.0.2.100,192.0.2.101"
    );
    assert_eq!(
        v2_pass_repr().to_string(),
        "VRRPv2 vrid 52 priority 0 interval 200cs auth simple-text addresses 198.51.100.100"
    );
    let addrs = v3_v6_addrs();
    assert_eq!(
        v3_v6_repr(&addrs).to_string(),
        "VRRPv3 vrid 53 priority 100 interval 50cs addresses fe80::53,2001:db8::53"
    );
}
