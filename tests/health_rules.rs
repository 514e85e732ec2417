//! The API-server check's rules in virtual time, at its defaults: the pure
//! debouncer (with damping) and the probe schedule (`next_probe_at`) driven
//! by a model of the API server, event by event at exact instants. A real
//! socket never decides anything here (tests/health_k8s.rs does that).
//!
//! What a model server does at each instant: answers `/readyz` (200, 500,
//! `[-]shutdown`) after some delay, never finishes TLS (frozen), or has its
//! port closed (crashed). A probe ends at the answer or at its stage bound,
//! whichever is first, as the transport's per-stage timeouts make it.

use std::time::{Duration, Instant};

use ha_vip::health::{CheckSpec, Debouncer, K8sParams, next_probe_at};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// What the API server does at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// 200 at once.
    Ready,
    /// 500 `[-]etcd failed` after this long (2.0 s when etcd is gone).
    NotReady(Duration),
    /// 500 `[-]shutdown failed`, at once.
    ShuttingDown,
    /// SIGSTOP: the kernel accepts TCP, TLS never finishes.
    Frozen,
    /// The port is closed: connects are refused.
    Crashed,
}

/// One probe's result: (healthy, definite, when it ends).
fn probe(spec: &CheckSpec, server: Server, start: Duration) -> (bool, bool, Duration) {
    match server {
        Server::Ready => (true, false, start + ms(1)),
        Server::NotReady(after) => (false, false, start + after.min(spec.stages.response)),
        Server::ShuttingDown => (false, true, start + ms(1)),
        Server::Frozen => (false, false, start + spec.stages.tls),
        Server::Crashed => (false, true, start),
    }
}

/// Runs the check against `world` from 0 to `until`; returns every change
/// of the reported state (the first report included) with its instant.
fn simulate(
    spec: &CheckSpec,
    world: impl Fn(Duration) -> Server,
    until: Duration,
) -> Vec<(Duration, bool)> {
    let t0 = Instant::now();
    let at = |d: Duration| t0 + d;
    let back = |i: Instant| i.duration_since(t0);
    let mut d: Debouncer = spec.debouncer();
    let mut changes = Vec::new();
    let mut next_probe = Duration::ZERO;
    let mut in_flight: Option<(Duration, (bool, bool, Duration))> = None;
    let mut next_connect = spec.connect_interval.map(|_| Duration::ZERO);
    loop {
        // The earliest next event: a debouncer deadline, a probe's end or
        // start, a connect probe.
        let probe_event = match in_flight {
            Some((_, (_, _, end))) => end,
            None => next_probe,
        };
        let mut now = probe_event;
        if let Some(c) = next_connect {
            now = now.min(c);
        }
        if let Some(due) = d.poll_timeout().map(back) {
            now = now.min(due);
        }
        if now > until {
            return changes;
        }
        if let Some(h) = d.handle_timeout(at(now)) {
            changes.push((now, h));
        }
        if next_connect == Some(now) {
            if world(now) == Server::Crashed
                && let Some(h) = d.observe(at(now), false, true)
            {
                changes.push((now, h));
            }
            next_connect = spec.connect_interval.map(|i| now + i);
            continue;
        }
        if probe_event != now {
            continue;
        }
        match in_flight.take() {
            None => in_flight = Some((now, probe(spec, world(now), now))),
            Some((started, (healthy, definite, end))) => {
                if let Some(h) = d.observe(at(end), healthy, definite) {
                    changes.push((end, h));
                }
                next_probe = back(next_probe_at(spec, at(started), at(end), &d));
            }
        }
    }
}

fn k8s() -> CheckSpec {
    CheckSpec::k8s(K8sParams::default())
}

/// Moves of the VIP: changes after the first report.
fn moves(changes: &[(Duration, bool)]) -> usize {
    changes.len().saturating_sub(1)
}

/// For every phase of the event against the probe schedule (0..1 s in
/// 50 ms steps), how long from the event to the check failing.
fn worst_detection(spec: &CheckSpec, fault: Server) -> Duration {
    let mut worst = Duration::ZERO;
    for phase in 0..20u64 {
        let event = s(10) + ms(50 * phase);
        let changes = simulate(
            spec,
            |t| if t >= event { fault } else { Server::Ready },
            s(30),
        );
        let failed = changes
            .iter()
            .find(|(t, h)| !h && *t >= event)
            .map(|(t, _)| *t - event)
            .unwrap_or_else(|| panic!("{fault:?} at {event:?} never failed: {changes:?}"));
        worst = worst.max(failed);
    }
    worst
}

#[test]
fn defaults_are_the_documented_ones() {
    let spec = k8s();
    assert_eq!(spec.interval, s(1));
    assert_eq!(spec.timeout, s(2));
    assert_eq!(
        (spec.stages.connect, spec.stages.tls, spec.stages.response),
        (ms(500), ms(500), ms(800))
    );
    assert_eq!(spec.connect_interval, Some(ms(100)));
    assert_eq!(spec.confirm_after, Some(ms(200)));
    assert_eq!((spec.rise, spec.fall), (1, 2));
    assert_eq!(spec.stability, s(5));
    assert_eq!(spec.fail_stability, Some(Duration::ZERO));
}

#[test]
fn a_crash_fails_at_the_next_connect_probe() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if t >= ms(10_050) {
                Server::Crashed
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    assert_eq!(changes, vec![(ms(1), true), (ms(10_100), false)]);
    assert!(worst_detection(&spec, Server::Crashed) <= ms(100));
}

#[test]
fn a_shutdown_fails_at_the_first_probe_that_sees_it() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if t >= ms(10_050) {
                Server::ShuttingDown
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    // Probes start at whole seconds: the one at 11 s sees it.
    assert_eq!(changes, vec![(ms(1), true), (ms(11_001), false)]);
}

