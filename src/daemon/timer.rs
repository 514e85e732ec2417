//! A deadline timer with microsecond precision: timerfd on CLOCK_MONOTONIC.
//!
//! Why not `tokio::time::sleep_until`: tokio's timer wheel has a 1 ms
//! granularity and rounds deadlines up to the next tick, so a takeover due
//! at Master_Down_Interval fires up to 1 ms late, which at 10 ms adverts is
//! a third of the whole budget (docs/performance.md). A timerfd fires at the
//! deadline, within the thread's timer slack, which the daemon sets to 1 µs
//! (`prctl(PR_SET_TIMERSLACK)`), instead of the default 50 µs.
//!
//! As quinn's driver does, the timer is re-armed only when the deadline
//! changes, not on every turn of the loop.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// TimerFd implements AsFd; tokio's AsyncFd wants AsRawFd.
struct Tfd(TimerFd);

impl AsRawFd for Tfd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

pub struct DeadlineTimer {
    fd: AsyncFd<Tfd>,
    armed: Option<Instant>,
}

impl DeadlineTimer {
    pub fn new() -> io::Result<DeadlineTimer> {
        let tfd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        // Timer slack is per thread: the loop's thread is this one.
        let _ = nix::sys::prctl::set_timerslack(1_000);
        // SAFETY: the TimerFd owns its descriptor and moves into the AsyncFd,
        // which keeps it open and unchanged until it is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(Tfd(tfd), Interest::READABLE) }?;
        Ok(DeadlineTimer { fd, armed: None })
    }

    /// Arm for `deadline`. The timer is re-armed whenever the deadline
    /// changes, later as well as earlier: a Backup's Master_Down deadline
    /// moves later with every advert it hears, and leaving the old one
    /// armed cost a wake-up with nothing due once per Master_Down_Interval
    /// (a quarter of a one-router Backup's wake-ups at 10 ms), where a
    /// timerfd_settime costs far less than a sleep and a wake-up. The loop
    /// calls this once per turn, after a whole batch, so under a stream of
    /// adverts it is one call per paced read, not one per advert. `None`
    /// leaves an armed timer to fire once with nothing due (rare: no
    /// router has a timer running) rather than spend a call to disarm it.
    pub fn set(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let Some(d) = deadline else {
            return Ok(());
        };
        if self.armed == Some(d) {
            return Ok(());
        }
        // Relative to now: std's Instant is CLOCK_MONOTONIC but opaque. A
        // deadline already past fires at once (1 ns).
        let rel = d
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        self.fd
            .get_ref()
            .0
            .set(
                Expiration::OneShot(TimeSpec::from_duration(rel)),
                TimerSetTimeFlags::empty(),
            )
            .map_err(io::Error::from)?;
        self.armed = deadline;
        Ok(())
    }

    /// Ready when the armed deadline has passed; disarms itself.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.armed.is_none() {
                return Poll::Pending;
            }
            let mut guard = match self.fd.poll_read_ready(cx) {
                Poll::Ready(Ok(g)) => g,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match guard.try_io(|inner| inner.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(Ok(())) => {
                    // The expiry is consumed and nothing is armed: forget
                    // the readiness now rather than learn it from one more
                    // read() that fails with EAGAIN on the next turn. The
                    // next expiry is a new edge, reported by epoll.
                    if let Poll::Ready(Ok(mut g)) = self.fd.poll_read_ready(cx) {
                        g.clear_ready();
                    }
                    self.armed = None;
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                // Spurious readiness: wait again.
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The timer fires, and never before its deadline. How late it fires
    /// is a measurement (printed here; docs/performance.md has the
    /// failover figures), not an assertion: the machine may be loaded.
    #[tokio::test(flavor = "current_thread")]
    async fn fires_at_the_deadline_not_before() {
        let mut t = DeadlineTimer::new().unwrap();
        let mut late = Vec::new();
        for i in 0..20u64 {
            let deadline = Instant::now() + Duration::from_micros(2_300 + i * 37);
            t.set(Some(deadline)).unwrap();
            std::future::poll_fn(|cx| t.poll_expired(cx)).await.unwrap();
            let now = Instant::now();
            assert!(now >= deadline, "fired early by {:?}", deadline - now);
            late.push(now - deadline);
        }
        late.sort();
        eprintln!(
            "timerfd lateness: median {:?}, max {:?}",
            late[10], late[19]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_past_deadline_fires_at_once_and_the_latest_deadline_wins() {
        let mut t = DeadlineTimer::new().unwrap();
        t.set(Some(Instant::now() - Duration::from_millis(5)))
            .unwrap();
        std::future::poll_fn(|cx| t.poll_expired(cx)).await.unwrap();
        // Moved earlier: fires at the earlier deadline.
        let t0 = Instant::now();
        t.set(Some(t0 + Duration::from_millis(500))).unwrap();
        t.set(Some(t0 + Duration::from_millis(3))).unwrap();
        std::future::poll_fn(|cx| t.poll_expired(cx)).await.unwrap();
        let fired = t0.elapsed();
        assert!(fired >= Duration::from_millis(3), "fired early: {fired:?}");
        assert!(
            fired < Duration::from_millis(500),
            "the earlier deadline was not armed"
        );
        // Moved later (a Backup hearing an advert): no wake-up at the old
        // deadline, one at the new.
        let t1 = Instant::now();
        t.set(Some(t1 + Duration::from_millis(5))).unwrap();
        t.set(Some(t1 + Duration::from_millis(40))).unwrap();
        std::future::poll_fn(|cx| t.poll_expired(cx)).await.unwrap();
        let fired = t1.elapsed();
        assert!(
            fired >= Duration::from_millis(40),
            "woke at the old deadline: {fired:?}"
        );
        // Nothing armed now: it never fires.
        let r = tokio::time::timeout(
            Duration::from_millis(20),
            std::future::poll_fn(|cx| t.poll_expired(cx)),
        )
        .await;
        assert!(r.is_err(), "a disarmed timer fired");
    }
}
