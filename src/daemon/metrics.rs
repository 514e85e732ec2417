//! Prometheus metrics and a health endpoint, over HTTP/1.1.
//!
//! `GET /metrics`: the Prometheus text format (0.0.4, what `promtool check
//! metrics` reads and every Prometheus scrapes), from a status snapshot of
//! the daemon loop, so the numbers are the ones `ha-vip status` shows.
//! `GET /healthz`: 200 when every router has left Initialize and none is
//! waiting, 503 otherwise, with the reason in the body.
//!
//! The endpoint is open to every local user (and to the network if
//! `listen` says so), so it must not be a way to slow the protocol down
//! (docs/security.md, "The metrics endpoint cannot slow the protocol"):
//!
//! - it runs on a thread and runtime of its own, at a lower priority (nice
//!   +10): accepting, parsing and encoding never run on the protocol
//!   thread; the only thing it asks of the loop is a snapshot;
//! - the path is routed first: only `/metrics` and `/healthz` cost a
//!   snapshot, and a snapshot, encoded once, is shared by every request
//!   of the next [`SNAPSHOT_MIN_AGE`]: at most ten a second, however many
//!   clients ask;
//! - at most [`MAX_CONNECTIONS`] connections at once (more are closed at
//!   accept and counted), headers within [`HEADER_READ_TIMEOUT`], a whole
//!   connection within [`CONNECTION_DEADLINE`], one request per
//!   connection, headers of at most 8 KiB.
//!
//! The crate is `prometheus` (tikv) rather than `prometheus-client`:
//! `prometheus-client` writes only OpenMetrics text, which promtool's
//! `check metrics` cannot read (it takes a counter's `_total` samples for a
//! second family with no help), while the 0.0.4 text that `prometheus`
//! writes is read by promtool and by every Prometheus.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tracing::{debug, warn};

use super::control::ControlMsg;
use crate::status::{LatencyHistogram, RouterStatus, Status};

/// Connections served at once; one more is closed as soon as it is accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// A client must send its whole request head within this time.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection is closed after this long, whatever it is doing (a client
/// that reads the answer slowly).
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// A snapshot younger than this is served again instead of asking the loop.
pub const SNAPSHOT_MIN_AGE: Duration = Duration::from_millis(100);

/// The text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the endpoint counts about itself.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections closed at accept: [`MAX_CONNECTIONS`] were open.
    pub rejected: AtomicU64,
    /// Connections closed for a slow or silent client.
    pub timed_out: AtomicU64,
    /// Snapshots asked of the protocol loop.
    pub snapshots: AtomicU64,
}

/// A snapshot and its encoding, shared by the requests of
/// [`SNAPSHOT_MIN_AGE`].
struct Cached {
    at: Instant,
    status: Status,
    /// [`render_status`] of `status`.
    text: String,
}

struct Server {
    engine: mpsc::Sender<ControlMsg>,
    /// The last snapshot, encoded. Held across the wait for the loop, so
    /// concurrent requests wait for one snapshot and share it.
    cache: Mutex<Option<Arc<Cached>>>,
    stats: ServerStats,
}

/// Bind `addr` and serve on a thread of its own.
pub async fn serve(addr: SocketAddr, engine: mpsc::Sender<ControlMsg>) -> std::io::Result<()> {
    let listener = bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("metrics listen {addr}: {e}")))?;
    start(listener, engine)?;
    Ok(())
}

/// Serve `listener` (non-blocking) on a new thread; returns the endpoint's
/// own counters.
fn start(
    listener: std::net::TcpListener,
    engine: mpsc::Sender<ControlMsg>,
) -> std::io::Result<Arc<Server>> {
    let addr = listener.local_addr()?;
    let server = Arc::new(Server {
        engine,
        cache: Mutex::new(None),
        stats: ServerStats::default(),
    });
    let srv = server.clone();
    std::thread::Builder::new()
        .name("ha-vip-metrics".into())
        .spawn(move || {
            lower_priority();
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    warn!("metrics on {addr}: cannot start its runtime: {e}; no metrics served");
                    return;
                }
            };
            rt.block_on(async move {
                match TcpListener::from_std(listener) {
                    Ok(l) => accept_loop(l, srv).await,
                    Err(e) => warn!("metrics on {addr}: {e}; no metrics served"),
                }
            });
        })?;
    Ok(server)
}

