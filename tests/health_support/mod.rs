//! A fake kube-apiserver for the health tests: real TLS (a test CA and a
//! certificate for `kubernetes`, made with rcgen), a bearer-token check, and
//! `/readyz` answers shaped like the real ones.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A CA and one server certificate it signed.
pub struct TestPki {
    pub ca_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl TestPki {
    /// A fresh CA and a certificate for `names`.
    pub fn new(names: &[&str]) -> TestPki {
        Self::with_ca_name("ha-vip test CA", names)
    }

    /// The same with the CA's common name chosen (kubeadm names every
    /// cluster CA `kubernetes`).
    pub fn with_ca_name(ca_name: &str, names: &[&str]) -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, ca_name);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let cert = params.signed_by(&key, &ca).unwrap();
        TestPki {
            ca_pem: ca.pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    pub fn write_ca(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

/// How the fake answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// 200 `ok`.
    Ready,
    /// 500 with these `[-]` checks failing.
    NotReady(Vec<&'static str>),
    /// 403 whatever the token.
    Forbidden,
    /// Accept TCP, never start TLS.
    HangTcp,
    /// Complete TLS, never answer the request.
    HangHttp,
    /// 200 `ok`, but only after this long.
    SlowReady(std::time::Duration),
    /// Accept TCP, start the TLS handshake only after this long, then 200.
    SlowTls(std::time::Duration),
    /// What kube-apiserver does when its etcd member is gone: `/readyz`
    /// answers 500 `[-]etcd failed: reason withheld` only after 2.0 s (the
    /// etcd check's own timeout), `/readyz?exclude=etcd` 200 at once.
    EtcdGone,
    /// `[-]shutdown failed: reason withheld` (500) for this long from the
    /// moment the mode is set, then the port is closed (connects refused),
    /// as kube-apiserver does through its --shutdown-delay-duration.
    ShutdownThenClose(std::time::Duration),
}

/// The delay of kube-apiserver's `[-]etcd failed` answer (its etcd
/// check's timeout).
pub const ETCD_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub host: Option<String>,
}

struct State {
    mode: Mode,
    /// When the mode was set.
    since: std::time::Instant,
    /// The token the server accepts; `None` accepts anonymous requests.
    token: Option<String>,
    seen: Vec<Seen>,
}

pub struct FakeApiServer {
    pub addr: SocketAddr,
    pub pki: TestPki,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const READYZ_CHECKS: &[&str] = &[
    "ping",
    "log",
    "etcd",
    "etcd-readiness",
    "informer-sync",
    "poststarthook/start-apiextensions-controllers",
    "shutdown",
];

fn readyz_body(failing: &[&str]) -> String {
    let mut body = String::new();
    for check in READYZ_CHECKS {
        if failing.contains(check) {
            body.push_str(&format!("[-]{check} failed: reason withheld\n"));
        } else {
            body.push_str(&format!("[+]{check} ok\n"));
        }
    }
    body.push_str("readyz check failed\n");
    body
}

/// How long to wait before answering `req` in the current mode.
fn delay(state: &Mutex<State>, req: &Request<Incoming>) -> std::time::Duration {
    let st = state.lock().unwrap();
    let excluded = |name: &str| {
        req.uri()
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == format!("exclude={name}")))
    };
    match st.mode {
        Mode::SlowReady(d) => d,
        Mode::EtcdGone if !excluded("etcd") => ETCD_CHECK_TIMEOUT,
        _ => std::time::Duration::ZERO,
    }
}

fn answer(state: &Mutex<State>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut st = state.lock().unwrap();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = Seen {
        path_and_query: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        authorization: header("authorization"),
        host: header("host"),
    };
    st.seen.push(seen.clone());
    let reply = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if let Some(token) = &st.token
        && seen.authorization.as_deref() != Some(&format!("Bearer {token}"))
    {
        return reply(
            StatusCode::UNAUTHORIZED,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#.to_string(),
        );
    }
    if req.uri().path() != "/readyz" {
        return reply(StatusCode::NOT_FOUND, "not found".to_string());
    }
    match &st.mode {
        Mode::Forbidden => reply(
            StatusCode::FORBIDDEN,
            r#"{"kind":"Status","message":"forbidden: User \"system:serviceaccount:kube-system:ha-vip\" cannot get path \"/readyz\"","code":403}"#.to_string(),
        ),
        Mode::NotReady(failing) => reply(StatusCode::INTERNAL_SERVER_ERROR, readyz_body(failing)),
        Mode::EtcdGone if !req.uri().query().unwrap_or("").contains("exclude=etcd") => {
            reply(StatusCode::INTERNAL_SERVER_ERROR, readyz_body(&["etcd"]))
        }
        Mode::ShutdownThenClose(_) => {
            reply(StatusCode::INTERNAL_SERVER_ERROR, readyz_body(&["shutdown"]))
        }
        _ => reply(StatusCode::OK, "ok".to_string()),
    }
}

impl FakeApiServer {
    /// Starts on 127.0.0.1, a random port, with a certificate for
    /// `kubernetes`; `token` is the one bearer token it accepts.
    pub async fn start(token: Option<&str>) -> FakeApiServer {
        Self::start_with(TestPki::new(&["kubernetes"]), token).await
    }

    pub async fn start_with(pki: TestPki, token: Option<&str>) -> FakeApiServer {
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![pki.cert_der.clone()],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
                )
                .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Ready,
            since: std::time::Instant::now(),
            token: token.map(str::to_string),
            seen: Vec::new(),
        }));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let closes_at = {
                    let st = st.lock().unwrap();
                    match st.mode {
                        Mode::ShutdownThenClose(d) => Some(st.since + d),
                        _ => None,
                    }
                };
                let accepted = match closes_at {
                    Some(at) => {
                        tokio::select! {
                            a = listener.accept() => a,
                            // The listener is dropped: connects are refused.
                            _ = tokio::time::sleep_until(at.into()) => return,
                        }
                    }
                    None => {
                        tokio::select! {
                            a = listener.accept() => a,
                            // Look at the mode again now and then.
                            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => continue,
                        }
                    }
                };
                let Ok((tcp, _)) = accepted else {
                    return;
                };
                let acceptor = acceptor.clone();
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let mode = st.lock().unwrap().mode.clone();
                    if let Mode::SlowTls(d) = mode {
                        tokio::time::sleep(d).await;
                    }
                    if mode == Mode::HangTcp {
                        // Hold the connection open, say nothing.
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        drop(tcp);
                        return;
                    }
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if mode == Mode::HangHttp {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        drop(tls);
                        return;
                    }
                    let service = service_fn(move |req| {
                        let wait = delay(&st, &req);
                        let resp = answer(&st, &req);
                        async move {
                            tokio::time::sleep(wait).await;
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        FakeApiServer {
            addr,
            pki,
            state,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        let mut st = self.state.lock().unwrap();
        st.mode = mode;
        st.since = std::time::Instant::now();
    }

    /// Stops listening at once: connects are refused from now on, as
    /// after a crash (SIGKILL) of the API server.
    pub fn crash(&self) {
        self.task.abort();
    }

    pub fn set_token(&self, token: Option<&str>) {
        self.state.lock().unwrap().token = token.map(str::to_string);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

/// A port on 127.0.0.1 that refuses connections: bound, then closed.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}
