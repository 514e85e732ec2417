//! The invariants, checked on a recorded timeline: a pure function of the
//! samples, the fault windows and the client's probe outages, so it is
//! tested on synthetic timelines (below) as well as used on real runs.
//!
//! Times are seconds since the epoch (f64): the samples, the capture and
//! the client's `ping -D` all use the machine's clock, which is never
//! changed (the clock fault fakes CLOCK_REALTIME inside one daemon only).

use std::collections::BTreeMap;

use super::schedule::{Daemon, Kind};

/// One look at every node: bit `n` of `hold[v]` is set when node `n` holds
/// VIP `v` (0: IPv4, 1: IPv6) on an interface that is up and not in
/// protodown; `present[v]` when the address is on the node at all (also on
/// a down link); `foreign_missing` when an address the harness put there
/// (not a VIP) is gone.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    pub t: f64,
    pub hold: [u32; 2],
    pub present: [u32; 2],
    pub foreign_missing: u32,
}

impl Default for Bounds {
    fn default() -> Bounds {
        Bounds {
            none: 0.0,
            two_during: Some(0.0),
            two_after: 0.0,
            converge: 0.0,
            outage: 0.0,
            split_brain_ok: false,
            outage_during_exempt: false,
        }
    }
}

/// The bounds of one fault, in seconds; see `bounds` for where each comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Longest time with no holder.
    pub none: f64,
    /// Longest two-holder time starting while the fault lasts; `None`: the
    /// fault itself makes two holders (a partition, a frozen or killed
    /// holder whose address the kernel still answers for), allowed until
    /// it heals, then `two_after` applies.
    pub two_during: Option<f64>,
    /// Longest two-holder time after the fault healed.
    pub two_after: f64,
    /// From the heal to the sole expected holder of both VIPs.
    pub converge: f64,
    /// Longest outage the client's probe may see.
    pub outage: f64,
    /// A split-brain warning is right (two routers really were Active).
    pub split_brain_ok: bool,
    /// The client's outages while the fault lasts are the fault itself
    /// (the holder cannot hear it).
    pub outage_during_exempt: bool,
}

/// What the runner recorded about one fault.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub pos: usize,
    pub kind: Option<Kind>,
    pub node: usize,
    pub t_inject: f64,
    pub t_heal: f64,
    pub t_end: f64,
    pub expected: usize,
    pub bounds: Bounds,
    /// From when to when the node was stopped cleanly (it must hold nothing).
    pub stopped: Option<(f64, f64)>,
    /// When the node's own addresses may be missing (eth0 deleted).
    pub foreign_exempt: Option<(f64, f64)>,
    /// The holder while the fault lasts (an API server down moves the
    /// VIP), due by `t_inject` plus the second field.
    pub expected_during: Option<(usize, f64)>,
    /// Nothing may move the VIP in this window: the holder before and
    /// after is the same and the fault does not take it down (a reload, a
    /// priority change that keeps the order, a clock jump, duplicates).
    pub stay: bool,
    /// ha-vip split-brain warnings logged in the window.
    pub split_brain_logs: usize,
    /// Daemons that died without the schedule killing them.
    pub died: Vec<usize>,
    /// A status socket that disagreed with the kernel, or did not answer.
    pub status_errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub pos: usize,
    pub kind: Option<Kind>,
    pub vip: Option<usize>,
    pub what: String,
    pub from: f64,
    pub to: f64,
}

/// Worst figures of one fault kind.
#[derive(Debug, Clone, Default)]
pub struct KindStats {
    pub faults: usize,
    pub worst_none: f64,
    pub worst_two: f64,
    pub worst_converge: f64,
    pub worst_outage: f64,
    pub bound_none: f64,
    pub bound_two: f64,
    pub bound_converge: f64,
    pub bound_outage: f64,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    pub checks: usize,
    pub by_kind: BTreeMap<Kind, KindStats>,
}

/// Maximal runs of samples where `pred` holds: (first time, first time it
/// no longer held, or the last sample's time).
fn episodes(samples: &[Sample], pred: impl Fn(&Sample) -> bool) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    for s in samples {
        match (pred(s), start) {
            (true, None) => start = Some(s.t),
            (false, Some(t0)) => {
                out.push((t0, s.t));
                start = None;
            }
            _ => {}
        }
    }
    if let (Some(t0), Some(last)) = (start, samples.last()) {
        out.push((t0, last.t));
    }
    out
}

