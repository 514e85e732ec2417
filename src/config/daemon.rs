//! Daemon-wide settings: `ha-vip.toml` (optional; every key has a default).

use std::fmt;
use std::path::{Path, PathBuf};

use super::diag::FileDiags;
use super::reader::{Got, Table};

/// Everything in `ha-vip.toml`, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// Where the daemon keeps its run-time state: the record of the
    /// addresses it added, so that a start after a crash removes them.
    pub runtime_dir: PathBuf,
    pub control: ControlConfig,
    pub log: LogConfig,
    pub k8s: K8sConfig,
    pub capture: CaptureConfig,
    pub metrics: MetricsConfig,
}

/// `[capture]`: a rotating pcapng of every VRRP packet sent and received
/// and every ARP/NA sent. Off unless `dir` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    pub dir: Option<PathBuf>,
    /// A file is rotated when it reaches this size.
    pub max_file_bytes: u64,
    /// Files kept, the current one included.
    pub max_files: u32,
}

/// `[metrics]`: Prometheus text on `listen` (`/metrics`, `/healthz`). Off
/// unless `listen` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlConfig {
    /// The Unix socket `ha-vip status` talks to.
    pub socket: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A level (`error`, `warn`, `info`, `debug`, `trace`) or a
    /// tracing-subscriber filter directive (`info,ha_vip::net=debug`).
    pub level: String,
}

/// The Kubernetes API-server check. Parsed and kept here; the check
/// itself lives in `health`.
#[derive(Clone, PartialEq, Eq)]
pub struct K8sConfig {
    pub enabled: bool,
    /// Use the pod's service account (token and CA from
    /// /var/run/secrets/kubernetes.io/serviceaccount) instead of the keys
    /// below.
    pub in_cluster: bool,
    pub api_server: String,
    /// Bearer token; empty: none (`/readyz` is often anonymous).
    pub token: String,
    pub ca_cert: PathBuf,
}

