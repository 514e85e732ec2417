//! The Kubernetes API-server check's probe: TCP connect, TLS, then `GET
//! /readyz`, which is authoritative (a TCP connect that works with a
//! `/readyz` 500 is failed), each stage under its own bound. (The runner
//! adds the fast watch of the listening socket, `listen.rs`.)
//!
//! External mode (the usual one, on control-plane nodes) talks to
//! `api_server` (default `https://127.0.0.1:6443`) with a bearer token from
//! `token` or `token_file` and the cluster CA in `ca_cert`. In-cluster mode
//! (a pod) ignores those three and takes the address from
//! `KUBERNETES_SERVICE_HOST`/`_PORT` and the token and CA from the mounted
//! service account. A plain `http://` `api_server` (a local proxy) works
//! too, with a warning. Either way the certificate is verified for
//! `server_name` (default `kubernetes`): kubeadm puts that name in every
//! API-server certificate, while 127.0.0.1 is often missing from it.
//!
//! Credentials are read on every probe: a rotated token file or projected
//! service-account token is used from the next probe on, never cached for
//! the life of the process.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::transport::{self, ClientCache, Request, Trust};
use super::{Failure, ProbeResult, Secret, Service, StageTimeouts};

/// Where kube-apiserver listens on a control-plane node.
pub const DEFAULT_API_SERVER: &str = "https://127.0.0.1:6443";

/// The name verified in the API server's certificate.
pub const DEFAULT_SERVER_NAME: &str = "kubernetes";

/// Where Kubernetes mounts a pod's service account.
pub const DEFAULT_SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Parameters of the API-server check (the `[k8s]` table, minus `enabled`,
/// the timing and `weight`, which belong to the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct K8sParams {
    /// Discover the API server from the pod's environment and service account.
    pub in_cluster: bool,
    /// External mode: the API server's URL.
    pub api_server: String,
    /// External mode: a literal token. `token_file` wins when both are set.
    pub token: Option<Secret>,
    /// External mode: a file holding the token, re-read on every probe.
    pub token_file: Option<PathBuf>,
    /// External mode: the cluster CA. Without it the certificate is not
    /// verified, with a loud warning.
    pub ca_cert: Option<PathBuf>,
    /// The name the API server's certificate must carry.
    pub server_name: String,
    /// `/readyz` checks to leave out, e.g. `etcd`.
    pub exclude: Vec<String>,
    /// In-cluster mode: the environment to discover from; `None` reads the
    /// process environment and the default service-account directory at each
    /// probe. Tests pass their own.
    pub in_cluster_env: Option<InClusterEnv>,
}

impl Default for K8sParams {
    fn default() -> Self {
        K8sParams {
            in_cluster: false,
            api_server: DEFAULT_API_SERVER.to_string(),
            token: None,
            token_file: None,
            ca_cert: None,
            server_name: DEFAULT_SERVER_NAME.to_string(),
            exclude: Vec::new(),
            in_cluster_env: None,
        }
    }
}

/// What in-cluster discovery reads: the two variables Kubernetes sets in
/// every pod, and the service-account directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InClusterEnv {
    /// `KUBERNETES_SERVICE_HOST`.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
    /// Holds `token` and `ca.crt`.
    pub service_account_dir: PathBuf,
}

impl InClusterEnv {
    /// The process environment and the default service-account directory.
    pub fn from_process_env() -> Self {
        InClusterEnv {
            service_host: std::env::var("KUBERNETES_SERVICE_HOST").ok(),
            service_port: std::env::var("KUBERNETES_SERVICE_PORT").ok(),
            service_account_dir: PathBuf::from(DEFAULT_SERVICE_ACCOUNT_DIR),
        }
    }
}

/// Where and how to reach the API server for one probe.
struct Endpoint {
    host: String,
    port: u16,
    base_path: String,
    token: Option<Secret>,
    /// Where the token came from, for the "changed" log line.
    token_source: Option<PathBuf>,
    /// `None`: plain `http://` (a local proxy or an insecure port).
    trust: Option<Trust>,
}

fn in_cluster_error(detail: impl std::fmt::Display) -> Failure {
    Failure::Config(format!("failed to create in-cluster config: {detail}"))
}

fn read_token_file(path: &Path, in_cluster: bool) -> Result<Secret, Failure> {
    let wrap = |detail: String| {
        if in_cluster {
            in_cluster_error(detail)
        } else {
            Failure::Config(detail)
        }
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        wrap(format!(
            "cannot read token file {}: {e}{}",
            path.display(),
            if in_cluster {
                " (is a service account mounted in the pod?)"
            } else {
                ""
            }
        ))
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(wrap(format!("token file {} is empty", path.display())));
    }
    Ok(Secret::new(token))
}

