//! What `ha-vip status` shows, and the control-socket protocol it speaks.
//!
//! The daemon answers on a Unix socket (`[control] socket`, mode 0600).
//! A client writes one JSON request line; for `status` the daemon answers
//! with one JSON line holding a [`Status`], for `capture` with a pcapng
//! stream that ends when the capture does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// Stream a pcapng of every VRRP packet sent and received and every
    /// ARP/NA sent, for `duration_ms`.
    Capture {
        duration_ms: u64,
    },
}

/// The daemon's state, as `status --json` prints it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub uptime_s: f64,
    pub routers: Vec<RouterStatus>,
    /// Received packets dropped before reaching a router, by reason.
    pub drops: BTreeMap<String, u64>,
    pub checks: Vec<CheckStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouterStatus {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// "ipv4" or "ipv6".
    pub family: String,
    /// 2 or 3.
    pub version: u8,
    /// Initialize, Backup or Active; "Waiting" when the router cannot run
    /// yet (see `waiting`).
    pub state: String,
    /// Why a router is not running (interface missing, no source address).
    pub waiting: Option<String>,
    pub base_priority: u8,
    pub effective_priority: u8,
    pub addresses: Vec<String>,
    pub source: Option<String>,
    /// The configured Advertisement_Interval.
    pub advert_interval_cs: u16,
    /// Master_Adver_Interval: learned from the Active router (v3).
    pub learned_interval_cs: u16,
    pub master_down_interval_ms: f64,
    pub active_router: Option<ActiveStatus>,
    pub tracked: Vec<TrackedStatus>,
    pub time_in_state_s: Option<f64>,
    pub last_transition: Option<TransitionStatus>,
    /// RFC 6527 counter names and their values.
    pub counters: BTreeMap<String, u64>,
    /// State changes by "to-state: reason".
    pub transitions: BTreeMap<String, u64>,
    /// Gratuitous ARPs / NAs sent.
    pub announcements_sent: u64,
    /// Unix time of the last transition to Active.
    pub last_takeover_unix_s: Option<f64>,
    /// State changes by new state and reason class (`to`, `reason`, count):
    /// the same changes as `transitions`, with machine-readable reasons.
    #[serde(default)]
    pub transitions_by_class: Vec<TransitionCount>,
}

/// How many times a router entered `to` for a reason of class `reason`
/// (a short snake_case word such as `master_down` or `higher_priority`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionCount {
    pub to: String,
    pub reason: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveStatus {
    pub address: String,
    pub priority: u8,
    /// True when this router is the Active one.
    pub is_self: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedStatus {
    pub check: String,
    pub weight: i32,
    pub failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransitionStatus {
    pub from: String,
    pub to: String,
    pub reason: String,
    pub ago_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub name: String,
    pub healthy: bool,
    pub reason: String,
    pub latency_ms: f64,
    pub last_change_ago_s: Option<f64>,
    /// Probes run since the check started, and how many failed.
    #[serde(default)]
    pub probes: u64,
    #[serde(default)]
    pub failures: u64,
    /// The duration of every probe run, bucketed.
    #[serde(default)]
    pub latency: LatencyHistogram,
    /// The stage at which the latest failed probe failed (`connect`,
    /// `tls`, `response`, ...), and why.
    #[serde(default)]
    pub last_failure_stage: Option<String>,
    #[serde(default)]
    pub last_failure: Option<String>,
    /// Flaps since the last quiet period, and how long passing probes must
    /// hold before the check recovers now (the damping hold-down).
    #[serde(default)]
    pub flaps: u32,
    #[serde(default)]
    pub hold_down_s: f64,
}

/// Upper bounds, in seconds, of the probe latency buckets: from a local
/// TCP connect (well under a millisecond) to a probe timeout (seconds).
pub const PROBE_LATENCY_BOUNDS_S: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A fixed-size histogram of probe durations (bounds
/// [`PROBE_LATENCY_BOUNDS_S`]), so memory stays bounded however long a
/// check runs; the metrics endpoint exports it as a Prometheus histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// Probes per bucket, not cumulative: `buckets[i]` counts durations in
    /// (bound i-1, bound i]; one more entry counts those above the last
    /// bound. Empty until the first observation.
    pub buckets: Vec<u64>,
    /// Sum of all durations, in nanoseconds.
    pub sum_ns: u64,
    pub count: u64,
}

impl LatencyHistogram {
    pub fn observe(&mut self, d: Duration) {
        if self.buckets.len() != PROBE_LATENCY_BOUNDS_S.len() + 1 {
            self.buckets = vec![0; PROBE_LATENCY_BOUNDS_S.len() + 1];
        }
        let s = d.as_secs_f64();
        let i = PROBE_LATENCY_BOUNDS_S
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(PROBE_LATENCY_BOUNDS_S.len());
        self.buckets[i] += 1;
        self.sum_ns = self
            .sum_ns
            .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.count += 1;
    }

    /// (upper bound in seconds, cumulative count) for each finite bound.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        PROBE_LATENCY_BOUNDS_S
            .iter()
            .enumerate()
            .scan(0u64, |acc, (i, &b)| {
                *acc += self.buckets.get(i).copied().unwrap_or(0);
                Some((b, *acc))
            })
    }

    pub fn sum_s(&self) -> f64 {
        self.sum_ns as f64 / 1e9
    }
}

/// Arguments of `ha-vip status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The configuration directory (to find the control socket).
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
    /// The control socket; overrides the one in the configuration.
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Refresh every second until interrupted.
    #[arg(long)]
    pub watch: bool,
}

