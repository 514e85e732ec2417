//! Properties of the wire layer:
//! - emit-then-parse round-trips every valid advertisement (v2/v3, IPv4/IPv6,
//!   both checksum forms), and every gratuitous ARP and NA;
//! - no parser panics on arbitrary bytes or on mutations of valid packets,
//!   and whatever a mutated packet parses to re-emits to the same advert.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ha_vip::wire::arp::ArpRepr;
use ha_vip::wire::ethernet::{self, MacAddr, Sll2Repr, SllRepr};
use ha_vip::wire::ndisc::{self, NeighborAdvertRepr};
use ha_vip::wire::{
    Addresses, AdvertRepr, Auth, ChecksumForm, ChecksumPolicy, Family, Ipv4Header, Ipv6Header,
    ParseOptions, Version, advert_len, emit_advert, parse_ip_packet, parse_ipv4, parse_ipv6,
};
use proptest::prelude::*;

/// An advertisement's owned parts (AdvertRepr borrows its addresses).
#[derive(Debug, Clone)]
struct Case {
    version: Version,
    vrid: u8,
    priority: u8,
    interval_cs: u16,
    auth: Auth,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
    src: IpAddr,
    dst: IpAddr,
    form: ChecksumForm,
}

impl Case {
    fn family(&self) -> Family {
        Family::of(&self.src)
    }

    fn repr(&self) -> AdvertRepr<'_> {
        AdvertRepr {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            max_advert_interval_cs: self.interval_cs,
            auth: self.auth,
            addresses: match self.family() {
                Family::Ipv4 => Addresses::V4(&self.v4),
                Family::Ipv6 => Addresses::V6(&self.v6),
            },
        }
    }
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn form() -> impl Strategy<Value = ChecksumForm> {
    prop_oneof![
        Just(ChecksumForm::PseudoHeader),
        Just(ChecksumForm::NoPseudoHeader)
    ]
}

fn v2_auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        Just(Auth::None),
        any::<[u8; 8]>().prop_map(Auth::SimpleText),
        Just(Auth::Ah),
    ]
}

fn v3_v4_case() -> impl Strategy<Value = Case> {
    (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(ipv4(), 1..=255),
        ipv4(),
        ipv4(),
        form(),
    )
        .prop_map(|(vrid, priority, interval_cs, v4, s, d, form)| Case {
            version: Version::V3,
            vrid,
            priority,
            interval_cs,
            auth: Auth::None,
            v4,
            v6: vec![],
            src: IpAddr::V4(s),
            dst: IpAddr::V4(d),
            form,
        })
}

fn v3_v6_case() -> impl Strategy<Value = Case> {
    (
        any::<u8>(),
        any::<u8>(),
        1u16..=4095,
        prop::collection::vec(ipv6(), 1..=64),
        ipv6(),
        ipv6(),
        form(),
    )
        .prop_map(|(vrid, priority, interval_cs, v6, s, d, form)| Case {
            version: Version::V3,
            vrid,
            priority,
            interval_cs,
            auth: Auth::None,
            v4: vec![],
            v6,
            src: IpAddr::V6(s),
            dst: IpAddr::V6(d),
            form,
        })
}

fn v2_case() -> impl Strategy<Value = Case> {
    (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        v2_auth(),
        prop::collection::vec(ipv4(), 1..=255),
        ipv4(),
        ipv4(),
        form(),
    )
        .prop_map(|(vrid, priority, seconds, auth, v4, s, d, form)| Case {
            version: Version::V2,
            vrid,
            priority,
            interval_cs: seconds * 100,
            auth,
            v4,
            v6: vec![],
            src: IpAddr::V4(s),
            dst: IpAddr::V4(d),
            form,
        })
}

fn any_case() -> impl Strategy<Value = Case> {
    prop_oneof![v3_v4_case(), v3_v6_case(), v2_case()]
}

/// The VRRP message of a case.
fn message(case: &Case) -> Vec<u8> {
    let repr = case.repr();
    let mut buf = vec![0xa5u8; advert_len(&repr)];
    let n = emit_advert(&repr, case.src, case.dst, case.form, &mut buf).expect("valid case");
    assert_eq!(n, buf.len());
    buf
}

/// An IPv4 datagram with TTL 255 and protocol 112 around `message`.
fn datagram(src: Ipv4Addr, dst: Ipv4Addr, message: &[u8]) -> Vec<u8> {
    let header = Ipv4Header::new(src, dst, 112, 255, message.len()).expect("fits");
    let mut out = vec![0u8; 20];
    header.emit(&mut out).expect("20 bytes");
    out.extend_from_slice(message);
    out
}

/// The packet as the receiver sees it: a datagram for IPv4, a payload for
/// IPv6.
fn wire_bytes(case: &Case) -> Vec<u8> {
    let msg = message(case);
    match (case.src, case.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => datagram(s, d, &msg),
        _ => msg,
    }
}

fn parse_case<'a>(
    case: &Case,
    bytes: &'a [u8],
    opts: &ParseOptions,
) -> Result<ha_vip::wire::Received<'a>, ha_vip::wire::ParseError> {
    match (case.src, case.dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => parse_ipv6(s, d, 255, bytes, opts),
        _ => parse_ipv4(bytes, opts),
    }
}

