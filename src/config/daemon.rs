//! Daemon-wide settings: `ha-vip.toml` (optional; every key has a default).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::health::{self, CheckKind, CheckSpec};

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
    /// `[checks.NAME]`: generic health checks routers can track.
    pub checks: Vec<CheckSpec>,
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
    /// A file holding the token, re-read on every probe (bound tokens
    /// rotate); wins over `token`.
    pub token_file: Option<PathBuf>,
    /// The cluster CA; `None` (`ca_cert = ""`): no verification, warned.
    pub ca_cert: Option<PathBuf>,
    /// The name verified in the API server's certificate.
    pub server_name: String,
    /// `/readyz` checks to leave out (`?exclude=NAME`).
    pub exclude: Vec<String>,
    /// Period of the `/readyz` probe.
    pub interval: Duration,
    /// Bound on one whole probe (a backstop over the stage bounds).
    pub timeout: Duration,
    /// Bound on the TCP connect.
    pub connect_timeout: Duration,
    /// Bound on the TLS handshake.
    pub tls_timeout: Duration,
    /// Bound on the `/readyz` answer once TLS is up.
    pub response_timeout: Duration,
    /// Period of the fast TCP-connect probe; `None` (`"0s"`): off.
    pub connect_interval: Option<Duration>,
    /// Delay of the probe that confirms a failed `/readyz`.
    pub confirm_after: Duration,
    /// How long healthy results must hold before a failed check recovers
    /// (the base of the damping hold-down).
    pub stability: Duration,
    /// The longest recovery hold-down, however many flaps.
    pub hold_down_max: Duration,
    /// Healthy this long: the flaps are forgotten.
    pub flap_reset: Duration,
    /// Added to the priority of every tracking router while failed.
    pub weight: i32,
}

impl K8sConfig {
    /// The check these keys describe, for `health::spawn_check`.
    pub fn check_spec(&self) -> CheckSpec {
        let params = health::K8sParams {
            in_cluster: self.in_cluster,
            api_server: self.api_server.clone(),
            token: (!self.token.is_empty()).then(|| health::Secret::new(self.token.clone())),
            token_file: self.token_file.clone(),
            ca_cert: self.ca_cert.clone(),
            server_name: self.server_name.clone(),
            exclude: self.exclude.clone(),
            in_cluster_env: None,
        };
        let mut spec = CheckSpec::k8s(params);
        spec.interval = self.interval;
        spec.timeout = self.timeout;
        spec.stages = health::StageTimeouts {
            connect: self.connect_timeout,
            tls: self.tls_timeout,
            response: self.response_timeout,
        };
        if self.in_cluster {
            spec.connect_interval = None;
        } else {
            spec.connect_interval = self.connect_interval;
        }
        spec.confirm_after = Some(self.confirm_after);
        spec.stability = self.stability;
        spec.damping = Some(health::DampingParams {
            max_hold_down: self.hold_down_max,
            reset_after: self.flap_reset,
        });
        spec
    }
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
            .field("token_file", &self.token_file)
            .field("ca_cert", &self.ca_cert)
            .field("server_name", &self.server_name)
            .field("exclude", &self.exclude)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls_timeout", &self.tls_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("connect_interval", &self.connect_interval)
            .field("confirm_after", &self.confirm_after)
            .field("stability", &self.stability)
            .field("hold_down_max", &self.hold_down_max)
            .field("flap_reset", &self.flap_reset)
            .field("weight", &self.weight)
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
                token_file: None,
                ca_cert: Some(PathBuf::from("/etc/kubernetes/pki/ca.crt")),
                server_name: health::DEFAULT_SERVER_NAME.to_string(),
                exclude: Vec::new(),
                interval: health::DEFAULT_K8S_INTERVAL,
                timeout: health::DEFAULT_K8S_TIMEOUT,
                connect_timeout: health::DEFAULT_K8S_CONNECT_TIMEOUT,
                tls_timeout: health::DEFAULT_K8S_TLS_TIMEOUT,
                response_timeout: health::DEFAULT_K8S_RESPONSE_TIMEOUT,
                connect_interval: Some(health::DEFAULT_K8S_CONNECT_INTERVAL),
                confirm_after: health::DEFAULT_K8S_CONFIRM_AFTER,
                stability: health::DEFAULT_K8S_STABILITY,
                hold_down_max: health::DEFAULT_MAX_HOLD_DOWN,
                flap_reset: health::DEFAULT_FLAP_RESET,
                weight: health::DEFAULT_K8S_WEIGHT,
            },
            checks: Vec::new(),
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

