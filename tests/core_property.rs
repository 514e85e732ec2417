//! Property tests on the simulated LAN: whatever the priorities, link
//! delays (up to a tenth of the interval), start times and crashes, once
//! things settle exactly one router is Active: the one with the highest
//! effective priority.
//!
//! Equal priorities need care: RFC 9568 6.4.2 makes a Backup accept an
//! Active router of equal priority whatever its address, so the address
//! tie-break only decides between routers that are Active at the same time.
//! The first property therefore draws distinct effective priorities; the
//! second draws ties on purpose and starts everyone together, where the
//! RFC promises the larger address wins.
//!
//! A router whose own tracked check fails does not preempt
//! (docs/protocol.md, "All unhealthy"), so the first property lowers the
//! priorities by reconfiguration, and a third one checks the health rule:
//! with some checks failing, the Active router is the best one unless every
//! router above it is failing, and a healthy best router is always Active.

mod core_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use core_common::*;
use ha_vip::core::State;
use ha_vip::core::sim::{Link, Sim};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Plan {
    /// Effective priority of each router once its tracked object failed.
    effective: u8,
    /// Weight of the tracked object (base = effective + weight).
    weight: u8,
    /// When the tracked object fails, in tenths of an interval.
    fail_at: u32,
    start_at: u32,
    crash_at: Option<u32>,
    restart_after: Option<u32>,
    /// Third property only: whether the tracked check fails at all.
    fails: bool,
}

fn plan(effective: u8) -> impl Strategy<Value = Plan> {
    (
        0..=(254 - effective).min(40),
        0u32..200,
        0u32..100,
        prop::option::of(0u32..300),
        prop::option::of(1u32..300),
        any::<bool>(),
    )
        .prop_map(
            move |(weight, fail_at, start_at, crash_at, restart_after, fails)| Plan {
                effective,
                weight,
                fail_at,
                start_at,
                crash_at,
                restart_after,
                fails,
            },
        )
}

fn plans() -> impl Strategy<Value = Vec<Plan>> {
    prop::collection::btree_set(1u8..=254, 2..=5).prop_flat_map(|set: BTreeSet<u8>| {
        let v: Vec<_> = set.into_iter().map(plan).collect();
        v.prop_shuffle()
    })
}

/// An event of the plan at `tenths` of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Start,
    Fail,
    Crash,
    Restart,
}

/// How a plan's `Fail` step lowers the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lower {
    /// `VirtualRouter::reconfigure` to the effective priority: no check is
    /// failing, so the health rule plays no part.
    Reconfigure,
    /// A failing tracked check (only where `Plan::fails`).
    TrackedCheck,
}

fn lower(sim: &mut Sim, i: usize, p: &Plan, interval_cs: u16, how: Lower) {
    match how {
        Lower::Reconfigure => {
            let now = sim.now();
            let cfg = cfg4(p.effective, i as u8 + 1, interval_cs);
            if let Err(e) = sim.router_mut(i).reconfigure(now, cfg) {
                panic!("reconfigure: {e}");
            }
        }
        Lower::TrackedCheck => {
            if p.fails {
                sim.set_tracked(i, "check", -i32::from(p.weight), true);
            }
        }
    }
}

