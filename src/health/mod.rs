//! Health checks: the Kubernetes API server (its listening socket watched
//! through the kernel, and `GET /readyz` with per-stage bounds: fail fast on
//! definite signals, confirm the rest, recover slowly, damp flapping), and
//! generic `tcp`, `http`, `exec` and `interface` checks, each with
//! keepalived-style rise/fall counts and an optional stability buffer.
//!
//! The module has two layers, the same split as the rest of the crate:
//!
//! - [`Debouncer`] is pure: results and time go in as arguments, the
//!   reported state comes out. It is tested in virtual time with exact
//!   instants.
//! - [`spawn_check`] runs one check on the daemon's tokio runtime: it probes
//!   every `interval`, bounds every probe by `timeout` (a hung API server
//!   never stalls anything), feeds the debouncer and sends a [`CheckUpdate`]
//!   when the debounced state changes.
//!
//! Everything runs in process: no shell, no `curl`. Bearer tokens never reach
//! a log line or a `Debug` output (see [`Secret`]).
//!
//! ## Weights
//!
//! A router tracks a check with a negative weight; while the check is failed
//! the router's priority is lowered by that much (the core takes `(name,
//! weight, failed)`). The API-server check defaults to
//! [`DEFAULT_K8S_WEIGHT`]. When every node's API server is down, every
//! priority drops by the same weight, so their order is kept and the VIP stays
//! on the highest-priority node rather than disappearing. [`weight_warning`]
//! tells `ha-vip check` when a weight is too small to move the VIP at all.
//!
//! ## Wiring (the daemon's side)
//!
//! ```text
//! let (tx, mut rx) = mpsc::channel(16);
//! let handles: Vec<CheckHandle> = specs.map(|spec| spawn_check(spec, tx.clone())).collect();
//! // Until its first update a check counts as failed:
//! //   router.set_tracked(now, name, weight, true) for every tracked check.
//! while let Some(u) = rx.recv().await {       // in the daemon's select! loop
//!     for each router tracking u.name with weight w:
//!         router.set_tracked(now, &u.name, w, !u.healthy);
//!         if u.shutting_down { router.handover(now) }  // priority 0: Skew_Time
//! }
//! // The [k8s] keys as a spec: config::K8sConfig::check_spec().
//! // `ha-vip status` and metrics: handles[i].status.borrow() is a
//! // CheckStatus: raw result, last failure (its .stage() and .reason()),
//! // pending change and when it is due, flaps, hold_down, probe counters,
//! // the fast probe's method and counters. Each CheckUpdate also carries
//! // stage, definite, source, flaps and hold_down.
//! ```

mod damping;
mod debounce;
mod k8s;
pub mod listen;
mod probe;
mod runner;
pub mod spawn;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use damping::{DEFAULT_FLAP_RESET, DEFAULT_MAX_HOLD_DOWN, Damping, DampingParams};
pub use debounce::Debouncer;
pub use k8s::{
    DEFAULT_API_SERVER, DEFAULT_SERVER_NAME, DEFAULT_SERVICE_ACCOUNT_DIR, InClusterEnv, K8sParams,
    K8sProber, parse_readyz_failures, readable_by_others,
};
pub use probe::Prober;
pub use runner::{CheckHandle, CheckStatus, ConnectStatus, next_probe_at, spawn_check};

/// Priority delta of the API-server check while it is failed.
///
/// 50 moves the VIP for the usual layouts (priorities such as 150/140/130, or
/// 100/99/98), and still leaves room under 254 for an operator's own ordering.
pub const DEFAULT_K8S_WEIGHT: i32 = -50;

/// Default `/readyz` period of the API-server check. The original guide's
/// is 2 s; 1 s keeps a slow `/readyz` (etcd gone: 500 after 2.0 s) within
/// 3 s of the event, with [`DEFAULT_K8S_RESPONSE_TIMEOUT`] and the
/// confirmation probe: 1 + 0.8 + 0.2 + 0.8 s at worst.
pub const DEFAULT_K8S_INTERVAL: Duration = Duration::from_secs(1);