/// The control socket a client should talk to: `--socket`, else the one in
/// DIR/ha-vip.toml, else the default.
pub fn socket_path(config: &Path, socket: Option<&Path>) -> PathBuf {
    if let Some(s) = socket {
        return s.to_path_buf();
    }
    match crate::config::load_daemon_file(config) {
        Ok(d) => d.control.socket,
        Err(e) => {
            eprintln!("warning: {e}; using the default control socket");
            crate::config::DaemonConfig::default().control.socket
        }
    }
}

/// Send one request; return the connected stream positioned at the answer.
pub fn request(socket: &Path, req: &Request) -> std::io::Result<BufReader<UnixStream>> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "cannot reach the daemon at {}: {e} (is `ha-vip run` running, and are you allowed to open its socket?)",
                socket.display()
            ),
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    Ok(BufReader::new(s))
}

pub fn fetch_status(socket: &Path) -> std::io::Result<Status> {
    let mut r = request(socket, &Request::Status)?;
    let mut line = String::new();
    r.read_line(&mut line)?;
    serde_json::from_str(&line)
        .map_err(|e| std::io::Error::other(format!("bad answer from the daemon: {e}")))
}

pub fn status_main(args: StatusArgs) -> ExitCode {
    let socket = socket_path(&args.config, args.socket.as_deref());
    loop {
        let st = match fetch_status(&socket) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("ha-vip status: {e}");
                return ExitCode::FAILURE;
            }
        };
        if args.watch {
            // Clear the screen and home the cursor, like watch(1).
            print!("\x1b[2J\x1b[H");
        }
        if args.json {
            match serde_json::to_string_pretty(&st) {
                Ok(j) => println!("{j}"),
                Err(e) => {
                    eprintln!("ha-vip status: {e}");
                    return ExitCode::FAILURE;
                }
            }
        } else {
            print!("{}", render(&st));
        }
        if !args.watch {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0}ms", s * 1000.0)
    } else if s < 120.0 {
        format!("{s:.1}s")
    } else if s < 7200.0 {
        format!("{:.0}m{:02.0}s", (s / 60.0).floor(), s % 60.0)
    } else {
        format!("{:.1}h", s / 3600.0)
    }
}

fn interval(cs: u16) -> String {
    if cs.is_multiple_of(100) {
        format!("{}s", cs / 100)
    } else {
        format!("{}ms", u32::from(cs) * 10)
    }
}