fn resolve_in_cluster(env: &InClusterEnv) -> Result<Endpoint, Failure> {
    let host = env.service_host.as_deref().unwrap_or("").trim();
    let port = env.service_port.as_deref().unwrap_or("").trim();
    if host.is_empty() || port.is_empty() {
        return Err(in_cluster_error(
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (is ha-vip running \
             in a pod? set in_cluster = false on a control-plane node)",
        ));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| in_cluster_error(format!("KUBERNETES_SERVICE_PORT {port:?} is not a port")))?;
    let token_path = env.service_account_dir.join("token");
    let token = read_token_file(&token_path, true)?;
    let ca = env.service_account_dir.join("ca.crt");
    if !ca.is_file() {
        return Err(in_cluster_error(format!(
            "no CA certificate at {} (is a service account mounted in the pod?)",
            ca.display()
        )));
    }
    Ok(Endpoint {
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        base_path: String::new(),
        token: Some(token),
        token_source: Some(token_path),
        trust: Some(Trust::CaFile(ca)),
    })
}

fn resolve_external(params: &K8sParams) -> Result<Endpoint, Failure> {
    let url = transport::parse_url(&params.api_server, "api_server")?;
    let (token, token_source) = match (&params.token_file, &params.token) {
        (Some(path), _) => (Some(read_token_file(path, false)?), Some(path.clone())),
        (None, Some(token)) if !token.expose().trim().is_empty() => {
            (Some(Secret::new(token.expose().trim())), None)
        }
        // No token: the request is anonymous, which kube-apiserver allows
        // for /readyz by default (ClusterRole system:public-info-viewer).
        (None, _) => (None, None),
    };
    let trust = match (&params.ca_cert, url.https) {
        (_, false) => None,
        (Some(path), true) => Some(Trust::CaFile(path.clone())),
        (None, true) => Some(Trust::Insecure),
    };
    Ok(Endpoint {
        host: url.host,
        port: url.port,
        base_path: url.path_and_query.trim_end_matches('/').to_string(),
        token,
        token_source,
        trust,
    })
}

/// `Some("group-readable")` etc. when the file's mode lets others than its
/// owner read it; `None` when it does not, or cannot be read (the check
/// then says why).
pub fn readable_by_others(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (_, true) => Some("world-readable"),
        (true, false) => Some("group-readable"),
        (false, false) => None,
    }
}

/// The `[-]` lines of a `/readyz` body, without the marker:
/// `[-]etcd failed: reason withheld` gives `etcd failed: reason withheld`.
pub fn parse_readyz_failures(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|line| line.trim().strip_prefix("[-]"))
        .map(|rest| rest.trim().to_string())
        .collect()
}

fn is_shutdown_line(line: &str) -> bool {
    line.split_whitespace().next() == Some("shutdown")
}

/// Probes one API server; keeps what must survive between probes (the TLS
/// configuration, whether the insecure warning was given, which token was
/// used last).
#[derive(Debug)]
pub struct K8sProber {
    name: String,
    params: K8sParams,
    clients: ClientCache,
    warned_insecure: bool,
    warned_readable: bool,
    token_fingerprint: Option<u64>,
}

impl K8sProber {
    pub fn new(name: impl Into<String>, params: K8sParams) -> Self {
        K8sProber {
            name: name.into(),
            params,
            clients: ClientCache::default(),
            warned_insecure: false,
            warned_readable: false,
            token_fingerprint: None,
        }
    }

    /// The path and query of the readiness request, `exclude` included.
    pub fn readyz_path(&self) -> String {
        let mut path = "/readyz".to_string();
        for (i, name) in self.params.exclude.iter().enumerate() {
            path.push(if i == 0 { '?' } else { '&' });
            path.push_str("exclude=");
            path.push_str(&transport::encode_query_value(name));
        }
        path
    }

    /// One probe, every stage bounded by `timeout`, and all of them too.
    pub async fn probe(&mut self, timeout: Duration) -> ProbeResult {
        self.probe_stages(StageTimeouts::all(timeout), timeout)
            .await
    }

    /// One probe, each stage bounded by its own timeout, all by `total`.
    pub async fn probe_stages(&mut self, stages: StageTimeouts, total: Duration) -> ProbeResult {
        let start = Instant::now();
        let outcome = self.probe_inner(stages, total).await;
        ProbeResult {
            outcome,
            latency: start.elapsed(),
        }
    }

