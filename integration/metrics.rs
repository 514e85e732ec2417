//! The metrics endpoint against the real tools of the Prometheus ecosystem,
//! and against a flood of local connections.
//!
//! - `promtool check metrics` reads what ha-vip serves, with no warning;
//! - `promtool test rules` unit-tests the shipped alerts;
//! - a real Prometheus, in the lab's hub namespace, scrapes two ha-vip
//!   daemons over a management network, loads the shipped rules, and every
//!   query of the shipped Grafana dashboard and every alert returns data
//!   (the alerts each in the situation they are for: a failing check, a
//!   flapping VIP, two holders, none);
//! - a bounded flood of connections to `/metrics` leaves the Active
//!   router's adverts on time (gaps measured on a bridge capture, printed).
//!
//! Prerequisites (`prometheus`, `promtool`, `curl`, `nft`) missing are a
//! failure with a message, never a skip.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ha_vip::status::{CheckStatus, LatencyHistogram, RouterStatus, Status, TransitionCount};
use serde_json::Value;

use crate::lab::*;
use crate::{SETTLE, VIP4, assert_sole_holder};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const METRICS_PORT: u16 = 9688;
/// Routers the flooded daemon runs beside VRID 51.
const EXTRA_ROUTERS: u8 = 63;
/// How long a Prometheus-side condition may take to show: a scrape and a
/// rule evaluation a second, plus a loaded machine.
const PROM_DEADLINE: Duration = Duration::from_secs(60);

fn require(tool: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "prerequisite `{tool}` (Debian package {package}) is missing: run `sudo scripts/install-prereqs.sh`"
    );
}

/// Run promtool with `args`, feeding `stdin`; (success, stdout + stderr).
fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    require("promtool", "prometheus");
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn promtool");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write to promtool");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A status with every kind of series ha-vip exports.
fn full_status() -> Status {
    let mut latency = LatencyHistogram::default();
    for ms in [0, 3, 40, 700, 20_000] {
        latency.observe(Duration::from_millis(ms));
    }
    let router = |name: &str, family: &str, state: &str| RouterStatus {
        name: name.into(),
        interface: "eth0".into(),
        vrid: 51,
        family: family.into(),
        version: 3,
        state: state.into(),
        base_priority: 150,
        effective_priority: 140,
        advert_interval_cs: 10,
        learned_interval_cs: 10,
        master_down_interval_ms: 341.4,
        tracked: vec![ha_vip::status::TrackedStatus {
            check: "k8s".into(),
            weight: -10,
            failed: true,
        }],
        counters: ha_vip::core::Counters::default()
            .iter()
            .map(|(k, _)| (k.to_string(), 5))
            .chain([("aStatisticOfANewerCore".to_string(), 1)])
            .collect(),
        transitions_by_class: vec![
            TransitionCount {
                to: "Active".into(),
                reason: "master_down".into(),
                count: 2,
            },
            TransitionCount {
                to: "Backup".into(),
                reason: "other".into(),
                count: 1,
            },
        ],
        announcements_sent: 12,
        last_takeover_unix_s: Some(1_700_000_000.25),
        ..Default::default()
    };
    Status {
        version: "0.1.0".into(),
        pid: 1,
        uptime_s: 12.5,
        routers: vec![
            router("api", "ipv4", "Active"),
            router("api6", "ipv6", "Waiting"),
            // A state a newer core may add: exported as a series of its own.
            router("drained", "ipv4", "Drained"),
        ],
        drops: [("ttl_not_255".to_string(), 4), ("vrid_unknown".into(), 9)]
            .into_iter()
            .collect(),
        checks: vec![CheckStatus {
            name: "k8s".into(),
            healthy: false,
            reason: "readyz 500".into(),
            latency_ms: 3.0,
            probes: 5,
            failures: 2,
            latency,
            ..Default::default()
        }],
    }
}

