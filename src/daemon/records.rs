//! What the daemon keeps of each configured router beside the core's state:
//! its configuration, why it waits, its notify hooks, and the log's and
//! status's bookkeeping of its changes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use tracing::{info, warn};

use super::notify::{Change, Notifier};
use crate::config;
use crate::core::{Reason, State};

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

    /// Log a split brain: the core reports one only when two Active
    /// routers persist past one advert interval, at most once a minute per
    /// router whatever the peer (`core::SPLIT_BRAIN_REPORT_PERIOD`), and
    /// counts every episode (splitBrainEvents).
    pub fn peer_active(&self, ours: IpAddr, peer: IpAddr, peer_priority: u8, our_priority: u8) {
        let name = &self.cfg.name;
        warn!(router = %name, vrid = self.cfg.vrid, %ours, %peer, our_priority, peer_priority,
            "{name}: split brain: {peer} (priority {peer_priority}) is Active too; we are {ours} (priority {our_priority}): asserting with an advert");
    }
}
