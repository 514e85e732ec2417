//! `core::Endpoint` in virtual time: the demux by interface, family and
//! VRID, adverts for unknown VRIDs, the checksum-form verdict, source
//! selection (RFC 9568 5.1.2.1), destinations, and the timer sweep serving
//! several Active routers in one wake-up with no advert late.

mod core_common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use core_common::*;
use ha_vip::core::sim::{Event, Sim};
use ha_vip::core::{
    Dropped, Endpoint, EventKind, HostAddress, Link, NoSource, RouterConfig, RouterId, RouterSpec,
    State, UnknownVrid,
};
use ha_vip::wire::vrrp::{self, ChecksumForm, ChecksumPolicy, ParseOptions};
use ha_vip::wire::{Family, MacAddr, Version};

fn with_vrid(mut c: RouterConfig, vrid: u8) -> RouterConfig {
    c.vrid = vrid;
    c
}

fn spec(c: RouterConfig) -> RouterSpec {
    let mut s = RouterSpec::new(c.clone());
    s.source = Some(c.primary_address);
    s
}

fn link(up: bool) -> Link {
    Link {
        ifindex: 7,
        mac: MacAddr([0x02, 0, 0, 0, 0, 7]),
        up,
        ipv6_forwarding: false,
    }
}

fn lan() -> Sim {
    let mut sim = Sim::new(3, Instant::now());
    sim.set_default_link(ha_vip::core::sim::Link {
        delay: ms(1),
        loss: 0.0,
    });
    sim
}

/// Which routers of the trace received adverts from which routers.
fn receptions(sim: &Sim) -> BTreeMap<(usize, usize), usize> {
    let mut out = BTreeMap::new();
    for e in sim.trace() {
        if let Event::Received { from, .. } = e.event {
            *out.entry((from, e.router)).or_default() += 1;
        }
    }
    out
}

/// Two hosts, each with three routers on one link: VRID 1 over IPv4, VRID 1
/// over IPv6 and VRID 2 over IPv4. Every advert reaches exactly the router
/// of its (family, VRID) on the other host, and each election is its own.
#[test]
fn adverts_reach_the_router_of_their_family_and_vrid() {
    let mut sim = lan();
    let (a, b) = (sim.add_host(), sim.add_host());
    let a1 = sim.add_router_to(a, spec(with_vrid(cfg4(200, 1, 100), 1)));
    let a6 = sim.add_router_to(a, spec(with_vrid(cfg6(200, 1, 100), 1)));
    let a2 = sim.add_router_to(a, spec(with_vrid(cfg4(100, 1, 100), 2)));
    let b1 = sim.add_router_to(b, spec(with_vrid(cfg4(100, 2, 100), 1)));
    let b6 = sim.add_router_to(b, spec(with_vrid(cfg6(100, 2, 100), 1)));
    let b2 = sim.add_router_to(b, spec(with_vrid(cfg4(200, 2, 100), 2)));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a1, a6, b2]);
    let got = receptions(&sim);
    // Only the Active router of each pair sends; each advert reaches its
    // counterpart and no other router.
    let pairs: Vec<(usize, usize)> = got.keys().copied().collect();
    assert_eq!(pairs, vec![(a1, b1), (a6, b6), (b2, a2)]);
    // 1 s adverts from ~3.6 s (Master_Down_Interval at priority 200): six.
    assert!(got.values().all(|n| *n >= 6), "{got:?}");
    let refused = sim
        .trace()
        .iter()
        .filter(|e| matches!(e.event, Event::Refused { .. }))
        .count();
    assert_eq!(refused, 0);
}

/// A host that has no router for a VRID counts each advert for it as
/// `vrid_unknown` and processes nothing; its own router's election is
/// untouched.
#[test]
fn adverts_for_an_unknown_vrid_are_counted_and_go_nowhere() {
    let mut sim = lan();
    let (a, b) = (sim.add_host(), sim.add_host());
    let a1 = sim.add_router_to(a, spec(with_vrid(cfg4(200, 1, 100), 1)));
    let a9 = sim.add_router_to(a, spec(with_vrid(cfg4(200, 1, 100), 9)));
    let b1 = sim.add_router_to(b, spec(with_vrid(cfg4(100, 2, 100), 1)));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a1, a9]);
    let sent9 = sim.sent(a9).len() as u64;
    assert!(sent9 >= 6);
    let refused: Vec<&'static str> = sim
        .trace()
        .iter()
        .filter_map(|e| match e.event {
            Event::Refused { host, counter } if host == b && e.router == a9 => Some(counter),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len() as u64, sent9);
    assert!(refused.iter().all(|c| *c == "vrid_unknown"));
    let drops: BTreeMap<_, _> = sim.endpoint(b1).drops().collect();
    assert_eq!(drops.get("vrid_unknown"), Some(&sent9));
    assert_eq!(sim.router(b1).state(), State::Backup);
}