/// `promtool check metrics` (its lint included) accepts every kind of
/// series ha-vip serves, with no warning at all.
#[test]
fn promtool_check_metrics_accepts_the_exposition() {
    let text = ha_vip::daemon::metrics::render(&full_status());
    let (ok, out) = promtool(&["check", "metrics"], Some(&text));
    assert!(
        ok && out.trim().is_empty(),
        "promtool check metrics: {out}\n{text}"
    );
    // And the lint does bite: an OpenMetrics-style counter is refused.
    let bad = "# HELP x_events Events.\n# TYPE x_events counter\nx_events_total 1\n";
    let (ok, out) = promtool(&["check", "metrics"], Some(bad));
    assert!(!ok || !out.trim().is_empty(), "promtool accepted {bad:?}");
}

/// The alert rules load, and their unit tests (every alert firing when it
/// should and not before) pass; every alert has a test.
#[test]
fn promtool_tests_the_shipped_alerts() {
    let (ok, out) = promtool(
        &["check", "rules", "deploy/prometheus/ha-vip-rules.yaml"],
        None,
    );
    assert!(ok && out.contains("SUCCESS"), "promtool check rules: {out}");
    let (ok, out) = promtool(
        &["test", "rules", "deploy/prometheus/ha-vip-rules.test.yaml"],
        None,
    );
    assert!(ok && out.contains("SUCCESS"), "promtool test rules: {out}");
    let tests = fs::read_to_string(format!("{ROOT}/deploy/prometheus/ha-vip-rules.test.yaml"))
        .expect("read the rule tests");
    for alert in alert_names() {
        assert!(
            tests.contains(&format!(
                "alertname: {alert}\n        exp_alerts:\n          - exp_labels"
            )),
            "alert {alert} has no test that expects it to fire"
        );
    }
}

fn rules_file() -> serde_yaml_ng::Value {
    let text = fs::read_to_string(format!("{ROOT}/deploy/prometheus/ha-vip-rules.yaml"))
        .expect("read deploy/prometheus/ha-vip-rules.yaml");
    serde_yaml_ng::from_str(&text).expect("the rules file is YAML")
}

fn alert_names() -> Vec<String> {
    let rules = rules_file();
    let mut out = Vec::new();
    for g in rules["groups"].as_sequence().expect("groups") {
        for r in g["rules"].as_sequence().expect("rules") {
            let name = r["alert"]
                .as_str()
                .or(r["record"].as_str())
                .expect("a rule is an alert or a record");
            out.push(name.to_string());
        }
    }
    out
}

/// Every PromQL expression of the dashboard (panels, rows' panels, and the
/// variables' `label_values` queries as PromQL), with the Grafana
/// variables replaced by what "All" and a 1 s scrape give.
fn dashboard_queries() -> Vec<(String, String)> {
    let text = fs::read_to_string(format!("{ROOT}/deploy/grafana/ha-vip.json"))
        .expect("read deploy/grafana/ha-vip.json");
    let d: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    fn panels(v: &Value, out: &mut Vec<(String, String)>) {
        for p in v.as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?").to_string();
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push((title.clone(), e.to_string()));
                }
            }
            panels(&p["panels"], out);
        }
    }
    panels(&d["panels"], &mut out);
    for v in d["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(q) = v["query"]["query"].as_str() {
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.strip_suffix(')'))
                .unwrap_or_else(|| panic!("variable query {q}: only label_values(METRIC, LABEL)"));
            let (metric, label) = inner.rsplit_once(',').expect("label_values(METRIC, LABEL)");
            out.push((
                format!("variable {}", v["name"]),
                format!("count by ({}) ({metric})", label.trim()),
            ));
        }
    }
    out.into_iter()
        .map(|(title, e)| {
            let e = e
                .replace("$__rate_interval", "1m")
                .replace("$job", ".*")
                .replace("$instance", ".*");
            assert!(
                !e.contains('$'),
                "{title}: a variable the test does not know: {e}"
            );
            (title, e)
        })
        .collect()
}