/// Default bound on one API-server probe, every stage included: a backstop
/// over the per-stage bounds, which are what normally runs out.
pub const DEFAULT_K8S_TIMEOUT: Duration = Duration::from_secs(2);

/// Default bound on the TCP connect to the API server (a local one answers
/// in microseconds; a frozen one's kernel still does).
pub const DEFAULT_K8S_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// Default bound on the TLS handshake: a frozen kube-apiserver (SIGSTOP)
/// accepts TCP in its kernel and never answers the ClientHello.
pub const DEFAULT_K8S_TLS_TIMEOUT: Duration = Duration::from_millis(500);

/// Default bound on the `/readyz` answer once TLS is up. Below
/// kube-apiserver's 2.0 s etcd check timeout, so an API server whose etcd
/// member is gone counts as failing before it answers its 500.
pub const DEFAULT_K8S_RESPONSE_TIMEOUT: Duration = Duration::from_millis(800);

/// Default period of the fast local TCP-connect probe of the API server,
/// which sees a closed port (a crashed or stopped API server) within this.
pub const DEFAULT_K8S_CONNECT_INTERVAL: Duration = Duration::from_millis(100);

/// Default delay of the confirming `/readyz` probe after a failed one.
pub const DEFAULT_K8S_CONFIRM_AFTER: Duration = Duration::from_millis(200);

/// Default stability buffer of the API-server check (the original guide's
/// 5 s anti-flap buffer). It guards recovery only, and it is the base of
/// the damping hold-down.
pub const DEFAULT_K8S_STABILITY: Duration = Duration::from_secs(5);

/// Default period of the generic checks.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Default bound on one generic probe.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// A bearer token. Its `Debug` and `Display` never show the value, so a
/// parameter struct can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One check to run: what to probe and its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// The name routers track it by (`k8s` for the API-server check).
    pub name: String,
    pub kind: CheckKind,
    /// Time between the starts of two probes. A probe never overlaps the
    /// next one: when it takes longer, the next starts as it ends.
    pub interval: Duration,
    /// Bound on one probe, every stage included.
    pub timeout: Duration,
    /// Consecutive successes that turn a failed check healthy.
    pub rise: u32,
    /// Consecutive failures that turn a healthy check failed.
    pub fall: u32,
    /// How long a run of healthy results must hold before a failed check
    /// recovers (the base of the hold-down when `damping` is set).
    pub stability: Duration,
    /// How long a run of failed results must hold before a healthy check
    /// fails; `None`: `stability` (the generic checks). The API server's is
    /// 0: its `fall` of 2, the confirmation, is enough.
    pub fail_stability: Option<Duration>,
    /// Per-stage bounds of a network probe, each within `timeout`.
    pub stages: StageTimeouts,
    /// The fast TCP-connect probe (API-server check, external mode): its
    /// period; `None`: off.
    pub connect_interval: Option<Duration>,
    /// After a failed probe that has not failed the check yet, the next
    /// probe runs this soon instead of after `interval`; `None`: `interval`.
    pub confirm_after: Option<Duration>,
    /// Flap damping of recoveries; `None`: none.
    pub damping: Option<DampingParams>,
}

/// Bounds on the stages of one network probe. A stage that runs out fails
/// the probe with [`Failure::Timeout`] naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageTimeouts {
    /// TCP connect (name lookup included).
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// From the request being sent to the whole answer read.
    pub response: Duration,
}

impl StageTimeouts {
    /// Every stage bounded by the same `limit` (the generic checks).
    pub fn all(limit: Duration) -> Self {
        StageTimeouts {
            connect: limit,
            tls: limit,
            response: limit,
        }
    }

    /// The API-server check's defaults.
    pub fn k8s() -> Self {
        StageTimeouts {
            connect: DEFAULT_K8S_CONNECT_TIMEOUT,
            tls: DEFAULT_K8S_TLS_TIMEOUT,
            response: DEFAULT_K8S_RESPONSE_TIMEOUT,
        }
    }
}

