//! One task per check on the daemon's runtime: probe every `interval` (or
//! `confirm_after` after a failure still to be confirmed), each probe
//! bounded per stage and in all, and for the API server a fast TCP connect
//! every `connect_interval` beside it; debounce, report changes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{info, warn};

use super::listen::{self, DestroyWatch, ListenWatch};
use super::{
    CheckKind, CheckSpec, CheckUpdate, Debouncer, Failure, ProbeResult, ProbeSource, Prober,
    Service, Stage, transport,
};

/// Slack over `timeout` before the runner abandons a probe on its own. Every
/// probe bounds its stages already; this guards against one that does not.
const PROBE_GRACE: Duration = Duration::from_millis(500);

/// Floor on the probe periods, so a zero interval cannot spin the runtime.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// What `ha-vip status` and the metrics show for a check between changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckStatus {
    /// The debounced state; `None` before the first probe ends.
    pub healthy: Option<bool>,
    /// The latest probe, raw (for the API server: the `/readyz` probe, or
    /// the fast connect probe when it was refused).
    pub last: Option<ProbeResult>,
    /// When the latest probe ended.
    pub last_at: Option<std::time::Instant>,
    /// The latest failed probe, kept after the check recovers: its stage
    /// is `last_failure.stage()`, its reason `last_failure.reason()`.
    pub last_failure: Option<ProbeResult>,
    /// When the latest failed probe ended.
    pub last_failure_at: Option<std::time::Instant>,
    /// A change waiting for its rise/fall count or buffer: towards which
    /// state, and since when.
    pub pending: Option<(bool, std::time::Instant)>,
    /// When that change is reported if no contrary result comes: known once
    /// its count is complete (for a recovery: the run's start + `hold_down`).
    pub change_due: Option<std::time::Instant>,
    /// Flaps (healthy -> failed) since the last quiet period.
    pub flaps: u32,
    /// How long healthy results must hold before the check recovers now:
    /// `stability`, doubled per flap up to `hold_down_max` when damped.
    pub hold_down: Duration,
    /// Full probes run, and how many of them failed.
    pub probes: u64,
    pub failures: u64,
    /// Every full probe's duration, bucketed (fixed size), for the metrics.
    pub latency: crate::status::LatencyHistogram,
    /// The fast TCP-connect probe, when the check has one.
    pub connect: Option<ConnectStatus>,
}

/// The fast probe of the API-server check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectStatus {
    /// What it watches.
    pub target: Option<SocketAddr>,
    /// How: `sock_diag notices` (the kernel's listening sockets, asked
    /// when it announces a socket on the port destroyed: a local address),
    /// `sock_diag poll` (asked every `connect_interval`: notices
    /// unavailable) or `tcp connect` (every `connect_interval`: another
    /// host's address).
    pub method: &'static str,
    /// Its latest result (latency: the TCP handshake).
    pub last: Option<ProbeResult>,
    /// Probes run, and how many were refused or failed.
    pub probes: u64,
    pub failures: u64,
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

/// When the next full probe starts, given the one that started at `started`
/// and ended at `ended`: `confirm_after` past its end while a failure waits
/// for its confirmation (the debouncer has a change towards failed pending),
/// else one `interval` after its start; never before it ended.
pub fn next_probe_at(
    spec: &CheckSpec,
    started: std::time::Instant,
    ended: std::time::Instant,
    debouncer: &Debouncer,
) -> std::time::Instant {
    let confirming = matches!(debouncer.pending(), Some((false, _)));
    let at = match spec.confirm_after {
        Some(after) if confirming => ended + after,
        _ => started + spec.interval.max(MIN_INTERVAL),
    };
    at.max(ended)
}

type Running<T> = Option<Pin<Box<dyn Future<Output = T> + Send>>>;