/// The human view: one block per router.
pub fn render(st: &Status) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "ha-vip {} (pid {}, up {})",
        st.version,
        st.pid,
        secs(st.uptime_s)
    );
    for r in &st.routers {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "{}  {} VRID {} {} v{}  {}",
            r.name, r.interface, r.vrid, r.family, r.version, r.state
        );
        if let Some(w) = &r.waiting {
            let _ = writeln!(o, "  waiting:     {w}");
        }
        let _ = writeln!(
            o,
            "  priority:    {} effective (base {})",
            r.effective_priority, r.base_priority
        );
        let _ = writeln!(o, "  addresses:   {}", r.addresses.join(" "));
        if let Some(s) = &r.source {
            let _ = writeln!(o, "  source:      {s}");
        }
        let _ = writeln!(
            o,
            "  interval:    {} configured, {} learned, Master_Down_Interval {:.1}ms",
            interval(r.advert_interval_cs),
            interval(r.learned_interval_cs),
            r.master_down_interval_ms
        );
        match &r.active_router {
            Some(a) if a.is_self => {
                let _ = writeln!(
                    o,
                    "  active:      this router ({} priority {})",
                    a.address, a.priority
                );
            }
            Some(a) => {
                let _ = writeln!(o, "  active:      {} priority {}", a.address, a.priority);
            }
            None => {
                let _ = writeln!(o, "  active:      none heard");
            }
        }
        for t in &r.tracked {
            let detail = st
                .checks
                .iter()
                .find(|c| c.name == t.check)
                .map(|c| format!(" ({})", c.reason))
                .unwrap_or_default();
            let _ = writeln!(
                o,
                "  tracks:      {} weight {} {}{}",
                t.check,
                t.weight,
                if t.failed { "FAILED" } else { "ok" },
                detail
            );
        }
        if let Some(t) = r.time_in_state_s {
            let _ = writeln!(o, "  in state:    {}", secs(t));
        }
        if let Some(t) = &r.last_transition {
            let _ = writeln!(
                o,
                "  last change: {} -> {} ({}) {} ago",
                t.from,
                t.to,
                t.reason,
                secs(t.ago_s)
            );
        }
        let nonzero: Vec<String> = r
            .counters
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !nonzero.is_empty() {
            let _ = writeln!(o, "  counters:    {}", nonzero.join(" "));
        }
    }
    if !st.checks.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "checks:");
        for c in &st.checks {
            let _ = writeln!(
                o,
                "  {:<16} {:<9} {:>7.1}ms  {}",
                c.name,
                if c.healthy { "healthy" } else { "UNHEALTHY" },
                c.latency_ms,
                c.reason
            );
            if c.flaps > 0 {
                let _ = writeln!(
                    o,
                    "  {:<16} {} flaps: recovery waits {:.0}s of passing probes",
                    "", c.flaps, c.hold_down_s
                );
            }
            if let (false, Some(stage), Some(why)) =
                (c.healthy, &c.last_failure_stage, &c.last_failure)
            {
                let _ = writeln!(o, "  {:<16} failed at {stage}: {why}", "");
            }
        }
    }
    if !st.drops.is_empty() {
        let _ = writeln!(o);
        let drops: Vec<String> = st.drops.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(o, "dropped before any router: {}", drops.join(" "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            version: "0.1.0".into(),
            pid: 42,
            uptime_s: 75.0,
            routers: vec![RouterStatus {
                name: "api".into(),
                interface: "eth0".into(),
                vrid: 51,
                family: "ipv4".into(),
                version: 3,
                state: "Backup".into(),
                waiting: None,
                base_priority: 150,
                effective_priority: 100,
                addresses: vec!["192.0.2.100/24".into()],
                source: Some("192.0.2.11".into()),
                advert_interval_cs: 10,
                learned_interval_cs: 100,
                master_down_interval_ms: 3609.4,
                active_router: Some(ActiveStatus {
                    address: "192.0.2.12".into(),
                    priority: 120,
                    is_self: false,
                }),
                tracked: vec![TrackedStatus {
                    check: "k8s".into(),
                    weight: -50,
                    failed: true,
                }],
                time_in_state_s: Some(3.2),
                last_transition: Some(TransitionStatus {
                    from: "Active".into(),
                    to: "Backup".into(),
                    reason: "higher priority advert".into(),
                    ago_s: 3.2,
                }),
                counters: BTreeMap::from([
                    ("vrrpv3StatisticsMasterTransitions".into(), 2),
                    ("vrrpv3StatisticsRcvdAdvertisements".into(), 0),
                ]),
                transitions: BTreeMap::from([("Backup: higher priority advert".into(), 1)]),
                announcements_sent: 10,
                last_takeover_unix_s: Some(1_700_000_000.5),
                ..Default::default()
            }],
            drops: BTreeMap::from([("ttl_not_255".into(), 3)]),
            checks: vec![CheckStatus {
                name: "k8s".into(),
                healthy: false,
                reason: "readyz 500: [-]etcd failed".into(),
                latency_ms: 4.2,
                last_change_ago_s: Some(10.0),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn render_shows_what_an_operator_needs() {
        let text = render(&sample());
        assert!(text.contains("api  eth0 VRID 51 ipv4 v3  Backup"), "{text}");
        assert!(text.contains("100 effective (base 150)"), "{text}");
        assert!(text.contains("100ms configured, 1s learned"), "{text}");
        assert!(
            text.contains("active:      192.0.2.12 priority 120"),
            "{text}"
        );
        assert!(
            text.contains("k8s weight -50 FAILED (readyz 500: [-]etcd failed)"),
            "{text}"
        );
        assert!(
            text.contains("Active -> Backup (higher priority advert) 3.2s ago"),
            "{text}"
        );
        // Zero counters are left out, non-zero ones shown.
        assert!(
            text.contains("vrrpv3StatisticsMasterTransitions=2"),
            "{text}"
        );
        assert!(!text.contains("RcvdAdvertisements"), "{text}");
        assert!(
            text.contains("dropped before any router: ttl_not_255=3"),
            "{text}"
        );
    }

    #[test]
    fn latency_histogram_buckets_every_probe_once() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.cumulative().last(), Some((10.0, 0)));
        for ms in [0, 1, 3, 3, 700, 20_000] {
            h.observe(Duration::from_millis(ms));
        }
        assert_eq!(h.count, 6);
        assert_eq!(h.sum_ns, 20_707_000_000);
        let c: Vec<(f64, u64)> = h.cumulative().collect();
        // 0 ms and 1 ms fall at or under 1 ms (bounds are inclusive).
        assert_eq!(c[0], (0.0005, 1));
        assert_eq!(c[1], (0.001, 2));
        assert_eq!(c[3], (0.005, 4));
        assert_eq!(c[10], (1.0, 5));
        // 20 s is above every bound: only in the count (the +Inf bucket).
        assert_eq!(c[13], (10.0, 5));
        assert_eq!(h.buckets.len(), PROBE_LATENCY_BOUNDS_S.len() + 1);
        assert_eq!(h.buckets[PROBE_LATENCY_BOUNDS_S.len()], 1);
    }

    #[test]
    fn status_from_an_older_daemon_still_parses() {
        // A status line without the fields added later (probes, latency,
        // transitions_by_class) is still read.
        let mut j = serde_json::to_value(sample()).unwrap();
        j["routers"][0]
            .as_object_mut()
            .unwrap()
            .remove("transitions_by_class");
        for k in ["probes", "failures", "latency"] {
            j["checks"][0].as_object_mut().unwrap().remove(k);
        }
        let back: Status = serde_json::from_value(j).unwrap();
        assert_eq!(back, sample());
    }

    #[test]
    fn status_round_trips_as_json() {
        let st = sample();
        let j = serde_json::to_string(&st).unwrap();
        let back: Status = serde_json::from_str(&j).unwrap();
        assert_eq!(back, st);
    }

    #[test]
    fn requests_are_tagged_json() {
        let j = serde_json::to_string(&Request::Capture { duration_ms: 500 }).unwrap();
        assert_eq!(j, r#"{"cmd":"capture","duration_ms":500}"#);
        let r: Request = serde_json::from_str(r#"{"cmd":"status"}"#).unwrap();
        assert_eq!(r, Request::Status);
    }
}

/// Arguments of `ha-vip capture`.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// The configuration directory (to find the control socket).
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
    /// The control socket; overrides the one in the configuration.
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// How long to capture ("30s", "500ms", "2m").
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The pcapng file to write ("-" for standard output).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// `ha-vip capture`: ask the running daemon for a pcapng of every VRRP
/// packet it sends and receives (dropped ones with the reason as the
/// packet comment) and every ARP/NA it sends, for a while.
pub fn capture_main(args: CaptureArgs) -> ExitCode {
    let socket = socket_path(&args.config, args.socket.as_deref());
    let duration_ms = u64::try_from(args.duration.as_millis()).unwrap_or(u64::MAX);
    let run = || -> std::io::Result<u64> {
        let mut r = request(&socket, &Request::Capture { duration_ms })?;
        r.get_ref()
            .set_read_timeout(Some(args.duration + Duration::from_secs(10)))?;
        let mut out: Box<dyn Write> = if args.output.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(std::fs::File::create(&args.output).map_err(|e| {
                std::io::Error::new(e.kind(), format!("{}: {e}", args.output.display()))
            })?)
        };
        let n = std::io::copy(&mut r, &mut out)?;
        out.flush()?;
        Ok(n)
    };
    match run() {
        Ok(0) => {
            eprintln!("ha-vip capture: the daemon sent nothing (is it an older version?)");
            ExitCode::FAILURE
        }
        Ok(n) => {
            if args.output.as_os_str() != "-" {
                eprintln!(
                    "ha-vip capture: {n} bytes written to {} (open with `ha-vip decode` or Wireshark)",
                    args.output.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ha-vip capture: {e}");
            ExitCode::FAILURE
        }
    }
}