impl CheckSpec {
    /// A generic check with keepalived's defaults (rise 1, fall 1) and no
    /// stability buffer.
    pub fn new(name: impl Into<String>, kind: CheckKind) -> Self {
        CheckSpec {
            name: name.into(),
            kind,
            interval: DEFAULT_CHECK_INTERVAL,
            timeout: DEFAULT_CHECK_TIMEOUT,
            rise: 1,
            fall: 1,
            stability: Duration::ZERO,
            fail_stability: None,
            stages: StageTimeouts::all(DEFAULT_CHECK_TIMEOUT),
            connect_interval: None,
            confirm_after: None,
            damping: None,
        }
    }

    /// The API-server check, named `k8s`, with its defaults: `/readyz`
    /// every 1 s (connect 0.5 s, TLS 0.5 s, answer 0.8 s, 2 s in all), a
    /// TCP connect every 100 ms (external mode), a failure confirmed by a
    /// second probe 0.2 s later (fall 2, no buffer), recovery after 5 s of
    /// healthy results, damped (see `damping.rs`). A refused connect and a
    /// `[-]shutdown` fail it at once.
    pub fn k8s(params: K8sParams) -> Self {
        let fast = !params.in_cluster;
        CheckSpec {
            name: "k8s".to_string(),
            kind: CheckKind::K8s(params),
            interval: DEFAULT_K8S_INTERVAL,
            timeout: DEFAULT_K8S_TIMEOUT,
            rise: 1,
            fall: 2,
            stability: DEFAULT_K8S_STABILITY,
            fail_stability: Some(Duration::ZERO),
            stages: StageTimeouts::k8s(),
            connect_interval: fast.then_some(DEFAULT_K8S_CONNECT_INTERVAL),
            confirm_after: Some(DEFAULT_K8S_CONFIRM_AFTER),
            damping: Some(DampingParams::default()),
        }
    }

    /// The rule this spec's results go through.
    pub fn debouncer(&self) -> Debouncer {
        let d = Debouncer::new(self.rise, self.fall, self.stability)
            .with_fail_stability(self.fail_stability.unwrap_or(self.stability));
        match self.damping {
            Some(p) => d.with_damping(p),
            None => d,
        }
    }
}

/// What a check probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckKind {
    /// The Kubernetes API server: TCP connect, then `GET /readyz`.
    K8s(K8sParams),
    /// A TCP connect to an address.
    Tcp(TcpParams),
    /// An HTTP or HTTPS `GET` that must answer an expected status.
    Http(HttpParams),
    /// A program run without a shell; exit status 0 is healthy.
    Exec(ExecParams),
    /// A network interface whose link must be up.
    Interface(InterfaceParams),
}

/// Parameters of a `tcp` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpParams {
    /// `host:port`, `[v6]:port` or `ip:port`.
    pub address: String,
}

/// Parameters of an `http` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpParams {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The status that means healthy (default 200).
    pub expected_status: u16,
    /// PEM bundle the server's certificate must chain to. Without it (and
    /// without `insecure`) the system trust store is used.
    pub ca_cert: Option<PathBuf>,
    /// Skip certificate verification (warned about once).
    pub insecure: bool,
    /// Name to verify in the certificate instead of the URL's host.
    pub server_name: Option<String>,
}

impl HttpParams {
    pub fn new(url: impl Into<String>) -> Self {
        HttpParams {
            url: url.into(),
            expected_status: 200,
            ca_cert: None,
            insecure: false,
            server_name: None,
        }
    }
}

/// Parameters of an `exec` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecParams {
    /// The program: an absolute path, run directly (no shell), with a
    /// cleared environment (`PATH`, `HA_VIP_CHECK`) and no ambient
    /// capabilities (see `spawn.rs`).
    pub program: String,
    pub args: Vec<String>,
}

