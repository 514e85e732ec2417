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
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tracing::{debug, warn};

use super::control::ControlMsg;
use crate::status::Status;

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

mod exposition;
pub use exposition::render;
use exposition::{render_server, render_status};

#[cfg(test)]
mod tests;