fn names(mask: u32) -> String {
    let v: Vec<String> = (0..32)
        .filter(|n| mask & (1 << n) != 0)
        .map(|n| format!("n{n}"))
        .collect();
    if v.is_empty() {
        "nobody".into()
    } else {
        v.join("+")
    }
}

const VIP_NAME: [&str; 2] = ["IPv4", "IPv6"];

/// The window an event starting at `t` belongs to.
fn window_of(windows: &[Window], t: f64) -> Option<&Window> {
    windows.iter().rev().find(|w| w.t_inject <= t)
}

/// Check every invariant; `outages[v]` are the client's probe outages for
/// VIP `v` (start, end).
pub fn check(samples: &[Sample], windows: &[Window], outages: &[Vec<(f64, f64)>; 2]) -> Verdict {
    let mut v = Verdict::default();
    let violate = |w: &Window, vip: Option<usize>, what: String, from: f64, to: f64| Violation {
        pos: w.pos,
        kind: w.kind,
        vip,
        what,
        from,
        to,
    };
    let mut found = Vec::new();
    for w in windows {
        if let Some(k) = w.kind {
            let st = v.by_kind.entry(k).or_default();
            st.faults += 1;
            st.bound_none = st.bound_none.max(w.bounds.none);
            st.bound_two = st
                .bound_two
                .max(w.bounds.two_during.unwrap_or(0.0).max(w.bounds.two_after));
            st.bound_converge = st.bound_converge.max(w.bounds.converge);
            st.bound_outage = st.bound_outage.max(w.bounds.outage);
        }
    }
    for vip in 0..2 {
        // Two holders.
        for (a, b) in episodes(samples, |s| s.hold[vip].count_ones() >= 2) {
            let Some(w) = window_of(windows, a) else {
                continue;
            };
            v.checks += 1;
            let (measured, limit) = match w.bounds.two_during {
                None => ((b - a.max(w.t_heal)).max(0.0), w.bounds.two_after),
                Some(d) if a < w.t_heal => (b - a, d),
                Some(_) => (b - a, w.bounds.two_after),
            };
            if let Some(k) = w.kind {
                let st = v.by_kind.entry(k).or_default();
                st.worst_two = st.worst_two.max(measured);
            }
            if measured > limit {
                let holders = samples
                    .iter()
                    .filter(|s| s.t >= a && s.t < b)
                    .fold(0, |m, s| m | s.hold[vip]);
                found.push(violate(
                    w,
                    Some(vip),
                    format!(
                        "{} held by {} at once for {measured:.2} s{}, bound {limit:.2} s",
                        VIP_NAME[vip],
                        names(holders),
                        if w.bounds.two_during.is_none() {
                            " after the fault healed"
                        } else {
                            ""
                        }
                    ),
                    a,
                    b,
                ));
            }
        }
        // No holder.
        for (a, b) in episodes(samples, |s| s.hold[vip] == 0) {
            let Some(w) = window_of(windows, a) else {
                continue;
            };
            v.checks += 1;
            let d = b - a;
            if let Some(k) = w.kind {
                let st = v.by_kind.entry(k).or_default();
                st.worst_none = st.worst_none.max(d);
            }
            if d > w.bounds.none {
                found.push(violate(
                    w,
                    Some(vip),
                    format!(
                        "{} held by nobody for {d:.2} s, bound {:.2} s",
                        VIP_NAME[vip], w.bounds.none
                    ),
                    a,
                    b,
                ));
            }
        }
        // The client's outages.
        for &(a, b) in &outages[vip] {
            let Some(w) = window_of(windows, a) else {
                continue;
            };
            v.checks += 1;
            let d = if w.bounds.outage_during_exempt {
                (b - a.max(w.t_heal)).max(0.0)
            } else {
                b - a
            };
            if let Some(k) = w.kind {
                let st = v.by_kind.entry(k).or_default();
                st.worst_outage = st.worst_outage.max(d);
            }
            if d > w.bounds.outage {
                found.push(violate(
                    w,
                    Some(vip),
                    format!(
                        "the client got no answer from the {} VIP for {d:.2} s, bound {:.2} s",
                        VIP_NAME[vip], w.bounds.outage
                    ),
                    a,
                    b,
                ));
            }
        }
    }
    for (i, w) in windows.iter().enumerate() {
        let next = windows.get(i + 1).map_or(f64::INFINITY, |n| n.t_inject);
        let in_window = |s: &&Sample| s.t >= w.t_inject && s.t < next.min(w.t_end + 1e-9);
        let want = 1u32 << w.expected;
        for (vip, vip_name) in VIP_NAME.iter().enumerate() {
            // Convergence: the last sample after the heal that is not the
            // expected sole holder, and when that ended.
            v.checks += 1;
            let after: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.t >= w.t_heal && s.t <= w.t_end + 1e-9)
                .collect();
            let last_bad = after.iter().rposition(|s| s.hold[vip] != want);
            let settled = match last_bad {
                None => Some(0.0),
                Some(j) => after.get(j + 1).map(|s| s.t - w.t_heal),
            };
            if let (Some(k), Some(d)) = (w.kind, settled) {
                let st = v.by_kind.entry(k).or_default();
                st.worst_converge = st.worst_converge.max(d);
            }
            match settled {
                Some(d) if d <= w.bounds.converge => {}
                _ => {
                    let seen = last_bad.map_or(0, |j| after[j].hold[vip]);
                    found.push(violate(
                        w,
                        Some(vip),
                        format!(
                            "{} not on n{} alone within {:.2} s of the heal (settled: {}; last seen on {})",
                            vip_name,
                            w.expected,
                            w.bounds.converge,
                            settled.map_or("never".into(), |d| format!("{d:.2} s")),
                            names(seen)
                        ),
                        w.t_heal,
                        w.t_end,
                    ));
                }
            }
            // A VIP that must not move never leaves its holder.
            if w.stay {
                v.checks += 1;
                if let Some(s) = samples
                    .iter()
                    .filter(in_window)
                    .find(|s| s.hold[vip] != want)
                {
                    found.push(violate(
                        w,
                        Some(vip),
                        format!(
                            "{} left n{} (seen on {} {:.2} s into the fault), though this fault must not move it",
                            vip_name,
                            w.expected,
                            names(s.hold[vip]),
                            s.t - w.t_inject
                        ),
                        s.t,
                        w.t_end,
                    ));
                }
            }
            // The holder the health says, while the fault lasts.
            if let Some((during, within)) = w.expected_during {
                v.checks += 1;
                let from = w.t_inject + within;
                let bad = samples
                    .iter()
                    .filter(|s| s.t >= from && s.t < w.t_heal)
                    .find(|s| s.hold[vip] != 1 << during);
                if let Some(s) = bad {
                    found.push(violate(
                        w,
                        Some(vip),
                        format!(
                            "{} on {} {:.2} s into the fault, expected n{during} from {within:.2} s",
                            vip_name,
                            names(s.hold[vip]),
                            s.t - w.t_inject
                        ),
                        s.t,
                        w.t_heal,
                    ));
                }
            }
            // Nothing on a cleanly stopped node.
            if let Some((a, b)) = w.stopped {
                v.checks += 1;
                if let Some(s) = samples
                    .iter()
                    .find(|s| s.t > a && s.t < b && s.present[vip] & (1 << w.node) != 0)
                {
                    found.push(violate(
                        w,
                        Some(vip),
                        format!("{} left on n{} after its daemon stopped", vip_name, w.node),
                        s.t,
                        b,
                    ));
                }
            }
        }
        // Addresses the daemons did not add stay.
        v.checks += 1;
        let exempt = |t: f64| w.foreign_exempt.is_some_and(|(a, b)| t >= a && t <= b);
        if let Some(s) = samples
            .iter()
            .filter(in_window)
            .find(|s| s.foreign_missing != 0 && !exempt(s.t))
        {
            found.push(violate(
                w,
                None,
                format!(
                    "an address no daemon added is gone from {}",
                    names(s.foreign_missing)
                ),
                s.t,
                s.t,
            ));
        }
        v.checks += 1;
        if w.split_brain_logs > 0 && !w.bounds.split_brain_ok {
            found.push(violate(
                w,
                None,
                format!(
                    "ha-vip logged {} split-brain warning(s) where no two routers were Active beyond the protocol's window",
                    w.split_brain_logs
                ),
                w.t_inject,
                w.t_end,
            ));
        }
        v.checks += 1;
        for &n in &w.died {
            found.push(violate(
                w,
                None,
                format!("the daemon on n{n} died"),
                w.t_inject,
                w.t_end,
            ));
        }
        v.checks += 1;
        for e in &w.status_errors {
            found.push(violate(w, None, e.clone(), w.t_end, w.t_end));
        }
    }
    found.sort_by(|a, b| a.from.total_cmp(&b.from));
    v.violations = found;
    v
}

