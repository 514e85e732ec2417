//! The generic probes (`tcp`, `http`, `exec`, `interface`) and [`Prober`],
//! which runs any check kind once.

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::{Instant, timeout_at};
use tracing::warn;

use super::k8s::K8sProber;
use super::spawn;
use super::transport::{self, ClientCache, Request, Trust};
use super::{
    CheckKind, ExecParams, Failure, HttpParams, InterfaceParams, ProbeResult, Service, Stage,
    StageTimeouts, TcpParams,
};

/// Runs one check kind, keeping what must survive between its probes.
#[derive(Debug)]
pub enum Prober {
    K8s(K8sProber),
    Tcp(TcpParams),
    Http(HttpProber),
    /// The check's name (given to the program) and what to run.
    Exec(String, ExecParams),
    Interface(InterfaceParams),
}

impl Prober {
    pub fn new(name: &str, kind: &CheckKind) -> Self {
        match kind {
            CheckKind::K8s(p) => Prober::K8s(K8sProber::new(name, p.clone())),
            CheckKind::Tcp(p) => Prober::Tcp(p.clone()),
            CheckKind::Http(p) => Prober::Http(HttpProber::new(name, p.clone())),
            CheckKind::Exec(p) => Prober::Exec(name.to_string(), p.clone()),
            CheckKind::Interface(p) => Prober::Interface(p.clone()),
        }
    }

    /// One probe, bounded by `timeout`.
    pub async fn probe(&mut self, timeout: Duration) -> ProbeResult {
        self.probe_stages(StageTimeouts::all(timeout), timeout)
            .await
    }

    /// One probe, each network stage bounded by its own timeout, the whole
    /// probe by `total`.
    pub async fn probe_stages(&mut self, stages: StageTimeouts, total: Duration) -> ProbeResult {
        let start = Instant::now();
        let deadline = start + total;
        let outcome = match self {
            // Times its own stages (and builds its own result).
            Prober::K8s(k) => return k.probe_stages(stages, total).await,
            Prober::Tcp(p) => {
                let limit = stages.connect.min(total);
                probe_tcp(p, start + limit, limit).await
            }
            Prober::Http(p) => p.probe(stages, total).await,
            Prober::Exec(name, p) => probe_exec(name, p, deadline, total).await,
            Prober::Interface(p) => probe_interface(p),
        };
        ProbeResult {
            outcome,
            latency: start.elapsed(),
        }
    }
}

/// TCP connect; healthy as soon as the handshake completes.
async fn probe_tcp(p: &TcpParams, deadline: Instant, limit: Duration) -> Result<(), Failure> {
    let addrs: Vec<_> = timeout_at(deadline, tokio::net::lookup_host(p.address.as_str()))
        .await
        .map_err(|_| Failure::Timeout {
            service: Service::Server,
            stage: Stage::Resolve,
            limit,
        })?
        .map_err(|e| Failure::Io {
            stage: Stage::Resolve,
            error: format!("{}: {e}", p.address),
        })?
        .collect();
    transport::connect(&addrs, Service::Server, deadline, limit).await?;
    Ok(())
}

/// An HTTP(S) `GET` that must answer `expected_status`.
#[derive(Debug)]
pub struct HttpProber {
    name: String,
    params: HttpParams,
    clients: ClientCache,
    warned_insecure: bool,
}

impl HttpProber {
    fn new(name: &str, params: HttpParams) -> Self {
        HttpProber {
            name: name.to_string(),
            params,
            clients: ClientCache::default(),
            warned_insecure: false,
        }
    }

    async fn probe(&mut self, stages: StageTimeouts, total: Duration) -> Result<(), Failure> {
        let url = transport::parse_url(&self.params.url, "url")?;
        let tls = if url.https {
            let trust = match (&self.params.ca_cert, self.params.insecure) {
                (Some(path), _) => Trust::CaFile(path.clone()),
                (None, true) => Trust::Insecure,
                (None, false) => Trust::System,
            };
            if trust == Trust::Insecure && !self.warned_insecure {
                self.warned_insecure = true;
                warn!(check = %self.name, url = %self.params.url,
                    "TLS verification disabled for this check (insecure = true)");
            }
            let name = self.params.server_name.as_deref().unwrap_or(&url.host);
            Some((trust, name.to_string()))
        } else {
            None
        };
        let request = Request {
            service: Service::Server,
            host: url.host,
            port: url.port,
            tls,
            authority: url.authority,
            path_and_query: url.path_and_query,
            bearer: None,
        };
        let response = transport::get(&mut self.clients, &request, stages, total).await?;
        if response.status == self.params.expected_status {
            Ok(())
        } else {
            Err(Failure::Status {
                got: response.status,
                expected: self.params.expected_status,
            })
        }
    }
}

fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Runs the program (see `spawn.rs`: no shell, a cleared environment with
/// `PATH` and `HA_VIP_CHECK`, no ambient capabilities, its own process
/// group); on timeout the whole group is killed (a script's children too)
/// and reaped.
async fn probe_exec(
    name: &str,
    p: &ExecParams,
    deadline: Instant,
    limit: Duration,
) -> Result<(), Failure> {
    let program = Path::new(&p.program);
    if !program.is_absolute() {
        return Err(Failure::Config(format!(
            "command {:?} must be an absolute path",
            p.program
        )));
    }
    let cmd = spawn::command(program, &p.args, &[("HA_VIP_CHECK", name.to_string())]);
    let run = spawn::run(cmd, deadline, 0)
        .await
        .map_err(|e| Failure::Spawn {
            program: p.program.clone(),
            error: e.to_string(),
        })?;
    match run.ended {
        spawn::Ended::Exited(status) if status.success() => Ok(()),
        spawn::Ended::Exited(status) => Err(Failure::Exit(describe_exit(status))),
        spawn::Ended::Wait(e) => Err(Failure::Io {
            stage: Stage::Exec,
            error: e.to_string(),
        }),
        spawn::Ended::TimedOut => Err(Failure::Timeout {
            service: Service::Server,
            stage: Stage::Exec,
            limit,
        }),
    }
}

/// Link up: `operstate` is `up` (or `unknown`, what drivers without
/// operational state such as loopback or tun report) and `carrier` is 1.
fn probe_interface(p: &InterfaceParams) -> Result<(), Failure> {
    if p.name.is_empty() || p.name.contains('/') || p.name == "." || p.name == ".." {
        return Err(Failure::Config(format!(
            "{:?} is not an interface name",
            p.name
        )));
    }
    let dir = p.sysfs_net.join(&p.name);
    if !dir.exists() {
        return Err(Failure::Interface(format!(
            "no interface {} ({} does not exist)",
            p.name,
            dir.display()
        )));
    }
    let operstate = std::fs::read_to_string(dir.join("operstate"))
        .map_err(|e| Failure::Interface(format!("{}/operstate: {e}", dir.display())))?
        .trim()
        .to_string();
    // Reading `carrier` of an administratively down link fails with EINVAL:
    // no carrier.
    let carrier = std::fs::read_to_string(dir.join("carrier"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    if matches!(operstate.as_str(), "up" | "unknown") && carrier == "1" {
        Ok(())
    } else {
        Err(Failure::LinkDown {
            name: p.name.clone(),
            operstate,
            carrier,
        })
    }
}