/// The token is a secret: never in logs or `check` output.
impl fmt::Debug for K8sConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("K8sConfig")
            .field("enabled", &self.enabled)
            .field("in_cluster", &self.in_cluster)
            .field("api_server", &self.api_server)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl Default for DaemonConfig {
    fn default() -> DaemonConfig {
        DaemonConfig {
            runtime_dir: PathBuf::from("/run/ha-vip"),
            control: ControlConfig {
                socket: PathBuf::from("/run/ha-vip/ha-vip.sock"),
            },
            log: LogConfig {
                format: LogFormat::Text,
                level: "info".to_string(),
            },
            k8s: K8sConfig {
                enabled: false,
                in_cluster: false,
                api_server: "https://127.0.0.1:6443".to_string(),
                token: String::new(),
                ca_cert: PathBuf::from("/etc/kubernetes/pki/ca.crt"),
            },
            capture: CaptureConfig {
                dir: None,
                max_file_bytes: 10 * 1024 * 1024,
                max_files: 5,
            },
            metrics: MetricsConfig { listen: None },
        }
    }
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// An absolute path: a relative one would depend on the directory the
/// daemon happens to be started from.
fn absolute_path(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    key: &'static str,
    default: PathBuf,
) -> Option<PathBuf> {
    match t.string(d, key) {
        Got::Set(s, span) => {
            if Path::new(&s).is_absolute() {
                Some(PathBuf::from(s))
            } else {
                d.error(
                    &span,
                    &t.name(key),
                    format!("must be an absolute path, got {s:?}"),
                );
                None
            }
        }
        other => other.or(String::new()).map(|_| default),
    }
}

/// Reads and validates `ha-vip.toml`. `None` when it has errors.
pub(crate) fn parse_daemon(d: &mut FileDiags<'_>, mut root: Table<'_>) -> Option<DaemonConfig> {
    let def = DaemonConfig::default();
    let errors_before = d.errors.len();

    let runtime_dir = absolute_path(d, &mut root, "runtime_dir", def.runtime_dir);

    let (mut t, _) = root.table(d, "control");
    let socket = absolute_path(d, &mut t, "socket", def.control.socket);
    t.finish(d);

    let (mut t, _) = root.table(d, "log");
    let format = match t.string(d, "format") {
        Got::Set(s, span) => match s.as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => {
                d.error(
                    &span,
                    "log.format",
                    format!("must be \"text\" or \"json\", got {s:?}"),
                );
                None
            }
        },
        other => other.or(String::new()).map(|_| def.log.format),
    };
    let level = match t.string(d, "level") {
        Got::Set(s, span) => {
            // A bare word must be a level: "inf" would otherwise be taken
            // by tracing-subscriber as a target name and log nothing.
            let directive = s.contains('=') || s.contains(',');
            if LEVELS.contains(&s.as_str())
                || (directive && tracing_subscriber::EnvFilter::try_new(&s).is_ok())
            {
                Some(s)
            } else {
                d.error(
                    &span,
                    "log.level",
                    format!(
                        "must be one of {} or a filter directive such as \"info,ha_vip=debug\", got {s:?}",
                        LEVELS.join(", ")
                    ),
                );
                None
            }
        }
        other => other.or(def.log.level),
    };
    t.finish(d);

    let (mut t, _) = root.table(d, "k8s");
    let enabled = t.bool(d, "enabled").or(def.k8s.enabled);
    let in_cluster = t.bool(d, "in_cluster").or(def.k8s.in_cluster);
    let api_server = match t.string(d, "api_server") {
        Got::Set(s, span) => {
            if s.starts_with("https://") || s.starts_with("http://") {
                Some(s)
            } else {
                d.error(
                    &span,
                    "k8s.api_server",
                    format!("must be a URL starting with https:// or http://, got {s:?}"),
                );
                None
            }
        }
        other => other.or(def.k8s.api_server),
    };
    let token = t.string(d, "token").or(def.k8s.token);
    let ca_cert = absolute_path(d, &mut t, "ca_cert", def.k8s.ca_cert);
    t.finish(d);

    let (mut t, _) = root.table(d, "capture");
    let capture_dir = match t.string(d, "dir") {
        Got::Set(s, span) => {
            if Path::new(&s).is_absolute() {
                Some(Some(PathBuf::from(s)))
            } else {
                d.error(
                    &span,
                    "capture.dir",
                    format!("must be an absolute path, got {s:?}"),
                );
                None
            }
        }
        other => other.or(String::new()).map(|_| None),
    };
    let max_file_bytes = t
        .int(d, "max_file_bytes", 4096..=(1 << 40))
        .or(def.capture.max_file_bytes as i64);
    let max_files = t
        .int(d, "max_files", 1..=1000)
        .or(i64::from(def.capture.max_files));
    t.finish(d);

    let (mut t, _) = root.table(d, "metrics");
    let listen = match t.string(d, "listen") {
        Got::Set(s, span) => match s.parse::<std::net::SocketAddr>() {
            Ok(a) => Some(Some(a)),
            Err(_) => {
                d.error(
                    &span,
                    "metrics.listen",
                    format!("must be ADDRESS:PORT such as \"127.0.0.1:9688\", got {s:?}"),
                );
                None
            }
        },
        other => other.or(String::new()).map(|_| None),
    };
    t.finish(d);

    root.finish(d);
    if d.errors.len() > errors_before {
        return None;
    }
    Some(DaemonConfig {
        runtime_dir: runtime_dir?,
        control: ControlConfig { socket: socket? },
        log: LogConfig {
            format: format?,
            level: level?,
        },
        k8s: K8sConfig {
            enabled: enabled?,
            in_cluster: in_cluster?,
            api_server: api_server?,
            token: token?,
            ca_cert: ca_cert?,
        },
        capture: CaptureConfig {
            dir: capture_dir?,
            max_file_bytes: u64::try_from(max_file_bytes?).ok()?,
            max_files: u32::try_from(max_files?).ok()?,
        },
        metrics: MetricsConfig { listen: listen? },
    })
}
