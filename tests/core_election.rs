//! RFC 9568 section 6 elections on the simulated LAN, asserting exact
//! instants. Expected instants are written out from the RFC formulas:
//! Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256 cs, truncated
//! to microseconds (docs/protocol.md), Master_Down_Interval = 3 *
//! Master_Adver_Interval + Skew_Time.

mod core_common;

use core_common::*;
use ha_vip::core::sim::{Event, Link, Sim};
use ha_vip::core::{AddressListCheck, Reason, State};
use std::time::Instant;

fn lan(delay: std::time::Duration) -> Sim {
    let mut sim = Sim::new(1, Instant::now());
    sim.set_default_link(Link { delay, loss: 0.0 });
    sim
}

/// Two routers 150/100 at 1 s: the 150 wins the startup election after its
/// own Master_Down_Interval, and when it dies the 100 takes over exactly
/// Master_Down_Interval after the last advert it heard.
#[test]
fn takeover_at_1s_is_master_down_interval_after_last_advert() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));

    // Startup: both Backup at 0; A's Master_Down_Interval at 150 is
    // 3 s + (106 * 100 / 256) cs = 3 s + 414_062.5 us -> 3.414062 s.
    assert_eq!(
        sim.transitions(a),
        vec![
            (us(0), State::Initialize, State::Backup, Reason::Startup),
            (
                us(3_414_062),
                State::Backup,
                State::Active,
                Reason::MasterDownTimerExpired
            ),
        ]
    );
    assert_eq!(
        sim.transitions(b),
        vec![(us(0), State::Initialize, State::Backup, Reason::Startup)]
    );
    // A advertises every second from its takeover.
    let sent: Vec<_> = sim.sent(a).into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        sent,
        (0..7).map(|k| us(3_414_062) + secs(k)).collect::<Vec<_>>()
    );

    sim.crash(a);
    sim.run_until(sim.at(secs(20)));
    // Last advert A sent: 9.414062 s, heard by B 1 ms later.
    assert_eq!(last_received(&sim, b, a), Some(us(9_415_062)));
    // B: 3 s + (156 * 100 / 256) cs = 3.609375 s exactly.
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            us(9_415_062 + 3_609_375),
            State::Backup,
            State::Active,
            Reason::MasterDownTimerExpired
        ))
    );
    assert_eq!(sim.active_routers(), vec![b]);
}

/// The same at a 10 ms interval, where the microsecond rounding shows.
#[test]
fn takeover_at_10ms() {
    let mut sim = lan(ms(0));
    let a = sim.add_router(cfg4(150, 1, 1));
    let b = sim.add_router(cfg4(100, 2, 1));
    sim.start_all();
    // A: 30 ms + 106 * 1 / 256 cs = 30 ms + 4_140.625 us -> 34.140 ms.
    sim.run_until(sim.at(ms(1000)));
    assert_eq!(became_active(&sim, a), Some(us(34_140)));
    sim.crash(a);
    sim.run_until(sim.at(ms(2000)));
    // A's last advert: 34.140 ms + 96 * 10 ms.
    assert_eq!(last_received(&sim, b, a), Some(us(994_140)));
    // B: 30 ms + 156 / 256 cs = 36.09375 ms -> 36_093 us.
    assert_eq!(became_active(&sim, b), Some(us(994_140 + 36_093)));
    // B advertises its own 1 cs interval every 10 ms from then on.
    let b_sent = sim.sent(b);
    assert_eq!(b_sent.first().map(|s| s.0), Some(us(1_030_233)));
    assert_eq!(b_sent.get(1).map(|s| s.0), Some(us(1_040_233)));
}

/// IPv6 elects exactly like IPv4.
#[test]
fn takeover_ipv6() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg6(150, 1, 100));
    let b = sim.add_router(cfg6(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(5)));
    assert_eq!(became_active(&sim, a), Some(us(3_414_062)));
    sim.crash(a);
    sim.run_until(sim.at(secs(10)));
    assert_eq!(became_active(&sim, b), Some(us(4_415_062 + 3_609_375)));
}

/// RFC 9568 6.4.3 shutdown: the Active router sends priority 0 and releases
/// its addresses; 6.4.2: the Backup then waits only Skew_Time.
#[test]
fn priority_zero_handover_takes_exactly_skew_time() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.shutdown(a);
    sim.run_until(sim.at(secs(12)));

    let a_tail: Vec<_> = sim
        .events(a)
        .into_iter()
        .filter(|(t, _)| *t == secs(10))
        .map(|(_, e)| e)
        .filter(|e| !matches!(e, Event::Lost { .. }))
        .collect();
    assert_eq!(
        a_tail,
        vec![
            Event::Shutdown,
            Event::StateChanged {
                from: State::Active,
                to: State::Initialize,
                reason: Reason::Shutdown
            },
            Event::Sent {
                priority: 0,
                max_advert_interval_cs: 100
            },
            Event::RemoveAddresses,
        ]
    );
    // Skew_Time of B at 1 s: 156 * 100 / 256 cs = 609_375 us.
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            secs(10) + ms(1) + us(609_375),
            State::Backup,
            State::Active,
            Reason::PriorityZeroReceived
        ))
    );
    assert_eq!(sim.router(a).counters().sent_pri_zero_packets, 1);
    assert_eq!(sim.router(b).counters().rcvd_pri_zero_packets, 1);
    assert_eq!(sim.router(a).state(), State::Initialize);
}