/// The unknown-VRID verdict says what to log: the first advert of a
/// (source, VRID) is new, later ones are seen.
#[test]
fn an_unknown_vrid_is_new_once_per_source_and_vrid() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new();
    let id = ep.insert(spec(cfg4(100, 1, 100)));
    ep.start(t0, id, link(true), v4(1), &[]).unwrap();
    let mut buf = [0u8; 64];
    let mut verdict = |src: IpAddr, vrid: u8| {
        let n = emit(src, vrid, &mut buf);
        let r =
            vrrp::parse_message(&buf[..n], src, group4(), 255, &ParseOptions::default()).unwrap();
        ep.handle(t0, 7, &r)
    };
    let log = |r: Result<RouterId, Dropped>| match r {
        Err(Dropped::UnknownVrid { log, .. }) => log,
        other => panic!("{other:?}"),
    };
    assert_eq!(log(verdict(v4(9), 99)), UnknownVrid::New);
    assert_eq!(log(verdict(v4(9), 99)), UnknownVrid::Seen);
    assert_eq!(log(verdict(v4(9), 98)), UnknownVrid::New);
    assert_eq!(log(verdict(v4(8), 99)), UnknownVrid::New);
    // Our VRID on another interface is unknown too: the demux key has it.
    let n = emit(v4(9), VRID, &mut buf);
    let r = vrrp::parse_message(&buf[..n], v4(9), group4(), 255, &ParseOptions::default()).unwrap();
    assert!(matches!(
        ep.handle(t0, 8, &r),
        Err(Dropped::UnknownVrid { .. })
    ));
    assert!(ep.handle(t0, 7, &r).is_ok());
    let drops: BTreeMap<_, _> = ep.drops().collect();
    assert_eq!(drops.get("vrid_unknown"), Some(&5));
}

fn group4() -> IpAddr {
    IpAddr::V4(vrrp::MULTICAST_V4)
}

/// A v3 IPv4 advert from `src` for `vrid` with VIP 192.0.2.100.
fn emit(src: IpAddr, vrid: u8, buf: &mut [u8]) -> usize {
    let vip = [std::net::Ipv4Addr::new(192, 0, 2, 100)];
    let repr = ha_vip::wire::AdvertRepr {
        version: Version::V3,
        vrid,
        priority: 100,
        max_advert_interval_cs: 100,
        auth: ha_vip::wire::Auth::None,
        addresses: ha_vip::wire::Addresses::V4(&vip),
    };
    vrrp::emit_advert(&repr, src, group4(), ChecksumForm::PseudoHeader, buf).unwrap()
}

/// A router that accepts only the RFC checksum form refuses keepalived's
/// pseudo-header adverts (`checksum_form_refused`) and so goes Active too:
/// the split brain an operator sees when forms mismatch. With the same form
/// on both sides the election is normal. VRRPv2 has one form: unaffected.
#[test]
fn the_checksum_form_verdict_is_the_receiving_router_s() {
    for (send, accept, v2, elected) in [
        (
            ChecksumForm::PseudoHeader,
            ChecksumForm::NoPseudoHeader,
            false,
            false,
        ),
        (
            ChecksumForm::NoPseudoHeader,
            ChecksumForm::NoPseudoHeader,
            false,
            true,
        ),
        (
            ChecksumForm::PseudoHeader,
            ChecksumForm::PseudoHeader,
            false,
            true,
        ),
        (
            ChecksumForm::NoPseudoHeader,
            ChecksumForm::PseudoHeader,
            false,
            false,
        ),
        (
            ChecksumForm::PseudoHeader,
            ChecksumForm::NoPseudoHeader,
            true,
            true,
        ),
    ] {
        let mut sim = lan();
        let (ha, hb) = (sim.add_host(), sim.add_host());
        let mut ca = cfg4(200, 1, 100);
        let mut cb = cfg4(100, 2, 100);
        if v2 {
            ca.version = Version::V2;
            cb.version = Version::V2;
        }
        let mut sa = spec(ca);
        sa.checksum_send = send;
        let mut sb = spec(cb);
        sb.checksum_accept = ChecksumPolicy::Only(accept);
        let a = sim.add_router_to(ha, sa);
        let b = sim.add_router_to(hb, sb);
        sim.start_all();
        sim.run_until(sim.at(secs(10)));
        let case = format!("send {send:?}, accept {accept:?}, v2 {v2}");
        if elected {
            assert_eq!(sim.active_routers(), vec![a], "{case}");
        } else {
            assert_eq!(sim.active_routers(), vec![a, b], "{case}");
            let drops: BTreeMap<_, _> = sim.endpoint(b).drops().collect();
            assert_eq!(
                drops.get("checksum_form_refused").copied(),
                Some(sim.sent(a).len() as u64),
                "{case}"
            );
        }
    }
}

