//! One `VirtualRouter` driven by hand: receive validation, the order of the
//! actions, announce timing, effective priority.

mod core_common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use core_common::*;
use ha_vip::core::{
    Action, AddressListCheck, AnnounceConfig, DropReason, Reason, RouterConfig, State,
    VirtualRouter,
};
use ha_vip::wire::{Addresses, AdvertRepr, Auth, Family, Version};

const VIP: [Ipv4Addr; 1] = [Ipv4Addr::new(192, 0, 2, 100)];

fn advert(priority: u8, interval_cs: u16) -> AdvertRepr<'static> {
    AdvertRepr {
        version: Version::V3,
        vrid: VRID,
        priority,
        max_advert_interval_cs: interval_cs,
        auth: Auth::None,
        addresses: Addresses::V4(&VIP),
    }
}

fn drain(r: &mut VirtualRouter) -> Vec<Action> {
    std::iter::from_fn(|| r.poll_action()).collect()
}

fn started(cfg: RouterConfig, t0: Instant) -> VirtualRouter {
    let mut r = VirtualRouter::new(cfg);
    r.startup(t0);
    drain(&mut r);
    r
}

/// Run the router's own timers from `from` up to `until`; every action with
/// the time (since `t0`) it came out.
fn run(r: &mut VirtualRouter, t0: Instant, until: Instant) -> Vec<(Duration, Action)> {
    let mut out = Vec::new();
    while let Some(t) = r.poll_timeout() {
        if t > until {
            break;
        }
        r.handle_timeout(t);
        out.extend(drain(r).into_iter().map(|a| (t - t0, a)));
    }
    out
}

#[test]
fn becoming_active_orders_state_advert_addresses_announce() {
    let t0 = Instant::now();
    let mut r = VirtualRouter::new(cfg4(100, 1, 100));
    assert_eq!(r.state(), State::Initialize);
    assert_eq!(r.poll_timeout(), None);
    r.startup(t0);
    assert_eq!(
        drain(&mut r),
        vec![Action::StateChanged {
            from: State::Initialize,
            to: State::Backup,
            reason: Reason::Startup
        }]
    );
    assert_eq!(r.poll_timeout(), Some(t0 + us(3_609_375)));
    let actions = run(&mut r, t0, t0 + us(3_609_375));
    let mut expected = vec![
        Action::StateChanged {
            from: State::Backup,
            to: State::Active,
            reason: Reason::MasterDownTimerExpired,
        },
        // The advert first (peers learn at once), then the addresses, then
        // the announcements (RFC 9568 6.4.2; keepalived's order).
        Action::SendAdvert {
            priority: 100,
            max_advert_interval_cs: 100,
        },
        Action::AddAddresses,
    ];
    // keepalived defaults: 5 messages at once.
    expected.extend([Action::Announce; 5]);
    assert_eq!(actions.iter().map(|a| a.1).collect::<Vec<_>>(), expected);
    assert!(actions.iter().all(|a| a.0 == us(3_609_375)));
    assert_eq!(r.counters().master_transitions, 1);
    assert_eq!(r.counters().announcements, 5);
}

#[test]
fn announce_defaults_are_keepalived_s() {
    let a = AnnounceConfig::default();
    assert_eq!(a.delay, secs(5));
    assert_eq!(a.repeat, 5);
    assert_eq!(a.interval, Duration::ZERO);
    assert_eq!(a.refresh, None);
    assert_eq!(a.refresh_repeat, 1);
    assert_eq!(a.lower_prio_repeat, 5);
    assert_eq!(a.lower_prio_delay, secs(5));
}

#[test]
fn announce_second_burst_after_delay() {
    let t0 = Instant::now();
    let mut r = started(cfg4(255, 1, 100), t0);
    assert_eq!(r.state(), State::Active);
    let actions = run(&mut r, t0, t0 + secs(10));
    let announces: Vec<_> = actions
        .iter()
        .filter(|a| a.1 == Action::Announce)
        .map(|a| a.0)
        .collect();
    // The first burst came out with startup; the second 5 s later.
    assert_eq!(announces, vec![secs(5); 5]);
}

#[test]
fn announce_interval_repeat_and_refresh() {
    let t0 = Instant::now();
    let mut cfg = cfg4(255, 1, 100);
    cfg.announce = AnnounceConfig {
        delay: Duration::ZERO,
        repeat: 3,
        interval: ms(100),
        refresh: Some(secs(30)),
        refresh_repeat: 2,
        ..AnnounceConfig::default()
    };
    let mut r = VirtualRouter::new(cfg);
    r.startup(t0);
    let first: Vec<_> = drain(&mut r);
    assert_eq!(
        first.iter().filter(|a| **a == Action::Announce).count(),
        1,
        "only the first message of the burst at once"
    );
    let actions = run(&mut r, t0, t0 + secs(61));
    let announces: Vec<_> = actions
        .iter()
        .filter(|a| a.1 == Action::Announce)
        .map(|a| a.0)
        .collect();
    assert_eq!(
        announces,
        vec![
            ms(100),
            ms(200),
            secs(30),
            secs(30) + ms(100),
            secs(60),
            secs(60) + ms(100)
        ]
    );
}