/// `handover()`: priority 0 while staying in the election. The peer takes
/// over after Skew_Time; with preemption and a higher priority the router
/// takes the addresses back one Master_Down_Interval after the handover.
#[test]
fn handover_then_preempt_back() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.handover(a);
    assert_eq!(sim.router(a).state(), State::Backup);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(
        sim.transitions(b).get(1).copied(),
        Some((
            secs(10) + ms(1) + us(609_375),
            State::Backup,
            State::Active,
            Reason::PriorityZeroReceived
        ))
    );
    // A discards B's lower-priority adverts (preempt) and fires its timer
    // armed at the handover: 10 s + 3.414062 s.
    assert_eq!(
        sim.transitions(a)[2..],
        [
            (secs(10), State::Active, State::Backup, Reason::Handover),
            (
                secs(10) + us(3_414_062),
                State::Backup,
                State::Active,
                Reason::Preempted
            ),
        ]
    );
    assert_eq!(sim.active_routers(), vec![a]);
}

/// The Kubernetes graceful shutdown: lower the priority, then hand over.
#[test]
fn handover_after_lowering_priority_stays_backup() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.set_tracked(a, "draining", -100, true);
    sim.handover(a);
    sim.run_until(sim.at(secs(60)));
    assert_eq!(sim.active_routers(), vec![b]);
    assert_eq!(sim.router(a).state(), State::Backup);
    assert_eq!(sim.router(a).effective_priority(), 50);
}

/// Preempt on: a higher-priority router that starts later discards the
/// Active router's adverts and takes over at its Master_Down_Interval.
#[test]
fn preempt_on_takes_over_after_master_down_interval() {
    let mut sim = lan(ms(0));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start(b);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(became_active(&sim, b), Some(us(3_609_375)));
    sim.start(a);
    sim.run_until(sim.at(secs(30)));
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            secs(20) + us(3_414_062),
            State::Backup,
            State::Active,
            Reason::Preempted
        ))
    );
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            secs(20) + us(3_414_062),
            State::Active,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
    assert_eq!(sim.active_routers(), vec![a]);
}

/// Preempt off: the higher-priority router stays Backup.
#[test]
fn preempt_off_stays_backup() {
    let mut sim = lan(ms(1));
    let mut ca = cfg4(150, 1, 100);
    ca.preempt = false;
    let a = sim.add_router(ca);
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start(b);
    sim.run_until(sim.at(secs(20)));
    sim.start(a);
    sim.run_until(sim.at(secs(120)));
    assert_eq!(sim.active_routers(), vec![b]);
    assert_eq!(
        sim.transitions(a),
        vec![(secs(20), State::Initialize, State::Backup, Reason::Startup)]
    );
    // It follows the Active router instead.
    assert_eq!(
        sim.router(a)
            .active_router()
            .map(|r| (r.address, r.priority)),
        Some((v4(2), 100))
    );
}

/// Preempt_Delay: the first lower-priority advert starts the delay; adverts
/// are accepted until it has passed, then discarded, and Master_Down_Timer
/// runs out from the last accepted one.
#[test]
fn preempt_delay_postpones_preemption() {
    let mut sim = lan(ms(0));
    let mut ca = cfg4(150, 1, 100);
    ca.preempt_delay = secs(5);
    let a = sim.add_router(ca);
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start(b);
    sim.run_until(sim.at(secs(20)));
    sim.start(a);
    sim.run_until(sim.at(secs(40)));
    // B sends at 3.609375 + k s. First heard by A: 20.609375 s, so the delay
    // ends at 25.609375 s; that advert is discarded and the last accepted
    // one is 24.609375 s; A fires 3.414062 s later.
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            us(24_609_375 + 3_414_062),
            State::Backup,
            State::Active,
            Reason::Preempted
        ))
    );
    // Until then A followed B.
    assert_eq!(sim.router(b).state(), State::Backup);
}

/// Equal priorities starting together: both fire at the same instant, both
/// are Active, and the adverts that cross settle it: the larger primary
/// address stays (RFC 9568 6.4.3).
#[test]
fn equal_priority_larger_address_wins() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(100, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(became_active(&sim, a), Some(us(3_609_375)));
    assert_eq!(became_active(&sim, b), Some(us(3_609_375)));
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            us(3_610_375),
            State::Active,
            State::Backup,
            Reason::EqualPriorityHigherAddress
        ))
    );
    assert_eq!(sim.active_routers(), vec![b]);
    // B answered A's advert at once (lower address, equal priority).
    assert_eq!(sim.sent(b).get(1).map(|s| s.0), Some(us(3_610_375)));
}

/// RFC 9568 6.4.2: a Backup accepts an equal-priority Active whatever its
/// address, so a later starter with a larger address stays Backup.
#[test]
fn equal_priority_late_starter_stays_backup() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(100, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start(a);
    sim.run_until(sim.at(secs(10)));
    sim.start(b);
    sim.run_until(sim.at(secs(60)));
    assert_eq!(sim.active_routers(), vec![a]);
}

/// Equal priorities over IPv6: address comparison is over all 16 octets.
#[test]
fn equal_priority_ipv6_tie_break() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg6(100, 0x200, 100));
    let b = sim.add_router(cfg6(100, 0x1ff, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a]);
    assert_eq!(
        sim.transitions(b).last().map(|t| t.3),
        Some(Reason::EqualPriorityHigherAddress)
    );
}