/// How much nicer the metrics thread is than the protocol thread: when
/// both want a core, the protocol thread gets it.
const METRICS_NICE: libc::c_int = 10;

/// Make the calling thread [`METRICS_NICE`] nicer than it is (on Linux
/// niceness is per thread); a failure only costs the preference.
fn lower_priority() {
    let tid = nix::unistd::gettid().as_raw() as libc::id_t;
    // SAFETY: getpriority and setpriority take integers only and touch no
    // memory of ours. getpriority returns the nice value itself (-20..=19);
    // -1 is also its error value, harmless here (we would set 9).
    let r = unsafe {
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + METRICS_NICE).min(19))
    };
    if r != 0 {
        debug!(
            "metrics thread keeps its priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A non-blocking listener with SO_REUSEADDR, so a restarted daemon binds
/// while the last run's connections sit in TIME_WAIT.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(64)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                warn!("metrics accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            server.stats.rejected.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = {
                let server = server.clone();
                service_fn(move |req| handle(req, server.clone()))
            };
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .keep_alive(false)
                .max_buf_size(8192)
                .serve_connection(TokioIo::new(stream), svc);
            match tokio::time::timeout(CONNECTION_DEADLINE, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if e.is_timeout() {
                        server.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    }
                    debug!("metrics connection: {e}");
                }
                Err(_) => {
                    server.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    debug!("metrics connection closed after {CONNECTION_DEADLINE:?}");
                }
            }
        });
    }
}

/// What a request asks for, decided from the request line alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Metrics,
    Healthz,
    NotFound,
    MethodNotAllowed,
}

pub fn route(method: &Method, path: &str) -> Route {
    let known = match path {
        "/metrics" => Route::Metrics,
        "/healthz" => Route::Healthz,
        _ => return Route::NotFound,
    };
    if method == Method::GET || method == Method::HEAD {
        known
    } else {
        Route::MethodNotAllowed
    }
}

fn reply(code: StatusCode, ctype: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

impl Server {
    /// A snapshot no older than [`SNAPSHOT_MIN_AGE`]; `None` when the loop
    /// has stopped.
    async fn snapshot(&self) -> Option<Arc<Cached>> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.at.elapsed() < SNAPSHOT_MIN_AGE
        {
            return Some(c.clone());
        }
        let (tx, rx) = oneshot::channel();
        self.engine.send(ControlMsg::Status(tx)).await.ok()?;
        self.stats.snapshots.fetch_add(1, Ordering::Relaxed);
        let status = rx.await.ok()?;
        let c = Arc::new(Cached {
            at: Instant::now(),
            text: render_status(&status),
            status,
        });
        *cache = Some(c.clone());
        Some(c)
    }
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    server: Arc<Server>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let route = route(req.method(), req.uri().path());
    match route {
        Route::NotFound => {
            return Ok(reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                "try /metrics or /healthz\n".into(),
            ));
        }
        Route::MethodNotAllowed => {
            let mut r = reply(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                "GET or HEAD only\n".into(),
            );
            r.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, HEAD"),
            );
            return Ok(r);
        }
        Route::Metrics | Route::Healthz => {}
    }
    let Some(st) = server.snapshot().await else {
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "engine stopped\n".into(),
        ));
    };
    Ok(if route == Route::Metrics {
        let mut body = String::with_capacity(st.text.len() + 1024);
        body.push_str(&st.text);
        body.push_str(&render_server(&server.stats));
        reply(StatusCode::OK, TEXT_FORMAT, body)
    } else {
        let (ok, body) = healthz(&st.status);
        let code = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        reply(code, "text/plain", body)
    })
}