#[test]
fn leaving_active_cancels_pending_announces() {
    let t0 = Instant::now();
    let mut r = started(cfg4(100, 1, 100), t0);
    run(&mut r, t0, t0 + secs(4));
    assert_eq!(r.state(), State::Active);
    r.handle_advert(t0 + secs(4), v4(2), &advert(200, 100))
        .unwrap();
    // An ordinary preemption: no split brain reported (before, a
    // PeerActive with `yielded: true` came first and was logged at WARN);
    // the addresses are held (make-before-break).
    assert_eq!(
        drain(&mut r),
        vec![Action::StateChanged {
            from: State::Active,
            to: State::Backup,
            reason: Reason::HigherPriorityAdvert
        }]
    );
    assert_eq!(r.counters().split_brain_events, 0);
    // Left: the release one interval later, then the Master_Down_Timer;
    // no second announce burst.
    assert_eq!(r.poll_timeout(), Some(t0 + secs(5)));
    let rest = run(&mut r, t0, t0 + secs(7));
    assert_eq!(rest, vec![(secs(5), Action::RemoveAddresses)]);
}

/// A flood of lower-priority adverts (anyone on the link can send them) is
/// answered at most once per Advertisement_Interval: before, each one cost
/// an advert and five broadcast ARPs (integration/hostile.rs measured
/// 50,000 adverts and 250,000 ARPs out for 3 s of flood).
#[test]
fn active_answers_lower_priority_once_per_interval() {
    let t0 = Instant::now();
    let mut r = started(cfg4(150, 1, 100), t0);
    run(&mut r, t0, t0 + secs(9));
    let now = t0 + ms(9_200);
    r.handle_advert(now, v4(2), &advert(100, 100)).unwrap();
    assert_eq!(drain(&mut r).len(), 6, "the first one is answered");
    for i in 1..100 {
        r.handle_advert(now + ms(i * 10 - 5), v4(3), &advert(100, 100))
            .unwrap();
    }
    assert_eq!(drain(&mut r), vec![], "answered once per interval");
    assert_eq!(r.state(), State::Active);
    // Within one Advertisement_Interval of the first: not a split brain yet.
    assert_eq!(r.counters().split_brain_events, 0);
    // One Advertisement_Interval after the answer, the next one is
    // answered again; still within the interval (not more than it).
    r.handle_advert(now + secs(1), v4(2), &advert(100, 100))
        .unwrap();
    let mut expected = vec![Action::SendAdvert {
        priority: 150,
        max_advert_interval_cs: 100,
    }];
    expected.extend([Action::Announce; 5]);
    assert_eq!(drain(&mut r), expected);
    // Past one interval: a split brain, counted once and reported once,
    // whatever the (alternating, spoofed) sources.
    for i in 1..=50u8 {
        let src = v4(if i % 2 == 0 { 3 } else { 4 });
        r.handle_advert(
            now + secs(1) + ms(u64::from(i) * 10),
            src,
            &advert(100, 100),
        )
        .unwrap();
    }
    assert_eq!(
        drain(&mut r),
        vec![Action::PeerActive {
            peer: v4(4),
            peer_priority: 100,
            our_priority: 150,
            yielded: false,
        }]
    );
    assert_eq!(r.counters().split_brain_events, 1);
}

#[test]
fn active_answers_lower_priority_at_once() {
    let t0 = Instant::now();
    let mut r = started(cfg4(150, 1, 100), t0);
    // Active at 3.414062 s; let its second announce burst (8.414062 s) pass.
    run(&mut r, t0, t0 + secs(9));
    let now = t0 + ms(9_200);
    r.handle_advert(now, v4(2), &advert(100, 100)).unwrap();
    // The answer, then keepalived's lower-priority announce burst. Not a
    // split brain: the other router has not persisted yet.
    let mut expected = vec![Action::SendAdvert {
        priority: 150,
        max_advert_interval_cs: 100,
    }];
    expected.extend([Action::Announce; 5]);
    assert_eq!(drain(&mut r), expected);
    // Adver_Timer restarted from the answer.
    assert_eq!(r.poll_timeout(), Some(now + secs(1)));
    // A catch-up burst one Advertisement_Interval later (the other
    // router's own announcements may reach hosts after our first burst),
    // and the second burst 5 s later.
    let later = run(&mut r, t0, now + secs(5));
    let mut bursts = vec![ms(10_200); 5];
    bursts.extend([ms(14_200); 5]);
    assert_eq!(
        later
            .iter()
            .filter(|a| a.1 == Action::Announce)
            .map(|a| a.0)
            .collect::<Vec<_>>(),
        bursts
    );
    // Priority 0 from another router: answered with an advert only.
    let now = now + secs(5) + ms(1);
    r.handle_advert(now, v4(2), &advert(0, 100)).unwrap();
    assert_eq!(
        drain(&mut r),
        vec![Action::SendAdvert {
            priority: 150,
            max_advert_interval_cs: 100
        }]
    );
    assert_eq!(r.state(), State::Active);
}