fn run_plan(plans: &[Plan], interval_cs: u16, delays_us: &[u64], seed: u64, how: Lower) -> Sim {
    let mut sim = Sim::new(seed, Instant::now());
    let n = plans.len();
    for (i, p) in plans.iter().enumerate() {
        let base = p.effective + p.weight;
        let idx = sim.add_router(cfg4(base, i as u8 + 1, interval_cs));
        assert_eq!(idx, i);
    }
    for from in 0..n {
        for to in 0..n {
            let d = delays_us[(from * n + to) % delays_us.len()];
            sim.set_link(
                from,
                to,
                Link {
                    delay: us(d),
                    loss: 0.0,
                },
            );
        }
    }
    let tenth = Duration::from_millis(u64::from(interval_cs)); // interval / 10
    let mut steps: Vec<(u32, Step, usize)> = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        steps.push((p.start_at, Step::Start, i));
        steps.push((p.start_at + p.fail_at, Step::Fail, i));
        if let Some(c) = p.crash_at {
            steps.push((p.start_at + c, Step::Crash, i));
            if let Some(r) = p.restart_after {
                steps.push((p.start_at + c + r, Step::Restart, i));
            }
        }
    }
    steps.sort();
    for (at, step, i) in steps {
        sim.run_until(sim.at(tenth * at));
        let p = &plans[i];
        match step {
            Step::Start => sim.start(i),
            Step::Fail => lower(&mut sim, i, p, interval_cs, how),
            Step::Crash => sim.crash(i),
            Step::Restart => {
                sim.restart(i);
                // The restarted process has its lowered priority again.
                if at >= p.start_at + p.fail_at {
                    lower(&mut sim, i, p, interval_cs, how);
                }
            }
        }
    }
    // Settle: Master_Down_Interval is under 4 intervals; allow 10.
    sim.run_for(tenth * 100);
    sim
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn exactly_one_active_with_the_highest_effective_priority(
        plans in plans(),
        interval_cs in prop::sample::select(vec![1u16, 10, 100, 300]),
        delay_tenths in prop::collection::vec(0u64..=1000, 25),
        seed in any::<u64>(),
    ) {
        // Delays up to a tenth of the interval, in microseconds.
        let max_delay_us = u64::from(interval_cs) * 10_000 / 10;
        let delays: Vec<u64> = delay_tenths.iter().map(|d| d * max_delay_us / 1000).collect();
        let sim = run_plan(&plans, interval_cs, &delays, seed, Lower::Reconfigure);

        let alive: Vec<usize> = (0..plans.len()).filter(|&i| sim.is_alive(i)).collect();
        let active = sim.active_routers();
        if alive.is_empty() {
            prop_assert!(active.is_empty());
        } else {
            let best = *alive.iter().max_by_key(|&&i| plans[i].effective).unwrap();
            prop_assert_eq!(active, vec![best]);
            for &i in &alive {
                prop_assert_eq!(sim.router(i).effective_priority(), plans[i].effective);
                if i != best {
                    prop_assert_eq!(sim.router(i).state(), State::Backup);
                    let heard = sim.router(i).active_router().map(|a| a.address);
                    prop_assert_eq!(heard, Some(v4(best as u8 + 1)));
                }
            }
        }
    }

    #[test]
    fn a_failing_router_does_not_preempt_but_a_healthy_best_one_wins(
        plans in plans(),
        interval_cs in prop::sample::select(vec![1u16, 10, 100, 300]),
        delay_tenths in prop::collection::vec(0u64..=1000, 25),
        seed in any::<u64>(),
    ) {
        let max_delay_us = u64::from(interval_cs) * 10_000 / 10;
        let delays: Vec<u64> = delay_tenths.iter().map(|d| d * max_delay_us / 1000).collect();
        let sim = run_plan(&plans, interval_cs, &delays, seed, Lower::TrackedCheck);

        let alive: Vec<usize> = (0..plans.len()).filter(|&i| sim.is_alive(i)).collect();
        let active = sim.active_routers();
        if alive.is_empty() {
            prop_assert!(active.is_empty());
        } else {
            prop_assert_eq!(active.len(), 1);
            let holder = active[0];
            let prio = |i: usize| sim.router(i).effective_priority();
            let failing = |i: usize| sim.router(i).any_tracked_failing();
            for &i in &alive {
                // Nobody above the holder that could have preempted it.
                if prio(i) > prio(holder) {
                    prop_assert!(failing(i), "router {} above the holder {} is healthy", i, holder);
                }
                if i != holder {
                    prop_assert_eq!(sim.router(i).state(), State::Backup);
                    let heard = sim.router(i).active_router().map(|a| a.address);
                    prop_assert_eq!(heard, Some(v4(holder as u8 + 1)));
                }
            }
            // A healthy router with the highest priority holds it, or one
            // of the same priority does: an equal priority never preempts
            // (RFC 9568 6.4.2), so a tie stays with whoever was Active.
            let best = *alive.iter().max_by_key(|&&i| prio(i)).unwrap();
            if !failing(best) {
                prop_assert_eq!(prio(holder), prio(best));
            }
        }
    }

    #[test]
    fn ties_started_together_go_to_the_larger_address(
        priorities in prop::collection::vec(prop::sample::select(vec![100u8, 150, 200]), 2..=6),
        interval_cs in prop::sample::select(vec![1u16, 100]),
        delay_tenths in prop::collection::vec(0u64..=1000, 36),
        seed in any::<u64>(),
    ) {
        let n = priorities.len();
        let max_delay_us = u64::from(interval_cs) * 10_000 / 10;
        let mut sim = Sim::new(seed, Instant::now());
        // Addresses in a shuffled order so index and address differ.
        let addr = |i: usize| ((i * 7) % 11 + 1) as u8;
        for (i, &p) in priorities.iter().enumerate() {
            sim.add_router(cfg4(p, addr(i), interval_cs));
        }
        for from in 0..n {
            for to in 0..n {
                let d = delay_tenths[from * n + to] * max_delay_us / 1000;
                sim.set_link(from, to, Link { delay: us(d), loss: 0.0 });
            }
        }
        sim.start_all();
        sim.run_for(Duration::from_millis(u64::from(interval_cs) * 10 * 20));
        let best = (0..n).max_by_key(|&i| (priorities[i], addr(i))).unwrap();
        prop_assert_eq!(sim.active_routers(), vec![best]);
    }
}