/// The host's own addresses.
fn addrs(list: &[IpAddr]) -> Vec<HostAddress> {
    list.iter().map(|&addr| HostAddress::host(addr)).collect()
}

/// VIPs ha-vip added (held now, or left by a crashed run).
fn vips(list: &[IpAddr]) -> Vec<HostAddress> {
    list.iter()
        .map(|&addr| HostAddress {
            ours: true,
            ..HostAddress::host(addr)
        })
        .collect()
}

/// RFC 9568 5.1.2.1: the configured source wins; otherwise an IPv4 router
/// sends from the interface's first IPv4 address that is not a VIP ha-vip
/// added (of any of our routers), and an IPv6 router from its link-local
/// address once DAD is done (a global address is never chosen).
#[test]
fn the_source_is_chosen_as_rfc_9568_5_1_2_1_says() {
    let mut ep = Endpoint::new();
    let r4 = ep.insert(RouterSpec::new(cfg4(100, 1, 100)));
    // Another router's VIP on the same interface is not a source either.
    let other = ep.insert(RouterSpec::new(RouterConfig::new(2, v4(1), vec![v4(101)])));
    let r6 = ep.insert(RouterSpec::new(cfg6(100, 1, 100)));
    let lla: IpAddr = "fe80::7".parse().unwrap();
    let mut on_link = vips(&[v4(100), v4(101)]);
    on_link.extend(addrs(&[v6(1), lla, v4(5), v4(6)]));
    assert_eq!(ep.select_source(r4, &on_link), Ok(v4(5)));
    assert_eq!(ep.select_source(other, &on_link), Ok(v4(5)));
    assert_eq!(ep.select_source(r6, &on_link), Ok(lla));
    let mut only_vips = vips(&[v4(100)]);
    only_vips.extend(addrs(&[v6(1), lla]));
    assert_eq!(ep.select_source(r4, &only_vips), Err(NoSource::NoIpv4));
    // The address owner: its VIP is the host's own address, which ha-vip
    // did not add; it is the source (RFC 9568 6.1).
    assert_eq!(ep.select_source(r4, &addrs(&[v4(100)])), Ok(v4(100)));
    // A tentative link-local cannot send yet: wait, and say why.
    let tentative = [HostAddress {
        tentative: true,
        ..HostAddress::host(lla)
    }];
    assert_eq!(
        ep.select_source(r6, &tentative),
        Err(NoSource::Ipv6LinkLocalTentative)
    );
    assert_eq!(
        ep.select_source(r6, &addrs(&[v4(5), v6(1)])),
        Err(NoSource::NoIpv6LinkLocal)
    );
    let mut fixed = RouterSpec::new(cfg4(100, 1, 100));
    fixed.source = Some(v4(9));
    let f = ep.insert(fixed);
    assert_eq!(ep.select_source(f, &on_link), Ok(v4(9)));
}