#[test]
fn shutdown_of_a_backup_sends_nothing() {
    let t0 = Instant::now();
    let mut r = started(cfg4(100, 1, 100), t0);
    r.shutdown(t0 + secs(1));
    assert_eq!(
        drain(&mut r),
        vec![Action::StateChanged {
            from: State::Backup,
            to: State::Initialize,
            reason: Reason::Shutdown
        }]
    );
    assert_eq!(r.poll_timeout(), None);
    assert_eq!(r.counters().sent_advertisements, 0);
}

#[test]
fn effective_priority_is_clamped() {
    let t0 = Instant::now();
    let mut r = VirtualRouter::new(cfg4(100, 1, 100));
    r.set_tracked(t0, "a", -200, true);
    assert_eq!(r.effective_priority(), 1);
    r.set_tracked(t0, "a", 200, true);
    assert_eq!(r.effective_priority(), 254, "only the owner has 255");
    r.set_tracked(t0, "a", -30, true);
    r.set_tracked(t0, "b", -20, true);
    assert_eq!(r.effective_priority(), 50);
    r.set_tracked(t0, "a", -30, false);
    assert_eq!(r.effective_priority(), 80);
    assert_eq!(
        r.tracked().collect::<Vec<_>>(),
        vec![("a", -30, false), ("b", -20, true)]
    );
    r.remove_tracked(t0, "b");
    assert_eq!(r.effective_priority(), 100);

    let mut owner = VirtualRouter::new(cfg4(255, 1, 100));
    owner.set_tracked(t0, "a", -60, true);
    assert_eq!(owner.effective_priority(), 255, "owner keeps 255");

    let mut cfg = cfg4(255, 1, 100);
    cfg.owner_keeps_255 = false;
    let mut owner = VirtualRouter::new(cfg);
    owner.set_tracked(t0, "a", -60, true);
    assert_eq!(owner.effective_priority(), 195);
    // Starting at 195 the owner no longer goes Active at once.
    owner.startup(t0);
    assert_eq!(owner.state(), State::Backup);
}

#[test]
fn priority_change_in_active_is_advertised_at_once() {
    let t0 = Instant::now();
    let mut r = started(cfg4(150, 1, 100), t0);
    run(&mut r, t0, t0 + secs(4));
    let now = t0 + ms(4_321);
    r.set_tracked(now, "x", -10, true);
    assert_eq!(
        drain(&mut r),
        vec![Action::SendAdvert {
            priority: 140,
            max_advert_interval_cs: 100
        }]
    );
    assert_eq!(r.poll_timeout(), Some(now + secs(1)));
    // Same priority again: nothing.
    r.set_tracked(now, "x", -10, true);
    assert_eq!(drain(&mut r), vec![]);
}