/// Healthy when every router runs the protocol (left Initialize).
pub fn healthz(st: &Status) -> (bool, String) {
    let bad: Vec<String> = st
        .routers
        .iter()
        .filter(|r| r.waiting.is_some() || r.state == "Initialize")
        .map(|r| match &r.waiting {
            Some(w) => format!("{}: waiting: {w}", r.name),
            None => format!("{}: Initialize", r.name),
        })
        .collect();
    if bad.is_empty() {
        (true, format!("ok: {} routers running\n", st.routers.len()))
    } else {
        (false, format!("{}\n", bad.join("\n")))
    }
}

/// A router's per-router counter (`RouterStatus::counters`, named as the
/// core names it) as a metric: its name without the `ha_vip_router_`
/// prefix and the `_total` suffix, and its HELP, which keeps the MIB name.
/// Listed here one by one so each has a real description; a counter the
/// core adds later is still exported, named from its camelCase.
const ROUTER_COUNTERS: &[(&str, &str, &str)] = &[
    (
        "vrrpv3StatisticsMasterTransitions",
        "master_transitions",
        "Transitions into Active (RFC 6527 vrrpv3StatisticsMasterTransitions, RFC 8347 master-transitions).",
    ),
    (
        "activeReleases",
        "active_releases",
        "Transitions out of Active (keepalived's release_master).",
    ),
    (
        "vrrpv3StatisticsRcvdAdvertisements",
        "received_advertisements",
        "Advertisements received that passed validation (RFC 6527 vrrpv3StatisticsRcvdAdvertisements, RFC 8347 advertisement-rcvd).",
    ),
    (
        "sentAdvertisements",
        "sent_advertisements",
        "Advertisements sent, priority 0 included, one per destination (RFC 8347 advertisement-sent).",
    ),
    (
        "splitBrainEvents",
        "split_brain_events",
        "Advertisements from another Active router heard while Active.",
    ),
    (
        "vrrpv3StatisticsRcvdPriZeroPackets",
        "received_priority_zero",
        "Priority 0 advertisements received (RFC 6527 vrrpv3StatisticsRcvdPriZeroPackets, RFC 8347 priority-zero-pkts-rcvd).",
    ),
    (
        "vrrpv3StatisticsSentPriZeroPackets",
        "sent_priority_zero",
        "Priority 0 advertisements sent (RFC 6527 vrrpv3StatisticsSentPriZeroPackets, RFC 8347 priority-zero-pkts-sent).",
    ),
    (
        "vrrpv3StatisticsAdvIntervalErrors",
        "advertisement_interval_errors",
        "VRRPv2 advertisements dropped for an interval other than ours (RFC 6527 vrrpv3StatisticsAdvIntervalErrors, RFC 8347 interval-errors).",
    ),
    (
        "vrrpv3StatisticsAddressListErrors",
        "address_list_errors",
        "Advertisements whose address list differs from ours (RFC 6527 vrrpv3StatisticsAddressListErrors, RFC 8347 address-list-errors).",
    ),
    (
        "addressListMismatch",
        "address_list_mismatch",
        "Advertisements dropped because their address list differs from ours, priority below 255 (RFC 9568 7.1; address_list_check).",
    ),
    (
        "addressOwnerDiscards",
        "address_owner_discards",
        "Advertisements below priority 255 discarded by the address owner (RFC 9568 7.1).",
    ),
    (
        "heldReleases",
        "held_releases",
        "Hand-overs in which the addresses were kept until the new Active router was heard (make-before-break).",
    ),
    (
        "vrrpv3RouterVersionErrors",
        "version_errors",
        "Advertisements dropped for another VRRP version (RFC 6527 vrrpv3RouterVersionErrors, RFC 8347 version-errors).",
    ),
    (
        "vrrpv3RouterVrIdErrors",
        "vrid_errors",
        "Advertisements dropped for another VRID (RFC 6527 vrrpv3RouterVrIdErrors, RFC 8347 vrid-errors).",
    ),
    (
        "vrrpStatsAuthTypeMismatch",
        "auth_type_mismatch",
        "VRRPv2 advertisements dropped for another authentication type (RFC 2787 vrrpStatsAuthTypeMismatch).",
    ),
    (
        "vrrpStatsAuthFailures",
        "auth_failures",
        "VRRPv2 advertisements dropped for a wrong password (RFC 2787 vrrpStatsAuthFailures).",
    ),
    (
        "familyErrors",
        "family_errors",
        "Advertisements dropped for a source or addresses of the other family.",
    ),
    (
        "ownAdvertisements",
        "own_advertisements",
        "Our own advertisements received back (dropped).",
    ),
    (
        "unicastPeerErrors",
        "unicast_peer_errors",
        "Advertisements dropped in unicast mode from a source that is not a configured peer.",
    ),
    (
        "invalidIntervalErrors",
        "invalid_interval_errors",
        "VRRPv3 advertisements dropped for a Max Advertise Interval of zero.",
    ),
    (
        "notRunningDrops",
        "not_running_drops",
        "Advertisements dropped while the router was in Initialize.",
    ),
    (
        "announcements",
        "announcement_rounds",
        "Gratuitous ARP / unsolicited NA rounds (one per announcement, all addresses).",
    ),
];

