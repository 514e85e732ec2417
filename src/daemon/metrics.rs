//! Prometheus metrics and a health endpoint, over HTTP/1.1.
//!
//! `GET /metrics`: Prometheus text, encoded by prometheus-client from a
//! status snapshot the daemon loop takes at scrape time (so the numbers are the
//! ones `ha-vip status` shows). `GET /healthz`: 200 when every router has
//! left Initialize and none is waiting for its interface, 503 otherwise,
//! with the reason in the body.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::control::ControlMsg;
use crate::status::Status;

type Labels = Vec<(String, String)>;

/// Bind `addr` and serve on the current runtime.
pub async fn serve(addr: SocketAddr, engine: mpsc::Sender<ControlMsg>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("metrics listen {addr}: {e}")))?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    warn!("metrics accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let engine = engine.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(req, engine.clone()));
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await
                {
                    debug!("metrics connection: {e}");
                }
            });
        }
    });
    Ok(())
}

fn reply(code: StatusCode, ctype: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    req: Request<hyper::body::Incoming>,
    engine: mpsc::Sender<ControlMsg>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (tx, rx) = oneshot::channel();
    let st = match engine.send(ControlMsg::Status(tx)).await {
        Ok(()) => rx.await.ok(),
        Err(_) => None,
    };
    let Some(st) = st else {
        return Ok(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "engine stopped\n".into(),
        ));
    };
    Ok(match req.uri().path() {
        "/metrics" => reply(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render(&st),
        ),
        "/healthz" => {
            let (ok, body) = healthz(&st);
            reply(
                if ok {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                "text/plain",
                body,
            )
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics or /healthz\n".into(),
        ),
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

fn lbl(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Encode a snapshot as Prometheus/OpenMetrics text.
pub fn render(st: &Status) -> String {
    let mut reg = Registry::with_prefix("ha_vip");

    let state = Family::<Labels, Gauge>::default();
    let eff = Family::<Labels, Gauge>::default();
    let base = Family::<Labels, Gauge>::default();
    let transitions = Family::<Labels, Counter>::default();
    let counters = Family::<Labels, Counter>::default();
    let announce = Family::<Labels, Counter>::default();
    let takeover = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    let drops = Family::<Labels, Counter>::default();
    let check_ok = Family::<Labels, Gauge>::default();
    let check_latency = Family::<Labels, Gauge<f64, AtomicU64>>::default();

    for r in &st.routers {
        let vrid = r.vrid.to_string();
        let id = [
            ("router", r.name.as_str()),
            ("interface", r.interface.as_str()),
            ("vrid", vrid.as_str()),
            ("family", r.family.as_str()),
        ];
        for s in ["Initialize", "Backup", "Active", "Waiting"] {
            let mut l = lbl(&id);
            l.push(("state".into(), s.into()));
            state.get_or_create(&l).set(i64::from(r.state == s));
        }
        eff.get_or_create(&lbl(&id))
            .set(i64::from(r.effective_priority));
        base.get_or_create(&lbl(&id))
            .set(i64::from(r.base_priority));
        for (key, n) in &r.transitions {
            let mut l = lbl(&id);
            l.push(("transition".into(), key.clone()));
            transitions.get_or_create(&l).inc_by(*n);
        }
        for (name, n) in &r.counters {
            let mut l = lbl(&id);
            l.push(("counter".into(), name.clone()));
            counters.get_or_create(&l).inc_by(*n);
        }
        announce
            .get_or_create(&lbl(&id))
            .inc_by(r.announcements_sent);
        if let Some(t) = r.last_takeover_unix_s {
            takeover.get_or_create(&lbl(&id)).set(t);
        }
    }
    for (reason, n) in &st.drops {
        drops
            .get_or_create(&lbl(&[("reason", reason.as_str())]))
            .inc_by(*n);
    }
    for c in &st.checks {
        let l = lbl(&[("check", c.name.as_str())]);
        check_ok.get_or_create(&l).set(i64::from(c.healthy));
        check_latency.get_or_create(&l).set(c.latency_ms / 1000.0);
    }

    reg.register(
        "router_state",
        "1 for the router's current state (Initialize, Backup, Active; Waiting: interface missing)",
        state,
    );
    reg.register(
        "router_effective_priority",
        "Priority advertised: base plus the weights of failed tracked checks",
        eff,
    );
    reg.register("router_base_priority", "Configured priority", base);
    reg.register(
        "router_transitions",
        "State changes, by 'to-state: reason'",
        transitions,
    );
    reg.register(
        "router_events",
        "RFC 6527 statistics and router-level drops, by counter name (includes adverts sent and received)",
        counters,
    );
    reg.register(
        "router_announcements",
        "Gratuitous ARPs / unsolicited NAs sent (one per address per message)",
        announce,
    );
    reg.register(
        "router_last_takeover_timestamp_seconds",
        "Unix time at which the router last became Active",
        takeover,
    );
    reg.register(
        "packets_dropped",
        "Received packets dropped before reaching a router, by reason",
        drops,
    );
    reg.register(
        "check_healthy",
        "1 when the check passes (debounced)",
        check_ok,
    );
    reg.register(
        "check_latency_seconds",
        "Duration of the check's last probe",
        check_latency,
    );

    let mut out = String::new();
    if encode(&mut out, &reg).is_err() {
        out = "# encoding failed\n".into();
    }
    out
}