/// Parameters of an `interface` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceParams {
    /// The interface name, e.g. `eth0`.
    pub name: String,
    /// Where the interface directories are; `/sys/class/net` except in tests.
    pub sysfs_net: PathBuf,
}

impl InterfaceParams {
    pub fn new(name: impl Into<String>) -> Self {
        InterfaceParams {
            name: name.into(),
            sysfs_net: PathBuf::from("/sys/class/net"),
        }
    }
}

/// Who a network probe talks to, for the wording of its hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    ApiServer,
    Server,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::ApiServer => "API server",
            Service::Server => "server",
        })
    }
}

/// The stage of a probe that failed or ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Resolve,
    Connect,
    Tls,
    Http,
    Exec,
}

impl Stage {
    /// A short fixed name for metrics labels and `status --json`.
    pub fn key(&self) -> &'static str {
        match self {
            Stage::Resolve => "resolve",
            Stage::Connect => "connect",
            Stage::Tls => "tls",
            Stage::Http => "response",
            Stage::Exec => "exec",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Resolve => "name lookup",
            Stage::Connect => "TCP connect",
            Stage::Tls => "TLS handshake",
            Stage::Http => "HTTP request",
            Stage::Exec => "command",
        })
    }
}

/// Why a probe failed. `Display` is the reason shown in `ha-vip status` and
/// the logs: what happened, then what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens on the address.
    Refused {
        service: Service,
        addr: std::net::SocketAddr,
    },
    /// The kernel has no socket listening on the local API server's
    /// address (sock_diag): it crashed or stopped.
    NotListening { addr: std::net::SocketAddr },
    /// A stage did not finish within the probe's timeout.
    Timeout {
        service: Service,
        stage: Stage,
        limit: Duration,
    },
    /// Another I/O error at a stage (unreachable network, reset, ...).
    Io { stage: Stage, error: String },
    /// The TLS handshake failed: unknown issuer, wrong name, expired, ...
    Tls(String),
    /// The API server answered 401.
    Unauthorized,
    /// The API server answered 403.
    Forbidden,
    /// `/readyz` answered a status other than 200, with the `[-]` lines of
    /// its body (`etcd failed: reason withheld`).
    NotReady { status: u16, failed: Vec<String> },
    /// `/readyz` reports `[-]shutdown`: the API server is terminating
    /// gracefully. A definite signal, acted on without the stability buffer.
    ShuttingDown { status: u16, failed: Vec<String> },
    /// An `http` check got another status than the expected one.
    Status { got: u16, expected: u16 },
    /// A malformed HTTP exchange.
    Http(String),
    /// Settings or credentials that cannot be used as they are: unreadable
    /// token file, missing service account, bad URL, bad CA file.
    Config(String),
    /// The `exec` program could not be started.
    Spawn { program: String, error: String },
    /// The `exec` program ended unsuccessfully ("exit status 1", "signal 9").
    Exit(String),
    /// The interface's link is not up.
    LinkDown {
        name: String,
        operstate: String,
        carrier: String,
    },
    /// The interface is missing or unreadable.
    Interface(String),
}

impl Failure {
    /// The stage a network probe failed at, when one is known: the stage
    /// that ran out of time or erred, TLS for a certificate, the HTTP answer
    /// for a status.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Failure::Refused { .. } | Failure::NotListening { .. } => Some(Stage::Connect),
            Failure::Timeout { stage, .. } | Failure::Io { stage, .. } => Some(*stage),
            Failure::Tls(_) => Some(Stage::Tls),
            Failure::Unauthorized
            | Failure::Forbidden
            | Failure::NotReady { .. }
            | Failure::ShuttingDown { .. }
            | Failure::Status { .. }
            | Failure::Http(_) => Some(Stage::Http),
            Failure::Spawn { .. } | Failure::Exit(_) => Some(Stage::Exec),
            Failure::Config(_) | Failure::LinkDown { .. } | Failure::Interface(_) => None,
        }
    }

    /// A failure acted on at once, without confirmation or buffer: the
    /// API server's listener is gone (refused) or it is shutting down.
    pub fn is_definite(&self) -> bool {
        matches!(
            self,
            Failure::ShuttingDown { .. }
                | Failure::NotListening { .. }
                | Failure::Refused {
                    service: Service::ApiServer,
                    ..
                }
        )
    }

    /// The `[-]` lines of a failed `/readyz`, empty for other failures.
    pub fn failed_checks(&self) -> &[String] {
        match self {
            Failure::NotReady { failed, .. } | Failure::ShuttingDown { failed, .. } => failed,
            _ => &[],
        }
    }
}