#[test]
fn a_slow_500_is_confirmed_and_fails_within_3s() {
    let spec = k8s();
    let etcd_gone = Server::NotReady(ms(2000));
    let changes = simulate(
        &spec,
        |t| {
            if t >= ms(10_050) {
                etcd_gone
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    // Probe at 11 s times out at 11.8 s, the confirmation at 12.0 s
    // times out at 12.8 s: failed then, without the 5 s buffer.
    assert_eq!(changes, vec![(ms(1), true), (ms(12_800), false)]);
    let worst = worst_detection(&spec, etcd_gone);
    assert!(worst <= s(3), "worst {worst:?}");
}

#[test]
fn a_fast_500_is_confirmed_too() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if t >= ms(10_050) {
                Server::NotReady(ms(5))
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    assert_eq!(changes, vec![(ms(1), true), (ms(11_210), false)]);
}

#[test]
fn a_freeze_fails_within_3s() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if t >= ms(10_050) {
                Server::Frozen
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    assert_eq!(changes, vec![(ms(1), true), (ms(12_200), false)]);
    let worst = worst_detection(&spec, Server::Frozen);
    assert!(worst <= s(3), "worst {worst:?}");
}

#[test]
fn a_single_failed_probe_moves_nothing() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if (ms(10_050)..ms(11_100)).contains(&t) {
                Server::NotReady(ms(5))
            } else {
                Server::Ready
            }
        },
        s(20),
    );
    assert_eq!(changes, vec![(ms(1), true)]);
}

#[test]
fn recovery_waits_for_the_stability_buffer() {
    let spec = k8s();
    let changes = simulate(
        &spec,
        |t| {
            if (s(10)..s(20)).contains(&t) {
                Server::Crashed
            } else {
                Server::Ready
            }
        },
        s(40),
    );
    // Back at 20 s: the probe at 20 s is the first healthy one, and
    // the 5 s buffer runs from there.
    assert_eq!(
        changes,
        vec![(ms(1), true), (s(10), false), (ms(25_001), true)]
    );
}

#[test]
fn readyz_flapping_every_second_for_a_minute_moves_the_vip_at_most_twice() {
    let spec = k8s();
    // Fails in odd seconds, passes in even ones, for a minute from 10 s.
    let world = |t: Duration| {
        let sec = t.as_secs();
        if (10..70).contains(&sec) && sec % 2 == 1 {
            Server::NotReady(ms(5))
        } else {
            Server::Ready
        }
    };
    let changes = simulate(&spec, world, s(70));
    assert!(moves(&changes) <= 2, "{changes:?}");
    // Exactly: fails once (the probe at 11 s, confirmed at 11.2 s) and
    // never gets 5 s of passing probes in a row while the flapping lasts.
    assert_eq!(changes, vec![(ms(1), true), (ms(11_210), false)]);
    // Once it stops, it recovers after the hold-down of one flap (5 s):
    // the confirmation shifted the probes to x.205 s, so the first passing
    // probe of the quiet time is at 70.205 s.
    let after = simulate(&spec, world, s(90));
    assert_eq!(after.last(), Some(&(ms(75_206), true)));
}

#[test]
fn slower_flapping_is_damped_by_a_growing_hold_down() {
    let spec = k8s();
    // 2 s failing, 6 s passing, for two minutes from 10 s.
    let world = |t: Duration| {
        let sec = t.as_secs();
        if (10..130).contains(&sec) && (sec - 10) % 8 < 2 {
            Server::NotReady(ms(5))
        } else {
            Server::Ready
        }
    };
    let changes = simulate(&spec, world, s(130));
    // Fails at 10.21 s (probe at 10 s, confirmed at 10.205 s); the probes
    // now run at x.205 s; the first passing one is at 12.205 s, and 5 s of
    // passes (flap 1's hold-down) end at 17.206 s: back. Fails at 18.415 s
    // (flap 2: hold-down 10 s), and no 6 s pass reaches 10 s again: 3 moves
    // in two minutes, none after 18.4 s.
    assert_eq!(
        changes,
        vec![
            (ms(1), true),
            (ms(10_210), false),
            (ms(17_206), true),
            (ms(18_415), false)
        ]
    );
    // Its last failing run is 122..124 s: 10 s of passes after it (the
    // hold-down of flap 2), it is back, and nothing moved in between.
    let after = simulate(&spec, world, s(200));
    assert_eq!(after.len(), 5, "{after:?}");
    let (back_at, healthy) = after[4];
    assert!(healthy);
    assert!((s(134)..s(135)).contains(&back_at), "{after:?}");
}

#[test]
fn flaps_are_forgotten_after_a_quiet_minute() {
    let spec = k8s();
    // Two crashes 3 min apart, each 2 s long: the second recovers after
    // the base 5 s again, not 10 s.
    let world = |t: Duration| {
        if (s(10)..s(12)).contains(&t) || (s(190)..s(192)).contains(&t) {
            Server::Crashed
        } else {
            Server::Ready
        }
    };
    let changes = simulate(&spec, world, s(230));
    assert_eq!(
        changes,
        vec![
            (ms(1), true),
            (s(10), false),
            (ms(17_001), true),
            (s(190), false),
            (ms(197_001), true)
        ]
    );
    // And two crashes 20 s apart: the second's hold-down is doubled.
    let world = |t: Duration| {
        if (s(10)..s(12)).contains(&t) || (s(30)..s(32)).contains(&t) {
            Server::Crashed
        } else {
            Server::Ready
        }
    };
    let changes = simulate(&spec, world, s(60));
    assert_eq!(changes.last(), Some(&(ms(42_001), true)));
}
