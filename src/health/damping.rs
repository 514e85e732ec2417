//! Flap damping: a recovery hold-down that grows with each flap and is
//! forgotten after a quiet period. Pure, like [`super::Debouncer`], which
//! owns one: no clock, `now` is an argument, [`Damping::poll_timeout`] says
//! when the quiet period ends.
//!
//! The rule, for a check whose reported state goes healthy -> failed (a
//! *flap*; the first report of a check is none, whatever it says):
//!
//! 1. Each flap adds one to `flaps`.
//! 2. A failed check turns healthy again only after its results have been
//!    healthy without a break for the hold-down: the base buffer
//!    (`stability`) times 2^(flaps - 1), at most `max_hold_down`. So with a
//!    5 s base: 5 s after the first flap, 10 s after the second, 20 s, 40 s...
//! 3. Once the check has been reported healthy for `reset_after` without a
//!    break, `flaps` goes back to 0.
//!
//! Failing is never damped: a failed API server must lose the VIP at once.
//! What the rule holds back is the return of the VIP, which is what a
//! flapping check turns into repeated moves.

use std::time::{Duration, Instant};

/// The two numbers of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DampingParams {
    /// The longest hold-down, however many flaps.
    pub max_hold_down: Duration,
    /// Healthy this long without a break: the flaps are forgotten.
    pub reset_after: Duration,
}

/// Default `hold_down_max` of the API-server check.
pub const DEFAULT_MAX_HOLD_DOWN: Duration = Duration::from_secs(120);

/// Default `flap_reset` of the API-server check.
pub const DEFAULT_FLAP_RESET: Duration = Duration::from_secs(60);

impl Default for DampingParams {
    fn default() -> Self {
        DampingParams {
            max_hold_down: DEFAULT_MAX_HOLD_DOWN,
            reset_after: DEFAULT_FLAP_RESET,
        }
    }
}

/// The damping state of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damping {
    params: DampingParams,
    flaps: u32,
    /// Since when the check has been reported healthy (`None` while failed).
    healthy_since: Option<Instant>,
}

impl Damping {
    pub fn new(params: DampingParams) -> Self {
        Damping {
            params,
            flaps: 0,
            healthy_since: None,
        }
    }

    /// Flaps since the last quiet period.
    pub fn flaps(&self) -> u32 {
        self.flaps
    }

    /// How long results must be healthy before a failed check recovers,
    /// given the base buffer.
    pub fn hold_down(&self, base: Duration) -> Duration {
        let doublings = self.flaps.saturating_sub(1).min(31);
        base.checked_mul(1u32 << doublings)
            .unwrap_or(Duration::MAX)
            .min(self.params.max_hold_down.max(base))
    }

    /// The reported state changed (`was` is `None` for the first report).
    pub fn on_report(&mut self, now: Instant, was: Option<bool>, healthy: bool) {
        if healthy {
            self.healthy_since = Some(now);
        } else {
            self.healthy_since = None;
            if was == Some(true) {
                self.flaps = self.flaps.saturating_add(1);
            }
        }
    }

    /// When the flaps are forgotten, if nothing happens before.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.flaps == 0 {
            return None;
        }
        self.healthy_since?.checked_add(self.params.reset_after)
    }

    /// Call at (or after) [`Damping::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|due| now >= due) {
            self.flaps = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn hold_down_doubles_per_flap_up_to_the_cap() {
        let t0 = Instant::now();
        let mut d = Damping::new(DampingParams {
            max_hold_down: s(30),
            reset_after: s(60),
        });
        assert_eq!(d.hold_down(s(5)), s(5));
        d.on_report(t0, None, false);
        assert_eq!(d.flaps(), 0, "the first report is no flap");
        let mut held = Vec::new();
        for i in 0..5 {
            d.on_report(t0 + s(i), Some(false), true);
            d.on_report(t0 + s(i), Some(true), false);
            held.push(d.hold_down(s(5)));
        }
        assert_eq!(held, vec![s(5), s(10), s(20), s(30), s(30)]);
        assert_eq!(d.flaps(), 5);
    }

    #[test]
    fn flaps_are_forgotten_after_a_quiet_healthy_period() {
        let t0 = Instant::now();
        let mut d = Damping::new(DampingParams::default());
        d.on_report(t0, None, true);
        d.on_report(t0 + s(1), Some(true), false);
        assert_eq!(d.poll_timeout(), None, "no reset while failed");
        d.on_report(t0 + s(7), Some(false), true);
        assert_eq!(d.poll_timeout(), Some(t0 + s(67)));
        d.handle_timeout(t0 + s(66));
        assert_eq!(d.flaps(), 1);
        d.handle_timeout(t0 + s(67));
        assert_eq!(d.flaps(), 0);
        assert_eq!(d.poll_timeout(), None);
    }
}