/// The timing a group runs with, from its configuration.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Advertisement_Interval, s.
    pub interval: f64,
    /// The lowest priority in the group (the slowest Master_Down_Interval).
    pub min_prio: u8,
    /// The observer's period, s.
    pub observe: f64,
    /// IPv6 DAD on a link that comes up: dad_transmits x retrans_time.
    pub dad: f64,
    /// The client's probe interval, s.
    pub probe: f64,
    /// `[k8s]` interval, timeout, stability, when the check is on.
    pub k8s: Option<(f64, f64, f64)>,
}

impl Timing {
    /// RFC 9568 6.1: Skew_Time = ((256 - Priority) * Interval) / 256.
    pub fn skew(&self) -> f64 {
        (256.0 - f64::from(self.min_prio)) * self.interval / 256.0
    }

    /// Master_Down_Interval = 3 * Interval + Skew_Time, of the slowest Backup.
    pub fn master_down(&self) -> f64 {
        3.0 * self.interval + self.skew()
    }

    /// The stated margin: two advert intervals (an advert in flight and the
    /// receiver's timer slack) plus two observer periods (each end of an
    /// episode is seen up to one period late).
    pub fn margin(&self) -> f64 {
        2.0 * self.interval + 2.0 * self.observe
    }

    /// How long a restarted daemon may take before it runs the protocol:
    /// not a protocol figure, a stated allowance per implementation (ha-vip
    /// and keepalived start in well under it; FRR starts zebra and vrrpd).
    pub fn start(d: Daemon) -> f64 {
        match d {
            Daemon::HaVip | Daemon::Keepalived => 1.0,
            Daemon::Frr => 3.0,
        }
    }