fn write_failed(f: &mut fmt::Formatter<'_>, failed: &[String]) -> fmt::Result {
    if !failed.is_empty() {
        write!(f, " ({})", failed.join("; "))?;
    }
    Ok(())
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused { service, addr } => {
                write!(f, "connection refused: is the {service} running on {addr}?")
            }
            Failure::NotListening { addr } => write!(
                f,
                "not listening: no socket listens on {addr}; is the API server running?"
            ),
            Failure::Timeout {
                stage: Stage::Exec,
                limit,
                ..
            } => {
                write!(
                    f,
                    "timeout: the command did not finish within {} ms (killed)",
                    limit.as_millis()
                )
            }
            Failure::Timeout {
                service,
                stage,
                limit,
            } => write!(
                f,
                "timeout: network or a hung {service} ({stage} not done within {} ms)",
                limit.as_millis()
            ),
            Failure::Io { stage, error } => write!(f, "{stage}: {error}"),
            Failure::Tls(detail) => {
                write!(f, "certificate: check ca_cert / server_name ({detail})")
            }
            Failure::Unauthorized => f.write_str(
                "token rejected: expired or wrong token (create a new one: \
                 kubectl create token ha-vip -n kube-system)",
            ),
            Failure::Forbidden => f.write_str(
                "forbidden: check the RBAC ClusterRole/Binding for nonResourceURLs /readyz",
            ),
            Failure::NotReady { status, failed } => {
                write!(f, "not ready: /readyz answered http status {status}")?;
                write_failed(f, failed)
            }
            Failure::ShuttingDown { status, failed } => {
                write!(
                    f,
                    "shutting down: the API server is terminating (/readyz answered {status})"
                )?;
                write_failed(f, failed)
            }
            Failure::Status { got, expected } => {
                write!(f, "http status {got}, expected {expected}")
            }
            Failure::Http(detail) => write!(f, "http: {detail}"),
            Failure::Config(detail) => f.write_str(detail),
            Failure::Spawn { program, error } => write!(f, "cannot run {program}: {error}"),
            Failure::Exit(how) => write!(f, "command failed: {how}"),
            Failure::LinkDown {
                name,
                operstate,
                carrier,
            } => write!(
                f,
                "link down: {name} operstate {operstate}, carrier {carrier}"
            ),
            Failure::Interface(detail) => write!(f, "interface: {detail}"),
        }
    }
}

impl std::error::Error for Failure {}

/// The result of one probe, before any debouncing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub outcome: Result<(), Failure>,
    /// From the start of the probe to its result.
    pub latency: Duration,
}

