//! Per-operation cost of the protocol core: a Backup handling the Active
//! router's advert (the steady-state receive path: validate, restart
//! Master_Down_Timer), and an Active router's Adver_Timer firing (the
//! steady-state send path: queue one SendAdvert). Also the whole receive
//! path, parse then handle. Run with `cargo bench --bench core`; figures in
//! docs/performance.md.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ha_vip::core::{Action, RouterConfig, State, VirtualRouter};
use ha_vip::wire::{
    self, Addresses, AdvertRepr, Auth, ChecksumForm, Ipv4Header, ParseOptions, Version,
};

const VRID: u8 = 51;
const INTERVAL_CS: u16 = 1;
const INTERVAL: Duration = Duration::from_millis(10);
const ACTIVE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const BACKUP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

fn config(priority: u8, own: Ipv4Addr) -> RouterConfig {
    let mut c = RouterConfig::new(VRID, IpAddr::V4(own), vec![IpAddr::V4(VIP)]);
    c.priority = priority;
    c.advert_interval_cs = INTERVAL_CS;
    c
}

fn drain(vr: &mut VirtualRouter) -> usize {
    let mut n = 0;
    while let Some(a) = vr.poll_action() {
        black_box(a);
        n += 1;
    }
    n
}

/// A Backup at priority 100, started at `t0`.
fn backup(t0: Instant) -> VirtualRouter {
    let mut vr = VirtualRouter::new(config(100, BACKUP));
    vr.startup(t0);
    drain(&mut vr);
    assert_eq!(vr.state(), State::Backup);
    vr
}

/// A router at priority 200 that became Active when its Master_Down_Timer
/// ran out with nobody else on the link; returns it and the instant.
fn active(t0: Instant) -> (VirtualRouter, Instant) {
    let mut vr = VirtualRouter::new(config(200, ACTIVE));
    vr.startup(t0);
    let t = t0 + vr.master_down_interval();
    vr.handle_timeout(t);
    drain(&mut vr);
    assert_eq!(vr.state(), State::Active);
    (vr, t)
}

fn handle_advert(c: &mut Criterion) {
    let vips = [VIP];
    let advert = AdvertRepr {
        version: Version::V3,
        vrid: VRID,
        priority: 200,
        max_advert_interval_cs: INTERVAL_CS,
        auth: Auth::None,
        addresses: Addresses::V4(&vips),
    };
    let t0 = Instant::now();
    let mut vr = backup(t0);
    let mut now = t0;
    c.bench_function("core/handle_advert/backup_hears_active", |b| {
        b.iter(|| {
            now += INTERVAL;
            let r = vr.handle_advert(now, IpAddr::V4(ACTIVE), black_box(&advert));
            drain(&mut vr);
            r
        })
    });
    // The adverts kept it Backup: the benchmark measured the intended path.
    assert_eq!(vr.state(), State::Backup);

    // Receive path as the daemon runs it: parse the datagram, then handle.
    let len = wire::advert_len(&advert);
    let header = Ipv4Header::new(ACTIVE, GROUP, 112, 255, len).expect("header");
    let mut datagram = vec![0u8; header.buffer_len() + len];
    let hl = header.emit(&mut datagram).expect("emit header");
    wire::emit_advert(
        &advert,
        IpAddr::V4(ACTIVE),
        IpAddr::V4(GROUP),
        ChecksumForm::PseudoHeader,
        &mut datagram[hl..],
    )
    .expect("emit advert");
    let opts = ParseOptions::default();
    let mut vr = backup(t0);
    let mut now = t0;
    c.bench_function("core/receive_path/parse_ipv4+handle_advert", |b| {
        b.iter(|| {
            now += INTERVAL;
            if let Ok(rx) = wire::parse_ipv4(black_box(&datagram), &opts) {
                let _ = vr.handle_advert(now, rx.src, &rx.advert);
            }
            drain(&mut vr)
        })
    });
    assert_eq!(vr.state(), State::Backup);
    assert!(vr.counters().rcvd_advertisements > 0);
}

fn handle_timeout(c: &mut Criterion) {
    let (mut vr, start) = active(Instant::now());
    let mut now = start;
    let mut sent = 0u64;
    c.bench_function("core/handle_timeout/active_adver_timer", |b| {
        b.iter(|| {
            now += INTERVAL;
            vr.handle_timeout(black_box(now));
            while let Some(a) = vr.poll_action() {
                if matches!(a, Action::SendAdvert { .. }) {
                    sent += 1;
                }
            }
        })
    });
    // Every step of one interval fired the Adver_Timer.
    assert!(sent > 0);
    assert_eq!(vr.state(), State::Active);
}

criterion_group!(benches, handle_advert, handle_timeout);
criterion_main!(benches);
