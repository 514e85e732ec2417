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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use nix::sys::signal::Signal;
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

/// The lab's helper program (API-server stand-in, client probe), shared
/// with scripts/bench-k8s.sh.
pub const K8S_LAB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/k8s-lab.py");
const PYTHON: &str = "/usr/bin/python3";

/// The stand-in and the client need Debian's python3 and curl: missing,
/// the test fails here, saying so.
fn require_k8s_lab() {
    assert!(
        Path::new(PYTHON).exists(),
        "prerequisite {PYTHON} is missing (Debian package python3): run `sudo scripts/install-prereqs.sh`"
    );
    let curl = Command::new("sh")
        .args(["-c", "command -v curl"])
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        curl,
        "prerequisite `curl` is missing: run `sudo scripts/install-prereqs.sh`"
    );
}

/// What [`ApiProcess`] answers, written to its state file (`k8s-lab.py`
/// documents each as kube-apiserver shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiState {
    /// 200 on every health endpoint.
    Ready,
    /// Graceful shutdown begun: `/readyz` 500 `[-]shutdown failed: reason
    /// withheld`; everything else still served.
    ShuttingDown,
    /// The node's etcd member is gone: `/readyz`, `/livez`, `/healthz` 500
    /// `[-]etcd failed: reason withheld` after 2.0 s; `?exclude=etcd` 200
    /// at once.
    EtcdGone,
    /// `/readyz` 500 at once (`[-]etcd-readiness failed`); `/livez` 200.
    NotReady,
}

impl ApiState {
    fn word(self) -> &'static str {
        match self {
            ApiState::Ready => "ready",
            ApiState::ShuttingDown => "shutdown",
            ApiState::EtcdGone => "etcd-gone",
            ApiState::NotReady => "not-ready",
        }
    }
}

/// An API-server stand-in in its own process inside a node's namespace, on
/// `[::]:6443` (dual stack, as kube-apiserver's default bind): SIGKILL
/// closes its port and resets its connections, SIGSTOP freezes it while
/// the kernel still completes TCP handshakes into its backlog, exactly as
/// for the real one. Each start is a fresh process whose `/readyz`,
/// `/livez` and `/healthz` fail (`[-]poststarthook/...`) for `ready_after`
/// before passing, as kube-apiserver's post-start hooks do.
pub struct ApiProcess {
    netns: String,
    dir: PathBuf,
    ready_after: Duration,
    child: Option<Child>,
}

impl ApiProcess {
    /// Write the server's certificate and key, then start it (not yet
    /// ready: see [`ApiProcess::wait_ready`]).
    pub fn start(netns: &str, dir: &Path, pki: &TestPki, ready_after: Duration) -> ApiProcess {
        require_k8s_lab();
        std::fs::create_dir_all(dir).expect("stand-in dir");
        std::fs::write(dir.join("cert.der"), pki.cert_der.as_ref()).expect("write cert");
        std::fs::write(dir.join("key.der"), &pki.key_der).expect("write key");
        let mut p = ApiProcess {
            netns: netns.to_string(),
            dir: dir.to_path_buf(),
            ready_after,
            child: None,
        };
        p.set(ApiState::Ready);
        p.spawn();
        p
    }