/// Awaits the future when there is one, else never.
async fn maybe<T>(f: &mut Running<T>) -> T {
    match f.as_mut() {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// The fast probe's target: the API server's address in external mode,
/// when it is an IP address or resolves at start.
async fn connect_target(spec: &CheckSpec) -> Option<SocketAddr> {
    let CheckKind::K8s(params) = &spec.kind else {
        return None;
    };
    spec.connect_interval?;
    if params.in_cluster {
        return None;
    }
    let url = transport::parse_url(&params.api_server, "api_server").ok()?;
    if let Ok(ip) = url.host.parse() {
        return Some(SocketAddr::new(ip, url.port));
    }
    match tokio::net::lookup_host((url.host.as_str(), url.port)).await {
        Ok(mut addrs) => addrs.next(),
        Err(e) => {
            warn!(check = %spec.name, "no fast connect probe: cannot resolve {}: {e}", url.host);
            None
        }
    }
}

/// How the fast probe looks at the API server.
enum How {
    /// Its listening socket, asked of the kernel: a local address. With
    /// destroy notices the question is asked when a socket on the port
    /// without a peer goes away; without, every `connect_interval`.
    Listen(ListenWatch, Option<DestroyWatch>),
    /// A TCP connect every `connect_interval`: an address of another host.
    Connect,
}

struct Fast {
    how: How,
    target: SocketAddr,
    every: Duration,
    limit: Duration,
    /// The first probe runs at once.
    started: bool,
}

impl Fast {
    fn new(name: &str, target: SocketAddr, every: Duration, limit: Duration) -> Fast {
        let how = if listen::is_local(target.ip()) {
            match ListenWatch::new() {
                Ok(w) => {
                    let events = DestroyWatch::new(target.port())
                        .map_err(|e| {
                            warn!(check = %name, "no socket-destroy notices ({e}): asking the \
                                kernel for {target}'s listener every {every:?} instead");
                        })
                        .ok();
                    How::Listen(w, events)
                }
                Err(e) => {
                    warn!(check = %name,
                        "sock_diag unavailable ({e}): the fast probe connects to {target} instead");
                    How::Connect
                }
            }
        } else {
            How::Connect
        };
        Fast {
            how,
            target,
            every,
            limit,
            started: false,
        }
    }

    /// `sock_diag notices`, `sock_diag every ...` or `tcp connect`.
    fn method(&self) -> &'static str {
        match &self.how {
            How::Listen(_, Some(_)) => "sock_diag notices",
            How::Listen(_, None) => "sock_diag poll",
            How::Connect => "tcp connect",
        }
    }

    /// Waits for the next moment to look (a notice, or the period), then
    /// looks. The sock_diag question is a few microseconds of netlink round
    /// trip on a socket kept open: answered in place.
    async fn next(&mut self) -> ProbeResult {
        if self.started {
            match &mut self.how {
                How::Listen(_, Some(events)) => match events.destroyed().await {
                    // A notice, or notices lost: look either way.
                    Ok(_) => {}
                    Err(e) => {
                        warn!("socket-destroy notices failed ({e}): polling instead");
                        if let How::Listen(_, events) = &mut self.how {
                            *events = None;
                        }
                    }
                },
                How::Listen(_, None) | How::Connect => tokio::time::sleep(self.every).await,
            }
        }
        self.started = true;
        let start = Instant::now();
        let outcome = match &mut self.how {
            How::Listen(w, _) => match w.serves(self.target) {
                Ok(true) => Ok(()),
                Ok(false) => Err(Failure::NotListening { addr: self.target }),
                Err(e) => Err(Failure::Io {
                    stage: Stage::Connect,
                    error: format!("sock_diag: {e}"),
                }),
            },
            How::Connect => transport::connect(
                &[self.target],
                Service::ApiServer,
                start + self.limit,
                self.limit,
            )
            .await
            .map(drop),
        };
        ProbeResult {
            outcome,
            latency: start.elapsed(),
        }
    }
}

struct Runner {
    spec: CheckSpec,
    tx: mpsc::Sender<CheckUpdate>,
    status: watch::Sender<CheckStatus>,
    debouncer: Debouncer,
    /// The result that would be reported with a change falling due by time.
    last: Option<(ProbeResult, ProbeSource)>,
}

impl Runner {
    fn publish(&self, f: impl FnOnce(&mut CheckStatus)) {
        let d = &self.debouncer;
        self.status.send_modify(|s| {
            f(s);
            s.healthy = d.state();
            s.pending = d.pending();
            s.change_due = d.change_due().map(|(_, at)| at);
            s.flaps = d.flaps();
            s.hold_down = d.hold_down();
        });
    }

    /// Feeds one result; false when nobody listens any more.
    async fn feed(&mut self, result: ProbeResult, source: ProbeSource, now: Instant) -> bool {
        // A change that fell due while the probe ran takes effect first,
        // with the reason that made it.
        if !self.due(now).await {
            return false;
        }
        let previous = self.last.as_ref().map(|(r, _)| r);
        log_raw_change(&self.spec.name, source, previous, &result);
        let change = self
            .debouncer
            .observe(now.into_std(), result.healthy(), result.definite());
        self.publish(|s| {
            if source == ProbeSource::Full {
                s.probes += 1;
                s.latency.observe(result.latency);
                if !result.healthy() {
                    s.failures += 1;
                }
            }
            if !result.healthy() {
                s.last_failure = Some(result.clone());
                s.last_failure_at = Some(now.into_std());
            }
            s.last = Some(result.clone());
            s.last_at = Some(now.into_std());
        });
        let ok = match change {
            Some(healthy) => self.report(healthy, &result, source, now).await,
            None => true,
        };
        self.last = Some((result, source));
        ok
    }

    /// Reports a change due by time alone; false when nobody listens.
    async fn due(&mut self, now: Instant) -> bool {
        let change = self.debouncer.handle_timeout(now.into_std());
        self.publish(|_| {});
        match (change, self.last.clone()) {
            (Some(healthy), Some((result, source))) => {
                self.report(healthy, &result, source, now).await
            }
            _ => true,
        }
    }

    async fn report(
        &self,
        healthy: bool,
        result: &ProbeResult,
        source: ProbeSource,
        now: Instant,
    ) -> bool {
        let reason = result.reason();
        let name = &self.spec.name;
        let flaps = self.debouncer.flaps();
        let hold_down = self.debouncer.hold_down();
        if healthy {
            info!(check = %name, flaps, "check is now healthy");
        } else {
            warn!(check = %name, %source, stage = ?result.stage().map(|s| s.key()),
                definite = result.definite(), shutting_down = result.shutting_down(),
                flaps, hold_down_ms = hold_down.as_millis() as u64,
                "check is now FAILED: {reason}");
        }
        let update = CheckUpdate {
            name: name.clone(),
            healthy,
            shutting_down: !healthy && result.shutting_down(),
            reason,
            failed: result.failed_checks().to_vec(),
            latency: result.latency,
            at: now.into_std(),
            stage: if healthy { None } else { result.stage() },
            definite: !healthy && result.definite(),
            source,
            flaps,
            hold_down,
        };
        self.tx.send(update).await.is_ok()
    }
}

async fn run(spec: CheckSpec, tx: mpsc::Sender<CheckUpdate>, status: watch::Sender<CheckStatus>) {
    // Only for the runner's own backstop timeout, named like the probe's.
    let (service, stage) = match spec.kind {
        CheckKind::K8s(_) => (Service::ApiServer, Stage::Http),
        CheckKind::Http(_) => (Service::Server, Stage::Http),
        CheckKind::Tcp(_) => (Service::Server, Stage::Connect),
        CheckKind::Exec(_) | CheckKind::Interface(_) => (Service::Server, Stage::Exec),
    };
    let connect_limit = spec.stages.connect.min(spec.timeout);
    let fast = match (spec.connect_interval, connect_target(&spec).await) {
        (Some(every), Some(target)) => Some(Fast::new(
            &spec.name,
            target,
            every.max(MIN_INTERVAL),
            connect_limit,
        )),
        _ => None,
    };
    let mut connecting: Running<(Fast, ProbeResult)> = None;
    if let Some(mut f) = fast {
        let method = f.method();
        info!(check = %spec.name, target = %f.target, method, "fast probe of the API server's listener");
        status.send_modify(|s| {
            s.connect = Some(ConnectStatus {
                target: Some(f.target),
                method,
                ..ConnectStatus::default()
            })
        });
        connecting = Some(Box::pin(async move {
            let r = f.next().await;
            (f, r)
        }));
    }
    let mut prober = Some(Prober::new(&spec.name, &spec.kind));
    let mut r = Runner {
        debouncer: spec.debouncer(),
        spec,
        tx,
        status,
        last: None,
    };
    let total = r.spec.timeout;
    let stages = r.spec.stages;
    let mut next_probe = Instant::now();
    let mut probing: Running<(Prober, ProbeResult, Instant)> = None;
    loop {
        let due = r.debouncer.poll_timeout().map(Instant::from_std);
        tokio::select! {
            _ = r.tx.closed() => return,
            _ = sleep_until(due.unwrap_or(next_probe)), if due.is_some() => {
                if !r.due(Instant::now()).await {
                    return;
                }
            }
            _ = sleep_until(next_probe), if probing.is_none() => {
                let Some(mut p) = prober.take() else { return };
                probing = Some(Box::pin(async move {
                    let started = Instant::now();
                    let result = match timeout(total + PROBE_GRACE, p.probe_stages(stages, total)).await {
                        Ok(result) => result,
                        Err(_) => ProbeResult {
                            outcome: Err(Failure::Timeout { service, stage, limit: total }),
                            latency: started.elapsed(),
                        },
                    };
                    (p, result, started)
                }));
            }
            (p, result, started) = maybe(&mut probing) => {
                probing = None;
                prober = Some(p);
                let now = Instant::now();
                if !r.feed(result, ProbeSource::Full, now).await {
                    return;
                }
                next_probe = Instant::from_std(next_probe_at(
                    &r.spec, started.into_std(), now.into_std(), &r.debouncer));
            }
            (mut f, result) = maybe(&mut connecting) => {
                let method = f.method();
                connecting = Some(Box::pin(async move {
                    let r = f.next().await;
                    (f, r)
                }));
                let now = Instant::now();
                r.status.send_modify(|s| {
                    if let Some(c) = s.connect.as_mut() {
                        c.method = method;
                        c.probes += 1;
                        if !result.healthy() {
                            c.failures += 1;
                        }
                        c.last = Some(result.clone());
                    }
                });
                // Only a definite failure says something the full probe
                // does not (the listener is gone, now); a listener that is
                // there says nothing about readiness.
                if result.definite() && !r.feed(result, ProbeSource::Connect, now).await {
                    return;
                }
            }
        }
    }
}

/// Logs a probe whose reason differs from the previous one: a failing check
/// logs once per kind of failure, not every interval.
fn log_raw_change(
    name: &str,
    source: ProbeSource,
    previous: Option<&ProbeResult>,
    result: &ProbeResult,
) {
    let reason = result.reason();
    if previous.map(ProbeResult::reason).as_deref() == Some(reason.as_str()) {
        return;
    }
    if result.healthy() {
        info!(check = %name, latency_ms = result.latency.as_millis() as u64, "probe ok");
    } else {
        warn!(check = %name, %source, stage = ?result.stage().map(|s| s.key()),
            latency_ms = result.latency.as_millis() as u64,
            failed = ?result.failed_checks(), "probe failed: {reason}");
    }
}
