//! The health checks: every `CheckSpec` of the configuration (`[k8s]` via
//! `K8sConfig::check_spec`, and each `[checks.NAME]`) is started here; the
//! tasks run on the runtime, and their last debounced results are kept for
//! the routers that track them and for `status`.

use std::collections::BTreeMap;
use std::time::Instant;

use tracing::info;

use crate::config;
use crate::health::{self, CheckHandle, CheckSpec, CheckUpdate};
use crate::status::CheckStatus;

/// A running health check and what it last reported.
struct Check {
    handle: CheckHandle,
    spec: CheckSpec,
    last: Option<CheckUpdate>,
}

impl Drop for Check {
    fn drop(&mut self) {
        self.handle.task.abort();
    }
}

pub struct Checks {
    checks: BTreeMap<String, Check>,
    tx: tokio::sync::mpsc::Sender<CheckUpdate>,
    /// `[k8s]` as configured: whether routers track it, and its weight.
    k8s: config::K8sConfig,
}

impl Checks {
    /// Start the `[k8s]` check (when enabled) and every `[checks.NAME]`;
    /// their updates go to `tx`.
    pub fn start(
        daemon: &config::DaemonConfig,
        tx: tokio::sync::mpsc::Sender<CheckUpdate>,
    ) -> Checks {
        let mut checks = Checks {
            checks: BTreeMap::new(),
            tx,
            k8s: daemon.k8s.clone(),
        };
        checks.restart(daemon);
        checks
    }

    /// After a reload changed the checks: a check whose definition did not
    /// change keeps running with its last result; changed and new ones
    /// start (failed until their first result); removed ones stop.
    pub fn restart(&mut self, daemon: &config::DaemonConfig) {
        self.k8s = daemon.k8s.clone();
        let mut specs: Vec<CheckSpec> = daemon.checks.clone();
        if daemon.k8s.enabled {
            specs.push(daemon.k8s.check_spec());
        }
        let mut old = std::mem::take(&mut self.checks);
        for spec in specs {
            match old.remove(&spec.name).filter(|c| c.spec == spec) {
                Some(kept) => {
                    self.checks.insert(spec.name.clone(), kept);
                }
                None => {
                    info!(check = %spec.name, "starting check (every {:?}, timeout {:?})", spec.interval, spec.timeout);
                    let handle = health::spawn_check(spec.clone(), self.tx.clone());
                    self.checks.insert(
                        spec.name.clone(),
                        Check {
                            handle,
                            spec,
                            last: None,
                        },
                    );
                }
            }
        }
        // What is left in `old` was removed or changed: dropping it aborts
        // its task.
    }

    /// (check, weight) a router tracks: `[k8s]` unless it opted out, and its
    /// `track` list.
    pub fn tracked_by(&self, cfg: &config::Router) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        if self.k8s.enabled && cfg.track_k8s {
            out.push(("k8s".to_string(), self.k8s.weight));
        }
        out.extend(cfg.track.iter().map(|t| (t.check.clone(), t.weight)));
        out
    }

    /// The tracked objects of a router as the core takes them: (name,
    /// weight, failed). A check that has not reported yet counts as failed:
    /// every node starts with the same penalty, so their order is kept.
    pub fn tracked_state(&self, cfg: &config::Router) -> Vec<(String, i32, bool)> {
        self.tracked_by(cfg)
            .into_iter()
            .map(|(name, weight)| {
                let failed = !self.healthy(&name);
                (name, weight, failed)
            })
            .collect()
    }

    fn healthy(&self, name: &str) -> bool {
        self.checks
            .get(name)
            .and_then(|c| c.last.as_ref())
            .is_some_and(|u| u.healthy)
    }

    /// Keep a check's new debounced state.
    pub fn record(&mut self, update: CheckUpdate) {
        if let Some(c) = self.checks.get_mut(&update.name) {
            c.last = Some(update);
        }
    }

    /// Every check as `status` shows it.
    pub fn status(&self, now: Instant) -> Vec<CheckStatus> {
        self.checks
            .values()
            .map(|c| {
                let st = c.handle.status.borrow();
                let (reason, latency) = match (&st.last, &c.last) {
                    (Some(p), _) => (p.reason(), p.latency),
                    (None, Some(u)) => (u.reason.clone(), u.latency),
                    (None, None) => ("no result yet".to_string(), std::time::Duration::ZERO),
                };
                CheckStatus {
                    name: c.spec.name.clone(),
                    healthy: c.last.as_ref().is_some_and(|u| u.healthy),
                    reason,
                    latency_ms: latency.as_secs_f64() * 1000.0,
                    last_change_ago_s: c
                        .last
                        .as_ref()
                        .map(|u| now.saturating_duration_since(u.at).as_secs_f64()),
                    probes: st.probes,
                    failures: st.failures,
                    latency: st.latency.clone(),
                    last_failure_stage: st
                        .last_failure
                        .as_ref()
                        .and_then(|f| f.stage())
                        .map(|s| s.key().to_string()),
                    last_failure: st.last_failure.as_ref().map(|f| f.reason()),
                    flaps: st.flaps,
                    hold_down_s: st.hold_down.as_secs_f64(),
                }
            })
            .collect()
    }
}