/// The transmit says where the advert goes and from where: the group or
/// each unicast peer, the router's own source, its checksum form, and the
/// virtual MAC only while Active.
#[test]
fn transmits_carry_destination_source_form_and_virtual_mac() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new();
    let mut owner = cfg4(255, 1, 100);
    owner.unicast_peers = vec![v4(2), v4(3)];
    let mut s = spec(owner);
    s.checksum_send = ChecksumForm::NoPseudoHeader;
    let u = ep.insert(s);
    let mut m = spec(with_vrid(cfg4(100, 1, 100), 2));
    m.virtual_mac = true;
    let vm = ep.insert(m);
    ep.start(t0, u, link(true), v4(1), &[]).unwrap();
    ep.start(t0, vm, link(true), v4(1), &[]).unwrap();
    let mut buf = vec![0u8; vrrp::MAX_ADVERT_LEN];
    let mut sent = Vec::new();
    while let Some(t) = ep.poll_transmit(&mut buf) {
        let t = t.unwrap();
        let r = vrrp::parse_message(
            &buf[..t.len],
            t.source,
            t.destination,
            255,
            &ParseOptions {
                checksum: ChecksumPolicy::Only(t.checksum),
                expect_version: None,
            },
        )
        .expect("the advert verifies with the form it claims");
        sent.push((
            t.router,
            t.destination,
            t.source,
            t.checksum,
            t.via_virtual_mac,
            r.advert.priority,
        ));
    }
    // The owner starts Active and advertises to each peer; the other
    // starts as Backup and sends nothing yet.
    assert_eq!(
        sent,
        vec![
            (u, v4(2), v4(1), ChecksumForm::NoPseudoHeader, false, 255),
            (u, v4(3), v4(1), ChecksumForm::NoPseudoHeader, false, 255),
        ]
    );
    // The virtual-MAC router's first advert as Active leaves before its
    // macvlan is up (the addresses, which bring it up, come after the
    // advert): from the interface. Its announcements name the virtual MAC.
    let due = ep.router(vm).unwrap().poll_timeout().unwrap();
    ep.handle_timeout(due);
    let t = std::iter::from_fn(|| ep.poll_transmit(&mut buf))
        .flatten()
        .find(|t| t.router == vm);
    let t = t.expect("an advert of the new Active router");
    assert_eq!((t.destination, t.via_virtual_mac), (group4(), false));
    let events: Vec<EventKind> = std::iter::from_fn(|| ep.poll_event())
        .filter(|e| e.router == vm)
        .map(|e| e.kind)
        .collect();
    assert!(events.contains(&EventKind::AddAddresses {
        on_virtual_mac: true
    }));
    let announce = events.iter().find_map(|k| match k {
        EventKind::Announce {
            mac,
            on_virtual_mac,
            ..
        } => Some((*mac, *on_virtual_mac)),
        _ => None,
    });
    assert_eq!(
        announce,
        Some((MacAddr::vrrp_virtual(Family::Ipv4, 2), true))
    );
    // From then on (RFC 9568 7.3) its adverts leave from the virtual MAC.
    let next = ep.router(vm).unwrap().poll_timeout().unwrap();
    ep.handle_timeout(next);
    let t = std::iter::from_fn(|| ep.poll_transmit(&mut buf))
        .flatten()
        .find(|t| t.router == vm)
        .expect("the next advert");
    assert_eq!(
        (t.destination, t.source, t.via_virtual_mac),
        (group4(), v4(1), true)
    );
}

/// IPv6 with a virtual MAC: the kernel refuses the parent's link-local as
/// a source on the macvlan (EINVAL), so adverts leave from the virtual MAC
/// only once the macvlan's own link-local is known, and from it (as FRR's
/// do); until then, and after the macvlan goes down, from the interface.
#[test]
fn ipv6_adverts_from_the_virtual_mac_use_the_macvlans_link_local() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new();
    let mut s = spec(cfg6(255, 1, 100));
    s.virtual_mac = true;
    let lla: IpAddr = "fe80::1".parse().unwrap();
    s.source = Some(lla);
    let id = ep.insert(s);
    ep.start(t0, id, link(true), lla, &[]).unwrap();
    let mut buf = vec![0u8; vrrp::MAX_ADVERT_LEN];
    let mut sent = |ep: &mut Endpoint| -> Vec<(IpAddr, bool)> {
        std::iter::from_fn(|| ep.poll_transmit(&mut buf))
            .flatten()
            .map(|t| (t.source, t.via_virtual_mac))
            .collect()
    };
    assert_eq!(sent(&mut ep), vec![(lla, false)], "the first advert");
    while ep.poll_event().is_some() {}
    let mut at = t0;
    let mut next = |ep: &mut Endpoint| {
        at = ep.router(id).unwrap().poll_timeout().unwrap();
        ep.handle_timeout(at);
    };
    next(&mut ep);
    assert_eq!(
        sent(&mut ep),
        vec![(lla, false)],
        "macvlan up, its link-local unknown"
    );
    let vmac_lla: IpAddr = "fe80::5e:1".parse().unwrap();
    ep.virtual_mac_source(id, Some(vmac_lla));
    next(&mut ep);
    assert_eq!(sent(&mut ep), vec![(vmac_lla, true)]);
}