/// An optional absolute path (`""` or absent: none).
fn optional_path(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    key: &'static str,
) -> Option<Option<PathBuf>> {
    match t.string(d, key) {
        Got::Set(s, _) if s.is_empty() => Some(None),
        Got::Set(s, span) => {
            if Path::new(&s).is_absolute() {
                Some(Some(PathBuf::from(s)))
            } else {
                d.error(
                    &span,
                    &t.name(key),
                    format!("must be an absolute path, got {s:?}"),
                );
                None
            }
        }
        Got::Absent => Some(None),
        Got::Invalid => None,
    }
}

/// A duration in 0..=1h.
fn bounded_duration(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    key: &'static str,
    default: Duration,
) -> Option<Duration> {
    match t.duration(d, key) {
        Got::Set(v, span) if v > Duration::from_secs(3600) => {
            d.error(&span, &t.name(key), "must be at most 1h");
            None
        }
        other => other.or(default),
    }
}

/// A duration in `min..=max`, with its span when set (for checks against
/// other keys).
fn duration_in(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    key: &'static str,
    range: std::ops::RangeInclusive<Duration>,
    default: Duration,
) -> Option<(Duration, Option<super::reader::Span>)> {
    match t.duration(d, key) {
        Got::Set(v, span) if !range.contains(&v) => {
            d.error(
                &span,
                &t.name(key),
                format!(
                    "must be in {}..={}, got {}",
                    humantime::format_duration(*range.start()),
                    humantime::format_duration(*range.end()),
                    humantime::format_duration(v)
                ),
            );
            None
        }
        Got::Set(v, span) => Some((v, Some(span))),
        Got::Absent => Some((default, None)),
        Got::Invalid => None,
    }
}

/// `interval` (10ms..=1h) and `timeout` (1ms..=interval... at most 1h): a
/// probe's timeout bounds how long a hung service can take.
fn interval_timeout(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    interval_default: Duration,
    timeout_default: Duration,
) -> (Option<Duration>, Option<Duration>) {
    let interval = match t.duration(d, "interval") {
        Got::Set(v, span) if v < Duration::from_millis(10) || v > Duration::from_secs(3600) => {
            d.error(&span, &t.name("interval"), "must be in 10ms..=1h");
            None
        }
        other => other.or(interval_default),
    };
    let timeout = match t.duration(d, "timeout") {
        Got::Set(v, span) if v.is_zero() || v > Duration::from_secs(3600) => {
            d.error(&span, &t.name("timeout"), "must be in 1ms..=1h");
            None
        }
        other => other.or(timeout_default),
    };
    (interval, timeout)
}

/// One `[checks.NAME]` table.
fn read_check(
    d: &mut FileDiags<'_>,
    name: String,
    name_span: super::reader::Span,
    mut t: Table<'_>,
) -> Option<CheckSpec> {
    let errors_before = d.errors.len();
    if name == "k8s" || !valid_check_name(&name) {
        d.error(
            &name_span,
            &format!("checks.{name}"),
            "a check name is 1-64 of [A-Za-z0-9._-] and not \"k8s\" (the [k8s] check's name)",
        );
    }
    let kind = match t.required_string(d, "type") {
        Some((ty, span)) => match ty.as_str() {
            "tcp" => t
                .required_string(d, "address")
                .map(|(address, _)| CheckKind::Tcp(health::TcpParams { address })),
            "http" => {
                let url = match t.required_string(d, "url") {
                    Some((u, _)) if u.starts_with("http://") || u.starts_with("https://") => {
                        Some(u)
                    }
                    Some((_, span)) => {
                        d.error(&span, &t.name("url"), "must start with http:// or https://");
                        None
                    }
                    None => None,
                };
                let expected = t.int(d, "expected_status", 100..=599).or(200);
                let ca_cert = optional_path(d, &mut t, "ca_cert");
                let insecure = t.bool(d, "insecure").or(false);
                let server_name = match t.string(d, "server_name") {
                    Got::Set(s, _) => Some(Some(s)),
                    Got::Absent => Some(None),
                    Got::Invalid => None,
                };
                match (url, expected, ca_cert, insecure, server_name) {
                    (Some(url), Some(e), Some(ca_cert), Some(insecure), Some(server_name)) => {
                        let mut p = health::HttpParams::new(url);
                        p.expected_status = u16::try_from(e).unwrap_or(200);
                        p.ca_cert = ca_cert;
                        p.insecure = insecure;
                        p.server_name = server_name;
                        Some(CheckKind::Http(p))
                    }
                    _ => None,
                }
            }
            "exec" => {
                let program = match t.required_string(d, "command") {
                    Some((c, span)) if c.trim().is_empty() => {
                        d.error(&span, &t.name("command"), "must not be empty");
                        None
                    }
                    // Run directly, never looked up in a PATH the daemon's
                    // environment would decide.
                    Some((c, span)) if !Path::new(&c).is_absolute() => {
                        d.error(
                            &span,
                            &t.name("command"),
                            format!("must be an absolute path to a program, got {c:?}"),
                        );
                        None
                    }
                    other => other.map(|(c, _)| c),
                };
                let args = match t.strings(d, "args") {
                    Got::Set(list, _) => Some(list.items.into_iter().map(|(_, s, _)| s).collect()),
                    Got::Absent => Some(Vec::new()),
                    Got::Invalid => None,
                };
                match (program, args) {
                    (Some(program), Some(args)) => {
                        Some(CheckKind::Exec(health::ExecParams { program, args }))
                    }
                    _ => None,
                }
            }
            "interface" => match t.required_string(d, "interface") {
                Some((i, span)) => {
                    if super::valid_interface_name(&i) {
                        Some(CheckKind::Interface(health::InterfaceParams::new(i)))
                    } else {
                        d.error(
                            &span,
                            &t.name("interface"),
                            format!("{i:?} is not an interface name"),
                        );
                        None
                    }
                }
                None => None,
            },
            other => {
                d.error(
                    &span,
                    &t.name("type"),
                    format!("must be \"tcp\", \"http\", \"exec\" or \"interface\", got {other:?}"),
                );
                None
            }
        },
        None => None,
    };
    let mut spec = CheckSpec::new(
        name,
        CheckKind::Tcp(health::TcpParams {
            address: String::new(),
        }),
    );
    let (interval, timeout) = interval_timeout(d, &mut t, spec.interval, spec.timeout);
    let rise = t.int(d, "rise", 1..=100).or(1);
    let fall = t.int(d, "fall", 1..=100).or(1);
    let stability = bounded_duration(d, &mut t, "stability", Duration::ZERO);
    t.finish(d);
    if d.errors.len() > errors_before {
        return None;
    }
    spec.kind = kind?;
    spec.interval = interval?;
    spec.timeout = timeout?;
    spec.rise = u32::try_from(rise?).ok()?;
    spec.fall = u32::try_from(fall?).ok()?;
    spec.stability = stability?;
    Some(spec)
}

