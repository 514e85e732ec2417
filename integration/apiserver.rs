//! An API-server stand-in that runs inside a node's network namespace on
//! 0.0.0.0:6443 (so both the node's own 127.0.0.1:6443 check and clients
//! of the VIP reach it), with real TLS from the test CA and `/readyz`
//! answers shaped like kube-apiserver's.
//!
//! It runs on its own thread, which enters the namespace with setns(2)
//! before it opens any socket: a socket belongs to the namespace it was
//! created in.

use std::convert::Infallible;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

use crate::health_support::TestPki;

/// What the stand-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 `ok`.
    Ready,
    /// 500, `[-]etcd failed` (the node is up but not ready).
    NotReady,
    /// 500, `[-]shutdown failed`: a graceful shutdown has begun; TCP and
    /// TLS still work, as during kube-apiserver's --shutdown-delay-duration.
    ShuttingDown,
    /// The port is closed (the process is gone).
    Closed,
    /// TCP connections are accepted and then never answered: no TLS
    /// handshake, no HTTP (a wedged process, a full accept queue upstream).
    Hang,
    /// The node's etcd member is gone, as the real kube-apiserver shows it:
    /// `/readyz`, `/livez` and `/healthz` answer 500 `[-]etcd failed: reason
    /// withheld` only after 2.0 s (its etcd check's timeout), while
    /// `?exclude=etcd` answers 200 at once.
    EtcdGone,
}

/// kube-apiserver's etcd check timeout: how late `Mode::EtcdGone` answers.
pub const ETCD_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub struct StandIn {
    mode: Arc<Mutex<Mode>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn body(mode: Mode) -> (StatusCode, String) {
    let line = |name: &str, ok: bool| {
        if ok {
            format!("[+]{name} ok\n")
        } else {
            format!("[-]{name} failed: reason withheld\n")
        }
    };
    match mode {
        Mode::Ready | Mode::Closed | Mode::Hang => (StatusCode::OK, "ok".into()),
        Mode::EtcdGone => {
            let mut b = String::new();
            b.push_str(&line("ping", true));
            b.push_str(&line("etcd", false));
            b.push_str(&line("shutdown", true));
            b.push_str("readyz check failed\n");
            (StatusCode::INTERNAL_SERVER_ERROR, b)
        }
        Mode::NotReady | Mode::ShuttingDown => {
            let mut b = String::new();
            b.push_str(&line("ping", true));
            b.push_str(&line("etcd", mode != Mode::NotReady));
            b.push_str(&line("informer-sync", true));
            b.push_str(&line("shutdown", mode != Mode::ShuttingDown));
            b.push_str("readyz check failed\n");
            (StatusCode::INTERNAL_SERVER_ERROR, b)
        }
    }
}

impl StandIn {
    pub fn start(netns: &str, pki: &TestPki) -> StandIn {
        let mode = Arc::new(Mutex::new(Mode::Ready));
        let stop = Arc::new(AtomicBool::new(false));
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("tls versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![pki.cert_der.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
                )
                .expect("server cert");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let ns_file = File::open(format!("/var/run/netns/{netns}")).expect("netns file");
        let (m, s) = (Arc::clone(&mode), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            nix::sched::setns(&ns_file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(serve(acceptor, m, s));
        });
        StandIn {
            mode,
            stop,
            thread: Some(thread),
        }
    }

    pub fn set(&self, mode: Mode) {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
    }
}

async fn serve(acceptor: TlsAcceptor, mode: Arc<Mutex<Mode>>, stop: Arc<AtomicBool>) {
    let current = |m: &Mutex<Mode>| m.lock().map(|g| *g).unwrap_or(Mode::Closed);
    let mut listener: Option<tokio::net::TcpListener> = None;
    // Connections accepted in `Mode::Hang`, held open and never read.
    let mut hung = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if current(&mode) == Mode::Closed {
            listener = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        if listener.is_none() {
            let sock = tokio::net::TcpSocket::new_v4().expect("socket");
            let _ = sock.set_reuseaddr(true);
            if sock.bind("0.0.0.0:6443".parse().expect("addr")).is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            listener = sock.listen(128).ok();
        }
        let Some(l) = listener.as_ref() else {
            continue;
        };
        let Ok(Ok((tcp, _))) = tokio::time::timeout(Duration::from_millis(50), l.accept()).await
        else {
            continue;
        };
        if current(&mode) == Mode::Hang {
            hung.push(tcp);
            continue;
        }
        let acceptor = acceptor.clone();
        let mode = Arc::clone(&mode);
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let m = mode.lock().map(|g| *g).unwrap_or(Mode::Closed);
                let path = req.uri().path();
                let excludes_etcd = req
                    .uri()
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == "exclude=etcd"));
                let health = matches!(path, "/readyz" | "/livez" | "/healthz");
                let late = m == Mode::EtcdGone && health && !excludes_etcd;
                let (code, text) = if m == Mode::EtcdGone && !late {
                    (StatusCode::OK, "ok".into())
                } else if late || path == "/readyz" {
                    body(m)
                } else {
                    (StatusCode::OK, "{}".into())
                };
                let mut r = Response::new(Full::new(Bytes::from(text)));
                *r.status_mut() = code;
                async move {
                    // A kept-alive connection opened before the hang hangs too.
                    if m == Mode::Hang {
                        std::future::pending::<()>().await;
                    }
                    if late {
                        tokio::time::sleep(ETCD_CHECK_TIMEOUT).await;
                    }
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        });
    }
}
