//! Anti-flap: rise/fall counts and a stability buffer, without a clock.
//!
//! Like the protocol core, the debouncer never reads the time: every input
//! carries `now`, and [`Debouncer::poll_timeout`] says when it next needs
//! [`Debouncer::handle_timeout`]. So its timing is tested exactly, in
//! virtual time.
//!
//! The rule: the reported state changes from S to not-S when
//!
//! 1. the last `fall` (to failed) or `rise` (to healthy) results were all
//!    not-S, as keepalived's `vrrp_script` counts them, and
//! 2. results have been not-S for at least `stability` without a break,
//!    measured from the first not-S result of the run.
//!
//! The change happens at the later of the two moments: on the result that
//! completes the count, or at `first + stability` if no contrary result came
//! in between. A result agreeing with the reported state cancels the pending
//! change. A *definite* failure (the API server's `[-]shutdown`, a refused
//! connect to it) turns the state failed at once, skipping both.
//!
//! The buffer can differ by direction: the API-server check fails with no
//! buffer (its `fall` of 2 is the confirmation) and recovers only after
//! `stability`, grown by [`Damping`] with each flap (see `damping.rs`).
//!
//! The first result ever is reported as it is: there is no earlier state to
//! protect, and the daemon counts a check without a report as failed anyway.

use std::time::{Duration, Instant};

use super::damping::{Damping, DampingParams};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    healthy: bool,
    /// The first result of the contrary run.
    since: Instant,
    /// Consecutive contrary results so far.
    count: u32,
}

/// The debounced state of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debouncer {
    rise: u32,
    fall: u32,
    /// Buffer before a change to healthy (the base of the hold-down).
    stability: Duration,
    /// Buffer before a change to failed.
    fail_stability: Duration,
    damping: Option<Damping>,
    reported: Option<bool>,
    pending: Option<Pending>,
}

impl Debouncer {
    /// `rise` and `fall` of 0 are taken as 1: one result is the least that
    /// can change anything.
    pub fn new(rise: u32, fall: u32, stability: Duration) -> Self {
        Debouncer {
            rise: rise.max(1),
            fall: fall.max(1),
            stability,
            fail_stability: stability,
            damping: None,
            reported: None,
            pending: None,
        }
    }

    /// The buffer before a change to failed, when it differs from the one
    /// before a recovery (the API-server check: zero).
    pub fn with_fail_stability(mut self, buffer: Duration) -> Self {
        self.fail_stability = buffer;
        self
    }

    /// Damp flapping: the recovery buffer grows with each flap.
    pub fn with_damping(mut self, params: DampingParams) -> Self {
        self.damping = Some(Damping::new(params));
        self
    }

    /// Flaps (healthy -> failed) since the last quiet period; 0 undamped.
    pub fn flaps(&self) -> u32 {
        self.damping.as_ref().map_or(0, Damping::flaps)
    }

    /// How long results must be healthy before a failed check recovers now:
    /// `stability`, grown by the damping.
    pub fn hold_down(&self) -> Duration {
        match &self.damping {
            Some(d) => d.hold_down(self.stability),
            None => self.stability,
        }
    }

    fn buffer(&self, healthy: bool) -> Duration {
        if healthy {
            self.hold_down()
        } else {
            self.fail_stability
        }
    }

    /// When the pending change is reported if nothing contrary comes in:
    /// its count is complete and the buffer runs out then.
    pub fn change_due(&self) -> Option<(bool, Instant)> {
        let p = self.pending?;
        if p.count < self.needed(p.healthy) {
            return None;
        }
        Some((p.healthy, p.since.checked_add(self.buffer(p.healthy))?))
    }

    /// The reported state; `None` before the first result.
    pub fn state(&self) -> Option<bool> {
        self.reported
    }

    /// Since when a contrary run has been pending, and towards which state.
    pub fn pending(&self) -> Option<(bool, Instant)> {
        self.pending.map(|p| (p.healthy, p.since))
    }

    /// Feed one probe result; `definite` marks a failure acted on at once.
    /// Returns the new reported state when it changed.
    pub fn observe(&mut self, now: Instant, healthy: bool, definite: bool) -> Option<bool> {
        if definite && !healthy {
            self.pending = None;
            return self.report(now, false);
        }
        let Some(reported) = self.reported else {
            return self.report(now, healthy);
        };
        if healthy == reported {
            self.pending = None;
            return None;
        }
        self.pending = Some(match self.pending {
            Some(p) if p.healthy == healthy => Pending {
                count: p.count.saturating_add(1),
                ..p
            },
            _ => Pending {
                healthy,
                since: now,
                count: 1,
            },
        });
        self.commit_if_due(now)
    }

    /// When a pending change becomes due by time alone: its count is
    /// complete and only the stability buffer is left.
    /// Also when the damping's quiet period ends.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let change = self.change_due().map(|(_, at)| at);
        let reset = self.damping.as_ref().and_then(Damping::poll_timeout);
        match (change, reset) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Call at (or after) [`Debouncer::poll_timeout`]. Returns the new
    /// reported state when it changed.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<bool> {
        if let Some(d) = self.damping.as_mut() {
            d.handle_timeout(now);
        }
        self.commit_if_due(now)
    }

    fn needed(&self, healthy: bool) -> u32 {
        if healthy { self.rise } else { self.fall }
    }

    fn commit_if_due(&mut self, now: Instant) -> Option<bool> {
        // An instant past the end of time never comes: no change by time.
        let (healthy, due) = self.change_due()?;
        if now < due {
            return None;
        }
        self.pending = None;
        self.report(now, healthy)
    }

    fn report(&mut self, now: Instant, healthy: bool) -> Option<bool> {
        if self.reported == Some(healthy) {
            None
        } else {
            if let Some(d) = self.damping.as_mut() {
                d.on_report(now, self.reported, healthy);
            }
            self.reported = Some(healthy);
            Some(healthy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_result_is_reported_at_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(3, 3, ms(5000));
        assert_eq!(d.state(), None);
        assert_eq!(d.observe(t0, false, false), Some(false));
        assert_eq!(d.state(), Some(false));
    }

    #[test]
    fn zero_counts_act_as_one() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(0, 0, Duration::ZERO);
        d.observe(t0, true, false);
        assert_eq!(d.observe(t0 + ms(1), false, false), Some(false));
        assert_eq!(d.observe(t0 + ms(2), true, false), Some(true));
    }
}
