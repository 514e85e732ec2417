//! Fuzz the VRRP parsers with every policy: no input may panic, and any
//! advert a parser accepts must re-emit and re-parse to itself.
//!
//! Input layout: the whole input is tried as an IPv4 datagram and as an IP
//! packet of either version (`parse_ip_packet`); for `parse_ipv6` the
//! first 33 bytes are the source (16), destination (16) and hop limit (1),
//! and the rest is the VRRP payload.

#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use ha_vip::wire::{
    ChecksumForm, ChecksumPolicy, Ipv4Header, ParseOptions, Received, Version, advert_len,
    emit_advert, parse_ip_packet, parse_ipv4, parse_ipv6,
};
use libfuzzer_sys::fuzz_target;

const POLICIES: [ChecksumPolicy; 3] = [
    ChecksumPolicy::Either,
    ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
    ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
];
const VERSIONS: [Option<Version>; 3] = [None, Some(Version::V2), Some(Version::V3)];

/// An accepted advert re-emits, and the emitted bytes parse to the same
/// advert.
fn check_round_trip(received: &Received, opts: &ParseOptions) {
    let advert = &received.advert;
    let mut msg = vec![0u8; advert_len(advert)];
    let n = emit_advert(
        advert,
        received.src,
        received.dst,
        received.checksum_form,
        &mut msg,
    )
    .expect("an accepted advert re-emits");
    assert_eq!(n, msg.len());
    let reparsed = match (received.src, received.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let header = Ipv4Header::new(s, d, 112, 255, msg.len()).expect("fits");
            let mut datagram = vec![0u8; 20];
            header.emit(&mut datagram).expect("20 bytes");
            datagram.extend_from_slice(&msg);
            parse_ipv4(&datagram, opts).map(|r| r.advert == *advert)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            parse_ipv6(s, d, 255, &msg, opts).map(|r| r.advert == *advert)
        }
        _ => panic!("mixed families in one Received"),
    };
    assert_eq!(reparsed, Ok(true));
}

fuzz_target!(|data: &[u8]| {
    for checksum in POLICIES {
        for expect_version in VERSIONS {
            let opts = ParseOptions {
                checksum,
                expect_version,
            };
            if let Ok(received) = parse_ipv4(data, &opts) {
                check_round_trip(&received, &opts);
            }
            if let Ok(received) = parse_ip_packet(data, &opts) {
                check_round_trip(&received, &opts);
            }
            if data.len() >= 33 {
                let (head, payload) = data.split_at(33);
                let mut src = [0u8; 16];
                let mut dst = [0u8; 16];
                src.copy_from_slice(&head[..16]);
                dst.copy_from_slice(&head[16..32]);
                let (src, dst) = (Ipv6Addr::from(src), Ipv6Addr::from(dst));
                if let Ok(received) = parse_ipv6(src, dst, head[32], payload, &opts) {
                    check_round_trip(&received, &opts);
                }
            }
        }
    }
});
