//! Planned maintenance (`ha-vip drain` / `resume`) in virtual time: a soft
//! drain hands over and leaves the router a last resort at priority 1; a
//! hard drain takes it out of the election; resume puts it back; the owner
//! is refused. Exact instants, as the other core tests.

mod core_common;

use std::time::Instant;

use core_common::*;
use ha_vip::core::sim::{Event, Sim};
use ha_vip::core::{DRAINED_PRIORITY, Drain, DrainError, Reason, State};

fn lan() -> Sim {
    let mut sim = Sim::new(1, Instant::now());
    sim.set_default_link(ha_vip::core::sim::Link {
        delay: ms(1),
        loss: 0.0,
    });
    sim
}

/// Without make-before-break: the addresses go with the priority 0.
fn break_first(mut c: ha_vip::core::RouterConfig) -> ha_vip::core::RouterConfig {
    c.make_before_break = false;
    c
}

/// Everything router `i` did at instant `t`, less lost copies.
fn at(sim: &Sim, i: usize, t: std::time::Duration) -> Vec<Event> {
    sim.events(i)
        .into_iter()
        .filter(|(when, e)| *when == t && !matches!(e, Event::Lost { .. }))
        .map(|(_, e)| e)
        .collect()
}

/// A soft drain of the Active router (make-before-break off): priority 0
/// at once, Backup, the addresses go; the peer takes over after its Skew_Time; the drained
/// router then runs at priority 1 and never preempts back, though it has
/// the higher configured priority and preemption on.
#[test]
fn soft_drain_hands_over_and_never_preempts_back() {
    let mut sim = lan();
    let a = sim.add_router(break_first(cfg4(150, 1, 100)));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    assert_eq!(sim.router(a).state(), State::Active);
    sim.set_drain(a, Drain::Soft);
    assert_eq!(
        at(&sim, a, secs(10)),
        vec![
            Event::Drain(Drain::Soft),
            Event::StateChanged {
                from: State::Active,
                to: State::Backup,
                reason: Reason::Drained
            },
            Event::Sent {
                priority: 0,
                max_advert_interval_cs: 100
            },
            Event::RemoveAddresses,
        ]
    );
    assert_eq!(sim.router(a).effective_priority(), DRAINED_PRIORITY);
    assert_eq!(sim.router(a).drain(), Drain::Soft);
    sim.run_until(sim.at(secs(60)));
    // B: 1 ms on the wire, then its Skew_Time at 1 s (156/256 s).
    assert_eq!(became_active(&sim, b), Some(secs(10) + ms(1) + us(609_375)));
    assert_eq!(sim.active_routers(), vec![b]);
    assert_eq!(sim.router(a).state(), State::Backup);
    // After its priority 0, A sent nothing: a Backup does not advertise.
    assert!(
        sim.sent(a).iter().all(|&(t, _)| t <= secs(10)),
        "{:?}",
        sim.sent(a)
    );
}

/// Soft-drained is a last resort: when no other router is heard for its
/// Master_Down_Interval (at priority 1: 3 s + 255/256 s), it takes the
/// addresses and advertises priority 1.
#[test]
fn soft_drained_router_is_the_last_resort() {
    let mut sim = lan();
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.set_drain(a, Drain::Soft);
    sim.run_until(sim.at(secs(20)));
    sim.crash(b);
    let heard = last_received(&sim, a, b).expect("a heard b");
    sim.run_until(sim.at(secs(40)));
    assert_eq!(became_active(&sim, a), Some(heard + secs(3) + us(996_093)));
    let after: Vec<u8> = sim
        .sent(a)
        .into_iter()
        .filter(|&(t, _)| t > secs(20))
        .map(|(_, p)| p)
        .collect();
    assert!(!after.is_empty());
    assert!(after.iter().all(|&p| p == DRAINED_PRIORITY), "{after:?}");
}