/// RFC 9568 6.4.1: the address owner (255) goes Active at once on startup
/// and the current Active router yields to its advert.
#[test]
fn owner_goes_active_at_startup() {
    let mut sim = lan(ms(1));
    let o = sim.add_router(cfg4(255, 1, 100));
    let b = sim.add_router(cfg4(200, 2, 100));
    sim.start(b);
    sim.run_until(sim.at(secs(10)));
    sim.start(o);
    assert_eq!(
        sim.transitions(o),
        vec![(
            secs(10),
            State::Initialize,
            State::Active,
            Reason::OwnerStartup
        )]
    );
    sim.run_until(sim.at(secs(20)));
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            secs(10) + ms(1),
            State::Active,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
    assert_eq!(sim.active_routers(), vec![o]);
}

/// RFC 9568 6.1 Preempt_Mode: the owner always preempts, even with
/// preemption off; it fires at its own Master_Down_Interval
/// (3 s + 1/256 s).
#[test]
fn owner_preempts_even_with_preempt_off() {
    let mut sim = lan(ms(1));
    let mut co = cfg4(255, 1, 100);
    co.preempt = false;
    co.accept_mode = false;
    let o = sim.add_router(co);
    let _b = sim.add_router(cfg4(200, 2, 100));
    sim.start_all();
    assert!(sim.router(o).accepts_vip_traffic(), "owner accepts");
    sim.run_until(sim.at(secs(10)));
    sim.handover(o);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(became_active(&sim, o), Some(secs(10) + us(3_003_906)));
    assert_eq!(sim.active_routers(), vec![o]);
}

/// Accept_Mode false on a non-owner: Active, but refuses VIP traffic.
#[test]
fn accept_mode_off_non_owner() {
    let mut sim = lan(ms(1));
    let mut c = cfg4(100, 1, 100);
    c.accept_mode = false;
    let a = sim.add_router(c);
    sim.start_all();
    sim.run_until(sim.at(secs(5)));
    assert_eq!(sim.router(a).state(), State::Active);
    assert!(!sim.router(a).accepts_vip_traffic());
}

/// v3: a Backup learns Master_Adver_Interval from the Active router and
/// computes Master_Down_Interval from it, not from its own interval.
#[test]
fn backup_learns_the_active_interval() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 200));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(20)));
    // Startup uses each router's own interval: A 6 s + 828_125 us (106 *
    // 200 / 256 cs); B 3.609375 s, so B goes Active first, and A preempts
    // B when its own timer fires.
    assert_eq!(sim.transitions(b).get(1).map(|t| t.0), Some(us(3_609_375)));
    assert_eq!(became_active(&sim, a), Some(us(6_828_125)));
    assert_eq!(sim.router(b).master_adver_interval_cs(), 200);
    sim.crash(a);
    sim.run_until(sim.at(secs(40)));
    let last = last_received(&sim, b, a).unwrap();
    // 6 s + 156 * 200 / 256 cs = 6 s + 1_218_750 us.
    assert_eq!(became_active(&sim, b), Some(last + us(7_218_750)));
    // B then advertises its own interval.
    assert_eq!(
        sim.events(b).into_iter().rev().find_map(|(_, e)| match e {
            Event::Sent {
                max_advert_interval_cs,
                ..
            } => Some(max_advert_interval_cs),
            _ => None,
        }),
        Some(100)
    );
}

/// Three routers 200/150/100: the middle one dying changes nothing; then
/// the top one dying hands over to the bottom one at its own interval.
#[test]
fn three_routers_middle_dies() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(200, 1, 100));
    let b = sim.add_router(cfg4(150, 2, 100));
    let c = sim.add_router(cfg4(100, 3, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    // 3 s + 56 * 100 / 256 cs = 3 s + 218_750 us.
    assert_eq!(became_active(&sim, a), Some(us(3_218_750)));
    sim.crash(b);
    sim.run_until(sim.at(secs(30)));
    assert_eq!(sim.active_routers(), vec![a]);
    assert_eq!(sim.transitions(a).len(), 2);
    assert_eq!(sim.transitions(c).len(), 1);
    sim.crash(a);
    sim.run_until(sim.at(secs(40)));
    let last = last_received(&sim, c, a).unwrap();
    assert_eq!(last, us(29_219_750));
    assert_eq!(became_active(&sim, c), Some(last + us(3_609_375)));
    assert_eq!(sim.active_routers(), vec![c]);
}

/// Three routers: the top one dies, the middle one takes over first (its
/// Master_Down_Interval is shorter) and the bottom one follows it.
#[test]
fn three_routers_top_dies_middle_takes_over() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(200, 1, 100));
    let b = sim.add_router(cfg4(150, 2, 100));
    let c = sim.add_router(cfg4(100, 3, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.crash(a);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(became_active(&sim, b), Some(us(9_219_750 + 3_414_062)));
    assert_eq!(became_active(&sim, c), None);
    assert_eq!(sim.active_routers(), vec![b]);
}

/// A partition: both sides Active; when it heals, the first advert to cross
/// settles it by the RFC rule (the lower priority yields).
#[test]
fn partition_heals() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.partition(&[&[a], &[b]]);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(sim.active_routers(), vec![a, b]);
    // B heard A last at 9.415062 s.
    assert_eq!(became_active(&sim, b), Some(us(9_415_062 + 3_609_375)));
    sim.heal();
    let healed = sim.elapsed();
    sim.run_until(sim.at(secs(30)));
    assert_eq!(sim.active_routers(), vec![a]);
    // Either A's next advert reaches B (1 ms), or B's reaches A, which
    // answers at once (2 ms); B yields at the earlier of the two.
    let via_a = first_sent_after(&sim, a, healed).unwrap() + ms(1);
    let via_b = first_sent_after(&sim, b, healed).unwrap() + ms(2);
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            via_a.min(via_b),
            State::Active,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
    assert_eq!(sim.transitions(a).len(), 2, "A never left Active");
}

