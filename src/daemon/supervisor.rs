//! The service manager (systemd, `Type=notify`): readiness, reloads, stop,
//! a one-line status, and the watchdog.
//!
//! The watchdog is served from the protocol loop itself (`main_loop` calls
//! [`Supervisor::tick`] every turn and wakes for [`Supervisor::deadline`]),
//! not from a task of its own: a loop that stalls stops pinging, and
//! systemd restarts the daemon after `WatchdogSec=`. Without `NOTIFY_SOCKET`
//! every call is a no-op.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tracing::warn;

pub struct Supervisor {
    enabled: bool,
    /// Half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.
    ping_every: Option<Duration>,
    last_ping: Option<Instant>,
    /// The last STATUS= sent, so an unchanged one is not sent again.
    status: String,
    failed: bool,
}

impl Supervisor {
    pub fn from_env() -> Supervisor {
        Supervisor {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some(),
            ping_every: sd_notify::watchdog_enabled().map(|d| d / 2),
            last_ping: None,
            status: String::new(),
            failed: false,
        }
    }

    /// Whether a service manager listens (NOTIFY_SOCKET is set).
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        match sd_notify::notify(states) {
            Ok(()) => self.failed = false,
            // Said once until it works again.
            Err(e) if !self.failed => {
                self.failed = true;
                warn!("sd_notify: {e}");
            }
            Err(_) => {}
        }
    }

    /// Every router has started (or says why it waits).
    pub fn ready(&mut self, status: String) {
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        self.status = status;
    }

    /// A SIGHUP reload begins; [`Self::ready`] ends it.
    pub fn reloading(&mut self) {
        match NotifyState::monotonic_usec_now() {
            Ok(t) => self.send(&[NotifyState::Reloading, t]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    pub fn stopping(&mut self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    }

    /// The one-line summary, sent when it changed.
    pub fn status(&mut self, status: String) {
        if status != self.status {
            self.send(&[NotifyState::Status(&status)]);
            self.status = status;
        }
    }

    /// When the loop must wake to ping the watchdog.
    pub fn deadline(&self) -> Option<Instant> {
        let every = self.ping_every?;
        Some(self.last_ping.map_or_else(Instant::now, |t| t + every))
    }

    /// Ping the watchdog if it is due: called by the protocol loop on every
    /// turn, so only a loop that runs keeps the daemon alive.
    pub fn tick(&mut self, now: Instant) {
        let Some(every) = self.ping_every else {
            return;
        };
        if self.last_ping.is_none_or(|t| now >= t + every) {
            self.last_ping = Some(now);
            self.send(&[NotifyState::Watchdog]);
        }
    }
}