/// The dashboard imports as Grafana expects: unique panel ids, a place on
/// the grid, every query on the `${datasource}` variable, which is a
/// Prometheus data source.
#[test]
fn the_dashboard_is_well_formed() {
    let text = fs::read_to_string(format!("{ROOT}/deploy/grafana/ha-vip.json"))
        .expect("read deploy/grafana/ha-vip.json");
    let d: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(d["uid"], "ha-vip");
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "no Prometheus data source variable"
    );
    let mut ids = BTreeSet::new();
    let mut queries = 0;
    for p in d["panels"].as_array().expect("panels") {
        let id = p["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "panel id {id} twice");
        for k in ["x", "y", "w", "h"] {
            assert!(p["gridPos"][k].is_u64(), "panel {id}: gridPos.{k}");
        }
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {id} has no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "panel {id}");
            queries += 1;
        }
    }
    assert_eq!(
        queries + 2,
        dashboard_queries().len(),
        "every query is exercised"
    );
}

/// A management network: bridge `br1` in the hub (198.51.100.1) and an
/// `eth1` on each node (198.51.100.HOST), as a monitoring network would be.
fn add_management(lab: &Lab, hosts: &[(usize, u8)]) {
    let hub = &lab.hub;
    sh(&format!(
        "ip -n {hub} link add br1 type bridge && ip -n {hub} link set br1 up && ip -n {hub} addr add 198.51.100.1/24 dev br1"
    ));
    for &(node, host) in hosts {
        let ns = lab.ns(node);
        let peer = format!("m{node}x{host}");
        sh(&format!(
            "ip -n {ns} link add eth1 type veth peer name {peer} netns {hub} && ip -n {hub} link set {peer} master br1 up && ip -n {ns} addr add 198.51.100.{host}/24 dev eth1 && ip -n {ns} link set eth1 up"
        ));
    }
}

/// A process this test started; killed when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus in the hub namespace, on its loopback, scraping `targets`
/// every second and evaluating the shipped rules every second.
struct Prom {
    _child: Started,
    hub: String,
    log: std::path::PathBuf,
}