/// Effective priority: a failed tracked object drops the Active router
/// below its peer. It advertises the new priority at once; the peer
/// discards it (preempt) and takes over one Master_Down_Interval after the
/// last advert with the old priority.
#[test]
fn effective_priority_drop_below_peer() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.set_tracked(a, "apiserver", -60, true);
    assert_eq!(sim.router(a).effective_priority(), 90);
    assert_eq!(sim.sent(a).last().copied(), Some((ms(10_500), 90)));
    sim.run_until(sim.at(secs(20)));
    // Last advert at 150: sent 10.414062 s, heard 10.415062 s.
    let took_over = us(10_415_062 + 3_609_375);
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((took_over, State::Backup, State::Active, Reason::Preempted))
    );
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            took_over + ms(1),
            State::Active,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
    // Recovery: A is back at 150 and preempts B again.
    sim.set_tracked(a, "apiserver", -60, false);
    sim.run_until(sim.at(secs(40)));
    assert_eq!(sim.active_routers(), vec![a]);
}

/// v2 (RFC 3768 7.1): an advert whose interval differs from ours is dropped
/// and counted, so each side ignores the other.
#[test]
fn v2_interval_mismatch_is_dropped() {
    let mut sim = lan(ms(1));
    let mut ca = cfg4(150, 1, 100);
    ca.version = ha_vip::wire::Version::V2;
    let mut cb = cfg4(100, 2, 200);
    cb.version = ha_vip::wire::Version::V2;
    let a = sim.add_router(ca);
    let b = sim.add_router(cb);
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    // v2 Master_Down_Interval: 3 * 2 s + (256 - 100) / 256 s.
    assert_eq!(became_active(&sim, b), Some(us(6_609_375)));
    assert_eq!(sim.active_routers(), vec![a, b]);
    let drops = sim
        .events(b)
        .into_iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::Dropped {
                    reason: ha_vip::core::DropReason::IntervalMismatch,
                    ..
                }
            )
        })
        .count() as u64;
    assert!(drops > 0);
    assert_eq!(sim.router(b).counters().adv_interval_errors, drops);
    assert_eq!(sim.router(b).counters().rcvd_advertisements, 0);
}

/// v2 at 3 s: Skew_Time is (256 - Priority) / 256 s whatever the interval.
#[test]
fn v2_takeover_uses_v2_skew() {
    let mut sim = lan(ms(1));
    let mut ca = cfg4(150, 1, 300);
    ca.version = ha_vip::wire::Version::V2;
    let mut cb = cfg4(100, 2, 300);
    cb.version = ha_vip::wire::Version::V2;
    let a = sim.add_router(ca);
    let b = sim.add_router(cb);
    sim.start_all();
    sim.run_until(sim.at(secs(20)));
    // A: 9 s + 106 / 256 s = 9.4140625 s -> 9.414062 s.
    assert_eq!(became_active(&sim, a), Some(us(9_414_062)));
    sim.crash(a);
    sim.run_until(sim.at(secs(40)));
    let last = last_received(&sim, b, a).unwrap();
    assert_eq!(became_active(&sim, b), Some(last + us(9_609_375)));
}

/// Unicast: adverts go only to the configured peers, and a source that is
/// not a peer is dropped and counted.
#[test]
fn unicast_peers_only() {
    let mut sim = lan(ms(1));
    let mut ca = cfg4(150, 1, 100);
    ca.unicast_peers = vec![v4(2)];
    let mut cb = cfg4(100, 2, 100);
    cb.unicast_peers = vec![v4(1)];
    // C is multicast and not B's peer.
    let cc = cfg4(200, 3, 100);
    let a = sim.add_router(ca);
    let b = sim.add_router(cb);
    let c = sim.add_router(cc);
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    // C's multicast reaches B, which drops it; A unicasts only to B, so C
    // never hears A: A and C are both Active, and B follows A.
    assert_eq!(sim.active_routers(), vec![a, c]);
    assert!(sim.router(b).counters().unicast_peer_errors > 0);
    assert!(
        sim.events(c)
            .iter()
            .all(|(_, e)| !matches!(e, Event::Received { from, .. } if *from == a)),
        "A's unicast adverts never reach C"
    );
    assert_eq!(
        sim.router(b).active_router().map(|r| r.address),
        Some(v4(1))
    );
}

/// Interface down releases the addresses without an advert; interface up
/// is a new Startup event.
#[test]
fn interface_down_and_up() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    let sent_before = sim.sent(a).len();
    sim.interface_down(a);
    assert_eq!(sim.router(a).state(), State::Initialize);
    assert_eq!(sim.sent(a).len(), sent_before, "no advert on a down link");
    assert_eq!(
        sim.events(a).last().map(|e| e.1),
        Some(Event::RemoveAddresses)
    );
    sim.run_until(sim.at(secs(20)));
    assert_eq!(became_active(&sim, b), Some(us(9_415_062 + 3_609_375)));
    sim.interface_up(a);
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((secs(20), State::Initialize, State::Backup, Reason::Startup))
    );
    sim.run_until(sim.at(secs(30)));
    assert_eq!(became_active(&sim, a), Some(secs(20) + us(3_414_062)));
    assert_eq!(sim.active_routers(), vec![a]);
}

