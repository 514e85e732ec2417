//! What the daemon keeps of each configured router beside the core's state:
//! its configuration, why it waits, its notify hooks, and the log's and
//! status's bookkeeping of its changes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use tracing::{info, warn};

use super::notify::{Change, Notifier};
use crate::config;
use crate::core::{Reason, State};

/// At most one split-brain log line per peer in this time (all counted).
const SPLIT_BRAIN_LOG_EVERY: Duration = Duration::from_secs(60);

/// One configured virtual router, running or waiting.
pub struct Record {
    pub cfg: config::Router,
    /// Why the router is not running, for `status`.
    pub waiting: Option<String>,
    notifier: Option<Notifier>,
    /// State changes by "to-state: reason".
    pub transitions: BTreeMap<String, u64>,
    pub announcements_sent: u64,
    pub last_takeover: Option<SystemTime>,
    /// The last split brain logged (peer, when), for the log's rate limit.
    split_brain_logged: Option<(IpAddr, Instant)>,
}

impl Record {
    pub fn new(cfg: config::Router) -> Record {
        let notifier = Notifier::spawn(
            cfg.name.clone(),
            cfg.vrid,
            cfg.interface.clone(),
            cfg.notify.clone(),
            cfg.notify_timeout,
        );
        Record {
            cfg,
            waiting: None,
            notifier,
            transitions: BTreeMap::new(),
            announcements_sent: 0,
            last_takeover: None,
            split_brain_logged: None,
        }
    }

    /// Take a configuration applied in place; the notify hooks are started
    /// again only if they changed.
    pub fn reconfigure(&mut self, cfg: config::Router) {
        if (&cfg.notify, cfg.notify_timeout) != (&self.cfg.notify, self.cfg.notify_timeout) {
            self.notifier = Notifier::spawn(
                cfg.name.clone(),
                cfg.vrid,
                cfg.interface.clone(),
                cfg.notify.clone(),
                cfg.notify_timeout,
            );
        }
        self.cfg = cfg;
    }

    /// Say why the router waits (logged when the reason is new).
    pub fn wait(&mut self, why: String) {
        if self.waiting.as_deref() != Some(why.as_str()) {
            warn!(router = %self.cfg.name, "not running: {why}");
        }
        self.waiting = Some(why);
    }

    /// Log, count and notify a state change; `priority` is the effective one.
    pub fn state_changed(&mut self, from: State, to: State, reason: Reason, priority: u8) {
        let name = &self.cfg.name;
        info!(router = %name, from = %from, to = %to, reason = %reason, "{name}: {from} -> {to} ({reason})");
        *self
            .transitions
            .entry(format!("{to}: {reason}"))
            .or_default() += 1;
        if to == State::Active {
            self.last_takeover = Some(SystemTime::now());
        }
        if let Some(n) = &self.notifier {
            n.notify(Change {
                state: to.to_string(),
                priority,
            });
        }
    }

    /// Log a split brain: every event is counted (splitBrainEvents, by the
    /// core); the log gets a new peer, a yield, or one line a minute, so a
    /// flood from the link cannot flood the log.
    pub fn peer_active(
        &mut self,
        now: Instant,
        ours: IpAddr,
        peer: IpAddr,
        peer_priority: u8,
        our_priority: u8,
        yielded: bool,
    ) {
        let quiet = self.split_brain_logged.is_some_and(|(p, at)| {
            p == peer && now.saturating_duration_since(at) < SPLIT_BRAIN_LOG_EVERY
        });
        if yielded || !quiet {
            self.split_brain_logged = Some((peer, now));
            let name = &self.cfg.name;
            warn!(router = %name, vrid = self.cfg.vrid, %ours, %peer, our_priority, peer_priority,
                "{name}: split brain: {peer} (priority {peer_priority}) is Active too; we are {ours} (priority {our_priority}): {}",
                if yielded { "yielding to it" } else { "asserting with an advert" });
        }
    }
}