/// Resume: the configured priority again; with preemption the router takes
/// the addresses back by the usual rule (it discards the lower-priority
/// adverts; its Master_Down_Timer, armed by the last advert it followed,
/// fires with reason Preempted).
#[test]
fn resume_restores_the_priority_and_preemption() {
    let mut sim = lan();
    let a = sim.add_router(cfg4(150, 1, 100));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.set_drain(a, Drain::Soft);
    sim.run_until(sim.at(secs(20)));
    let followed = last_received(&sim, a, b).expect("a heard b");
    sim.set_drain(a, Drain::Off);
    assert_eq!(sim.router(a).effective_priority(), 150);
    sim.run_until(sim.at(secs(40)));
    // Armed at priority 1 by the advert it followed last.
    assert_eq!(
        sim.transitions(a).last().copied(),
        Some((
            followed + secs(3) + us(996_093),
            State::Backup,
            State::Active,
            Reason::Preempted
        ))
    );
    assert_eq!(sim.active_routers(), vec![a]);
}

/// A hard drain (make-before-break off): priority 0, Initialize, no
/// addresses; it stays out when
/// every other router is gone and when its link goes down and up again;
/// resume starts it (Startup event, Backup, then Active after its
/// Master_Down_Interval with nobody else heard).
#[test]
fn hard_drain_leaves_the_election_until_resumed() {
    let mut sim = lan();
    let a = sim.add_router(break_first(cfg4(150, 1, 100)));
    let b = sim.add_router(cfg4(100, 2, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(10)));
    sim.set_drain(a, Drain::Hard);
    assert_eq!(
        at(&sim, a, secs(10)),
        vec![
            Event::Drain(Drain::Hard),
            Event::StateChanged {
                from: State::Active,
                to: State::Initialize,
                reason: Reason::Drained
            },
            Event::Sent {
                priority: 0,
                max_advert_interval_cs: 100
            },
            Event::RemoveAddresses,
        ]
    );
    sim.run_until(sim.at(secs(20)));
    sim.crash(b);
    sim.interface_down(a);
    sim.interface_up(a);
    sim.run_until(sim.at(secs(60)));
    assert_eq!(sim.router(a).state(), State::Initialize);
    assert!(sim.active_routers().is_empty());
    sim.set_drain(a, Drain::Off);
    assert_eq!(sim.router(a).state(), State::Backup);
    sim.run_until(sim.at(secs(70)));
    // 3 s + Skew_Time at 150 (106/256 s).
    assert_eq!(became_active(&sim, a), Some(secs(60) + us(3_414_062)));
}

/// With make-before-break, a drained Active router keeps the addresses
/// until the new Active router has been heard plus one of its intervals —
/// in Backup (soft) and in Initialize (hard) alike.
#[test]
fn drains_hand_over_make_before_break() {
    for drain in [Drain::Soft, Drain::Hard] {
        let mut sim = lan();
        let mut ca = cfg4(150, 1, 100);
        ca.make_before_break = true;
        let a = sim.add_router(ca);
        let b = sim.add_router(cfg4(100, 2, 100));
        sim.start_all();
        sim.run_until(sim.at(secs(10)));
        sim.set_drain(a, drain);
        assert!(
            !at(&sim, a, secs(10)).contains(&Event::RemoveAddresses),
            "{drain:?}"
        );
        sim.run_until(sim.at(secs(20)));
        let took = became_active(&sim, b).expect("b took over");
        // B's first advert as Active reaches A 1 ms later; one interval on.
        let released: Vec<_> = sim
            .events(a)
            .into_iter()
            .filter(|(_, e)| *e == Event::RemoveAddresses)
            .map(|(t, _)| t)
            .collect();
        assert_eq!(released, vec![took + ms(1) + secs(1)], "{drain:?}");
    }
}

/// The address owner (priority 255) cannot hand its own address over.
#[test]
fn the_owner_is_not_drained() {
    let mut sim = lan();
    let a = sim.add_router(cfg4(255, 1, 100));
    sim.start_all();
    sim.run_until(sim.at(secs(5)));
    let id = sim.id(a);
    let mut ep = ha_vip::core::Endpoint::new();
    let other = ep.insert(ha_vip::core::RouterSpec::new(cfg4(255, 1, 100)));
    assert_eq!(
        ep.set_drain(sim.now(), other, Drain::Soft),
        Err(DrainError::Owner)
    );
    assert_eq!(ep.drain_of(other), Drain::Off);
    sim.set_drain(a, Drain::Hard);
    assert_eq!(sim.endpoint(a).drain_of(id), Drain::Off);
    assert_eq!(sim.router(a).state(), State::Active);
}