    /// The API-server check's time to a verdict: one probe interval, one
    /// timeout (a hang), the stability buffer.
    pub fn k8s_detect(&self) -> f64 {
        self.k8s.map_or(0.0, |(i, t, s)| i + t + s)
    }
}

/// The bounds of a fault of `kind` on a node running `target`.
///
/// - No holder: a fault that silences the holder without a priority 0 (link
///   down, eth0 deleted or re-addressed, SIGKILL) leaves the VIP unheld for
///   at most Master_Down_Interval + margin; SIGTERM sends priority 0, so
///   Skew_Time + margin; any other fault must not leave it unheld beyond
///   the margin (make-before-break).
/// - Two holders: a preemption or a reconciliation after a heal overlaps
///   by at most one Advertisement_Interval (the lower router yields on the
///   first higher advert) + margin. A partition, loss, a frozen holder and
///   a killed holder (the kernel keeps its address) make two holders for
///   as long as they last: allowed until the heal. After SIGKILL the
///   restart removes the stale address within the start allowance.
///   Faults that must change nothing (reload, clock, duplication) get the
///   margin only.
/// - Convergence after the heal: (start allowance if a daemon restarts) +
///   (IPv6 DAD if the link came up) + Master_Down_Interval + margin.
/// - Client outage: the no-holder bound + two probe intervals.
pub fn bounds(kind: Kind, target: Daemon, t: &Timing) -> Bounds {
    let m = t.margin();
    let mdi = t.master_down();
    let overlap = t.interval + m;
    let start = Timing::start(target);
    let mut b = Bounds {
        none: m,
        two_during: Some(overlap),
        two_after: overlap,
        converge: mdi + m,
        outage: 0.0,
        split_brain_ok: false,
        outage_during_exempt: false,
    };
    match kind {
        Kind::Link | Kind::Mac | Kind::Ifdel => {
            b.none = mdi + m;
            b.converge = t.dad + mdi + m;
        }
        Kind::Kill => {
            b.none = mdi + m;
            b.two_during = None;
            b.two_after = start + overlap;
            b.converge = start + mdi + m;
        }
        Kind::Term => {
            b.none = t.skew() + m;
            b.converge = start + mdi + m;
        }
        Kind::Freeze => {
            b.two_during = None;
            b.split_brain_ok = true;
        }
        Kind::Loss | Kind::Partition => {
            b.two_during = None;
            b.split_brain_ok = true;
            b.outage_during_exempt = true;
        }
        Kind::Reload | Kind::Clock | Kind::Dup => {
            b.two_during = Some(m);
            b.two_after = m;
        }
        Kind::Prio => {}
        Kind::Api => {
            b.converge = t.k8s_detect() + mdi + m;
        }
    }
    b.outage = b.none + 2.0 * t.probe;
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing() -> Timing {
        Timing {
            interval: 0.1,
            min_prio: 100,
            observe: 0.1,
            dad: 1.0,
            probe: 0.05,
            k8s: None,
        }
    }

    /// A timeline sampled every 0.1 s from t0 to t1, holders by `f(t)`.
    fn timeline(t0: f64, t1: f64, f: impl Fn(f64) -> [u32; 2]) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut t = t0;
        while t <= t1 + 1e-9 {
            let hold = f(t);
            out.push(Sample {
                t,
                hold,
                present: hold,
                foreign_missing: 0,
            });
            t += 0.1;
        }
        out
    }

    fn window(kind: Kind, t_inject: f64, t_heal: f64, t_end: f64, expected: usize) -> Window {
        Window {
            pos: 0,
            kind: Some(kind),
            node: 0,
            t_inject,
            t_heal,
            t_end,
            expected,
            bounds: bounds(kind, Daemon::HaVip, &timing()),
            ..Window::default()
        }
    }

    /// A priority change by reload that makes n0 and n1 both hold the VIP
    /// for 1.5 s (the daemon restarting its router): a violation, at the
    /// right position, naming both nodes.
    #[test]
    fn two_holders_too_long_is_a_violation() {
        let w = window(Kind::Prio, 10.0, 10.0, 15.0, 0);
        let s = timeline(9.0, 15.0, |t| {
            if (10.55..12.05).contains(&t) {
                [0b11, 0b01]
            } else {
                [0b01, 0b01]
            }
        });
        let v = check(&s, &[w], &[vec![], vec![]]);
        let two: Vec<&Violation> = v
            .violations
            .iter()
            .filter(|x| x.what.contains("at once"))
            .collect();
        assert_eq!(two.len(), 1, "{:?}", v.violations);
        let x = two[0];
        assert_eq!((x.pos, x.kind, x.vip), (0, Some(Kind::Prio), Some(0)));
        assert!(x.what.contains("n0+n1"), "{}", x.what);
        assert!((1.4..=1.6).contains(&(x.to - x.from)), "{x:?}");
        assert!(v.by_kind[&Kind::Prio].worst_two > 1.4);
    }

    /// A preemption after a link comes back: n1 holds while n0's link is
    /// down (0.4 s without a holder, under Master_Down_Interval + margin),
    /// both hold for 0.2 s at the preemption (under one interval +
    /// margin), then n0 alone: no violation.
    #[test]
    fn a_failover_and_preemption_within_bounds_is_clean() {
        let w = window(Kind::Link, 10.0, 11.0, 14.0, 0);
        let s = timeline(9.0, 14.0, |t| {
            let m = if t < 10.05 {
                0b01
            } else if t < 10.45 {
                0
            } else if t < 11.55 {
                0b10
            } else if t < 11.75 {
                0b11
            } else {
                0b01
            };
            [m, m]
        });
        let v = check(&s, &[w], &[vec![(10.0, 10.5)], vec![]]);
        assert!(v.violations.is_empty(), "{:?}", v.violations);
        assert!(v.checks > 5);
        let st = &v.by_kind[&Kind::Link];
        assert!((0.35..0.5).contains(&st.worst_none), "{st:?}");
        assert!((0.15..0.3).contains(&st.worst_two), "{st:?}");
    }

    /// A partition makes two holders for as long as it lasts: allowed; but
    /// two holders that outlive the heal by a second are not.
    #[test]
    fn partition_two_holders_allowed_until_the_heal_only() {
        let w = window(Kind::Partition, 10.0, 12.0, 16.0, 0);
        let ok = timeline(9.0, 16.0, |t| {
            if (10.5..12.15).contains(&t) {
                [0b11, 0b11]
            } else {
                [0b01, 0b01]
            }
        });
        assert!(
            check(&ok, std::slice::from_ref(&w), &[vec![], vec![]])
                .violations
                .is_empty()
        );
        let bad = timeline(9.0, 16.0, |t| {
            if (10.5..13.05).contains(&t) {
                [0b01, 0b11]
            } else {
                [0b01, 0b01]
            }
        });
        let v = check(&bad, &[w], &[vec![], vec![]]);
        let two: Vec<&Violation> = v
            .violations
            .iter()
            .filter(|x| x.what.contains("at once"))
            .collect();
        assert_eq!(two.len(), 1, "{:?}", v.violations);
        assert!(two[0].what.contains("after the fault healed"));
        assert_eq!(two[0].vip, Some(1));
    }

    /// The wrong sole holder at the end, a VIP on a stopped node, a lost
    /// foreign address, a split-brain warning on a preemption, a dead
    /// daemon: each is found.
    #[test]
    fn the_other_invariants_are_found() {
        let mut w = window(Kind::Term, 10.0, 11.0, 14.0, 0);
        w.stopped = Some((10.2, 11.0));
        w.split_brain_logs = 1;
        w.died = vec![2];
        let mut s = timeline(9.0, 14.0, |_| [0b10, 0b01]);
        for x in s.iter_mut().filter(|x| x.t > 10.5 && x.t < 10.8) {
            x.present[1] |= 0b01;
            x.foreign_missing = 0b100;
        }
        let v = check(&s, &[w], &[vec![], vec![]]);
        let text: Vec<&str> = v.violations.iter().map(|x| x.what.as_str()).collect();
        assert!(
            text.iter().any(|t| t.contains("IPv4 not on n0 alone")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.contains("left on n0")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("gone from n2")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("split-brain")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("n2 died")), "{text:?}");
    }

    /// A priority change by reload that keeps n1 on top but restarts its
    /// router: the VIP goes to n0 for 0.35 s and comes back. Short enough
    /// for every bound, and still a violation: nothing should have moved.
    #[test]
    fn a_vip_that_moves_away_and_back_when_it_must_stay_is_found() {
        let mut w = window(Kind::Prio, 10.0, 10.0, 12.0, 1);
        w.stay = true;
        let s = timeline(9.0, 12.0, |t| {
            if (10.15..10.5).contains(&t) {
                [0b01, 0b01]
            } else {
                [0b10, 0b10]
            }
        });
        let v = check(&s, std::slice::from_ref(&w), &[vec![], vec![]]);
        let moved: Vec<&Violation> = v
            .violations
            .iter()
            .filter(|x| x.what.contains("must not move"))
            .collect();
        assert_eq!(moved.len(), 2, "{:?}", v.violations);
        w.stay = false;
        assert!(check(&s, &[w], &[vec![], vec![]]).violations.is_empty());
    }

    /// Every bound comes from the intervals: at 100 ms and priority 100,
    /// Master_Down_Interval is 0.3609 s; the margin is 0.4 s.
    #[test]
    fn bounds_follow_the_intervals() {
        let t = timing();
        assert!((t.master_down() - (0.3 + 156.0 * 0.1 / 256.0)).abs() < 1e-9);
        assert!((t.margin() - 0.4).abs() < 1e-9);
        let b = bounds(Kind::Link, Daemon::HaVip, &t);
        assert!((b.none - (t.master_down() + 0.4)).abs() < 1e-9);
        assert!((b.two_after - 0.5).abs() < 1e-9);
        let slow = Timing {
            interval: 1.0,
            ..timing()
        };
        assert!(bounds(Kind::Link, Daemon::HaVip, &slow).none > 10.0 * b.none / 2.0);
    }
}