/// Every router-level drop: counted, returned, no state change, no action.
#[test]
fn receive_validation() {
    let t0 = Instant::now();
    let v6vip = [std::net::Ipv6Addr::LOCALHOST];
    let mut base = cfg4(100, 1, 100);
    base.unicast_peers = vec![v4(2), v4(3)];
    let cases: Vec<(RouterConfig, IpAddr, AdvertRepr<'_>, DropReason)> = vec![
        (
            base.clone(),
            v4(2),
            AdvertRepr {
                version: Version::V2,
                ..advert(200, 100)
            },
            DropReason::VersionMismatch,
        ),
        (
            base.clone(),
            v4(2),
            AdvertRepr {
                vrid: VRID + 1,
                ..advert(200, 100)
            },
            DropReason::VridMismatch,
        ),
        (
            base.clone(),
            v6(2),
            advert(200, 100),
            DropReason::FamilyMismatch,
        ),
        (
            base.clone(),
            v4(2),
            AdvertRepr {
                addresses: Addresses::V6(&v6vip),
                ..advert(200, 100)
            },
            DropReason::FamilyMismatch,
        ),
        (base.clone(), v4(1), advert(200, 100), DropReason::OwnAdvert),
        (
            base.clone(),
            v4(9),
            advert(200, 100),
            DropReason::UnicastPeerMismatch,
        ),
        (
            base.clone(),
            v4(2),
            advert(200, 0),
            DropReason::InvalidInterval,
        ),
    ];
    let mut v2 = cfg4(100, 1, 100);
    v2.version = Version::V2;
    v2.auth = Auth::SimpleText(*b"secret\0\0");
    let v2adv = AdvertRepr {
        version: Version::V2,
        auth: Auth::SimpleText(*b"secret\0\0"),
        ..advert(200, 100)
    };
    let v2_cases = vec![
        (
            v2.clone(),
            v4(2),
            AdvertRepr {
                auth: Auth::None,
                ..v2adv
            },
            DropReason::AuthTypeMismatch,
        ),
        (
            v2.clone(),
            v4(2),
            AdvertRepr {
                auth: Auth::SimpleText(*b"guess\0\0\0"),
                ..v2adv
            },
            DropReason::AuthFailure,
        ),
        (
            v2.clone(),
            v4(2),
            AdvertRepr {
                max_advert_interval_cs: 200,
                ..v2adv
            },
            DropReason::IntervalMismatch,
        ),
    ];
    for (cfg, src, adv, reason) in cases.into_iter().chain(v2_cases) {
        let mut r = started(cfg, t0);
        let deadline = r.poll_timeout();
        let before: Vec<_> = r.counters().iter().collect();
        assert_eq!(r.handle_advert(t0 + secs(1), src, &adv), Err(reason));
        assert_eq!(r.state(), State::Backup, "{reason:?}");
        assert_eq!(r.poll_timeout(), deadline, "{reason:?}: timer untouched");
        assert_eq!(drain(&mut r), vec![], "{reason:?}");
        let changed: Vec<_> = r
            .counters()
            .iter()
            .zip(before)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a)
            .collect();
        assert_eq!(changed, vec![(reason.counter(), 1)]);
    }

    // The matching v2 advert passes.
    let mut r = started(v2, t0);
    assert_eq!(r.handle_advert(t0 + secs(1), v4(2), &v2adv), Ok(()));
    assert_eq!(r.counters().rcvd_advertisements, 1);
}

#[test]
fn not_running_drops() {
    let t0 = Instant::now();
    let mut r = VirtualRouter::new(cfg4(100, 1, 100));
    assert_eq!(
        r.handle_advert(t0, v4(2), &advert(200, 100)),
        Err(DropReason::NotRunning)
    );
    assert_eq!(r.counters().not_running_drops, 1);
    assert_eq!(r.counters().rcvd_advertisements, 0);
    assert_eq!(r.state(), State::Initialize);
}

/// RFC 9568 7.1: an address list that differs is counted and the advert
/// dropped, unless its priority is 255 (the owner's) or the check is
/// relaxed. (Before, it was counted and processed.)
#[test]
fn address_list_mismatch_is_dropped_unless_owner_or_relaxed() {
    let t0 = Instant::now();
    let other = [Ipv4Addr::new(192, 0, 2, 101)];
    let adv = |priority| AdvertRepr {
        addresses: Addresses::V4(&other),
        ..advert(priority, 100)
    };
    let now = t0 + secs(2);
    let mut r = started(cfg4(100, 1, 100), t0);
    assert_eq!(
        r.handle_advert(now, v4(2), &adv(200)),
        Err(DropReason::AddressListMismatch)
    );
    assert_eq!(r.counters().address_list_errors, 1);
    assert_eq!(r.counters().address_list_drops, 1);
    assert_eq!(r.counters().rcvd_advertisements, 0);
    // Dropped: the Master_Down_Timer still runs from startup.
    assert_eq!(r.poll_timeout(), Some(t0 + us(3_609_375)));
    assert_eq!(r.active_router(), None);
    // The owner's advert (priority 255) is processed whatever its list.
    assert_eq!(r.handle_advert(now, v4(2), &adv(255)), Ok(()));
    assert_eq!(r.counters().address_list_errors, 2);
    assert_eq!(r.counters().address_list_drops, 1);
    assert_eq!(r.poll_timeout(), Some(now + us(3_609_375)));
    // Relaxed by the operator: counted, processed.
    let mut cfg = cfg4(100, 1, 100);
    cfg.address_list_check = AddressListCheck::Off;
    let mut r = started(cfg, t0);
    assert_eq!(r.handle_advert(now, v4(2), &adv(200)), Ok(()));
    assert_eq!(r.counters().address_list_errors, 1);
    assert_eq!(r.counters().address_list_drops, 0);
    assert_eq!(
        r.active_router().map(|a| (a.address, a.priority)),
        Some((v4(2), 200))
    );
    // keepalived's vrrp_skip_check_adv_addr: a new sender is checked, the
    // Active router already followed is not (a rolling list change).
    let mut cfg = cfg4(100, 1, 100);
    cfg.address_list_check = AddressListCheck::SkipKnownActive;
    let mut r = started(cfg, t0);
    assert_eq!(
        r.handle_advert(now, v4(2), &adv(200)),
        Err(DropReason::AddressListMismatch)
    );
    assert_eq!(r.handle_advert(now, v4(2), &advert(200, 100)), Ok(()));
    assert_eq!(r.handle_advert(now + secs(1), v4(2), &adv(200)), Ok(()));
    assert_eq!(
        r.handle_advert(now + secs(1), v4(3), &adv(210)),
        Err(DropReason::AddressListMismatch)
    );
    assert_eq!(r.counters().address_list_drops, 2);
    // Order does not matter.
    let mut cfg = cfg4(100, 1, 100);
    cfg.addresses = vec![v4(100), v4(101)];
    let mut r = started(cfg, t0);
    let two = [Ipv4Addr::new(192, 0, 2, 101), Ipv4Addr::new(192, 0, 2, 100)];
    let adv = AdvertRepr {
        addresses: Addresses::V4(&two),
        ..advert(200, 100)
    };
    assert_eq!(r.handle_advert(now, v4(2), &adv), Ok(()));
    assert_eq!(r.counters().address_list_errors, 0);
}

