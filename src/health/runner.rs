//! One task per check on the daemon's runtime: probe every `interval`, each
//! probe bounded by `timeout`, debounce, report changes.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{info, warn};

use super::{
    CheckKind, CheckSpec, CheckUpdate, Debouncer, Failure, ProbeResult, Prober, Service, Stage,
};

/// Slack over `timeout` before the runner abandons a probe on its own. Every
/// probe bounds its stages already; this guards against one that does not.
const PROBE_GRACE: Duration = Duration::from_millis(500);

/// Floor on the probe period, so a zero interval cannot spin the runtime.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What `ha-vip status` shows for a check between changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckStatus {
    /// The debounced state; `None` before the first probe ends.
    pub healthy: Option<bool>,
    /// The latest probe, raw.
    pub last: Option<ProbeResult>,
    /// When the latest probe ended.
    pub last_at: Option<std::time::Instant>,
    /// A change waiting for its rise/fall count or stability buffer: towards
    /// which state, and since when.
    pub pending: Option<(bool, std::time::Instant)>,
    /// Probes run, and how many of them failed.
    pub probes: u64,
    pub failures: u64,
    /// Every probe's duration, bucketed (fixed size), for the metrics.
    pub latency: crate::status::LatencyHistogram,
}

/// A running check.
#[derive(Debug)]
pub struct CheckHandle {
    /// The probe loop. It ends when the update receiver is dropped; abort it
    /// to stop sooner (nothing is left behind: an `exec` child is killed on
    /// drop).
    pub task: JoinHandle<()>,
    /// The latest raw result and counters, updated after every probe.
    pub status: watch::Receiver<CheckStatus>,
}

/// Starts `spec` on the current tokio runtime. The first probe runs at once;
/// `tx` receives a [`CheckUpdate`] each time the debounced state changes
/// (the first result included).
pub fn spawn_check(spec: CheckSpec, tx: mpsc::Sender<CheckUpdate>) -> CheckHandle {
    let (status_tx, status) = watch::channel(CheckStatus::default());
    let task = tokio::spawn(run(spec, tx, status_tx));
    CheckHandle { task, status }
}

async fn run(spec: CheckSpec, tx: mpsc::Sender<CheckUpdate>, status: watch::Sender<CheckStatus>) {
    let mut prober = Prober::new(&spec.name, &spec.kind);
    // Only for the runner's own backstop timeout, named like the probe's.
    let (service, stage) = match spec.kind {
        CheckKind::K8s(_) => (Service::ApiServer, Stage::Http),
        CheckKind::Http(_) => (Service::Server, Stage::Http),
        CheckKind::Tcp(_) => (Service::Server, Stage::Connect),
        CheckKind::Exec(_) | CheckKind::Interface(_) => (Service::Server, Stage::Exec),
    };
    let mut debouncer = Debouncer::new(spec.rise, spec.fall, spec.stability);
    let mut next_probe = Instant::now();
    let mut last: Option<ProbeResult> = None;
    loop {
        let due = debouncer.poll_timeout().map(Instant::from_std);
        tokio::select! {
            _ = tx.closed() => return,
            _ = sleep_until(due.unwrap_or(next_probe)), if due.is_some() => {
                let now = Instant::now();
                let change = debouncer.handle_timeout(now.into_std());
                status.send_modify(|s| {
                    s.healthy = debouncer.state();
                    s.pending = debouncer.pending();
                });
                if let (Some(healthy), Some(result)) = (change, &last)
                    && !report(&spec, &tx, healthy, result, now).await
                {
                    return;
                }
            }
            _ = sleep_until(next_probe) => {
                let started = Instant::now();
                let result = match timeout(spec.timeout + PROBE_GRACE, prober.probe(spec.timeout)).await {
                    Ok(result) => result,
                    Err(_) => ProbeResult {
                        outcome: Err(Failure::Timeout {
                            service,
                            stage,
                            limit: spec.timeout,
                        }),
                        latency: started.elapsed(),
                    },
                };
                let now = Instant::now();
                // A change that fell due while the probe ran takes effect
                // first, with the reason that made it.
                if let (Some(healthy), Some(previous)) = (debouncer.handle_timeout(now.into_std()), &last)
                    && !report(&spec, &tx, healthy, previous, now).await
                {
                    return;
                }
                log_raw_change(&spec.name, last.as_ref(), &result);
                let change = debouncer.observe(now.into_std(), result.healthy(), result.shutting_down());
                status.send_modify(|s| {
                    s.probes += 1;
                    s.latency.observe(result.latency);
                    if !result.healthy() {
                        s.failures += 1;
                    }
                    s.last = Some(result.clone());
                    s.last_at = Some(now.into_std());
                    s.healthy = debouncer.state();
                    s.pending = debouncer.pending();
                });
                if let Some(healthy) = change
                    && !report(&spec, &tx, healthy, &result, now).await
                {
                    return;
                }
                last = Some(result);
                next_probe = (started + spec.interval.max(MIN_INTERVAL)).max(now);
            }
        }
    }
}

/// Logs a probe whose reason differs from the previous one: a failing check
/// logs once per kind of failure, not every interval.
fn log_raw_change(name: &str, previous: Option<&ProbeResult>, result: &ProbeResult) {
    let reason = result.reason();
    if previous.map(ProbeResult::reason).as_deref() == Some(reason.as_str()) {
        return;
    }
    if result.healthy() {
        info!(check = %name, latency_ms = result.latency.as_millis() as u64, "probe ok");
    } else {
        warn!(check = %name, latency_ms = result.latency.as_millis() as u64,
            failed = ?result.failed_checks(), "probe failed: {reason}");
    }
}

/// Sends the change; false when nobody listens any more.
async fn report(
    spec: &CheckSpec,
    tx: &mpsc::Sender<CheckUpdate>,
    healthy: bool,
    result: &ProbeResult,
    now: Instant,
) -> bool {
    let reason = result.reason();
    if healthy {
        info!(check = %spec.name, "check is now healthy");
    } else {
        warn!(check = %spec.name, shutting_down = result.shutting_down(), "check is now FAILED: {reason}");
    }
    let update = CheckUpdate {
        name: spec.name.clone(),
        healthy,
        shutting_down: !healthy && result.shutting_down(),
        reason,
        failed: result.failed_checks().to_vec(),
        latency: result.latency,
        at: now.into_std(),
    };
    tx.send(update).await.is_ok()
}