/// snake_case of a camelCase counter name, without the MIB's prefixes.
fn counter_metric_name(counter: &str) -> String {
    let base = ["vrrpv3Statistics", "vrrpv3Router", "vrrpStats"]
        .iter()
        .find_map(|p| counter.strip_prefix(p))
        .unwrap_or(counter);
    let mut out = String::new();
    for ch in base.chars() {
        if ch.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else {
            out.push('_');
        }
    }
    out
}

/// The metric families of one exposition, in the order first used.
#[derive(Default)]
struct Exposition {
    families: Vec<MetricFamily>,
}

type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    fn push(&mut self, name: &str, help: &str, ty: MetricType, labels: Labels, mut m: Metric) {
        m.set_label(
            labels
                .iter()
                .map(|(k, v)| {
                    let mut l = LabelPair::default();
                    l.set_name((*k).to_string());
                    l.set_value((*v).to_string());
                    l
                })
                .collect(),
        );
        let full = format!("ha_vip_{name}");
        if let Some(f) = self.families.iter_mut().find(|f| f.name() == full) {
            f.mut_metric().push(m);
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(full);
        f.set_help(help.to_string());
        f.set_field_type(ty);
        f.set_metric(vec![m]);
        self.families.push(f);
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&self.families, &mut out) {
            warn!("metrics encoding: {e}");
            out = format!("# encoding failed: {e}\n");
        }
        out
    }

    fn gauge(&mut self, name: &str, help: &str, labels: Labels, v: f64) {
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::default();
        m.set_gauge(g);
        self.push(name, help, MetricType::GAUGE, labels, m);
    }

    /// `name` without `_total`: it is added here, as the format wants.
    fn counter(&mut self, name: &str, help: &str, labels: Labels, v: u64) {
        let mut c = Counter::default();
        c.set_value(v as f64);
        let mut m = Metric::default();
        m.set_counter(c);
        self.push(
            &format!("{name}_total"),
            help,
            MetricType::COUNTER,
            labels,
            m,
        );
    }

    fn histogram(&mut self, name: &str, help: &str, labels: Labels, h: &LatencyHistogram) {
        let mut hist = Histogram::default();
        hist.set_sample_count(h.count);
        hist.set_sample_sum(h.sum_s());
        hist.set_bucket(
            h.cumulative()
                .map(|(bound, n)| {
                    let mut b = Bucket::default();
                    b.set_upper_bound(bound);
                    b.set_cumulative_count(n);
                    b
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_histogram(hist);
        self.push(name, help, MetricType::HISTOGRAM, labels, m);
    }
}

/// The states `ha_vip_router_state` always has a series for.
const STATES: [&str; 4] = ["Initialize", "Backup", "Active", "Waiting"];

fn router_metrics(x: &mut Exposition, r: &RouterStatus) {
    let vrid = r.vrid.to_string();
    let id: [(&str, &str); 4] = [
        ("router", &r.name),
        ("interface", &r.interface),
        ("vrid", &vrid),
        ("family", &r.family),
    ];
    let mut states: Vec<&str> = STATES.to_vec();
    if !states.contains(&r.state.as_str()) {
        states.push(&r.state);
    }
    for s in states {
        let mut l = id.to_vec();
        l.push(("state", s));
        x.gauge(
            "router_state",
            "1 for the router's current state (RFC 9568 Initialize, Backup, Active; Waiting: cannot run yet, see status), 0 for the others.",
            &l,
            f64::from(u8::from(r.state == s)),
        );
    }
    x.gauge(
        "router_effective_priority",
        "Priority advertised: the configured one plus the weights of failed tracked checks.",
        &id,
        f64::from(r.effective_priority),
    );
    x.gauge(
        "router_base_priority",
        "Configured priority (255: address owner).",
        &id,
        f64::from(r.base_priority),
    );
    x.gauge(
        "router_advert_interval_seconds",
        "Configured Advertisement_Interval.",
        &id,
        f64::from(r.advert_interval_cs) / 100.0,
    );
    x.gauge(
        "router_master_down_interval_seconds",
        "Master_Down_Interval (RFC 9568 6.1), from the interval learned from the Active router.",
        &id,
        r.master_down_interval_ms / 1000.0,
    );
    if let Some(t) = r.last_takeover_unix_s {
        x.gauge(
            "router_last_takeover_timestamp_seconds",
            "Unix time at which the router last became Active.",
            &id,
            t,
        );
    }
    for t in &r.tracked {
        let mut l = id.to_vec();
        l.push(("check", &t.check));
        x.gauge(
            "router_tracked_check_failed",
            "1 while a check the router tracks is failed (its weight is applied to the priority).",
            &l,
            f64::from(u8::from(t.failed)),
        );
    }
    for c in &r.transitions_by_class {
        let mut l = id.to_vec();
        l.push(("to", &c.to));
        l.push(("reason", &c.reason));
        x.counter(
            "router_transitions",
            "State changes, by new state (to) and reason class (reason).",
            &l,
            c.count,
        );
    }
    x.counter(
        "router_announcements",
        "Gratuitous ARP / unsolicited NA messages sent (one per address per message).",
        &id,
        r.announcements_sent,
    );
    for (counter, &n) in &r.counters {
        match ROUTER_COUNTERS.iter().find(|(c, _, _)| c == counter) {
            Some((_, name, help)) => x.counter(&format!("router_{name}"), help, &id, n),
            None => x.counter(
                &format!("router_{}", counter_metric_name(counter)),
                &format!("Counter {counter} of the router."),
                &id,
                n,
            ),
        }
    }
}

/// Encode a snapshot as Prometheus text (0.0.4), with the endpoint's own
/// counters at zero.
pub fn render(st: &Status) -> String {
    render_status(st) + &render_server(&ServerStats::default())
}

/// The snapshot's series.
fn render_status(st: &Status) -> String {
    let mut x = Exposition::default();
    x.gauge(
        "build_info",
        "Always 1; the labels say which ha-vip runs.",
        &[("version", &st.version)],
        1.0,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    x.gauge(
        "start_time_seconds",
        "Unix time at which the daemon started.",
        &[],
        (now - st.uptime_s).max(0.0),
    );
    for r in &st.routers {
        router_metrics(&mut x, r);
    }
    for (reason, &n) in &st.drops {
        x.counter(
            "packets_dropped",
            "Received packets dropped before reaching a router, by reason (the wire or the endpoint; bad_checksum is RFC 6527 vrrpv3RouterChecksumErrors and RFC 8347 checksum-errors, ttl_not_255 RFC 8347 ip-ttl-errors, bad_type invalid-type-pkts-rcvd, truncated_* packet-length-errors).",
            &[("reason", reason)],
            n,
        );
    }
    for c in &st.checks {
        let l = [("check", c.name.as_str())];
        x.gauge(
            "check_healthy",
            "1 when the check passes (debounced: the state the routers use).",
            &l,
            f64::from(u8::from(c.healthy)),
        );
        x.counter("check_probes", "Probes run.", &l, c.probes);
        x.counter(
            "check_probe_failures",
            "Probes that failed (before debouncing).",
            &l,
            c.failures,
        );
        x.histogram(
            "check_probe_duration_seconds",
            "Duration of every probe of the check.",
            &l,
            &c.latency,
        );
    }
    x.encode()
}

/// The endpoint's own series.
fn render_server(server: &ServerStats) -> String {
    let mut x = Exposition::default();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    x.counter(
        "metrics_connections_rejected",
        "Connections to this endpoint closed at accept: too many were open.",
        &[],
        load(&server.rejected),
    );
    x.counter(
        "metrics_connections_timed_out",
        "Connections to this endpoint closed for a slow or silent client.",
        &[],
        load(&server.timed_out),
    );
    x.counter(
        "metrics_snapshots",
        "Status snapshots this endpoint asked of the protocol loop.",
        &[],
        load(&server.snapshots),
    );
    x.encode()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;
    use crate::status::{CheckStatus, TrackedStatus, TransitionCount};

    fn sample() -> Status {
        let mut latency = LatencyHistogram::default();
        for ms in [1, 2, 30] {
            latency.observe(Duration::from_millis(ms));
        }
        Status {
            version: "0.1.0".into(),
            uptime_s: 5.0,
            routers: vec![RouterStatus {
                name: "api".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "ipv4".into(),
                state: "Backup".into(),
                base_priority: 150,
                effective_priority: 100,
                advert_interval_cs: 100,
                master_down_interval_ms: 3609.4,
                tracked: vec![TrackedStatus {
                    check: "k8s".into(),
                    weight: -50,
                    failed: true,
                }],
                counters: crate::core::Counters::default()
                    .iter()
                    .map(|(k, _)| (k.to_string(), 7))
                    .chain([("someNewCounter".to_string(), 1)])
                    .collect(),
                transitions_by_class: vec![
                    TransitionCount {
                        to: "Active".into(),
                        reason: "master_down".into(),
                        count: 2,
                    },
                    TransitionCount {
                        to: "Backup".into(),
                        reason: "higher_priority".into(),
                        count: 1,
                    },
                ],
                announcements_sent: 10,
                last_takeover_unix_s: Some(1_700_000_000.5),
                ..Default::default()
            }],
            drops: BTreeMap::from([("ttl_not_255".into(), 3)]),
            checks: vec![CheckStatus {
                name: "k8s".into(),
                healthy: false,
                probes: 3,
                failures: 1,
                latency,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    const ID: &str = r#"router="api",interface="eth0",vrid="51",family="ipv4""#;

    #[test]
    fn one_metric_per_counter_with_its_mib_name_in_help() {
        let text = render(&sample());
        for (counter, name, help) in ROUTER_COUNTERS {
            assert!(
                text.contains(&format!("ha_vip_router_{name}_total{{{ID}}} 7\n")),
                "{counter}: {text}"
            );
            assert!(
                text.contains(&format!("# HELP ha_vip_router_{name}_total {help}\n")),
                "{counter}"
            );
            if counter.starts_with("vrrp") {
                assert!(
                    help.contains(counter),
                    "{counter}: HELP must keep the MIB name"
                );
            }
        }
        // A counter the table does not know is still exported, by its name.
        assert!(
            text.contains(&format!("ha_vip_router_some_new_counter_total{{{ID}}} 1\n")),
            "{text}"
        );
        assert!(!text.contains("counter=\""), "{text}");
    }

    #[test]
    fn every_counter_of_the_core_has_a_described_metric() {
        for (counter, _) in crate::core::Counters::default().iter() {
            assert!(
                ROUTER_COUNTERS.iter().any(|(c, _, _)| *c == counter),
                "core counter {counter} has no entry in ROUTER_COUNTERS (name, HELP) and none in docs/operations.md"
            );
        }
        let mut names: Vec<&str> = ROUTER_COUNTERS.iter().map(|(_, n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ROUTER_COUNTERS.len());
    }

    #[test]
    fn counter_names_become_snake_case_without_mib_prefixes() {
        assert_eq!(
            counter_metric_name("vrrpv3StatisticsPacketLengthErrors"),
            "packet_length_errors"
        );
        assert_eq!(
            counter_metric_name("addressListMismatch"),
            "address_list_mismatch"
        );
        assert_eq!(
            counter_metric_name("vrrpStatsAuthFailures"),
            "auth_failures"
        );
        assert_eq!(counter_metric_name("odd-name"), "odd_name");
    }

    #[test]
    fn states_transitions_checks_and_build_info() {
        let text = render(&sample());
        for (state, v) in [
            ("Initialize", 0),
            ("Backup", 1),
            ("Active", 0),
            ("Waiting", 0),
        ] {
            assert!(
                text.contains(&format!(
                    "ha_vip_router_state{{{ID},state=\"{state}\"}} {v}\n"
                )),
                "{state}: {text}"
            );
        }
        assert!(text.contains(&format!(
            "ha_vip_router_transitions_total{{{ID},to=\"Active\",reason=\"master_down\"}} 2\n"
        )));
        assert!(text.contains(&format!(
            "ha_vip_router_transitions_total{{{ID},to=\"Backup\",reason=\"higher_priority\"}} 1\n"
        )));
        assert!(text.contains(&format!("ha_vip_router_effective_priority{{{ID}}} 100\n")));
        assert!(text.contains(&format!(
            "ha_vip_router_advert_interval_seconds{{{ID}}} 1\n"
        )));
        assert!(text.contains(&format!(
            "ha_vip_router_tracked_check_failed{{{ID},check=\"k8s\"}} 1\n"
        )));
        assert!(
            text.contains("ha_vip_build_info{version=\"0.1.0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("ha_vip_packets_dropped_total{reason=\"ttl_not_255\"} 3\n"));
        assert!(text.contains("ha_vip_check_healthy{check=\"k8s\"} 0\n"));
        assert!(text.contains("ha_vip_check_probes_total{check=\"k8s\"} 3\n"));
        assert!(text.contains("ha_vip_check_probe_failures_total{check=\"k8s\"} 1\n"));
        assert!(text.contains("# TYPE ha_vip_check_probe_duration_seconds histogram\n"));
        // 1 ms and 2 ms at or under 2.5 ms, 30 ms under 50 ms; all three
        // in +Inf and the count; the sum in seconds.
        for (le, n) in [
            ("0.001", 1),
            ("0.0025", 2),
            ("0.025", 2),
            ("0.05", 3),
            ("+Inf", 3),
        ] {
            assert!(
                text.contains(&format!(
                    "ha_vip_check_probe_duration_seconds_bucket{{check=\"k8s\",le=\"{le}\"}} {n}\n"
                )),
                "le {le}: {text}"
            );
        }
        assert!(text.contains("ha_vip_check_probe_duration_seconds_count{check=\"k8s\"} 3\n"));
        assert!(text.contains("ha_vip_check_probe_duration_seconds_sum{check=\"k8s\"} 0.033"));
        // The text format (0.0.4), not OpenMetrics.
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn healthz_follows_the_snapshot() {
        let mut st = sample();
        assert!(healthz(&st).0);
        st.routers[0].state = "Initialize".into();
        let (ok, body) = healthz(&st);
        assert!(!ok);
        assert!(body.contains("api: Initialize"), "{body}");
        st.routers[0].waiting = Some("interface eth0 missing".into());
        assert!(
            healthz(&st)
                .1
                .contains("api: waiting: interface eth0 missing")
        );
    }

    #[test]
    fn only_two_paths_and_two_methods_are_served() {
        assert_eq!(route(&Method::GET, "/metrics"), Route::Metrics);
        assert_eq!(route(&Method::HEAD, "/healthz"), Route::Healthz);
        assert_eq!(route(&Method::GET, "/"), Route::NotFound);
        assert_eq!(route(&Method::GET, "/metrics/"), Route::NotFound);
        assert_eq!(route(&Method::POST, "/metrics"), Route::MethodNotAllowed);
    }

    /// A fake protocol loop: answers every snapshot request with `sample()`
    /// and counts them.
    fn fake_loop() -> (mpsc::Sender<ControlMsg>, Arc<AtomicU64>) {
        let (tx, mut rx) = mpsc::channel::<ControlMsg>(64);
        let asked = Arc::new(AtomicU64::new(0));
        let n = asked.clone();
        std::thread::spawn(move || {
            while let Some(msg) = rx.blocking_recv() {
                if let ControlMsg::Status(reply) = msg {
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = reply.send(sample());
                }
            }
        });
        (tx, asked)
    }

    fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    fn wait_until(mut f: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn unknown_paths_cost_no_snapshot_and_metrics_one() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let (engine, asked) = fake_loop();
        let server = start(l, engine).unwrap();
        for path in ["/", "/favicon.ico", "/metrics/../x", "/status"] {
            let r = get(addr, path);
            assert!(r.starts_with("HTTP/1.1 404"), "{path}: {r}");
        }
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        .unwrap();
        let mut r = String::new();
        s.read_to_string(&mut r).unwrap();
        assert!(r.starts_with("HTTP/1.1 405"), "{r}");
        assert_eq!(
            asked.load(Ordering::SeqCst),
            0,
            "a 404 or 405 asked the loop"
        );
        let r = get(addr, "/metrics");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("text/plain; version=0.0.4"), "{r}");
        assert!(r.contains("ha_vip_build_info"), "{r}");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        assert_eq!(server.stats.snapshots.load(Ordering::SeqCst), 1);
        let r = get(addr, "/healthz");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("ok: 1 routers running"), "{r}");
    }

    /// Silent clients: each is closed after the header-read timeout; while
    /// MAX_CONNECTIONS of them are open, one more is closed at accept.
    #[test]
    fn silent_clients_are_capped_and_timed_out() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let (engine, asked) = fake_loop();
        let server = start(l, engine).unwrap();
        let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS)
            .map(|_| TcpStream::connect(addr).unwrap())
            .collect();
        // The server accepts in order: once these hold every slot, the
        // next connection is closed at once, without a byte.
        let mut extra = TcpStream::connect(addr).unwrap();
        extra
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(extra.read(&mut buf).unwrap_or(0), 0);
        assert!(
            wait_until(|| server.stats.rejected.load(Ordering::SeqCst) >= 1),
            "the connection over the cap was not rejected"
        );
        // Every silent client is closed by the server (EOF), not by us.
        for mut s in silent {
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            assert_eq!(
                s.read(&mut buf).unwrap_or(1),
                0,
                "a silent client was not closed"
            );
        }
        assert!(wait_until(
            || server.stats.timed_out.load(Ordering::SeqCst) == MAX_CONNECTIONS as u64
        ));
        // The slots are free again.
        let r = get(addr, "/metrics");
        assert!(
            r.contains("ha_vip_metrics_connections_rejected_total 1\n"),
            "{r}"
        );
        assert!(
            r.contains(&format!(
                "ha_vip_metrics_connections_timed_out_total {MAX_CONNECTIONS}\n"
            )),
            "{r}"
        );
        assert_eq!(asked.load(Ordering::SeqCst), 1);
    }
}