/// Backup: priority 0 sets Master_Down_Timer to Skew_Time.
#[test]
fn backup_priority_zero_waits_skew_time() {
    let t0 = Instant::now();
    let mut r = started(cfg4(100, 1, 100), t0);
    let now = t0 + secs(2);
    r.handle_advert(now, v4(2), &advert(0, 100)).unwrap();
    assert_eq!(r.poll_timeout(), Some(now + us(609_375)));
    // Skew_Time uses Master_Adver_Interval, learned at 10 ms here.
    let mut r = started(cfg4(100, 1, 100), t0);
    r.handle_advert(now, v4(2), &advert(200, 1)).unwrap();
    assert_eq!(r.master_adver_interval_cs(), 1);
    assert_eq!(r.poll_timeout(), Some(now + us(36_093)));
    r.handle_advert(now + ms(5), v4(2), &advert(0, 1)).unwrap();
    assert_eq!(r.poll_timeout(), Some(now + ms(5) + us(6_093)));
    r.handle_timeout(now + ms(5) + us(6_093));
    assert_eq!(
        r.last_transition().map(|t| (t.to, t.reason)),
        Some((State::Active, Reason::PriorityZeroReceived))
    );
}

#[test]
fn advert_repr_for_the_shell() {
    let mut cfg = cfg4(100, 1, 100);
    cfg.version = Version::V2;
    cfg.auth = Auth::SimpleText(*b"pw\0\0\0\0\0\0");
    let r = VirtualRouter::new(cfg);
    let adv = r.advert(100, 100);
    assert_eq!(adv.vrid, VRID);
    assert_eq!(adv.version, Version::V2);
    assert_eq!(adv.auth, Auth::SimpleText(*b"pw\0\0\0\0\0\0"));
    assert_eq!(adv.addresses.family(), Family::Ipv4);
    assert_eq!(adv.addresses.iter().collect::<Vec<_>>(), vec![v4(100)]);
    let r6 = VirtualRouter::new(cfg6(100, 1, 100));
    assert_eq!(
        r6.advert(0, 100).addresses.iter().collect::<Vec<_>>(),
        vec![v6(0x100)]
    );
    assert_eq!(r6.advert(0, 100).auth, Auth::None);
}

#[test]
fn odd_config_values_do_not_panic() {
    let t0 = Instant::now();
    let mut cfg = cfg4(0, 1, 0);
    cfg.announce.refresh = Some(Duration::ZERO);
    cfg.announce.repeat = 0;
    let mut r = VirtualRouter::new(cfg);
    r.startup(t0);
    // Priority read as 1, interval as 1 cs: 30 ms + 255/256 cs.
    assert_eq!(r.poll_timeout(), Some(t0 + us(39_960)));
    let actions = run(&mut r, t0, t0 + secs(1));
    assert!(actions.iter().any(|a| a.1 == Action::Announce));
    assert_eq!(r.state(), State::Active);
}

#[test]
fn huge_configured_durations_do_not_panic() {
    let t0 = Instant::now();
    let mut cfg = cfg4(150, 1, 100);
    cfg.preempt_delay = Duration::MAX;
    cfg.announce.delay = Duration::MAX;
    cfg.announce.refresh = Some(Duration::MAX);
    cfg.announce.interval = Duration::MAX;
    cfg.announce.repeat = 3;
    let mut r = started(cfg, t0);
    r.handle_advert(t0 + secs(1), v4(2), &advert(100, 100))
        .unwrap();
    run(&mut r, t0, t0 + secs(10));
    assert_eq!(r.state(), State::Active);
}