/// Loss: one lost advert does not cause a takeover (three are needed), and
/// the RNG is seeded so the run is reproducible.
#[test]
fn single_loss_does_not_flap_and_runs_repeat() {
    let run = |seed| {
        let mut sim = Sim::new(seed, Instant::now());
        sim.set_default_link(Link {
            delay: ms(1),
            loss: 0.3,
        });
        let a = sim.add_router(cfg4(150, 1, 100));
        let _b = sim.add_router(cfg4(100, 2, 100));
        sim.start_all();
        sim.run_until(sim.at(secs(300)));
        (sim.trace().to_vec(), sim.router(a).counters().clone())
    };
    let (t1, c1) = run(7);
    let (t2, c2) = run(7);
    assert_eq!(c1, c2);
    assert_eq!(t1.len(), t2.len());
    assert!(
        t1.iter()
            .zip(&t2)
            .all(|(x, y)| x.event == y.event && x.router == y.router)
    );
    let lost = t1
        .iter()
        .filter(|e| matches!(e.event, Event::Lost { .. }))
        .count();
    assert!(lost > 10, "30 % loss over 300 adverts loses some: {lost}");
}

/// A peer advertising another address list (a second cluster on our VRID):
/// RFC 9568 7.1, its adverts are dropped, so it cannot take the VIP from
/// us, nor our Backups follow it. (Before, the advert was processed and
/// a stranger at priority 150 took the VIP away.)
#[test]
fn address_list_mismatch_does_not_elect() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.set_wire(
        a,
        ha_vip::core::sim::WireOverride {
            addresses: Some(vec![v4(100), v4(101)]),
            ..Default::default()
        },
    );
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    // Both Active: b never accepted a's adverts, and a drops b's.
    assert_eq!(sim.active_routers(), vec![a, b]);
    let c = sim.router(b).counters();
    assert_eq!(c.rcvd_advertisements, 0);
    assert!(c.address_list_drops >= 6, "{c:?}");
    assert_eq!(c.address_list_errors, c.address_list_drops);
    // Explicitly relaxed, the old behaviour: the election runs on them.
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let mut relaxed = cfg4(100, 2, 100);
    relaxed.address_list_check = AddressListCheck::Off;
    let b = sim.add_router(relaxed);
    sim.set_wire(
        a,
        ha_vip::core::sim::WireOverride {
            addresses: Some(vec![v4(100), v4(101)]),
            ..Default::default()
        },
    );
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a]);
    let heard = sim.router(b).counters().rcvd_advertisements;
    assert!(heard >= 6);
    assert_eq!(sim.router(b).counters().address_list_errors, heard);
    assert_eq!(sim.router(b).counters().address_list_drops, 0);
}

/// A v2 advert reaching a v3 router is dropped as a version error.
#[test]
fn version_mismatch_is_dropped() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.set_wire(
        a,
        ha_vip::core::sim::WireOverride {
            version: Some(ha_vip::wire::Version::V2),
            ..Default::default()
        },
    );
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a, b]);
    assert!(sim.router(b).counters().version_errors > 0);
    assert_eq!(sim.router(b).counters().rcvd_advertisements, 0);
}

/// Priority 0 with two Backups: both wait only their own Skew_Time; the
/// higher priority (shorter skew) takes over and the other one hears it
/// before its own skew runs out.
#[test]
fn priority_zero_with_two_backups() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(200, 1, 100));
    let b = sim.add_router(cfg4(150, 2, 100));
    let c = sim.add_router(cfg4(100, 3, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.shutdown(a);
    sim.run_until(sim.at(secs(20)));
    // B: Skew_Time 414_062 us after hearing priority 0 at 10.001 s.
    assert_eq!(became_active(&sim, b), Some(us(10_001_000 + 414_062)));
    // C would have fired at 10.001 s + 609_375 us; it heard B first.
    assert_eq!(became_active(&sim, c), None);
    assert_eq!(sim.active_routers(), vec![b]);
    assert_eq!(
        sim.router(c).active_router().map(|r| r.address),
        Some(v4(2))
    );
}

// ----- RFC 9568 7.1 / 6.4.3: the address owner ------------------------------

/// Two routers both configured as the address owner (a misconfiguration):
/// each processes the other's priority-255 adverts (RFC 9568 erratum 8298),
/// so the equal-priority tie-break leaves the larger address Active rather
/// than both Active for ever.
#[test]
fn two_owners_resolve_by_the_larger_address() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(255, 1, 100));
    let b = sim.add_router(cfg4(255, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![b]);
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            ms(1),
            State::Active,
            State::Backup,
            Reason::EqualPriorityHigherAddress
        ))
    );
}