    /// Start a new process (after [`ApiProcess::kill`] or [`ApiProcess::stop`]).
    pub fn spawn(&mut self) {
        assert!(
            self.child.is_none(),
            "stand-in in {} already runs",
            self.netns
        );
        let log = File::create(self.dir.join("standin.log")).expect("stand-in log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, PYTHON, K8S_LAB, "serve"])
            .arg("--cert")
            .arg(self.dir.join("cert.der"))
            .arg("--key")
            .arg(self.dir.join("key.der"))
            .arg("--state")
            .arg(self.dir.join("state"))
            .arg("--ready-after")
            .arg(format!("{:.3}", self.ready_after.as_secs_f64()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {PYTHON} {K8S_LAB} serve: {e}"));
        self.child = Some(child);
    }

    /// Change what it answers, atomically (the server reads the file on
    /// every request).
    pub fn set(&self, state: ApiState) {
        let tmp = self.dir.join("state.tmp");
        std::fs::write(&tmp, state.word()).expect("write state");
        std::fs::rename(&tmp, self.dir.join("state")).expect("rename state");
    }

    fn pid(&self) -> nix::unistd::Pid {
        let c = self.child.as_ref().expect("stand-in not running");
        // `ip netns exec` execs the program: the pid is the server itself.
        nix::unistd::Pid::from_raw(c.id() as i32)
    }

    fn signal(&mut self, sig: Signal) {
        let _ = nix::sys::signal::kill(self.pid(), sig);
    }

    /// SIGKILL, and wait until it is gone (its port closed).
    pub fn kill(&mut self) {
        self.signal(Signal::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGTERM (the end of a graceful shutdown: the port closes), and wait.
    pub fn stop(&mut self) {
        self.signal(Signal::SIGTERM);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the listener stays, nothing answers.
    pub fn freeze(&mut self) {
        self.signal(Signal::SIGSTOP);
    }

    /// SIGCONT after [`ApiProcess::freeze`].
    pub fn thaw(&mut self) {
        self.signal(Signal::SIGCONT);
    }

    /// Wait until `/readyz` on the node's 127.0.0.1:6443 answers 200.
    pub fn wait_ready(&self, ca: &Path, within: Duration) -> bool {
        crate::lab::wait_until(within, || {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &self.netns,
                    "curl",
                    "-sf",
                    "--max-time",
                    "1",
                ])
                .arg("--cacert")
                .arg(ca)
                .args([
                    "--resolve",
                    "kubernetes:6443:127.0.0.1",
                    "-o",
                    "/dev/null",
                    "https://kubernetes:6443/readyz",
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("standin.log")).unwrap_or_default()
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        if self.child.is_some() {
            // SIGKILL also ends a stopped (frozen) process.
            self.kill();
        }
    }
}

/// One client probe: a new TCP connection to VIP:6443, a TLS handshake
/// verified for `kubernetes`, `GET /livez`, the whole within a timeout.
#[derive(Debug, Clone)]
pub struct Probe {
    /// CLOCK_REALTIME, nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub ok: bool,
    pub detail: String,
}

/// A client in its own namespace probing VIP:6443 (`k8s-lab.py probe`).
pub struct VipClient {
    out: PathBuf,
    child: Option<Child>,
}

impl VipClient {
    pub fn start(
        netns: &str,
        target: &str,
        ca: &Path,
        out: &Path,
        every: Duration,
        timeout: Duration,
    ) -> VipClient {
        let child = Command::new("ip")
            .args([
                "netns", "exec", netns, PYTHON, K8S_LAB, "probe", "--target", target,
            ])
            .arg("--ca")
            .arg(ca)
            .arg("--out")
            .arg(out)
            .arg("--every")
            .arg(format!("{:.3}", every.as_secs_f64()))
            .arg("--timeout")
            .arg(format!("{:.3}", timeout.as_secs_f64()))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {PYTHON} {K8S_LAB} probe: {e}"));
        VipClient {
            out: out.to_path_buf(),
            child: Some(child),
        }
    }

    /// Every probe so far (the file is line-buffered).
    pub fn probes(&self) -> Vec<Probe> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut w = l.splitn(4, ' ');
                let start_ns = w.next()?.parse().ok()?;
                let end_ns = w.next()?.parse().ok()?;
                let ok = w.next()? == "OK";
                let detail = w.next().unwrap_or("").to_string();
                Some(Probe {
                    start_ns,
                    end_ns,
                    ok,
                    detail,
                })
            })
            .collect()
    }

    /// Stop the client (SIGTERM: it finishes its probe) and return every probe.
    pub fn stop(&mut self) -> Vec<Probe> {
        if let Some(mut c) = self.child.take() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let _ = c.wait();
        }
        self.probes()
    }
}

impl Drop for VipClient {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Now on CLOCK_REALTIME in nanoseconds, the clock of [`Probe`].
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