#[test]
fn new_master_reason_follows_rfc_6527() {
    assert_eq!(Reason::OwnerStartup.new_master_reason(), "priority");
    assert_eq!(Reason::Preempted.new_master_reason(), "preempted");
    assert_eq!(
        Reason::MasterDownTimerExpired.new_master_reason(),
        "masterNoResponse"
    );
    assert_eq!(Reason::Shutdown.new_master_reason(), "notMaster");
}

/// A late wake-up does not stretch the advert interval: the next advert is
/// due one interval after the previous one was due.
#[test]
fn late_timer_wakeups_do_not_drift_the_advert_interval() {
    let t0 = Instant::now();
    let mut r = started(cfg4(255, 1, 1), t0);
    drain(&mut r);
    // Owner: Active at once; adverts every 10 ms from t0.
    let mut due = r.poll_timeout().expect("advert timer");
    assert_eq!(due, t0 + ms(10));
    for _ in 0..100 {
        // Woken 300 us late every time.
        r.handle_timeout(due + us(300));
        drain(&mut r);
        let next = r.poll_timeout().expect("advert timer");
        assert_eq!(next, due + ms(10), "the schedule drifted");
        due = next;
    }
    assert_eq!(due, t0 + ms(1010));
}

fn is_advert(a: &Action) -> bool {
    matches!(a, Action::SendAdvert { .. })
}

/// The Adver_Timer may be served up to 1/8 of the interval early, never
/// late; served early, the interval restarts from that moment.
#[test]
fn the_adver_timer_may_be_served_early_within_its_window() {
    assert_eq!(ha_vip::core::ADVER_EARLY_DIVISOR, 8);
    let t0 = Instant::now();
    let mut r = started(cfg4(255, 1, 1), t0);
    drain(&mut r);
    assert_eq!(r.poll_timeout(), Some(t0 + ms(10)));
    // 10 ms / 8 = 1.25 ms early at most.
    assert_eq!(r.poll_timeout_early(), Some(t0 + us(8_750)));
    // Before the window: nothing, and the timer is untouched.
    r.handle_timeout(t0 + us(8_749));
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), Some(t0 + ms(10)));
    // In the window: the advert goes now and the next is an interval on.
    r.handle_timeout(t0 + us(9_000));
    assert_eq!(drain(&mut r).iter().filter(|a| is_advert(a)).count(), 1);
    assert_eq!(r.poll_timeout(), Some(t0 + us(19_000)));
    assert_eq!(r.poll_timeout_early(), Some(t0 + us(17_750)));
}

/// A Backup's Master_Down_Timer has no early window: it must never fire
/// before Master_Down_Interval.
#[test]
fn the_master_down_timer_is_never_served_early() {
    let t0 = Instant::now();
    let mut r = started(cfg4(100, 1, 1), t0);
    assert_eq!(r.state(), State::Backup);
    let due = t0 + us(36_093);
    assert_eq!(r.poll_timeout(), Some(due));
    assert_eq!(r.poll_timeout_early(), Some(due));
    r.handle_timeout(due - us(1));
    assert_eq!(r.state(), State::Backup);
    r.handle_timeout(due);
    assert_eq!(r.state(), State::Active);
}

// The sweep that serves every Active router whose window is open is the
// endpoint's: tests/core_endpoint.rs
// (one_wake_up_serves_every_active_router_whose_window_is_open).

/// RFC 9568 7.1: the address owner discards adverts below 255, priority 0
/// included, and does not answer them (before: processed, answered with an
/// advert and an ARP burst).
#[test]
fn owner_discards_adverts_below_255() {
    let t0 = Instant::now();
    let mut r = started(cfg4(255, 1, 100), t0);
    assert_eq!(r.state(), State::Active);
    let now = t0 + ms(9_200);
    run(&mut r, t0, now);
    for p in [254, 100, 1, 0] {
        assert_eq!(
            r.handle_advert(now, v4(2), &advert(p, 100)),
            Err(DropReason::AddressOwner)
        );
    }
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.counters().owner_discards, 4);
    assert_eq!(r.counters().rcvd_advertisements, 0);
    assert_eq!(r.poll_timeout(), Some(t0 + secs(10)));
    // Another owner: processed (the tie-break decides).
    assert_eq!(r.handle_advert(now, v4(2), &advert(255, 100)), Ok(()));
    assert_eq!(r.state(), State::Backup);
}

