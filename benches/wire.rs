//! Per-operation cost of the codec: parse of a received advert (IPv4 with
//! its IP header, IPv6 payload) and emit of an advert, with 1 and 16
//! addresses. Run with `cargo bench --bench wire`; figures in
//! docs/performance.md.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use ha_vip::wire::{
    self, Addresses, AdvertRepr, Auth, ChecksumForm, Ipv4Header, ParseOptions, Version,
};

const SRC_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const SRC_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// RFC 9568 5.1.1.3 / 5.1.2.3: adverts travel with TTL / Hop Limit 255.
const TTL: u8 = 255;

/// `n` documentation-range VIPs: 192.0.2.100, .101, ...
fn vips_v4(n: u8) -> Vec<Ipv4Addr> {
    (0..n).map(|i| Ipv4Addr::new(192, 0, 2, 100 + i)).collect()
}

/// `n` documentation-range VIPs: 2001:db8::100, ::101, ...
fn vips_v6(n: u16) -> Vec<Ipv6Addr> {
    (0..n)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100 + i))
        .collect()
}

fn repr(addresses: Addresses<'_>) -> AdvertRepr<'_> {
    AdvertRepr {
        version: Version::V3,
        vrid: 51,
        priority: 200,
        max_advert_interval_cs: 1,
        auth: Auth::None,
        addresses,
    }
}

/// A whole IPv4 datagram as a raw socket returns it: header, then the advert.
fn datagram_v4(addresses: &[Ipv4Addr]) -> Vec<u8> {
    let r = repr(Addresses::V4(addresses));
    let len = wire::advert_len(&r);
    let header = Ipv4Header::new(SRC_V4, GROUP_V4, 112, TTL, len).expect("header");
    let mut buf = vec![0u8; header.buffer_len() + len];
    let hl = header.emit(&mut buf).expect("emit header");
    let n = wire::emit_advert(
        &r,
        IpAddr::V4(SRC_V4),
        IpAddr::V4(GROUP_V4),
        ChecksumForm::PseudoHeader,
        &mut buf[hl..],
    )
    .expect("emit advert");
    buf.truncate(hl + n);
    // The benchmark must measure the success path.
    assert!(wire::parse_ipv4(&buf, &ParseOptions::default()).is_ok());
    buf
}

fn payload_v6(addresses: &[Ipv6Addr]) -> Vec<u8> {
    let r = repr(Addresses::V6(addresses));
    let mut buf = vec![0u8; wire::advert_len(&r)];
    let n = wire::emit_advert(
        &r,
        IpAddr::V6(SRC_V6),
        IpAddr::V6(GROUP_V6),
        ChecksumForm::PseudoHeader,
        &mut buf,
    )
    .expect("emit advert");
    buf.truncate(n);
    assert!(wire::parse_ipv6(SRC_V6, GROUP_V6, TTL, &buf, &ParseOptions::default()).is_ok());
    buf
}

fn parse(c: &mut Criterion) {
    let opts = ParseOptions::default();
    for n in [1u8, 16] {
        let datagram = datagram_v4(&vips_v4(n));
        c.bench_function(&format!("wire/parse_ipv4/{n}_addr"), |b| {
            b.iter(|| wire::parse_ipv4(black_box(&datagram), &opts).map(|r| r.advert.priority))
        });
        let payload = payload_v6(&vips_v6(u16::from(n)));
        c.bench_function(&format!("wire/parse_ipv6/{n}_addr"), |b| {
            b.iter(|| {
                wire::parse_ipv6(SRC_V6, GROUP_V6, TTL, black_box(&payload), &opts)
                    .map(|r| r.advert.priority)
            })
        });
    }
}

fn emit(c: &mut Criterion) {
    for n in [1u8, 16] {
        let v4 = vips_v4(n);
        let r4 = repr(Addresses::V4(&v4));
        let mut buf = [0u8; 8 + 255 * 16];
        c.bench_function(&format!("wire/emit_advert_v4/{n}_addr"), |b| {
            b.iter(|| {
                wire::emit_advert(
                    black_box(&r4),
                    IpAddr::V4(SRC_V4),
                    IpAddr::V4(GROUP_V4),
                    ChecksumForm::PseudoHeader,
                    &mut buf,
                )
            })
        });
        let v6 = vips_v6(u16::from(n));
        let r6 = repr(Addresses::V6(&v6));
        c.bench_function(&format!("wire/emit_advert_v6/{n}_addr"), |b| {
            b.iter(|| {
                wire::emit_advert(
                    black_box(&r6),
                    IpAddr::V6(SRC_V6),
                    IpAddr::V6(GROUP_V6),
                    ChecksumForm::PseudoHeader,
                    &mut buf,
                )
            })
        });
    }
}

criterion_group!(benches, parse, emit);
criterion_main!(benches);