impl ProbeResult {
    pub fn healthy(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The API server announced a graceful shutdown (`[-]shutdown`).
    pub fn shutting_down(&self) -> bool {
        matches!(self.outcome, Err(Failure::ShuttingDown { .. }))
    }

    /// A definite failure (see [`Failure::is_definite`]).
    pub fn definite(&self) -> bool {
        self.outcome
            .as_ref()
            .err()
            .is_some_and(Failure::is_definite)
    }

    /// The stage the probe failed at (see [`Failure::stage`]).
    pub fn stage(&self) -> Option<Stage> {
        self.outcome.as_ref().err().and_then(Failure::stage)
    }

    /// `ok`, or the failure with its hint.
    pub fn reason(&self) -> String {
        match &self.outcome {
            Ok(()) => "ok".to_string(),
            Err(failure) => failure.to_string(),
        }
    }

    /// The `[-]` lines of a failed `/readyz`.
    pub fn failed_checks(&self) -> &[String] {
        match &self.outcome {
            Ok(()) => &[],
            Err(failure) => failure.failed_checks(),
        }
    }
}

/// Sent by a running check when its debounced state changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckUpdate {
    /// The check's name, as routers track it.
    pub name: String,
    /// The debounced state. A check that has not reported yet counts as
    /// failed for the daemon.
    pub healthy: bool,
    /// The change comes from a graceful API-server shutdown: hand over now.
    pub shutting_down: bool,
    /// The latest probe's reason (`ok`, or the failure with its hint).
    pub reason: String,
    /// The `[-]` lines of the latest `/readyz`, when it failed.
    pub failed: Vec<String>,
    /// The latest probe's latency.
    pub latency: Duration,
    /// When the debounced state changed.
    pub at: Instant,
    /// The stage the latest probe failed at (connect, TLS, HTTP request...),
    /// `None` when healthy or not a network probe.
    pub stage: Option<Stage>,
    /// The change skipped confirmation and buffer: a refused connect to the
    /// API server or a `[-]shutdown`.
    pub definite: bool,
    /// Which probe saw it: the fast TCP connect or the full probe.
    pub source: ProbeSource,
    /// Flaps (healthy -> failed) since the last quiet period, this one
    /// included; 0 for an undamped check.
    pub flaps: u32,
    /// How long healthy results must now hold before this check recovers
    /// (the damping hold-down; `stability` when undamped).
    pub hold_down: Duration,
}

/// Which of a check's probes produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeSource {
    /// The check's own probe (for the API server: TCP, TLS, `/readyz`).
    #[default]
    Full,
    /// The fast probe of the API-server check: its listening socket asked
    /// of the kernel (sock_diag), or a TCP connect when it is not local.
    Connect,
}

impl fmt::Display for ProbeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeSource::Full => "probe",
            ProbeSource::Connect => "connect probe",
        })
    }
}

/// A warning for `ha-vip check` when a tracked check's `weight` cannot move
/// the VIP given the priorities configured on the nodes of one router, or
/// when it collapses their order once every node fails.
///
/// The VIP leaves the highest-priority node only if its lowered priority
/// falls strictly below the next highest one: at equal priority RFC 9568
/// section 6.4.3 lets the higher primary IP address win, which is not the
/// configured order. Priorities are clamped at 1 (0 means "resigning").
pub fn weight_warning(priorities: &[u8], weight: i32) -> Option<String> {
    if weight == 0 {
        return Some("weight 0: a failed check never changes the priority".to_string());
    }
    if weight > 0 {
        return Some(format!(
            "weight {weight} is positive: a failed check lowers the priority by |weight|, \
             so write it negative (weight = -{weight})"
        ));
    }
    let mut sorted: Vec<i32> = priorities.iter().map(|&p| i32::from(p)).collect();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let (highest, next) = match sorted.as_slice() {
        [h, n, ..] => (*h, *n),
        _ => return None,
    };
    let mut warnings = Vec::new();
    let lowered = (highest + weight).max(1);
    if lowered >= next {
        warnings.push(format!(
            "weight {weight} is too small to move the VIP: priority {highest} drops to \
             {lowered}, not below the next highest priority {next}; use a weight of at \
             most {}",
            next - highest - 1
        ));
    }
    let clamped: Vec<i32> = sorted.iter().map(|p| (p + weight).max(1)).collect();
    let distinct = |v: &[i32]| {
        let mut d = v.to_vec();
        d.dedup();
        d.len()
    };
    if distinct(&clamped) < distinct(&sorted) {
        warnings.push(format!(
            "weight {weight} lowers some priorities below 1: when every node's check fails \
             they are clamped to 1 and the VIP goes to the highest IP address instead of \
             the highest configured priority"
        ));
    }
    if warnings.is_empty() {
        None
    } else {
        Some(warnings.join("; "))
    }
}