fn all_options() -> Vec<ParseOptions> {
    let mut out = vec![];
    for checksum in [
        ChecksumPolicy::Either,
        ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
        ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
    ] {
        for expect_version in [None, Some(Version::V2), Some(Version::V3)] {
            out.push(ParseOptions {
                checksum,
                expect_version,
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn emit_then_parse_round_trips(case in any_case()) {
        let bytes = wire_bytes(&case);
        // The form the receiver must report: fixed for v2 and IPv6.
        let expected_form = match (case.version, case.family()) {
            (Version::V2, _) => ChecksumForm::NoPseudoHeader,
            (Version::V3, Family::Ipv6) => ChecksumForm::PseudoHeader,
            (Version::V3, Family::Ipv4) => case.form,
        };
        let strict = ParseOptions {
            checksum: ChecksumPolicy::Only(expected_form),
            expect_version: Some(case.version),
        };
        let received = parse_case(&case, &bytes, &strict).expect("strict parse");
        prop_assert_eq!(received.advert, case.repr());
        prop_assert_eq!(received.src, case.src);
        prop_assert_eq!(received.dst, case.dst);
        prop_assert_eq!(received.ttl, 255);
        prop_assert_eq!(received.checksum_form, expected_form);

        // As a capture holds it: a whole IP packet of either version.
        let whole = match (case.src, case.dst) {
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let header = Ipv6Header {
                    traffic_class: 0xc0,
                    flow_label: 0,
                    payload_len: u16::try_from(bytes.len()).expect("fits"),
                    next_header: 112,
                    hop_limit: 255,
                    src: s,
                    dst: d,
                };
                let mut out = vec![0u8; 40];
                header.emit(&mut out).expect("40 bytes");
                out.extend_from_slice(&bytes);
                out
            }
            _ => bytes.clone(),
        };
        let captured = parse_ip_packet(&whole, &strict).expect("whole packet parse");
        prop_assert_eq!(captured.advert, case.repr());

        // The lenient default accepts it too, with the same advert.
        let lenient = parse_case(&case, &bytes, &ParseOptions::default()).expect("default parse");
        prop_assert_eq!(lenient.advert, case.repr());

        // Re-emitting what was parsed gives the same bytes.
        let mut again = vec![0u8; advert_len(&received.advert)];
        emit_advert(&received.advert, received.src, received.dst, expected_form, &mut again)
            .expect("re-emit");
        prop_assert_eq!(&again[..], &message(&case)[..]);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        src in ipv6(),
        dst in ipv6(),
        hop_limit in any::<u8>(),
    ) {
        for opts in all_options() {
            let _ = parse_ipv4(&bytes, &opts);
            let _ = parse_ip_packet(&bytes, &opts);
            let _ = parse_ipv6(src, dst, hop_limit, &bytes, &opts);
        }
    }

    /// Arbitrary bytes after a plausible IPv4 header reach the VRRP checks.
    #[test]
    fn parse_never_panics_behind_a_valid_ipv4_header(
        body in prop::collection::vec(any::<u8>(), 0..600),
        src in ipv4(),
    ) {
        let d = datagram(src, Ipv4Addr::new(224, 0, 0, 18), &body);
        for opts in all_options() {
            let _ = parse_ipv4(&d, &opts);
        }
    }

    #[test]
    fn parse_never_panics_on_mutations_and_reparses_what_it_accepts(
        case in any_case(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        extra in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut bytes = wire_bytes(&case);
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        } else {
            bytes.extend_from_slice(&extra);
        }
        for opts in all_options() {
            if let Ok(received) = parse_case(&case, &bytes, &opts) {
                // Whatever got through is a valid advert: it re-emits and
                // re-parses to itself.
                let advert = received.advert;
                let mut msg = vec![0u8; advert_len(&advert)];
                emit_advert(&advert, received.src, received.dst, received.checksum_form, &mut msg)
                    .expect("an accepted advert re-emits");
                let again = match (received.src, received.dst) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => datagram(s, d, &msg),
                    _ => msg.clone(),
                };
                let reparsed = match (received.src, received.dst) {
                    (IpAddr::V6(s), IpAddr::V6(d)) => parse_ipv6(s, d, 255, &again, &opts),
                    _ => parse_ipv4(&again, &opts),
                };
                prop_assert_eq!(reparsed.expect("re-parse").advert, advert);
            }
        }
    }

    #[test]
    fn gratuitous_arp_round_trips(mac in any::<[u8; 6]>(), vip in ipv4()) {
        let repr = ArpRepr::gratuitous(MacAddr(mac), vip);
        let mut buf = [0xa5u8; 42];
        prop_assert_eq!(repr.emit_frame(&mut buf), Ok(42));
        let (eth, parsed) = ArpRepr::parse_frame(&buf).expect("parse");
        prop_assert_eq!(parsed, repr);
        prop_assert_eq!(eth.src, MacAddr(mac));
        prop_assert!(eth.dst.is_broadcast());
    }

    #[test]
    fn unsolicited_na_round_trips(mac in any::<[u8; 6]>(), vip in ipv6(), router in any::<bool>()) {
        prop_assume!(!vip.is_multicast());
        let mut buf = [0xa5u8; ndisc::FRAME_LEN];
        prop_assert_eq!(
            ndisc::emit_unsolicited_na(MacAddr(mac), vip, router, &mut buf),
            Ok(ndisc::FRAME_LEN)
        );
        let (eth, ip, na) = NeighborAdvertRepr::parse_frame(&buf).expect("parse");
        prop_assert_eq!(na, NeighborAdvertRepr::unsolicited(MacAddr(mac), vip, router));
        prop_assert_eq!(ip.src, vip);
        prop_assert_eq!(ip.dst, ndisc::ALL_NODES);
        prop_assert_eq!(eth.dst, MacAddr([0x33, 0x33, 0, 0, 0, 1]));
    }

    #[test]
    fn link_layer_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = ethernet::parse_frame(&bytes);
        let _ = SllRepr::parse(&bytes);
        let _ = Sll2Repr::parse(&bytes);
        let _ = ArpRepr::parse_frame(&bytes);
        let _ = NeighborAdvertRepr::parse_frame(&bytes);
    }
}