/// The owner discards a lower-priority Active router's adverts: it never
/// answers them (before, each was answered with an advert and an ARP
/// burst), and its own adverts make the other yield.
#[test]
fn owner_discards_a_lower_active_router() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(255, 1, 100));
    let b = sim.add_router(cfg4(254, 2, 100));
    // b does not hear a for 10 s (a one-way fault), so both are Active.
    sim.set_link(
        a,
        b,
        Link {
            delay: ms(1),
            loss: 1.0,
        },
    );
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.active_routers(), vec![a, b]);
    let c = sim.router(a).counters();
    assert!(c.owner_discards >= 6, "{c:?}");
    assert_eq!(c.rcvd_advertisements, 0);
    // The owner's adverts: only its own, once a second from 0.
    let sent: Vec<_> = sim.sent(a).into_iter().map(|(t, _)| t).collect();
    assert_eq!(sent, (0..=10).map(secs).collect::<Vec<_>>());
    sim.set_link(
        a,
        b,
        Link {
            delay: ms(1),
            loss: 0.0,
        },
    );
    sim.run_until(sim.at(secs(12)));
    assert_eq!(sim.active_routers(), vec![a]);
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            secs(11) + ms(1),
            State::Active,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
}

// ----- make-before-break ------------------------------------------------------

/// Instants of router `i`'s events matching `f`.
fn at_of(sim: &Sim, i: usize, f: impl Fn(&Event) -> bool) -> Vec<std::time::Duration> {
    sim.events(i)
        .into_iter()
        .filter(|(_, e)| f(e))
        .map(|(t, _)| t)
        .collect()
}

fn removed(sim: &Sim, i: usize) -> Vec<std::time::Duration> {
    at_of(sim, i, |e| matches!(e, Event::RemoveAddresses))
}

fn added(sim: &Sim, i: usize) -> Vec<std::time::Duration> {
    at_of(sim, i, |e| matches!(e, Event::AddAddresses))
}

/// Preemption by a higher router: the old Active router keeps the
/// addresses until one Advertisement_Interval after the new Active
/// router's first advert reached it, well inside Master_Down_Interval.
#[test]
fn make_before_break_on_preemption() {
    for mbb in [true, false] {
        let mut sim = lan(ms(1));
        let mut ca = cfg4(100, 1, 100);
        ca.make_before_break = mbb;
        let a = sim.add_router(ca);
        let b = sim.add_router(cfg4(200, 2, 100));
        sim.start(a);
        sim.run_until(sim.at(secs(5)));
        sim.start(b);
        sim.run_until(sim.at(secs(20)));
        // b: Master_Down_Interval at 200 from its start: 3 s + 56/256 s.
        let took_over = secs(5) + us(3_218_750);
        assert_eq!(added(&sim, b), vec![took_over]);
        let heard = took_over + ms(1);
        assert_eq!(
            sim.transitions(a).last().copied(),
            Some((
                heard,
                State::Active,
                State::Backup,
                Reason::HigherPriorityAdvert
            ))
        );
        if mbb {
            // One of b's intervals after its first advert reached a; a's
            // Master_Down_Interval (3.609375 s) would be the bound.
            assert_eq!(removed(&sim, a), vec![heard + secs(1)]);
            assert!(secs(1) < us(3_609_375));
            assert_eq!(sim.router(a).counters().held_releases, 1);
        } else {
            assert_eq!(removed(&sim, a), vec![heard]);
        }
        // An ordinary preemption is not a split brain on either side.
        for i in [a, b] {
            assert_eq!(sim.router(i).counters().split_brain_events, 0);
            assert!(at_of(&sim, i, |e| matches!(e, Event::PeerActive { .. })).is_empty());
        }
    }
}

/// The daemon's `[-]shutdown` path: the check fails (priority 150 -> 90)
/// and the router hands over (priority 0). The Backup takes over after its
/// Skew_Time; the old Active router removes the addresses one interval
/// after hearing it, not at the hand-over.
#[test]
fn make_before_break_on_handover() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.set_tracked(a, "apiserver", -60, true);
    sim.handover(a);
    sim.run_until(sim.at(secs(20)));
    // b hears priority 0 at 10.501 s and waits Skew_Time at 100.
    let took_over = ms(10_501) + us(609_375);
    assert_eq!(added(&sim, b), vec![took_over]);
    assert_eq!(
        sim.transitions(b).last().copied(),
        Some((
            took_over,
            State::Backup,
            State::Active,
            Reason::PriorityZeroReceived
        ))
    );
    let release = took_over + ms(1) + secs(1);
    assert_eq!(removed(&sim, a), vec![release]);
    // Never after a's Master_Down_Interval at 90 from the hand-over.
    assert!(release - ms(10_500) < us(3_648_437));
    assert_eq!(sim.active_routers(), vec![b]);
}

/// The bound: the new Active router is heard late (a slow return path),
/// so the hold ends at Master_Down_Interval after the hand-over exactly.
#[test]
fn make_before_break_never_holds_past_master_down_interval() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.set_link(
        b,
        a,
        Link {
            delay: ms(2_900),
            loss: 0.0,
        },
    );
    sim.set_tracked(a, "apiserver", -60, true);
    sim.handover(a);
    sim.run_until(sim.at(secs(20)));
    let took_over = ms(10_501) + us(609_375);
    assert_eq!(added(&sim, b), vec![took_over]);
    // Heard at took_over + 2.9 s = 14.010375 s; plus 1 s is past the bound
    // 10.5 s + 3.648437 s (Master_Down_Interval at 90).
    assert_eq!(removed(&sim, a), vec![ms(10_500) + us(3_648_437)]);
}