impl Prom {
    fn start(lab: &Lab, targets: &[String]) -> Prom {
        require("prometheus", "prometheus");
        require("curl", "curl");
        let dir = lab.dir.path().join("prometheus");
        fs::create_dir_all(dir.join("data")).expect("mkdir");
        let conf = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
rule_files:\n  - {ROOT}/deploy/prometheus/ha-vip-rules.yaml\n\
scrape_configs:\n  - job_name: ha-vip\n    static_configs:\n      - targets: [{}]\n",
            targets
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        fs::write(dir.join("prometheus.yml"), conf).expect("write prometheus.yml");
        let log = dir.join("log");
        let logf = fs::File::create(&log).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.hub, "prometheus"])
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .args(["--web.listen-address=127.0.0.1:9090", "--log.level=warn"])
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup"))
            .stderr(logf)
            .spawn()
            .expect("spawn prometheus");
        let p = Prom {
            _child: Started(child),
            hub: lab.hub.clone(),
            log,
        };
        assert!(
            wait_until(PROM_DEADLINE, || p.api("status/buildinfo", None).is_some()),
            "Prometheus never answered\n{}",
            p.log()
        );
        p
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET /api/v1/PATH (with `query` URL-encoded); the `data` member.
    fn api(&self, path: &str, query: Option<&str>) -> Option<Value> {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &self.hub,
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-G",
        ]);
        if let Some(q) = query {
            cmd.arg("--data-urlencode").arg(format!("query={q}"));
        }
        let out = cmd
            .arg(format!("http://127.0.0.1:9090/api/v1/{path}"))
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["status"] == "success").then(|| v["data"].clone())
    }

    /// The result of an instant query (empty when it returned no data).
    fn query(&self, q: &str) -> Vec<Value> {
        self.api("query", Some(q))
            .and_then(|d| d["result"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Wait until `q` returns data; fail with `what` and the lab's logs.
    fn expect_data(&self, lab: &Lab, what: &str, q: &str) -> Vec<Value> {
        let mut last = Vec::new();
        let ok = wait_until(PROM_DEADLINE, || {
            last = self.query(q);
            !last.is_empty()
        });
        assert!(
            ok,
            "{what}: no data for {q}\nPrometheus log:\n{}\n{}",
            self.log(),
            lab.logs()
        );
        last
    }

    fn alert(&self, lab: &Lab, name: &str) -> Vec<Value> {
        self.alert_where(lab, name, "")
    }

    /// Wait for alert `name` with the extra label matchers `labels` (e.g.
    /// `,vrid="51"`): an alert of another VRID may come first (VRID 52 lost
    /// its holder a scrape before VRID 51 did in one CI run).
    fn alert_where(&self, lab: &Lab, name: &str, labels: &str) -> Vec<Value> {
        self.expect_data(
            lab,
            &format!("alert {name}{{{labels}}}"),
            &format!("ALERTS{{alertname=\"{name}\"{labels}}}"),
        )
    }
}

fn daemon_toml(sock: &Path, listen: &str, check_address: &str) -> String {
    format!(
        "[control]\nsocket = \"{}\"\n\n[metrics]\nlisten = \"{listen}\"\n\n\
[checks.api]\ntype = \"tcp\"\naddress = \"{check_address}\"\ninterval = \"200ms\"\ntimeout = \"200ms\"\n",
        sock.display()
    )
}

/// Two ha-vip nodes on a link, scraped by a real Prometheus over a
/// management network with the shipped rules loaded:
///
/// 1. steady state (a Active for VRID 51 while its tracked check fails; b
///    Backup, and alone Active for VRID 52, whose adverts a drops as an
///    unknown VRID): every scrape passes `promtool check metrics`, every
///    dashboard query returns data, and HaVipCheckFailing is raised for a;
/// 2. a's link flaps four times: HaVipFlapping;
/// 3. b stops hearing adverts (nftables drops protocol 112): both Active,
///    HaVipSplitBrain;
/// 4. both links down: nobody Active, HaVipNoActiveRouter.
#[test]
fn prometheus_scrapes_and_every_dashboard_query_and_alert_returns_data() {
    require("nft", "nftables");
    let mut lab = Lab::new("prom");
    lab.ha_vip_log = "info".into();
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    add_management(&lab, &[(a, 11), (b, 12)]);
    let (la, lb) = (
        format!("198.51.100.11:{METRICS_PORT}"),
        format!("198.51.100.12:{METRICS_PORT}"),
    );
    let (sa, sb) = (lab.dir.path().join("a.sock"), lab.dir.path().join("b.sock"));
    // a's check fails (nothing listens on port 1); b's connects to b's own
    // metrics port.
    lab.start_ha_vip(
        a,
        &[(
            "api",
            ha_router(
                51,
                200,
                "192.0.2.100/24",
                "100ms",
                "track = [{ check = \"api\", weight = -10 }]",
            ),
        )],
        Some(&daemon_toml(&sa, &la, "127.0.0.1:1")),
    );
    lab.start_ha_vip(
        b,
        &[
            ("api", ha_router(51, 100, "192.0.2.100/24", "100ms", "")),
            ("db", ha_router(52, 100, "192.0.2.102/24", "100ms", "")),
        ],
        Some(&daemon_toml(&sb, &lb, &lb)),
    );
    assert_sole_holder(&lab, &[a, b], VIP4, a);
    let prom = Prom::start(&lab, &[la.clone(), lb.clone()]);

    // 1. Steady state.
    let up = prom.expect_data(
        &lab,
        "both targets up",
        "count(up{job=\"ha-vip\"} == 1) == 2",
    );
    eprintln!("targets up: {up:?}");
    for target in [&la, &lb] {
        let out = Command::new("ip")
            .args(["netns", "exec", &lab.hub, "curl", "-sS", "--max-time", "10"])
            .arg(format!("http://{target}/metrics"))
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("ha_vip_build_info{"), "{target}: {text}");
        // The histogram counts every probe, no more, no less.
        let sample = |name: &str| -> Option<f64> {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
        };
        let probes = sample("ha_vip_check_probes_total{check=\"api\"}");
        assert!(probes.is_some_and(|n| n > 0.0), "{target}: {text}");
        assert_eq!(
            sample("ha_vip_check_probe_duration_seconds_count{check=\"api\"}"),
            probes,
            "{target}: {text}"
        );
        let (ok, lint) = promtool(&["check", "metrics"], Some(&text));
        assert!(
            ok && lint.trim().is_empty(),
            "{target}: promtool check metrics: {lint}\n{text}"
        );
    }
    for (title, q) in dashboard_queries() {
        let r = prom.expect_data(&lab, &format!("dashboard panel {title:?}"), &q);
        eprintln!("dashboard {title:?}: {} series", r.len());
    }
    let alerted: BTreeSet<String> = prom
        .alert(&lab, "HaVipCheckFailing")
        .iter()
        .map(|s| s["metric"]["instance"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        alerted,
        BTreeSet::from([la.clone()]),
        "only a's check fails"
    );

    // 2. The VIP moves four times each way. a, failing its own check,
    // does not preempt b back when its link returns (docs/protocol.md, "All
    // unhealthy"): b's link flaps in turn to move the VIP back to a.
    for round in 0..4 {
        lab.link(a, false);
        assert!(
            wait_until(SETTLE, || lab.holders(&[a, b], VIP4) == vec![b]),
            "round {round}: b did not take over\n{}",
            lab.logs()
        );
        lab.link(a, true);
        lab.link(b, false);
        assert!(
            wait_until(SETTLE, || lab.holders(&[a, b], VIP4) == vec![a]),
            "round {round}: a did not take over\n{}",
            lab.logs()
        );
        lab.link(b, true);
        assert!(
            wait_until(SETTLE, || status_json(&sb)["routers"][0]["state"]
                == "Backup"),
            "round {round}: b not back as Backup\n{}",
            lab.logs()
        );
    }
    prom.alert(&lab, "HaVipFlapping");

    // 3. b hears nothing: it goes Active beside a.
    let ns_b = lab.ns(b).to_string();
    sh(&format!(
        "ip netns exec {ns_b} nft 'add table inet havip_test; add chain inet havip_test input {{ type filter hook input priority 0; }}; add rule inet havip_test input ip protocol 112 drop'"
    ));
    assert!(
        wait_until(SETTLE, || lab.holders(&[a, b], VIP4) == vec![a, b]),
        "b did not go Active while deaf\n{}",
        lab.logs()
    );
    let two = prom.alert_where(&lab, "HaVipSplitBrain", ",vrid=\"51\"");
    assert!(
        two.iter().any(|s| s["metric"]["vrid"] == "51"),
        "split brain raised for {two:?}"
    );
    sh(&format!(
        "ip netns exec {ns_b} nft delete table inet havip_test"
    ));
    assert_sole_holder(&lab, &[a, b], VIP4, a);

    // 4. Both links down: both routers in Initialize, nobody holds the VIP.
    lab.link(a, false);
    lab.link(b, false);
    let none = prom.alert_where(&lab, "HaVipNoActiveRouter", ",vrid=\"51\"");
    let vrids: BTreeSet<&str> = none
        .iter()
        .filter_map(|s| s["metric"]["vrid"].as_str())
        .collect();
    assert!(vrids.contains("51"), "no-holder alert for {none:?}");

    // Every alert of the file was seen above.
    let seen = [
        "HaVipCheckFailing",
        "HaVipFlapping",
        "HaVipSplitBrain",
        "HaVipNoActiveRouter",
    ];
    for name in alert_names() {
        assert!(
            seen.contains(&name.as_str()),
            "rule {name} is not exercised by this test"
        );
    }
    // And every rule loaded healthy in Prometheus.
    let rules = prom.api("rules", None).expect("GET /api/v1/rules");
    for g in rules["groups"].as_array().into_iter().flatten() {
        for r in g["rules"].as_array().into_iter().flatten() {
            assert_eq!(r["health"], "ok", "rule {}: {}", r["name"], r["lastError"]);
        }
    }
}

// ----- a flood of connections ---------------------------------------------

/// Run `f` on a thread inside network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
}

#[derive(Default)]
struct FloodCount {
    connections: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
}

/// One flooding client: until `until` (and at most `max` connections),
/// connect to `addr` and do `kind`: "metrics" (a full scrape), "404" (an
/// unknown path), "silent" (connect, send nothing, hang up after 50 ms),
/// "churn" (connect and close at once).
fn flood_client(
    addr: std::net::SocketAddr,
    kind: &'static str,
    until: Instant,
    max: u64,
    count: Arc<FloodCount>,
) {
    let mut n = 0;
    while Instant::now() < until && n < max {
        n += 1;
        let mut s = match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => s,
            Err(_) => {
                count.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        count.connections.fetch_add(1, Ordering::Relaxed);
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = match kind {
            "metrics" => "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "404" => "GET /no/such/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "silent" => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            _ => continue,
        };
        if s.write_all(req.as_bytes()).is_err() {
            continue;
        }
        let mut buf = Vec::new();
        if s.read_to_end(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 ") {
            count.answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The adverts `src` sent, seen on the bridge: (VRID, CLOCK_REALTIME s).
fn advert_times(pcap: &Path, src: &str) -> Vec<(u8, f64)> {
    let out = sh(&format!(
        "tcpdump -r {} -tt -n 'ip proto 112 and src host {src}' 2>/dev/null",
        pcap.display()
    ));
    // 1796356289.474123 IP 192.0.2.11 > 224.0.0.18: VRRPv3, Advertisement, vrid 51, prio 200, ...
    out.lines()
        .filter_map(|l| {
            let t = l.split_whitespace().next()?.parse().ok()?;
            let vrid = l
                .split("vrid ")
                .nth(1)?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()?;
            Some((vrid, t))
        })
        .collect()
}

/// Gaps (ms) between consecutive adverts of each VRID within [from, to),
/// and the number of adverts of `vrid`.
fn gaps_of(times: &[(u8, f64)], from: f64, to: f64, only: Option<u8>) -> (usize, Vec<f64>) {
    let mut by: std::collections::BTreeMap<u8, Vec<f64>> = Default::default();
    for &(v, t) in times {
        if t >= from && t < to && only.is_none_or(|o| o == v) {
            by.entry(v).or_default().push(t);
        }
    }
    let n = by.values().map(Vec::len).sum();
    let mut g: Vec<f64> = by
        .values()
        .flat_map(|t| {
            t.windows(2)
                .map(|w| (w[1] - w[0]) * 1000.0)
                .collect::<Vec<_>>()
        })
        .collect();
    g.sort_by(f64::total_cmp);
    (n, g)
}

/// "N adverts, median, p99, max" of sorted gaps.
fn summary(n: usize, g: &[f64]) -> String {
    let pct = |p: f64| {
        if g.is_empty() {
            f64::NAN
        } else {
            g[((g.len() - 1) as f64 * p).round() as usize]
        }
    };
    format!(
        "{n} adverts, gap median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.5),
        pct(0.99),
        g.last().copied().unwrap_or(f64::NAN)
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// utime + stime (s) of each thread of `pid`, by thread name.
fn thread_cpu(pid: u32) -> Vec<(String, f64)> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut out = Vec::new();
    for t in fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let Ok(stat) = fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, r)| r.rsplit_once(')'))
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        // proc(5): after the name come field 3 (state) onwards; utime and
        // stime are fields 14 and 15.
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        if f.len() > 12 {
            // Field 19: the thread's nice value (two's complement in u64).
            let nice = rest.split_whitespace().nth(16).unwrap_or("?");
            out.push((
                format!("{name} (nice {nice})"),
                (f[11] + f[12]) as f64 / ticks,
            ));
        }
    }
    out
}

fn cpu_by_name(before: &[(String, f64)], after: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut names: Vec<String> = after.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|n| {
            let sum = |v: &[(String, f64)]| {
                v.iter()
                    .filter(|(m, _)| *m == n)
                    .map(|(_, c)| c)
                    .sum::<f64>()
            };
            let d = sum(after) - sum(before);
            (n, d)
        })
        .collect()
}

/// A bounded flood of local connections to the metrics endpoint of an
/// Active ha-vip running 64 routers at 100 ms (HA_VIP_METRICS_FLOOD_MS=10:
/// at 10 ms) (scrapes, unknown paths,
/// silent and churning connections, 32 clients on the node's loopback, 3 s
/// or 10 s with HA_VIP_LONG) leaves its adverts on time: VRID 51 stays
/// Active beside keepalived with the VIP alone, with no state change, and
/// sends at least nine adverts in ten intervals; the advert gaps on the
/// bridge are printed for the quiet period and the flood (docs/security.md
/// quotes them). The daemon under test can be another build:
/// HA_VIP_METRICS_BIN=PATH (the endpoint as it was fails this test).
#[test]
fn flood_of_connections_to_metrics_leaves_the_adverts_on_time() {
    let secs: u64 = if std::env::var_os("HA_VIP_LONG").is_some() {
        10
    } else {
        3
    };
    let mut lab = Lab::new("mflood");
    lab.ha_vip_log = "info".into();
    let a = lab.add_node("a", 11);
    let k = lab.add_node("k", 12);
    let sock = lab.dir.path().join("a.sock");
    // 100 ms adverts; HA_VIP_METRICS_FLOOD_MS=10 measures at 10 ms.
    let ms: u32 = std::env::var("HA_VIP_METRICS_FLOOD_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| (10..=1000).contains(&v) && v % 10 == 0)
        .unwrap_or(100);
    let interval = format!("{ms}ms");
    let ka_interval = format!("{}", f64::from(ms) / 1000.0);
    let listen = format!("127.0.0.1:{METRICS_PORT}");
    let daemon = format!(
        "[control]\nsocket = \"{}\"\n\n[metrics]\nlisten = \"{listen}\"\n",
        sock.display()
    );
    // VRID 51 beside keepalived, and 63 more routers that a runs alone,
    // so that a snapshot and its encoding are not trivially small.
    let mut routers = vec![(
        "api".to_string(),
        ha_router(51, 200, "192.0.2.100/24", &interval, ""),
    )];
    for i in 0..EXTRA_ROUTERS {
        routers.push((
            format!("r{i}"),
            ha_router(
                52 + i,
                200,
                &format!("192.0.2.{}/24", 101 + i),
                &interval,
                "",
            ),
        ));
    }
    let pa = match std::env::var("HA_VIP_METRICS_BIN") {
        Ok(bin) => {
            let cfg = lab.dir.path().join("a-cfg");
            fs::create_dir_all(cfg.join("routers")).expect("mkdir");
            for (name, text) in &routers {
                fs::write(cfg.join(format!("routers/{name}.toml")), text).expect("write");
            }
            fs::write(cfg.join("ha-vip.toml"), &daemon).expect("write");
            let log = lab.dir.path().join("a.log");
            let logf = fs::File::create(&log).expect("log");
            let child = Command::new("ip")
                .args(["netns", "exec", lab.ns(a), &bin, "run", "--config"])
                .arg(&cfg)
                .env("HA_VIP_LOG", "info")
                .stdout(logf.try_clone().expect("dup"))
                .stderr(logf)
                .spawn()
                .expect("spawn HA_VIP_METRICS_BIN");
            eprintln!("daemon under test: {bin}");
            lab.procs.push(Proc {
                node: a,
                kind: Kind::HaVip,
                child,
                log,
                config: cfg,
            });
            lab.procs.len() - 1
        }
        Err(_) => {
            let files: Vec<(&str, String)> = routers
                .iter()
                .map(|(n, t)| (n.as_str(), t.clone()))
                .collect();
            lab.start_ha_vip(a, &files, Some(&daemon))
        }
    };
    let pk = lab.start_keepalived(
        k,
        &keepalived_conf(51, 100, "192.0.2.100/24", &ka_interval, 3, ""),
    );
    assert_sole_holder(&lab, &[a, k], VIP4, a);
    let transitions = || status_json(&sock)["routers"][0]["transitions"].clone();
    let before = transitions();
    // keepalived logs each takeover: none may happen from here on.
    let ka_masters = |lab: &Lab| lab.log(pk).matches("Entering MASTER STATE").count();
    let ka_before = ka_masters(&lab);

    // The bridge capture.
    let pcap = lab.dir.path().join("br0.pcap");
    let errf = lab.dir.path().join("tcpdump.err");
    let cap = Started(
        Command::new("ip")
            .args([
                "netns", "exec", &lab.hub, "tcpdump", "-i", "br0", "-n", "-U", "-w",
            ])
            .arg(&pcap)
            .arg("ip proto 112")
            .stdout(Stdio::null())
            .stderr(fs::File::create(&errf).expect("tcpdump.err"))
            .spawn()
            .expect("spawn tcpdump"),
    );
    assert!(
        wait_until(SETTLE, || fs::read_to_string(&errf)
            .unwrap_or_default()
            .contains("listening on")),
        "tcpdump did not start: {}",
        fs::read_to_string(&errf).unwrap_or_default()
    );

    let quiet_from = unix_now();
    std::thread::sleep(Duration::from_secs(secs));
    let flood_from = unix_now();
    let pid = lab.procs[pa].child.id();
    let cpu0 = thread_cpu(pid);
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(secs);
    let count = Arc::new(FloodCount::default());
    let addr: std::net::SocketAddr = listen.parse().expect("address");
    let mut clients = Vec::new();
    for (kind, n) in [("metrics", 8), ("404", 8), ("silent", 8), ("churn", 8)] {
        for _ in 0..n {
            let c = count.clone();
            clients.push(in_netns(lab.ns(a), move || {
                flood_client(addr, kind, until, 200_000, c)
            }));
        }
    }
    for c in clients {
        c.join().expect("flood client");
    }
    let wall = t0.elapsed().as_secs_f64();
    let flood_to = unix_now();
    let cpu = cpu_by_name(&cpu0, &thread_cpu(pid));
    // Let the last adverts reach the capture, then stop it.
    std::thread::sleep(Duration::from_millis(300));
    drop(cap);

    let metrics = in_netns(lab.ns(a), move || {
        let mut s = TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    })
    .join()
    .expect("scrape")
    .unwrap_or_default();
    let endpoint: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("ha_vip_metrics_"))
        .collect();

    let times = advert_times(&pcap, &lab.nodes[a].ip);
    let (n51q, g51q) = gaps_of(&times, quiet_from, flood_from, Some(51));
    let (n51f, g51f) = gaps_of(&times, flood_from, flood_to, Some(51));
    let (nq, gq) = gaps_of(&times, quiet_from, flood_from, None);
    let (nf, gf) = gaps_of(&times, flood_from, flood_to, None);
    eprintln!(
        "metrics flood: {} connections ({} answered, {} failed to connect) by 32 clients in {wall:.1} s; endpoint: {endpoint:?}",
        count.connections.load(Ordering::Relaxed),
        count.answered.load(Ordering::Relaxed),
        count.refused.load(Ordering::Relaxed),
    );
    eprintln!("ha-vip CPU during the flood, by thread (s): {cpu:?}");
    let n = 1 + EXTRA_ROUTERS;
    eprintln!(
        "VRID 51 at {ms} ms, quiet {secs} s: {}",
        summary(n51q, &g51q)
    );
    eprintln!(
        "VRID 51 at {ms} ms, flood {wall:.1} s: {}",
        summary(n51f, &g51f)
    );
    eprintln!("all {n} routers, quiet: {}", summary(nq, &gq));
    eprintln!("all {n} routers, flood: {}", summary(nf, &gf));

    assert!(
        count.connections.load(Ordering::Relaxed) > 0,
        "the flood made no connection"
    );
    assert!(
        lab.is_running(pa),
        "ha-vip died during the flood\n{}",
        lab.logs()
    );
    assert_eq!(
        before,
        transitions(),
        "a state change during the flood\n{}",
        lab.logs()
    );
    assert_eq!(lab.holders(&[a, k], VIP4), vec![a], "{}", lab.logs());
    assert_eq!(
        ka_masters(&lab),
        ka_before,
        "keepalived took the VIP during the test\n{}",
        lab.logs()
    );
    let intervals = (flood_to - flood_from) / (ms as f64 / 1000.0);
    assert!(
        n51f as f64 >= 0.9 * intervals,
        "{n51f} adverts in {intervals:.0} intervals of flood\n{}",
        lab.logs()
    );
}