/// The endpoint's sweep (the daemon's timer wake-up): eight owners at 10 ms
/// started 0.3 ms apart share wake-ups from the first deadline on, no
/// advert is ever late, and no interval is shorter than 7/8 of the
/// configured one.
#[test]
fn one_wake_up_serves_every_active_router_whose_window_is_open() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new();
    let ids: Vec<RouterId> = (0..8u8)
        .map(|i| {
            let id = ep.insert(spec(with_vrid(cfg4(255, 1, 1), i + 1)));
            ep.start(t0 + us(300 * u64::from(i)), id, link(true), v4(1), &[])
                .unwrap();
            id
        })
        .collect();
    let mut buf = vec![0u8; vrrp::MAX_ADVERT_LEN];
    while ep.poll_transmit(&mut buf).is_some() {}
    while ep.poll_event().is_some() {}
    let mut sent: BTreeMap<RouterId, Vec<Instant>> = BTreeMap::new();
    let mut wakes = 0;
    let until = t0 + secs(1);
    while let Some(now) = ep.poll_timeout() {
        if now > until {
            break;
        }
        wakes += 1;
        let deadlines: BTreeMap<RouterId, Instant> = ids
            .iter()
            .filter_map(|&id| Some((id, ep.router(id)?.poll_timeout()?)))
            .collect();
        ep.handle_timeout(now);
        while let Some(t) = ep.poll_transmit(&mut buf) {
            let t = t.unwrap();
            assert!(now <= deadlines[&t.router], "served after its deadline");
            sent.entry(t.router).or_default().push(now);
        }
        while ep.poll_event().is_some() {}
    }
    // Two groups form at the first deadline: routers 0..=4 (within 1.2 ms
    // of router 0) wake at 10, 20, .. 1000 ms; 5..=7 at 11.5 .. 991.5 ms.
    // Without the window: 795 wake-ups.
    assert_eq!(wakes, 100 + 99, "wake-ups for 8 routers in 1 s");
    for (i, id) in ids.iter().enumerate() {
        let times = &sent[id];
        let expected = if i <= 4 { 100 } else { 99 };
        assert_eq!(times.len(), expected, "adverts of router {i}");
        for w in times.windows(2) {
            let gap: Duration = w[1] - w[0];
            assert!(
                gap <= ms(10),
                "router {i}: gap {gap:?} longer than the interval"
            );
            assert!(gap >= us(8_750), "router {i}: gap {gap:?} shorter than 7/8");
        }
    }
}

/// Two routers with the same (interface, family, VRID) cannot both run: the
/// demux key is unique. Detached, a router's key is free again.
#[test]
fn one_router_per_interface_family_and_vrid() {
    let t0 = Instant::now();
    let mut ep = Endpoint::new();
    let a = ep.insert(spec(cfg4(100, 1, 100)));
    let b = ep.insert(spec(cfg4(100, 1, 100)));
    ep.start(t0, a, link(true), v4(1), &[]).unwrap();
    assert_eq!(
        ep.start(t0, b, link(true), v4(1), &[]),
        Err(ha_vip::core::StartError::Duplicate(a))
    );
    assert_eq!(ep.find(7, Family::Ipv4, VRID), Some(a));
    ep.stop(t0, a, true);
    ep.detach(a);
    assert_eq!(ep.find(7, Family::Ipv4, VRID), None);
    ep.start(t0, b, link(true), v4(1), &[]).unwrap();
    assert_eq!(ep.find(7, Family::Ipv4, VRID), Some(b));
}

/// RFC 9568 6.4.1 / 6.4.2: the unsolicited NAs of an Active router carry
/// the Router flag where the node routes (the interface forwards IPv6),
/// and not where it does not; the MAC is the interface's without a
/// virtual MAC.
#[test]
fn announcements_carry_the_router_flag_where_the_node_routes() {
    for forwarding in [false, true] {
        let t0 = Instant::now();
        let mut ep = Endpoint::new();
        let id = ep.insert(spec(cfg6(255, 1, 100)));
        let l = Link {
            ipv6_forwarding: forwarding,
            ..link(true)
        };
        ep.start(t0, id, l, v6(1), &[]).unwrap();
        let mut buf = vec![0u8; vrrp::MAX_ADVERT_LEN];
        while ep.poll_transmit(&mut buf).is_some() {}
        let flags: Vec<(bool, MacAddr, bool)> = std::iter::from_fn(|| ep.poll_event())
            .filter_map(|e| match e.kind {
                EventKind::Announce {
                    router_flag,
                    mac,
                    on_virtual_mac,
                } => Some((router_flag, mac, on_virtual_mac)),
                _ => None,
            })
            .collect();
        assert!(!flags.is_empty(), "the owner announces at once");
        assert!(
            flags.iter().all(|f| *f == (forwarding, l.mac, false)),
            "forwarding {forwarding}: {flags:?}"
        );
    }
}