/// Nobody takes over: at Master_Down_Interval the router becomes Active
/// again with the addresses it still holds: no remove-then-add flap.
#[test]
fn make_before_break_alone_keeps_the_addresses() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.handover(a);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(removed(&sim, a), vec![]);
    assert_eq!(added(&sim, a), vec![us(3_414_062)]);
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            ms(10_500) + us(3_414_062),
            State::Backup,
            State::Active,
            Reason::MasterDownTimerExpired
        ))
    );
    assert!(sim.router(a).holds_addresses());
}

/// A shutdown of ha-vip itself, or the interface going down, removes the
/// addresses at once: also during a make-before-break hold.
#[test]
fn shutdown_and_interface_down_remove_at_once() {
    // Shutdown while Active.
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.shutdown(a);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(removed(&sim, a), vec![ms(10_500)]);
    assert_eq!(added(&sim, b), vec![ms(10_501) + us(609_375)]);
    // Interface down while Active.
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.interface_down(a);
    sim.run_until(sim.at(secs(20)));
    assert_eq!(removed(&sim, a), vec![ms(10_500)]);
    // Shutdown, and interface down, during a hold.
    for down in [false, true] {
        let mut sim = lan(ms(1));
        let a = sim.add_router(cfg4(150, 1, 100));
        sim.add_router(cfg4(100, 2, 100));
        sim.start_all();
        sim.run_until(sim.at(ms(10_500)));
        sim.set_tracked(a, "apiserver", -60, true);
        sim.handover(a);
        sim.run_until(sim.at(ms(11_200)));
        assert!(sim.router(a).holds_addresses());
        assert_eq!(
            sim.router(a).release_due(),
            Some(sim.at(ms(12_111) + us(375)))
        );
        if down {
            sim.interface_down(a);
        } else {
            sim.shutdown(a);
        }
        sim.run_until(sim.at(secs(20)));
        assert_eq!(removed(&sim, a), vec![ms(11_200)]);
        assert!(!sim.router(a).holds_addresses());
    }
}

// ----- all unhealthy -----------------------------------------------------------

/// Three routers 150/140/130, each with a check of weight -50, failing in
/// turn, 10 s apart, in every order. The VIP moves only when its holder
/// fails while a healthy router is left (to the best healthy one); once all
/// three fail, it does not move at all, for a minute. Before, the
/// reshuffled priorities moved it once more (e.g. order 0, 1, 2: 80 < 100).
#[test]
fn all_unhealthy_the_vip_does_not_move() {
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let base = [150u8, 140, 130];
    for order in orders {
        let mut sim = lan(ms(1));
        for (i, p) in base.iter().enumerate() {
            sim.add_router(cfg4(*p, i as u8 + 1, 100));
        }
        sim.start_all();
        sim.run_until(sim.at(secs(10)));
        assert_eq!(sim.active_routers(), vec![0]);
        let mut holder = 0;
        let mut healthy = vec![0, 1, 2];
        let mut expected_moves = 0;
        for (k, &f) in order.iter().enumerate() {
            sim.run_until(sim.at(secs(10 + 10 * k as u64)));
            sim.set_tracked(f, "apiserver", -50, true);
            healthy.retain(|&h| h != f);
            if f == holder
                && let Some(&best) = healthy.iter().min()
            {
                holder = best;
                expected_moves += 1;
            }
            sim.run_until(sim.at(secs(19 + 10 * k as u64)));
            assert_eq!(
                sim.active_routers(),
                vec![holder],
                "order {order:?}, step {k}"
            );
        }
        let all_failed = sim.elapsed();
        sim.run_until(sim.at(secs(30) + secs(60)));
        let moves: Vec<_> = (0..3)
            .flat_map(|i| sim.transitions(i))
            .filter(|(t, _, to, _)| *t > secs(10) && *to == State::Active)
            .collect();
        assert_eq!(moves.len(), expected_moves, "order {order:?}: {moves:?}");
        assert!(
            moves.iter().all(|(t, ..)| *t < all_failed),
            "order {order:?}: a move after all failed: {moves:?}"
        );
        assert_eq!(sim.active_routers(), vec![holder], "order {order:?}");
    }
}

/// All failing: a failing Backup still takes over when the Active router
/// goes silent, or sends priority 0.
#[test]
fn a_failing_backup_still_takes_over_from_a_silent_or_leaving_active() {
    for leave in [false, true] {
        let mut sim = lan(ms(1));
        let a = sim.add_router(cfg4(130, 1, 100));
        let b = sim.add_router(cfg4(150, 2, 100));
        sim.start(a);
        sim.run_until(sim.at(secs(5)));
        sim.start(b);
        sim.set_tracked(b, "apiserver", -50, true);
        sim.run_until(sim.at(secs(15)));
        // b (100, failing) does not preempt a (130)... nor a lower one:
        sim.set_tracked(a, "apiserver", -50, true);
        sim.run_until(sim.at(ms(20_500)));
        assert_eq!(
            sim.active_routers(),
            vec![a],
            "failing b does not preempt 80"
        );
        if leave {
            sim.shutdown(a);
            sim.run_until(sim.at(secs(30)));
            // Skew_Time at 100.
            assert_eq!(became_active(&sim, b), Some(ms(20_501) + us(609_375)));
        } else {
            sim.crash(a);
            sim.run_until(sim.at(secs(30)));
            let last = last_received(&sim, b, a).unwrap();
            assert_eq!(became_active(&sim, b), Some(last + us(3_609_375)));
        }
        assert_eq!(sim.active_routers(), vec![b]);
    }
}

