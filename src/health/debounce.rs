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
//! change. A `shutting_down` result (the API server's `[-]shutdown`) is a
//! definite signal: it turns the state failed at once, skipping both.
//!
//! The first result ever is reported as it is: there is no earlier state to
//! protect, and the daemon counts a check without a report as failed anyway.

use std::time::{Duration, Instant};

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
    stability: Duration,
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
            reported: None,
            pending: None,
        }
    }

    /// The reported state; `None` before the first result.
    pub fn state(&self) -> Option<bool> {
        self.reported
    }

    /// Since when a contrary run has been pending, and towards which state.
    pub fn pending(&self) -> Option<(bool, Instant)> {
        self.pending.map(|p| (p.healthy, p.since))
    }

    /// Feed one probe result. Returns the new reported state when it changed.
    pub fn observe(&mut self, now: Instant, healthy: bool, shutting_down: bool) -> Option<bool> {
        if shutting_down {
            self.pending = None;
            return self.report(false);
        }
        let Some(reported) = self.reported else {
            return self.report(healthy);
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
    pub fn poll_timeout(&self) -> Option<Instant> {
        let p = self.pending?;
        if p.count >= self.needed(p.healthy) {
            p.since.checked_add(self.stability)
        } else {
            None
        }
    }

    /// Call at (or after) [`Debouncer::poll_timeout`]. Returns the new
    /// reported state when it changed.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<bool> {
        self.commit_if_due(now)
    }

    fn needed(&self, healthy: bool) -> u32 {
        if healthy { self.rise } else { self.fall }
    }

    fn commit_if_due(&mut self, now: Instant) -> Option<bool> {
        let p = self.pending?;
        if p.count < self.needed(p.healthy) {
            return None;
        }
        // An instant past the end of time never comes: no change by time.
        let due = p.since.checked_add(self.stability)?;
        if now < due {
            return None;
        }
        self.pending = None;
        self.report(p.healthy)
    }

    fn report(&mut self, healthy: bool) -> Option<bool> {
        if self.reported == Some(healthy) {
            None
        } else {
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