/// Address-list change while Active: the removed address goes, the new one
/// comes, the new list is advertised at once and announced.
#[test]
fn reconfigure_address_list_while_active() {
    let t0 = Instant::now();
    let mut cfg = cfg4(255, 1, 100);
    cfg.addresses = vec![v4(100), v4(101)];
    let mut r = started(cfg.clone(), t0);
    let now = t0 + ms(9_200);
    run(&mut r, t0, now);
    cfg.addresses = vec![v4(100), v4(102)];
    r.reconfigure(now, cfg.clone()).unwrap();
    let mut expected = vec![
        Action::RemoveAddress(v4(101)),
        Action::AddAddress(v4(102)),
        Action::SendAdvert {
            priority: 255,
            max_advert_interval_cs: 100,
        },
    ];
    expected.extend([Action::Announce; 5]);
    assert_eq!(drain(&mut r), expected);
    let listed: Vec<IpAddr> = r.advert_addresses().iter().collect();
    assert_eq!(listed, vec![v4(100), v4(102)]);
    assert_eq!(r.poll_timeout(), Some(now + secs(1)));
    // A Backup holds nothing: only the list changes.
    let mut cfg = cfg4(100, 1, 100);
    let mut r = started(cfg.clone(), t0);
    cfg.addresses = vec![v4(102)];
    r.reconfigure(t0 + secs(1), cfg).unwrap();
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.config().addresses, vec![v4(102)]);
}

/// What cannot change in place is refused, and nothing changes.
#[test]
fn reconfigure_refuses_vrid_family_and_version() {
    use ha_vip::core::ReconfigureError;
    let t0 = Instant::now();
    let cfg = cfg4(100, 1, 100);
    let mut r = started(cfg.clone(), t0);
    let mut other = cfg.clone();
    other.vrid = 52;
    assert_eq!(
        r.reconfigure(t0, other),
        Err(ReconfigureError::Vrid { from: 51, to: 52 })
    );
    let mut other = cfg6(100, 1, 100);
    other.priority = 200;
    assert!(matches!(
        r.reconfigure(t0, other),
        Err(ReconfigureError::Family { .. })
    ));
    let mut other = cfg.clone();
    other.version = Version::V2;
    assert!(matches!(
        r.reconfigure(t0, other),
        Err(ReconfigureError::Version { .. })
    ));
    assert_eq!(r.config(), &cfg);
    assert_eq!(drain(&mut r), vec![]);
}

/// A shorter interval while Active: the next advert is due one new interval
/// from now if that is sooner; it carries the new interval.
#[test]
fn reconfigure_advert_interval_while_active() {
    let t0 = Instant::now();
    let mut cfg = cfg4(255, 1, 100);
    let mut r = started(cfg.clone(), t0);
    let now = t0 + ms(200);
    run(&mut r, t0, now);
    cfg.advert_interval_cs = 10;
    r.reconfigure(now, cfg).unwrap();
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.poll_timeout(), Some(now + ms(100)));
    r.handle_timeout(now + ms(100));
    assert_eq!(
        drain(&mut r),
        vec![Action::SendAdvert {
            priority: 255,
            max_advert_interval_cs: 10
        }]
    );
}

/// Self-fencing: an Active router whose advert could not go out for a whole
/// Master_Down_Interval (a frozen process or VM) gives its addresses up at
/// once and listens as a Backup, instead of asserting a VIP a Backup has
/// taken over meanwhile; served late by less than that, it just advertises.
/// The address owner keeps its own address.
#[test]
fn an_active_router_stalled_past_master_down_interval_gives_its_addresses_up() {
    let t0 = Instant::now();
    let mut cfg = cfg4(200, 1, 100);
    cfg.make_before_break = true;
    // No second announce burst: every deadline below is the Adver_Timer.
    cfg.announce.delay = Duration::ZERO;
    let mut r = VirtualRouter::new(cfg);
    r.startup(t0);
    let down = r.poll_timeout().expect("Master_Down_Timer");
    r.handle_timeout(down);
    assert_eq!(r.state(), State::Active);
    drain(&mut r);
    let due = r.poll_timeout().expect("Adver_Timer");
    // Late by a little less than Master_Down_Interval (3.2 s here, above
    // the 1 s floor): an advert, Active.
    let mdi = r.master_down_interval();
    assert!(mdi > ha_vip::core::router::FENCE_MIN_STALL);
    r.handle_timeout(due + mdi - us(1));
    assert_eq!(r.state(), State::Active);
    assert!(
        drain(&mut r)
            .iter()
            .any(|a| matches!(a, Action::SendAdvert { .. }))
    );
    // Late by a whole Master_Down_Interval: fenced, no advert, addresses
    // removed at once (no make-before-break hold).
    let due = r.poll_timeout().expect("Adver_Timer");
    let woke = due + r.master_down_interval();
    r.handle_timeout(woke);
    assert_eq!(r.state(), State::Backup);
    let actions = drain(&mut r);
    assert_eq!(
        actions,
        vec![
            Action::StateChanged {
                from: State::Active,
                to: State::Backup,
                reason: Reason::Stalled
            },
            Action::RemoveAddresses
        ]
    );
    assert_eq!(r.poll_timeout(), Some(woke + r.master_down_interval()));
    // At 10 ms adverts Master_Down_Interval is 36 ms, but a stall of the
    // daemon's own making can be that long: the floor is 1 s.
    let mut fast = cfg4(200, 1, 1);
    fast.announce.delay = Duration::ZERO;
    let mut f = VirtualRouter::new(fast);
    f.startup(t0);
    let down = f.poll_timeout().expect("Master_Down_Timer");
    f.handle_timeout(down);
    drain(&mut f);
    let due = f.poll_timeout().expect("Adver_Timer");
    f.handle_timeout(due + ms(500));
    assert_eq!(f.state(), State::Active, "fenced below the floor");
    drain(&mut f);
    let due = f.poll_timeout().expect("Adver_Timer");
    f.handle_timeout(due + secs(1));
    assert_eq!(f.state(), State::Backup, "not fenced at the floor");
    // The owner is not fenced: its VIP is its own address.
    let mut owner = started(cfg4(255, 1, 100), t0);
    let due = owner.poll_timeout().expect("Adver_Timer");
    owner.handle_timeout(due + secs(10));
    assert_eq!(owner.state(), State::Active);
}

