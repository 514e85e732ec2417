//! Receive pacing: under a steady stream of adverts, read the sockets at
//! most once per [`RX_COALESCE`] instead of waking for every packet.
//!
//! A Backup of 255 routers at 10 ms hears 25,500 adverts a second. Woken for
//! each, the daemon spent most of its CPU going to sleep and waking up
//! (docs/performance.md). Reading them in batches is safe because no
//! protocol timer depends on *when* the loop reads a packet:
//!
//! - each advert carries its kernel receive time (SO_TIMESTAMPNS) and the
//!   core runs the Master_Down_Timer from there;
//! - before the loop acts on any deadline it reads the sockets first
//!   ([`super::engine`]), so an advert that arrived before a Master_Down
//!   deadline always resets it before it can fire.
//!
//! What a batch delays, by at most [`RX_COALESCE`], is the reaction to an
//! advert that changes something at once: an Active router stepping down
//! for a higher priority, answering a lower one. A quiet link is not
//! paced at all: the first packet after a pause is read as it arrives.

use std::time::{Duration, Instant};

/// The longest a received packet waits to be read while the link is busy.
pub const RX_COALESCE: Duration = Duration::from_millis(1);

/// When to next read the sockets.
#[derive(Debug, Default)]
pub struct RxPace {
    /// While set, the loop does not wait on socket readiness; it reads the
    /// sockets when this instant comes (its deadline timer is armed for it).
    quiet_until: Option<Instant>,
    /// The last read that found packets.
    last_busy: Option<Instant>,
}

impl RxPace {
    /// Whether the loop should wake for socket readiness now.
    pub fn wait_readable(&self) -> bool {
        self.quiet_until.is_none()
    }

    /// The instant the loop must wake to read the sockets, if pacing.
    pub fn deadline(&self) -> Option<Instant> {
        self.quiet_until
    }

    /// After the sockets were read at `now`: `packets` read, and whether
    /// every socket was drained (a read that stopped at its burst limit
    /// leaves packets queued, so the loop reads again at once, as before).
    ///
    /// Pacing starts at a burst (two packets in one read, or reads with
    /// packets within two windows of each other), not at a lone advert,
    /// and stops at the first read that finds nothing.
    pub fn after_read(&mut self, now: Instant, packets: usize, drained: bool) {
        if packets == 0 {
            self.quiet_until = None;
            return;
        }
        let streaming = packets > 1
            || self
                .last_busy
                .is_some_and(|t| now.saturating_duration_since(t) < 2 * RX_COALESCE);
        self.last_busy = Some(now);
        self.quiet_until = (streaming && drained).then(|| now + RX_COALESCE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn a_lone_advert_is_read_as_it_arrives() {
        let t0 = Instant::now();
        let mut p = RxPace::default();
        assert!(p.wait_readable());
        // 100 adverts a second: 10 ms apart, never paced.
        for i in 0..10u64 {
            p.after_read(t0 + us(10_000 * i), 1, true);
            assert!(p.wait_readable(), "paced after read {i}");
            assert_eq!(p.deadline(), None);
        }
    }

    #[test]
    fn a_stream_is_read_once_per_window_until_it_stops() {
        let t0 = Instant::now();
        let mut p = RxPace::default();
        p.after_read(t0, 1, true);
        assert!(p.wait_readable());
        // A second packet 40 us later: a stream; next read in 1 ms.
        p.after_read(t0 + us(40), 1, true);
        assert!(!p.wait_readable());
        assert_eq!(p.deadline(), Some(t0 + us(1_040)));
        // The paced read finds 25 packets: pace again.
        p.after_read(t0 + us(1_041), 25, true);
        assert_eq!(p.deadline(), Some(t0 + us(2_041)));
        // It finds none: back to waking on readiness.
        p.after_read(t0 + us(2_042), 0, true);
        assert!(p.wait_readable());
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn a_burst_in_one_read_is_paced_at_once() {
        let t0 = Instant::now();
        let mut p = RxPace::default();
        p.after_read(t0, 3, true);
        assert_eq!(p.deadline(), Some(t0 + us(1_000)));
    }

    #[test]
    fn a_socket_left_full_is_read_again_at_once() {
        let t0 = Instant::now();
        let mut p = RxPace::default();
        p.after_read(t0, 64, false);
        p.after_read(t0 + us(5), 64, false);
        assert!(p.wait_readable(), "a flood must not be paced into drops");
        p.after_read(t0 + us(10), 3, true);
        assert_eq!(p.deadline(), Some(t0 + us(1_010)));
    }
}