    async fn probe_inner(&mut self, stages: StageTimeouts, total: Duration) -> Result<(), Failure> {
        let mut endpoint = if self.params.in_cluster {
            match &self.params.in_cluster_env {
                Some(env) => resolve_in_cluster(env)?,
                None => resolve_in_cluster(&InClusterEnv::from_process_env())?,
            }
        } else {
            resolve_external(&self.params)?
        };
        self.note_token(&endpoint);
        if !self.warned_insecure {
            self.warn_insecure(&endpoint);
        }
        // A bearer token goes only where the API server's identity was
        // verified: whoever answers unverified TLS or plain http could
        // replay it. (`ha-vip check` refuses such a configuration; this
        // holds for every other way of building the parameters.)
        if !matches!(endpoint.trust, Some(Trust::CaFile(_) | Trust::System)) {
            endpoint.token = None;
        }
        if let Some(path) = &endpoint.token_source
            && !self.params.in_cluster
            && !self.warned_readable
            && let Some(why) = readable_by_others(path)
        {
            self.warned_readable = true;
            warn!(check = %self.name, file = %path.display(),
                "the token file is {why}: anyone who can read it can use the token (chmod 600 it)");
        }
        let tls = endpoint
            .trust
            .clone()
            .map(|trust| (trust, self.params.server_name.clone()));
        let authority = if endpoint.host.contains(':') {
            format!("[{}]:{}", endpoint.host, endpoint.port)
        } else {
            format!("{}:{}", endpoint.host, endpoint.port)
        };
        let request = Request {
            service: Service::ApiServer,
            host: endpoint.host,
            port: endpoint.port,
            tls,
            authority,
            path_and_query: format!("{}{}", endpoint.base_path, self.readyz_path()),
            bearer: endpoint.token,
        };
        let response = transport::get(&mut self.clients, &request, stages, total).await?;
        match response.status {
            200 => Ok(()),
            401 => Err(Failure::Unauthorized),
            403 => Err(Failure::Forbidden),
            status => {
                let failed = parse_readyz_failures(&String::from_utf8_lossy(&response.body));
                if failed.iter().any(|l| is_shutdown_line(l)) {
                    Err(Failure::ShuttingDown { status, failed })
                } else {
                    Err(Failure::NotReady { status, failed })
                }
            }
        }
    }

    /// Once per prober: the API server's identity is not checked, or the
    /// token crosses the network in clear.
    fn warn_insecure(&mut self, endpoint: &Endpoint) {
        match &endpoint.trust {
            Some(Trust::Insecure) => warn!(
                check = %self.name,
                api_server = %self.params.api_server,
                "!!! TLS VERIFICATION OF THE API SERVER IS DISABLED: no ca_cert is set, so anyone \
                 on the path can pose as the API server and steer the VIP. Set ca_cert (on \
                 kubeadm nodes: /etc/kubernetes/pki/ca.crt) !!!{}",
                if endpoint.token.is_some() {
                    " The bearer token is NOT sent: /readyz is asked anonymously."
                } else {
                    ""
                }
            ),
            None => warn!(
                check = %self.name,
                api_server = %self.params.api_server,
                "!!! the API server is checked over plain http://: no TLS !!!{}",
                if endpoint.token.is_some() {
                    " The bearer token is NOT sent: /readyz is asked anonymously."
                } else {
                    ""
                }
            ),
            Some(_) => return,
        }
        self.warned_insecure = true;
    }

    /// Logs (without the value) when the token read from a file changes, so
    /// an operator sees a rotation being picked up.
    fn note_token(&mut self, endpoint: &Endpoint) {
        let fingerprint = endpoint.token.as_ref().map(|t| {
            let mut h = DefaultHasher::new();
            t.expose().hash(&mut h);
            h.finish()
        });
        if let (Some(old), Some(new), Some(path)) =
            (self.token_fingerprint, fingerprint, &endpoint.token_source)
            && old != new
        {
            info!(check = %self.name, file = %path.display(), "token changed on disk; using the new one");
        }
        self.token_fingerprint = fingerprint;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_lines_are_parsed() {
        let body = "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\n\
                    [-]shutdown failed: reason withheld\nreadyz check failed\n";
        let failed = parse_readyz_failures(body);
        assert_eq!(
            failed,
            vec![
                "etcd failed: reason withheld",
                "shutdown failed: reason withheld"
            ]
        );
        assert!(!is_shutdown_line(&failed[0]));
        assert!(is_shutdown_line(&failed[1]));
    }

    #[test]
    fn exclude_builds_the_query() {
        let p = K8sProber::new(
            "k8s",
            K8sParams {
                exclude: vec!["etcd".into(), "informer-sync".into()],
                ..K8sParams::default()
            },
        );
        assert_eq!(
            p.readyz_path(),
            "/readyz?exclude=etcd&exclude=informer-sync"
        );
        let p = K8sProber::new("k8s", K8sParams::default());
        assert_eq!(p.readyz_path(), "/readyz");
    }

    #[test]
    fn params_debug_hides_the_token() {
        let p = K8sParams {
            token: Some(Secret::new("s3cr3t-token")),
            ..K8sParams::default()
        };
        let shown = format!("{p:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
}