// ----- split brain --------------------------------------------------------------

/// A split brain that persists (a one-way fault: b never hears a): reported
/// once it has lasted more than one interval, then at most once a minute,
/// counted once.
#[test]
fn persistent_split_brain_is_reported_once_a_minute() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.set_link(
        a,
        b,
        Link {
            delay: ms(1),
            loss: 1.0,
        },
    );
    sim.start_all();
    sim.run_until(sim.at(secs(200)));
    assert_eq!(sim.active_routers(), vec![a, b]);
    let heard: Vec<_> = at_of(&sim, a, |e| matches!(e, Event::Received { .. }));
    let first = heard[0];
    // The first of b's adverts more than one interval after its first.
    let declared = *heard.iter().find(|t| **t - first > secs(1)).unwrap();
    let mut expected = vec![declared];
    for t in &heard {
        if *t >= *expected.last().unwrap() + secs(60) {
            expected.push(*t);
        }
    }
    let reports = at_of(&sim, a, |e| {
        matches!(e, Event::PeerActive { yielded: false, .. })
    });
    assert_eq!(reports, expected);
    assert_eq!(reports.len(), 4);
    assert_eq!(sim.router(a).counters().split_brain_events, 1);
}

// ----- reconfigure in place -------------------------------------------------------

/// `reconfigure` through the harness; a no-op tracked object flushes the
/// router's actions onto the LAN (the Sim has no reconfigure method yet).
fn reconfigure(sim: &mut Sim, i: usize, cfg: ha_vip::core::RouterConfig) {
    let now = sim.now();
    if let Err(e) = sim.router_mut(i).reconfigure(now, cfg) {
        panic!("reconfigure: {e}");
    }
    sim.set_tracked(i, "flush", 0, false);
}

fn three() -> Sim {
    let mut sim = lan(ms(1));
    for (i, p) in [150u8, 140, 130].iter().enumerate() {
        sim.add_router(cfg4(*p, i as u8 + 1, 100));
    }
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim
}

/// Raising the Active router's priority 150 -> 200 moves nothing and goes
/// out in the next advert (at once).
#[test]
fn reconfigure_raising_the_priority_while_active_moves_nothing() {
    let mut sim = three();
    reconfigure(&mut sim, 0, cfg4(200, 1, 100));
    sim.run_until(sim.at(secs(30)));
    let after: Vec<_> = sim
        .sent(0)
        .into_iter()
        .filter(|(t, _)| *t >= ms(10_500))
        .collect();
    assert_eq!(after.first().copied(), Some((ms(10_500), 200)));
    assert!(after.iter().all(|(_, p)| *p == 200));
    for i in 0..3 {
        assert!(
            sim.transitions(i).iter().all(|(t, ..)| *t < secs(10)),
            "router {i}"
        );
    }
    assert_eq!(removed(&sim, 0), vec![]);
    for i in [1, 2] {
        assert_eq!(
            sim.router(i)
                .active_router()
                .map(|a| (a.address, a.priority)),
            Some((v4(1), 200))
        );
    }
}

/// Lowering it to 120, below both Backups, hands over once: to the 140,
/// when its Master_Down_Interval from the last advert at 150 runs out.
#[test]
fn reconfigure_lowering_the_priority_below_a_backup_hands_over_once() {
    let mut sim = three();
    reconfigure(&mut sim, 0, cfg4(120, 1, 100));
    sim.run_until(sim.at(secs(30)));
    assert_eq!(
        sim.sent(0).iter().find(|(t, _)| *t >= ms(10_500)).copied(),
        Some((ms(10_500), 120))
    );
    // Last advert at 150: 10.414062 s, heard 10.415062 s; MDI at 140 is
    // 3 s + 116/256 s = 3.453125 s.
    let took_over = us(10_415_062 + 3_453_125);
    let moves: Vec<_> = (0..3)
        .flat_map(|i| sim.transitions(i).into_iter().map(move |t| (i, t)))
        .filter(|(_, (t, ..))| *t > secs(10))
        .collect();
    assert_eq!(
        moves,
        vec![
            (
                0,
                (
                    took_over + ms(1),
                    State::Active,
                    State::Backup,
                    Reason::HigherPriorityAdvert
                )
            ),
            (
                1,
                (took_over, State::Backup, State::Active, Reason::Preempted)
            ),
        ]
    );
    assert_eq!(removed(&sim, 0), vec![took_over + ms(1) + secs(1)]);
}

/// A tracked check lowers the Active router's priority below a healthy
/// Backup's: the Backup preempts one Master_Down_Interval after the last
/// advert at the old priority; the old Active router removes the addresses
/// one interval after that Backup's first advert reached it.
#[test]
fn make_before_break_when_a_check_lowers_the_priority() {
    let mut sim = lan(ms(1));
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(ms(10_500)));
    sim.set_tracked(a, "apiserver", -60, true);
    sim.run_until(sim.at(secs(20)));
    let took_over = us(10_415_062 + 3_609_375);
    assert_eq!(added(&sim, b), vec![took_over]);
    assert_eq!(removed(&sim, a), vec![took_over + ms(1) + secs(1)]);
    // Bound: a's Master_Down_Interval at 90 from the yield, 3.648437 s.
    assert!(secs(1) < us(3_648_437));
}