/// Two routers Active at once for a moment (a lower-priority Backup whose
/// timer ran out just before ours, or a partition healing): the winner
/// announces again one Advertisement_Interval later, after the loser's own
/// announcements (sent after its addresses were added) have reached the
/// hosts, so they end on the winner's MAC. Seen in rolling API-server
/// restarts: a client left on the loser's MAC for seconds.
#[test]
fn the_winner_announces_again_after_a_lower_router_was_active_beside_it() {
    let t0 = Instant::now();
    // A Backup (150, 1 s) waiting to preempt a lower Active router (100).
    let mut cfg = cfg4(150, 1, 100);
    cfg.announce.delay = Duration::ZERO;
    let mut r = VirtualRouter::new(cfg);
    r.startup(t0);
    drain(&mut r);
    r.handle_advert(t0 + ms(100), v4(2), &advert(100, 100))
        .unwrap();
    let down = r.poll_timeout().expect("Master_Down_Timer");
    r.handle_timeout(down);
    assert_eq!(r.state(), State::Active);
    let first = drain(&mut r)
        .iter()
        .filter(|a| **a == Action::Announce)
        .count();
    assert_eq!(first, 5);
    // The catch-up burst, one interval after taking over.
    let catch_up = run(&mut r, t0, down + secs(1));
    let at: Vec<Duration> = catch_up
        .iter()
        .filter(|a| a.1 == Action::Announce)
        .map(|a| a.0)
        .collect();
    assert_eq!(at, vec![down + secs(1) - t0; 5]);
    // A takeover with no other Active router heard has no catch-up.
    let mut cfg = cfg4(150, 1, 100);
    cfg.announce.delay = Duration::ZERO;
    let mut q = VirtualRouter::new(cfg);
    q.startup(t0);
    let down = q.poll_timeout().expect("Master_Down_Timer");
    q.handle_timeout(down);
    drain(&mut q);
    let quiet = run(&mut q, t0, down + secs(2));
    assert!(quiet.iter().all(|a| a.1 != Action::Announce), "{quiet:?}");
}

/// A flood of lower-priority adverts (answered at most once per interval)
/// gets at most one catch-up burst per `lower_prio_delay` (5 s): the
/// catch-up must not double the announcements a flood can draw out.
#[test]
fn a_flood_of_lower_priority_adverts_draws_at_most_one_catch_up_per_delay() {
    let t0 = Instant::now();
    let mut r = started(cfg4(150, 1, 100), t0);
    run(&mut r, t0, t0 + secs(9));
    let mut announces = 0;
    // One lower-priority advert every 10 ms for 10 s: 1,000 adverts,
    // answered once per 1 s interval.
    for k in 0..1000u64 {
        let now = t0 + secs(9) + ms(10 * k);
        announces += run(&mut r, t0, now)
            .iter()
            .filter(|a| a.1 == Action::Announce)
            .count();
        r.handle_advert(now, v4(2), &advert(100, 100)).unwrap();
        announces += drain(&mut r)
            .iter()
            .filter(|a| **a == Action::Announce)
            .count();
    }
    // 10 answers x 5, two catch-ups (at most one per 5 s) x 5, and the
    // lower-priority second burst at most once in the window x 5.
    assert!(announces <= 10 * 5 + 2 * 5 + 5, "{announces} announcements");
    assert!(announces >= 10 * 5, "{announces} announcements");
}