fn valid_check_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
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
    let (token, token_span) = match t.string(d, "token") {
        Got::Set(v, span) => (Some(v), Some(span)),
        other => (other.or(def.k8s.token.clone()), None),
    };
    let (token_file, token_file_span) = match t.string(d, "token_file") {
        Got::Set(v, _) if v.is_empty() => (Some(None), None),
        Got::Set(v, span) if Path::new(&v).is_absolute() => {
            (Some(Some(PathBuf::from(v))), Some(span))
        }
        Got::Set(v, span) => {
            d.error(
                &span,
                "k8s.token_file",
                format!("must be an absolute path, got {v:?}"),
            );
            (None, None)
        }
        Got::Absent => (Some(None), None),
        Got::Invalid => (None, None),
    };
    let ca_cert = match t.string(d, "ca_cert") {
        Got::Set(s, _) if s.is_empty() => Some(None),
        Got::Set(s, span) => {
            if Path::new(&s).is_absolute() {
                Some(Some(PathBuf::from(s)))
            } else {
                d.error(
                    &span,
                    "k8s.ca_cert",
                    format!("must be an absolute path or \"\", got {s:?}"),
                );
                None
            }
        }
        other => other.or(String::new()).map(|_| def.k8s.ca_cert.clone()),
    };
    // The bearer token never crosses TLS that was not verified (nor plain
    // http://): whoever answers could replay it against the real API
    // server. In-cluster mode takes token and CA from the service account.
    if let (Some(false), Some(api), Some(ca)) = (in_cluster, api_server.as_ref(), ca_cert.as_ref())
    {
        let unverified = if api.starts_with("http://") {
            Some("api_server is plain http://")
        } else if ca.is_none() {
            Some("ca_cert = \"\" turns certificate verification off")
        } else {
            None
        };
        let has_token = token.as_deref().is_some_and(|v| !v.trim().is_empty());
        let has_file = matches!(token_file, Some(Some(_)));
        if let Some(why) = unverified {
            let at = if has_file {
                token_file_span.clone()
            } else {
                token_span.clone()
            };
            if (has_token || has_file)
                && let Some(span) = at
            {
                let key = if has_file {
                    "k8s.token_file"
                } else {
                    "k8s.token"
                };
                d.error(
                    &span,
                    key,
                    format!(
                        "a bearer token is only sent over verified TLS, and {why}: set ca_cert \
                         (on kubeadm nodes /etc/kubernetes/pki/ca.crt), or remove the token \
                         (/readyz is anonymous by default)"
                    ),
                );
            }
        }
    }
    // A token others on the node can read is a token others can use.
    if let (Some(false), Some(Some(path)), Some(span)) =
        (in_cluster, token_file.as_ref(), token_file_span.as_ref())
        && let Some(why) = health::readable_by_others(path)
    {
        d.warn(
            span,
            "k8s.token_file",
            format!("{} is {why}: chmod 600 it", path.display()),
        );
    }
    let server_name = t.string(d, "server_name").or(def.k8s.server_name);
    let exclude = match t.strings(d, "exclude") {
        Got::Set(list, _) => Some(list.items.into_iter().map(|(_, s, _)| s).collect()),
        Got::Absent => Some(Vec::new()),
        Got::Invalid => None,
    };
    let (k8s_interval, k8s_timeout) =
        interval_timeout(d, &mut t, def.k8s.interval, def.k8s.timeout);
    let ms = Duration::from_millis;
    let hour = Duration::from_secs(3600);
    // Each stage bound is at most `timeout`, the bound on the whole probe.
    let stage = |d: &mut FileDiags<'_>, t: &mut Table<'_>, key, default: Duration| {
        let (v, span) = duration_in(d, t, key, ms(1)..=hour, default)?;
        match (k8s_timeout, span) {
            (Some(total), Some(span)) if v > total => {
                d.error(
                    &span,
                    &t.name(key),
                    format!(
                        "must be at most timeout ({}), the bound on the whole probe",
                        humantime::format_duration(total)
                    ),
                );
                None
            }
            (Some(total), None) => Some(v.min(total)),
            _ => Some(v),
        }
    };
    let connect_timeout = stage(d, &mut t, "connect_timeout", def.k8s.connect_timeout);
    let tls_timeout = stage(d, &mut t, "tls_timeout", def.k8s.tls_timeout);
    let response_timeout = stage(d, &mut t, "response_timeout", def.k8s.response_timeout);
    let connect_interval = match t.duration(d, "connect_interval") {
        Got::Set(v, _) if v.is_zero() => Some(None),
        Got::Set(v, span) if v < ms(10) || v > hour => {
            d.error(
                &span,
                "k8s.connect_interval",
                "must be \"0s\" (off) or in 10ms..=1h",
            );
            None
        }
        other => other.or(Duration::ZERO).map(|v| {
            if v.is_zero() {
                def.k8s.connect_interval
            } else {
                Some(v)
            }
        }),
    };
    let confirm_after = duration_in(
        d,
        &mut t,
        "confirm_after",
        Duration::ZERO..=hour,
        def.k8s.confirm_after,
    )
    .map(|(v, _)| v);
    let stability = bounded_duration(d, &mut t, "stability", def.k8s.stability);
    let hold_down_max = match duration_in(
        d,
        &mut t,
        "hold_down_max",
        Duration::ZERO..=Duration::from_secs(86400),
        def.k8s.hold_down_max,
    ) {
        Some((v, Some(span))) if stability.is_some_and(|s| v < s) => {
            d.error(
                &span,
                "k8s.hold_down_max",
                format!(
                    "must be at least stability ({}), the first hold-down",
                    humantime::format_duration(stability.unwrap_or_default())
                ),
            );
            None
        }
        other => other.map(|(v, _)| v.max(stability.unwrap_or_default())),
    };
    let flap_reset = duration_in(
        d,
        &mut t,
        "flap_reset",
        Duration::from_secs(1)..=Duration::from_secs(86400),
        def.k8s.flap_reset,
    )
    .map(|(v, _)| v);
    let weight = t
        .int(d, "weight", -254..=254)
        .or(i64::from(def.k8s.weight))
        .and_then(|w| i32::try_from(w).ok());
    t.finish(d);

    let (t, _) = root.table(d, "checks");
    let mut checks = Some(Vec::new());
    for (name, name_span, ct) in t.sub_tables(d) {
        match read_check(d, name, name_span, ct) {
            Some(c) => {
                if let Some(v) = checks.as_mut() {
                    v.push(c)
                }
            }
            None => checks = None,
        }
    }

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
            token_file: token_file?,
            ca_cert: ca_cert?,
            server_name: server_name?,
            exclude: exclude?,
            interval: k8s_interval?,
            timeout: k8s_timeout?,
            connect_timeout: connect_timeout?,
            tls_timeout: tls_timeout?,
            response_timeout: response_timeout?,
            connect_interval: connect_interval?,
            confirm_after: confirm_after?,
            stability: stability?,
            hold_down_max: hold_down_max?,
            flap_reset: flap_reset?,
            weight: weight?,
        },
        checks: checks?,
        capture: CaptureConfig {
            dir: capture_dir?,
            max_file_bytes: u64::try_from(max_file_bytes?).ok()?,
            max_files: u32::try_from(max_files?).ok()?,
        },
        metrics: MetricsConfig { listen: listen? },
    })
}
