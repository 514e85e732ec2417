//! The runner: builds the lab, starts the group, observes it, injects the
//! schedule, and hands the recording to `check`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::check::{self, Sample, Timing, Verdict, Window};
use super::schedule::{self, ApiFault, Daemon, Direction, Fault, Kind, Params};
use crate::apiserver::{Mode, StandIn};
use crate::health_support::TestPki;
use crate::lab::*;

pub const VRID: u8 = 51;
const VIPS: [&str; 2] = ["192.0.2.100", "2001:db8::100"];
const K8S_WEIGHT: i32 = -50;

/// What to run: the command line of scripts/chaos.sh, through the
/// environment (cargo test owns the real command line).
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub faults: usize,
    pub group: Vec<Daemon>,
    pub k8s: bool,
    pub kinds: Vec<Kind>,
    pub interval_ms: u64,
    pub observe_ms: u64,
    pub report_dir: PathBuf,
}

impl Options {
    /// CHAOS_SEED, CHAOS_FAULTS, CHAOS_NODES, CHAOS_MIX (e.g.
    /// "ha,ka,frr"), CHAOS_K8S=1, CHAOS_EXCLUDE / CHAOS_ONLY (kind lists),
    /// CHAOS_INTERVAL_MS, CHAOS_OBSERVE_MS, CHAOS_REPORT_DIR.
    pub fn from_env() -> Result<Options, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let num = |k: &str, d: u64| -> Result<u64, String> {
            var(k).map_or(Ok(d), |v| {
                v.parse()
                    .map_err(|_| format!("{k}={v:?} is not a whole number"))
            })
        };
        let nodes = num("CHAOS_NODES", 3)? as usize;
        if !(2..=5).contains(&nodes) {
            return Err(format!("CHAOS_NODES={nodes}: 2 to 5 nodes"));
        }
        let mut group = vec![Daemon::HaVip; nodes];
        if let Some(mix) = var("CHAOS_MIX") {
            let kinds: Result<Vec<Daemon>, String> = mix
                .split(',')
                .map(|s| {
                    Daemon::parse(s.trim())
                        .ok_or_else(|| format!("CHAOS_MIX: unknown daemon {s:?} (ha, ka, frr)"))
                })
                .collect();
            let kinds = kinds?;
            // The mix names the nodes in order (n0 first); nodes beyond
            // it run ha-vip.
            for (i, d) in kinds.iter().enumerate().take(nodes) {
                group[i] = *d;
            }
        }
        let parse_kinds = |k: &str| -> Result<Option<Vec<Kind>>, String> {
            let Some(v) = var(k) else { return Ok(None) };
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    Kind::parse(s).ok_or_else(|| {
                        format!(
                            "{k}: unknown fault kind {s:?}; kinds: {}",
                            schedule::ALL_KINDS.map(Kind::name).join(", ")
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        let only = parse_kinds("CHAOS_ONLY")?;
        let exclude = parse_kinds("CHAOS_EXCLUDE")?.unwrap_or_default();
        let kinds = only
            .unwrap_or_else(|| schedule::ALL_KINDS.to_vec())
            .into_iter()
            .filter(|k| !exclude.contains(k))
            .collect();
        Ok(Options {
            seed: num("CHAOS_SEED", 1)?,
            faults: num("CHAOS_FAULTS", 100)? as usize,
            group,
            k8s: var("CHAOS_K8S").is_some_and(|v| v == "1"),
            kinds,
            interval_ms: num("CHAOS_INTERVAL_MS", 100)?,
            observe_ms: num("CHAOS_OBSERVE_MS", 100)?,
            report_dir: var("CHAOS_REPORT_DIR")
                .map_or_else(|| PathBuf::from("target/chaos"), PathBuf::from),
        })
    }

    /// The command that replays this run exactly.
    pub fn replay(&self) -> String {
        let mix: Vec<&str> = self
            .group
            .iter()
            .map(|d| match d {
                Daemon::HaVip => "ha",
                Daemon::Keepalived => "ka",
                Daemon::Frr => "frr",
            })
            .collect();
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.name()).collect();
        format!(
            "sudo scripts/chaos.sh --seed {} --faults {} --nodes {} --mix {} --only {}{} --interval-ms {} --observe-ms {}",
            self.seed,
            self.faults,
            self.group.len(),
            mix.join(","),
            kinds.join(","),
            if self.k8s { " --k8s" } else { "" },
            self.interval_ms,
            self.observe_ms
        )
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// libfaketime from Debian's `faketime` package.
fn libfaketime() -> PathBuf {
    fs::read_dir("/usr/lib")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("prerequisite libfaketime is missing: run `sudo scripts/install-prereqs.sh`")
        })
}

fn require_nft() {
    let ok = Command::new("nft")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "prerequisite `nft` (Debian package nftables) is missing: run `sudo scripts/install-prereqs.sh`"
    );
}

/// One node of the group and what runs on it now.
struct Member {
    daemon: Daemon,
    node: usize,
    host: u8,
    /// The hub side of the node's veth (the bridge port).
    port: String,
    /// The process index in the lab (vrrpd for FRR, the parent for
    /// keepalived); `None` while the schedule has it stopped.
    proc: Option<usize>,
    prio: u8,
    /// ha-vip: its configuration directory, control socket, faketime file.
    cfg: PathBuf,
    sock: PathBuf,
    faketime: PathBuf,
    api: Option<StandIn>,
    mac: String,
    /// Log lengths at the start of the current window, per process index.
    log_marks: BTreeMap<usize, usize>,
}

struct Observer {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Observer {
    fn start(nss: Vec<(String, u8, bool)>, period: Duration) -> Observer {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&samples), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let t0 = Instant::now();
                let mut sample = Sample {
                    t: now(),
                    ..Sample::default()
                };
                for (n, (ns, host, frr)) in nss.iter().enumerate() {
                    observe_node(ns, *host, *frr, n, &mut sample);
                }
                if let Ok(mut v) = s.lock() {
                    v.push(sample);
                }
                std::thread::sleep(period.saturating_sub(t0.elapsed()));
            }
        });
        Observer {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    fn since(&self, t: f64) -> Vec<Sample> {
        self.samples
            .lock()
            .map(|v| v.iter().filter(|s| s.t >= t).copied().collect())
            .unwrap_or_default()
    }

    fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.samples.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Read `ip -j -d addr` of one node into the sample. On an FRR node the
/// VIPs always sit on vrrpd's macvlans (protodown while Backup, as FRR
/// documents): there an address counts as present only where it is held.
fn observe_node(ns: &str, host: u8, frr: bool, n: usize, s: &mut Sample) {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "-d", "addr", "show"])
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return };
    let links: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let foreign = [
        format!("198.51.100.{host}"),
        format!("2001:db8:f::{host:x}"),
    ];
    let mut foreign_seen = [false; 2];
    for l in &links {
        let flags: Vec<&str> = l["flags"]
            .as_array()
            .map(|f| f.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let up = flags.contains(&"UP") && flags.contains(&"LOWER_UP");
        let protodown = l["proto_down"].as_bool().unwrap_or(false);
        for a in l["addr_info"].as_array().into_iter().flatten() {
            let local = a["local"].as_str().unwrap_or("");
            let usable = !a["tentative"].as_bool().unwrap_or(false)
                && !a["dadfailed"].as_bool().unwrap_or(false);
            for (v, vip) in VIPS.iter().enumerate() {
                if local == *vip {
                    let held = up && !protodown && usable;
                    if held || !frr {
                        s.present[v] |= 1 << n;
                    }
                    if held {
                        s.hold[v] |= 1 << n;
                    }
                }
            }
            for (i, f) in foreign.iter().enumerate() {
                if local == f {
                    foreign_seen[i] = true;
                }
            }
        }
    }
    if out.status.success() && !foreign_seen.iter().all(|&x| x) {
        s.foreign_missing |= 1 << n;
    }
}

/// The client's probes: `ping -D` per VIP, replies timestamped.
struct Prober {
    children: Vec<std::process::Child>,
    files: [PathBuf; 2],
}

impl Prober {
    fn start(lab: &Lab, client: usize, probe_ms: u64) -> Prober {
        let mut children = Vec::new();
        let files = [
            lab.dir.path().join("ping4.txt"),
            lab.dir.path().join("ping6.txt"),
        ];
        for (v, vip) in VIPS.iter().enumerate() {
            let f = fs::File::create(&files[v]).expect("ping file");
            let child = Command::new("ip")
                .args(["netns", "exec", lab.ns(client), "ping"])
                .arg(if v == 0 { "-4" } else { "-6" })
                .args(["-D", "-n", "-i"])
                .arg(format!("{:.3}", probe_ms as f64 / 1000.0))
                .args(["-W", "1", vip])
                .stdout(f)
                .stderr(Stdio::null())
                .spawn()
                .expect("ping");
            children.push(child);
        }
        Prober { children, files }
    }

    /// Gaps between replies longer than `gap` s, from `from` on.
    fn outages(&mut self, from: f64, probe: f64) -> [Vec<(f64, f64)>; 2] {
        let gap = 3.0 * probe;
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let mut out: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
        for (v, file) in self.files.iter().enumerate() {
            let text = fs::read_to_string(file).unwrap_or_default();
            let mut last: Option<f64> = None;
            for line in text.lines().filter(|l| l.contains("bytes from")) {
                let Some(t) = line
                    .strip_prefix('[')
                    .and_then(|r| r.split(']').next())
                    .and_then(|x| x.parse::<f64>().ok())
                else {
                    continue;
                };
                // The outage starts when the first missing reply was due
                // (one probe interval after the last one): an outage is
                // the fault's whose window that instant falls in.
                if let Some(p) = last
                    && p >= from
                    && t - p > gap
                {
                    out[v].push((p + probe, t));
                }
                last = Some(t);
            }
        }
        out
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// tcpdump on the bridge for the whole run.
struct Capture {
    child: std::process::Child,
    pcap: PathBuf,
}

impl Capture {
    fn start(lab: &Lab) -> Capture {
        let pcap = lab.dir.path().join("bridge.pcap");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.hub,
                "tcpdump",
                "-i",
                "br0",
                "-n",
                "-U",
                "-s",
                "256",
                "--immediate-mode",
                "-w",
            ])
            .arg(&pcap)
            .arg("ip proto 112 or ip6 proto 112 or arp or (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump");
        Capture { child, pcap }
    }

    /// Stop and decode: (time, one-line summary) per packet.
    fn finish(mut self) -> Vec<(f64, String)> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
        let _ = self.child.wait();
        let Ok(out) = Command::new(HA_VIP)
            .args(["decode", "--json"])
            .arg(&self.pcap)
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|d| {
                let t = d["time"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0.0);
                let line = match d["proto"].as_str().unwrap_or("") {
                    "vrrp" => format!(
                        "vrrp v{} vrid {} prio {:>3} from {} {}",
                        d["version"],
                        d["vrid"],
                        d["priority"],
                        d["src"].as_str().unwrap_or("?"),
                        d["checksum"].as_str().unwrap_or("")
                    ),
                    "arp" => format!(
                        "arp {} {} is-at {}",
                        d["arp"]["op"].as_str().unwrap_or("?"),
                        d["arp"]["sender_ip"].as_str().unwrap_or("?"),
                        d["arp"]["sender_mac"].as_str().unwrap_or("?")
                    ),
                    "na" => format!(
                        "na {} is-at {}",
                        d["na"]["target"].as_str().unwrap_or("?"),
                        d["na"]["target_mac"].as_str().unwrap_or("?")
                    ),
                    _ => String::new(),
                };
                (t, line)
            })
            .filter(|(_, l)| !l.is_empty())
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Signal a process and wait (bounded) for it to exit.
fn signal_wait(lab: &mut Lab, p: usize, sig: Signal) -> Option<ExitStatus> {
    let pid = lab.procs[p].child.id();
    let _ = kill(Pid::from_raw(pid as i32), sig);
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(st)) = lab.procs[p].child.try_wait() {
            return Some(st);
        }
        sleep_ms(10);
    }
    None
}

fn send(lab: &Lab, p: usize, sig: Signal) {
    let _ = kill(Pid::from_raw(lab.procs[p].child.id() as i32), sig);
}

/// keepalived's VRRP child (the process that runs the protocol).
fn keepalived_child(lab: &Lab, p: usize) -> Option<Pid> {
    let pidfile = lab.procs[p].config.parent()?.join("vrrp.pid");
    let text = fs::read_to_string(pidfile).ok()?;
    text.trim().parse().ok().map(Pid::from_raw)
}

fn ha_router_files(cfg: &Path, prio: u8, interval: &str) {
    let v4 = ha_router(VRID, prio, &format!("{}/24", VIPS[0]), interval, "");
    let v6 = ha_router(VRID, prio, &format!("{}/64", VIPS[1]), interval, "");
    fs::create_dir_all(cfg.join("routers")).expect("mkdir");
    fs::write(cfg.join("routers/v4.toml"), v4).expect("write");
    fs::write(cfg.join("routers/v6.toml"), v6).expect("write");
}

fn keepalived_text(prio: u8, interval_s: &str) -> String {
    let inst = |name: &str, vip: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  priority {prio}\n  advert_int {interval_s}\n  virtual_ipaddress {{\n    {vip} dev eth0\n  }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n  router_id chaos\n  vrrp_version 3\n  vrrp_garp_master_delay 1\n  enable_script_security\n}}\n{}{}",
        inst("VI_4", &format!("{}/24", VIPS[0])),
        inst("VI_6", &format!("{}/64", VIPS[1]))
    )
}

pub struct Run {
    pub schedule: Vec<Fault>,
    pub verdict: Verdict,
    pub report: String,
    pub report_path: PathBuf,
}

struct Group {
    lab: Lab,
    m: Vec<Member>,
    client: usize,
    timing: Timing,
    interval: String,
    pki: Option<TestPki>,
    ca: PathBuf,
    faketime_lib: PathBuf,
}

impl Group {
    fn interval_s(&self) -> String {
        format!("{}", self.timing.interval)
    }

    fn start_member(&mut self, i: usize) {
        let node = self.m[i].node;
        let prio = self.m[i].prio;
        let p = match self.m[i].daemon {
            Daemon::HaVip => {
                let cfg = self.m[i].cfg.clone();
                ha_router_files(&cfg, prio, &self.interval);
                let mut daemon = format!("[control]\nsocket = \"{}\"\n", self.m[i].sock.display());
                if self.pki.is_some() {
                    let (iv, to, st) = self.timing.k8s.unwrap_or((0.2, 0.5, 1.0));
                    let _ = write!(
                        daemon,
                        "[k8s]\nenabled = true\napi_server = \"https://127.0.0.1:6443\"\nca_cert = \"{}\"\n\
                         server_name = \"kubernetes\"\ninterval = \"{}ms\"\ntimeout = \"{}ms\"\nstability = \"{}ms\"\nweight = {K8S_WEIGHT}\n",
                        self.ca.display(),
                        (iv * 1000.0) as u64,
                        (to * 1000.0) as u64,
                        (st * 1000.0) as u64
                    );
                }
                fs::write(cfg.join("ha-vip.toml"), daemon).expect("write");
                let n = self.lab.procs.len();
                let log = self.lab.dir.path().join(format!("ha-vip-n{i}-{n}.log"));
                let logf = fs::File::create(&log).expect("log");
                let child = Command::new("ip")
                    .args([
                        "netns",
                        "exec",
                        self.lab.ns(node),
                        HA_VIP,
                        "run",
                        "--config",
                    ])
                    .arg(&cfg)
                    .env("HA_VIP_LOG", "info")
                    .env("LD_PRELOAD", &self.faketime_lib)
                    .env("FAKETIME_TIMESTAMP_FILE", &self.m[i].faketime)
                    .env("FAKETIME_NO_CACHE", "1")
                    .env("DONT_FAKE_MONOTONIC", "1")
                    .stdin(Stdio::null())
                    .stdout(logf.try_clone().expect("dup"))
                    .stderr(logf)
                    .spawn()
                    .expect("spawn ha-vip");
                self.lab.procs.push(Proc {
                    node,
                    kind: crate::lab::Kind::HaVip,
                    child,
                    log,
                    config: cfg,
                });
                self.lab.procs.len() - 1
            }
            Daemon::Keepalived => {
                let text = keepalived_text(prio, &self.interval_s());
                self.lab.start_keepalived(node, &text)
            }
            Daemon::Frr => {
                let r = FrrRouter {
                    vrid: VRID,
                    version: 3,
                    priority: prio,
                    interval_ms: (self.timing.interval * 1000.0) as u32,
                    ipv4: vec![format!("{}/24", VIPS[0])],
                    ipv6: vec![format!("{}/64", VIPS[1])],
                    extra: vec![],
                };
                self.lab.start_frr(node, &r)
            }
        };
        self.m[i].proc = Some(p);
    }

    fn restart_member(&mut self, i: usize) {
        if self.m[i].daemon == Daemon::Frr
            && let Some(p) = self.m[i].proc
        {
            let np = self.lab.restart_vrrpd(p);
            self.m[i].proc = Some(np);
            return;
        }
        self.start_member(i);
    }

    /// Stop the member's daemon with `sig`; Err names what went wrong.
    fn stop_member(&mut self, i: usize, sig: Signal) -> Result<(), String> {
        let Some(p) = self.m[i].proc else {
            return Ok(());
        };
        if self.m[i].daemon == Daemon::Keepalived
            && sig == Signal::SIGKILL
            && let Some(c) = keepalived_child(&self.lab, p)
        {
            let _ = kill(c, Signal::SIGKILL);
        }
        match signal_wait(&mut self.lab, p, sig) {
            Some(_) => Ok(()),
            None => Err(format!(
                "the daemon on n{i} did not exit within 10 s of {sig:?}"
            )),
        }
    }

    /// The pids that run the protocol (for SIGSTOP / SIGCONT).
    fn protocol_pids(&self, i: usize) -> Vec<Pid> {
        let Some(p) = self.m[i].proc else {
            return vec![];
        };
        match self.m[i].daemon {
            Daemon::Keepalived => keepalived_child(&self.lab, p).into_iter().collect(),
            _ => vec![Pid::from_raw(self.lab.procs[p].child.id() as i32)],
        }
    }

    fn log_count(&self, p: usize, what: &str) -> usize {
        self.lab.log(p).matches(what).count()
    }

    /// Set member `i`'s priority the way its implementation does it live.
    fn set_priority(&mut self, i: usize, prio: u8) -> Result<(), String> {
        self.m[i].prio = prio;
        let Some(p) = self.m[i].proc else {
            return Ok(());
        };
        match self.m[i].daemon {
            Daemon::HaVip => {
                ha_router_files(&self.m[i].cfg, prio, &self.interval);
                self.reload(i)
            }
            Daemon::Keepalived => {
                fs::write(
                    &self.lab.procs[p].config,
                    keepalived_text(prio, &self.interval_s()),
                )
                .map_err(|e| e.to_string())?;
                send(&self.lab, p, Signal::SIGHUP);
                Ok(())
            }
            Daemon::Frr => {
                let out = Command::new("timeout")
                    .arg("5")
                    .arg("vtysh")
                    .arg("--vty_socket")
                    .arg(&self.lab.procs[p].config)
                    .args([
                        "-d",
                        "vrrpd",
                        "-c",
                        "configure terminal",
                        "-c",
                        "interface eth0",
                        "-c",
                    ])
                    .arg(format!("vrrp {VRID} priority {prio}"))
                    .output()
                    .map_err(|e| e.to_string())?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "vtysh priority on n{i}: {}",
                        String::from_utf8_lossy(&out.stdout)
                    ))
                }
            }
        }
    }

    /// SIGHUP and, for ha-vip, wait until the log shows it was handled.
    fn reload(&mut self, i: usize) -> Result<(), String> {
        let Some(p) = self.m[i].proc else {
            return Ok(());
        };
        let done =
            |g: &Group| g.log_count(p, "configuration reloaded") + g.log_count(p, "reload refused");
        let before = done(self);
        send(&self.lab, p, Signal::SIGHUP);
        if self.m[i].daemon != Daemon::HaVip {
            return Ok(());
        }
        if wait_until(Duration::from_secs(10), || done(self) > before) {
            Ok(())
        } else {
            Err(format!("ha-vip on n{i} did not handle SIGHUP within 10 s"))
        }
    }

    fn nft(&self, script: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.lab.hub, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        if let Some(mut sin) = child.stdin.take() {
            use std::io::Write;
            let _ = sin.write_all(script.as_bytes());
        }
        let st = child.wait().expect("nft");
        assert!(st.success(), "nft failed on:\n{script}");
    }

    fn recreate_eth0(&mut self, i: usize) {
        let Member {
            node,
            host,
            port,
            mac,
            ..
        } = &self.m[i];
        let ns = self.lab.ns(*node).to_string();
        let hub = self.lab.hub.clone();
        sh(&format!(
            "ip -n {ns} link add eth0 address {mac} type veth peer name {port} netns {hub}"
        ));
        sh(&format!("ip -n {hub} link set {port} master br0 up"));
        sh(&format!(
            "ip -n {ns} addr add 192.0.2.{host}/24 dev eth0 && ip -n {ns} addr add 2001:db8::{host:x}/64 dev eth0 nodad"
        ));
        add_foreign(&ns, *host);
        sh(&format!("ip -n {ns} link set eth0 up"));
    }
}

fn add_foreign(ns: &str, host: u8) {
    sh(&format!(
        "ip -n {ns} addr add 198.51.100.{host}/32 dev eth0 && ip -n {ns} addr add 2001:db8:f::{host:x}/128 dev eth0 nodad"
    ));
}

/// The holder while an API server is down: the top effective priority
/// (ties: the higher address, i.e. the higher node index).
fn top_with_penalty(prios: &[u8], down: usize) -> usize {
    let eff: Vec<i32> = prios
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            if i == down {
                (i32::from(p) + K8S_WEIGHT).clamp(1, 254)
            } else {
                i32::from(p)
            }
        })
        .collect();
    let mut best = 0;
    for i in 0..eff.len() {
        if eff[i] >= eff[best] {
            best = i;
        }
    }
    best
}

pub fn run(opts: Options) -> Run {
    require_nft();
    let schedule = schedule::generate(opts.seed, opts.faults, &opts.group, opts.k8s, &opts.kinds);
    let t_start = Instant::now();
    println!("chaos: replay with: {}", opts.replay());
    println!("chaos: schedule ({} faults):", schedule.len());
    for f in &schedule {
        println!("  {f}");
    }

    let interval = opts.interval_ms as f64 / 1000.0;
    let prios = schedule::initial_priorities(opts.group.len());
    let mut lab = Lab::new("chaos");
    lab.ha_vip_log = "info".into();
    let k8s_timing = opts.k8s.then_some((0.2, 0.5, 1.0));
    let timing = Timing {
        interval,
        min_prio: 10,
        observe: opts.observe_ms as f64 / 1000.0,
        dad: 0.0,
        probe: 0.05,
        k8s: k8s_timing,
    };
    let pki = opts.k8s.then(|| TestPki::new(&["kubernetes"]));
    let ca = lab.dir.path().join("ca.crt");
    if let Some(p) = &pki {
        fs::write(&ca, &p.ca_pem).expect("write CA");
    }
    let mut members = Vec::new();
    for (i, &d) in opts.group.iter().enumerate() {
        let host = 11 + i as u8;
        let node = lab.add_node(&format!("n{i}"), host);
        let ns = lab.ns(node).to_string();
        // DAD on, as on a real host: after a link comes up the IPv6
        // link-local is tentative for dad_transmits x retrans_time.
        // Addresses stay on a link that goes down, as an operator's
        // configured addresses do (keep_addr_on_down): the harness then
        // sees any address a daemon removes, not the kernel's flush.
        sh(&format!(
            "ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.eth0.accept_dad=1 \
             net.ipv6.conf.default.keep_addr_on_down=1 net.ipv6.conf.eth0.keep_addr_on_down=1"
        ));
        add_foreign(&ns, host);
        let link = sh(&format!("ip -n {ns} -j link show eth0"));
        let idx = serde_json::from_str::<Value>(&link)
            .ok()
            .and_then(|v| v[0]["link_index"].as_u64());
        let hub_links = sh(&format!("ip -n {} -j link show", lab.hub));
        let port = serde_json::from_str::<Value>(&hub_links)
            .ok()
            .and_then(|v| {
                v.as_array()?
                    .iter()
                    .find(|l| l["ifindex"].as_u64() == idx)
                    .and_then(|l| l["ifname"].as_str().map(str::to_string))
            })
            .expect("the node's bridge port");
        let faketime = lab.dir.path().join(format!("faketime-n{i}"));
        fs::write(&faketime, "+0\n").expect("write");
        members.push(Member {
            daemon: d,
            node,
            host,
            port,
            proc: None,
            prio: prios[i],
            cfg: lab.dir.path().join(format!("ha-vip-n{i}")),
            sock: lab.dir.path().join(format!("n{i}.sock")),
            faketime,
            api: None,
            mac: lab.nodes[node].mac.clone(),
            log_marks: BTreeMap::new(),
        });
    }
    let dad = {
        let ns = lab.ns(members[0].node);
        let n: f64 = sh(&format!(
            "ip netns exec {ns} sysctl -n net.ipv6.conf.eth0.dad_transmits"
        ))
        .trim()
        .parse()
        .unwrap_or(1.0);
        let r: f64 = sh(&format!(
            "ip netns exec {ns} sysctl -n net.ipv6.neigh.eth0.retrans_time_ms"
        ))
        .trim()
        .parse()
        .unwrap_or(1000.0);
        n * r / 1000.0
    };
    let client = lab.add_node("cl", 50);
    let timing = Timing {
        dad,
        min_prio: 10,
        ..timing
    };
    let mut g = Group {
        lab,
        m: members,
        client,
        interval: format!("{}ms", opts.interval_ms),
        timing,
        pki,
        ca,
        faketime_lib: libfaketime(),
    };
    g.nft("add table bridge chaos\nadd chain bridge chaos filt { type filter hook forward priority 0 ; }\n");
    if let Some(pki) = &g.pki {
        for i in 0..g.m.len() {
            if g.m[i].daemon == Daemon::HaVip {
                g.m[i].api = Some(StandIn::start(g.lab.ns(g.m[i].node), pki));
            }
        }
    }
    for i in 0..g.m.len() {
        g.start_member(i);
    }
    let nss: Vec<(String, u8, bool)> =
        g.m.iter()
            .map(|m| {
                (
                    g.lab.ns(m.node).to_string(),
                    m.host,
                    m.daemon == Daemon::Frr,
                )
            })
            .collect();
    let capture = Capture::start(&g.lab);
    let observer = Observer::start(nss, Duration::from_millis(opts.observe_ms));
    let mut prober = Prober::start(&g.lab, g.client, (g.timing.probe * 1000.0) as u64);

    let want0 = 1u32 << schedule::top(&prios);
    let settled = |obs: &Observer, from: f64, want: u32, hold: f64| {
        let s = obs.since(from);
        let Some(last) = s.last() else { return false };
        let ok_since = s
            .iter()
            .rposition(|x| x.hold != [want, want])
            .map_or(s.first().map_or(last.t, |x| x.t), |j| {
                s.get(j + 1).map_or(f64::INFINITY, |x| x.t)
            });
        last.t - ok_since >= hold
    };
    let hold = 3.0 * interval + 2.0 * g.timing.observe;
    let setup_ok = wait_until(Duration::from_secs(60), || {
        settled(&observer, now() - 60.0, want0, hold)
    });
    assert!(
        setup_ok,
        "the group never elected n{} for both VIPs before the first fault\n{}",
        schedule::top(&prios),
        g.lab.logs()
    );
    let t_first = now();
    let mut windows: Vec<Window> = Vec::new();
    let mut excerpts_logs: Vec<BTreeMap<usize, (usize, usize)>> = Vec::new();
    let mut split_seen: BTreeMap<usize, usize> = BTreeMap::new();

    let mut prev_expected = schedule::top(&prios);
    for f in &schedule {
        let i = f.node;
        let stay = prev_expected == f.expected
            && matches!(f.kind, Kind::Reload | Kind::Prio | Kind::Clock | Kind::Dup);
        prev_expected = f.expected;
        let mut w = Window {
            pos: f.pos,
            kind: Some(f.kind),
            node: i,
            expected: f.expected,
            bounds: check::bounds(f.kind, g.m[i].daemon, &g.timing),
            stay,
            ..Window::default()
        };
        let marks: BTreeMap<usize, usize> = (0..g.lab.procs.len())
            .map(|p| (p, g.lab.log(p).len()))
            .collect();
        for m in &mut g.m {
            m.log_marks = marks.clone();
        }
        w.t_inject = now();
        let mut errors = Vec::new();
        let ns = g.lab.ns(g.m[i].node).to_string();
        let port = g.m[i].port.clone();
        match (&f.kind, &f.params) {
            (Kind::Link, Params::For { ms }) => {
                sh(&format!("ip -n {ns} link set eth0 down"));
                sleep_ms(*ms);
                sh(&format!("ip -n {ns} link set eth0 up"));
            }
            (Kind::Mac, Params::Mac { last_byte }) => {
                let mac = format!("02:00:00:ff:{:02x}:{last_byte:02x}", g.m[i].host);
                sh(&format!(
                    "ip -n {ns} link set eth0 down && ip -n {ns} link set eth0 address {mac} && ip -n {ns} link set eth0 up"
                ));
                g.m[i].mac = mac;
            }
            (Kind::Ifdel, Params::For { ms }) => {
                sh(&format!("ip -n {ns} link del eth0"));
                sleep_ms(*ms);
                g.recreate_eth0(i);
                w.foreign_exempt = Some((w.t_inject, now() + g.timing.observe));
            }
            (Kind::Kill, Params::For { ms }) => {
                if let Err(e) = g.stop_member(i, Signal::SIGKILL) {
                    errors.push(e);
                }
                sleep_ms(*ms);
                g.restart_member(i);
            }
            (Kind::Term, Params::For { ms }) => {
                let r = g.stop_member(i, Signal::SIGTERM);
                let t_exit = now();
                if let Err(e) = r {
                    errors.push(e);
                }
                sleep_ms(*ms);
                w.stopped = Some((t_exit + g.timing.observe, now()));
                g.restart_member(i);
            }
            (Kind::Freeze, Params::For { ms }) => {
                let pids = g.protocol_pids(i);
                for &p in &pids {
                    let _ = kill(p, Signal::SIGSTOP);
                }
                sleep_ms(*ms);
                for &p in &pids {
                    let _ = kill(p, Signal::SIGCONT);
                }
            }
            (Kind::Reload, _) => {
                if let Err(e) = g.reload(i) {
                    errors.push(e);
                }
            }
            (Kind::Prio, Params::Prio { to, .. }) => {
                if let Err(e) = g.set_priority(i, *to) {
                    errors.push(e);
                }
            }
            (Kind::Loss, Params::Loss { ms, percent }) => {
                g.nft(&format!(
                    "add rule bridge chaos filt iifname \"{port}\" numgen random mod 100 < {percent} drop\n\
                     add rule bridge chaos filt oifname \"{port}\" numgen random mod 100 < {percent} drop\n"
                ));
                sleep_ms(*ms);
                g.nft("flush chain bridge chaos filt\n");
            }
            (Kind::Partition, Params::Partition { ms, dir }) => {
                let side = match dir {
                    Direction::Deaf => "oifname",
                    Direction::Mute => "iifname",
                };
                g.nft(&format!(
                    "add rule bridge chaos filt {side} \"{port}\" drop\n"
                ));
                sleep_ms(*ms);
                g.nft("flush chain bridge chaos filt\n");
            }
            (Kind::Dup, Params::For { ms }) => {
                let mut script = format!(
                    "add table netdev chaosdup\nadd chain netdev chaosdup ingr {{ type filter hook ingress device \"{port}\" priority 0 ; }}\n"
                );
                for o in g.m.iter().filter(|o| o.port != port) {
                    let _ = writeln!(
                        script,
                        "add rule netdev chaosdup ingr dup to \"{}\"",
                        o.port
                    );
                }
                g.nft(&script);
                sleep_ms(*ms);
                g.nft("delete table netdev chaosdup\n");
            }
            (Kind::Clock, Params::Clock { offset_s }) => {
                fs::write(&g.m[i].faketime, format!("{offset_s:+}\n")).expect("write faketime");
                // Let a few adverts go by under the new clock.
                sleep_ms((10.0 * interval * 1000.0) as u64);
            }
            (Kind::Api, Params::Api { what, .. }) => {
                let during = top_with_penalty(&f.prios, i);
                let within = g.timing.k8s_detect() + g.timing.master_down() + g.timing.margin();
                w.expected_during = Some((during, within));
                if let Some(api) = &g.m[i].api {
                    match what {
                        ApiFault::Fail => api.set(Mode::Closed),
                        ApiFault::Hang => api.set(Mode::Hang),
                        ApiFault::Restart => {
                            api.set(Mode::ShuttingDown);
                            sleep_ms(500);
                            api.set(Mode::Closed);
                        }
                    }
                }
                // The fault lasts until the VIP is where the health says,
                // and a little more (bounded by `within`).
                let t0 = w.t_inject;
                let want = 1u32 << during;
                wait_until(Duration::from_secs_f64(within + hold), || {
                    settled(&observer, t0, want, hold)
                });
                sleep_ms((hold * 1000.0) as u64);
                if let Some(api) = &g.m[i].api {
                    api.set(Mode::Ready);
                }
            }
            (k, p) => panic!("fault {k:?} with parameters {p:?}: a bug in the generator"),
        }
        w.t_heal = now();
        // The bounded wait: the expected holder alone, for `hold`.
        let want = 1u32 << f.expected;
        let t_heal = w.t_heal;
        let limit = w.bounds.converge + hold + g.timing.observe;
        wait_until(Duration::from_secs_f64(limit), || {
            settled(&observer, t_heal, want, hold)
        });
        // Every daemon alive, and each ha-vip's status agrees with its node.
        for j in 0..g.m.len() {
            let Some(p) = g.m[j].proc else { continue };
            if !g.lab.is_running(p) {
                w.died.push(j);
                g.restart_member(j);
            }
        }
        let last = observer.since(now() - 1.0).last().copied();
        // A foreign address found gone is a violation of this window; put
        // it back so that it does not count against the next ones.
        if let Some(s) = last {
            for (j, m) in g.m.iter().enumerate() {
                if s.foreign_missing & (1 << j) != 0 {
                    let ns = g.lab.ns(m.node);
                    sh_quiet(&format!(
                        "ip -n {ns} addr add 198.51.100.{}/32 dev eth0",
                        m.host
                    ));
                    sh_quiet(&format!(
                        "ip -n {ns} addr add 2001:db8:f::{:x}/128 dev eth0 nodad",
                        m.host
                    ));
                }
            }
        }
        for (j, m) in g.m.iter().enumerate() {
            if m.daemon != Daemon::HaVip || w.died.contains(&j) {
                continue;
            }
            let st = Command::new(HA_VIP)
                .args(["status", "--json", "--socket"])
                .arg(&m.sock)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok());
            let Some(st) = st else {
                errors.push(format!("ha-vip on n{j}: the status socket did not answer"));
                continue;
            };
            for r in st["routers"].as_array().into_iter().flatten() {
                let v = usize::from(r["name"] != "v4");
                let active = r["state"] == "Active";
                let holds = last.is_some_and(|s| s.hold[v] & (1 << j) != 0);
                if active != holds {
                    errors.push(format!(
                        "n{j}: status says {} is {} but the node {} the VIP",
                        r["name"].as_str().unwrap_or("?"),
                        r["state"].as_str().unwrap_or("?"),
                        if holds { "holds" } else { "does not hold" }
                    ));
                }
            }
        }
        for (j, m) in g.m.iter().enumerate() {
            if m.daemon != Daemon::HaVip {
                continue;
            }
            let Some(p) = m.proc else { continue };
            let n = g.log_count(p, "split brain");
            let before = split_seen.insert(p, n).unwrap_or(0);
            let _ = j;
            w.split_brain_logs += n.saturating_sub(before);
        }
        w.status_errors = errors;
        w.t_end = now();
        let ends: BTreeMap<usize, (usize, usize)> = (0..g.lab.procs.len())
            .map(|p| (p, (marks.get(&p).copied().unwrap_or(0), g.lab.log(p).len())))
            .collect();
        excerpts_logs.push(ends);
        let partial = check::check(
            &observer.since(w.t_inject - 0.01),
            std::slice::from_ref(&w),
            &[vec![], vec![]],
        );
        println!(
            "chaos: {f}  {:.1}s  {}",
            w.t_end - w.t_inject,
            if partial.violations.is_empty() {
                "ok".to_string()
            } else {
                format!("VIOLATION: {}", partial.violations[0].what)
            }
        );
        windows.push(w);
    }

    let samples = observer.finish();
    let outages = prober.outages(t_first, g.timing.probe);
    let packets = capture.finish();
    let verdict = check::check(&samples, &windows, &outages);

    // The report.
    let mut r = String::new();
    let _ = writeln!(
        r,
        "# chaos report: seed {}, {} faults",
        opts.seed,
        schedule.len()
    );
    let _ = writeln!(r, "replay: {}", opts.replay());
    let group: Vec<String> =
        g.m.iter()
            .enumerate()
            .map(|(i, m)| format!("n{i}={} (priority {})", m.daemon.name(), prios[i]))
            .collect();
    let _ = writeln!(
        r,
        "group: {}; VIPs {} and {} (VRID {VRID}, VRRPv3){}",
        group.join(", "),
        VIPS[0],
        VIPS[1],
        if opts.k8s { ", [k8s] on" } else { "" }
    );
    let t = &g.timing;
    let _ = writeln!(
        r,
        "timing: Advertisement_Interval {:.2} s, Master_Down_Interval (slowest, priority {}) {:.3} s, Skew_Time {:.3} s, margin 2 x interval + 2 x observer period = {:.2} s, observer period {:.2} s, IPv6 DAD {:.1} s, probe {:.2} s{}",
        t.interval,
        t.min_prio,
        t.master_down(),
        t.skew(),
        t.margin(),
        t.observe,
        t.dad,
        t.probe,
        t.k8s.map_or(String::new(), |(a, b, c)| format!(
            ", k8s interval {a} s timeout {b} s stability {c} s"
        ))
    );
    let _ = writeln!(
        r,
        "run time {:.0} s; samples {}; invariant checks {}; violations {}\n",
        t_start.elapsed().as_secs_f64(),
        samples.len(),
        verdict.checks,
        verdict.violations.len()
    );
    let _ = writeln!(
        r,
        "| kind | faults | violations | worst no-holder (bound) | worst two-holder (bound) | worst convergence (bound) | worst client outage (bound) |"
    );
    let _ = writeln!(r, "|---|---|---|---|---|---|---|");
    for (k, st) in &verdict.by_kind {
        let nv = verdict
            .violations
            .iter()
            .filter(|v| v.kind == Some(*k))
            .count();
        let _ = writeln!(
            r,
            "| {} | {} | {} | {:.2} s ({:.2}) | {:.2} s ({:.2}) | {:.2} s ({:.2}) | {:.2} s ({:.2}) |",
            k.name(),
            st.faults,
            nv,
            st.worst_none,
            st.bound_none,
            st.worst_two,
            st.bound_two,
            st.worst_converge,
            st.bound_converge,
            st.worst_outage,
            st.bound_outage
        );
    }
    let report_path = opts
        .report_dir
        .join(format!("seed{}-{}", opts.seed, schedule.len()));
    let _ = fs::create_dir_all(&report_path);
    let logs_dir = report_path.join("logs");
    let _ = fs::remove_dir_all(&logs_dir);
    sh_quiet(&format!(
        "cp -a {} {}",
        g.lab.dir.path().display(),
        logs_dir.display()
    ));
    let _ = writeln!(
        r,
        "\nlogs and the bridge capture kept in {}",
        logs_dir.display()
    );
    // One line per kind of violation (its text without the figures), with
    // how often and where it first happened: the list to fix from.
    let mut classes: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for v in &verdict.violations {
        let head = v.what.split(" (").next().unwrap_or("");
        let mut class = String::new();
        for c in head.chars() {
            let c = if c.is_ascii_digit() { '#' } else { c };
            if !(c == '#' && class.ends_with('#')) {
                class.push(c);
            }
        }
        let class = class
            .replace("#.#", "#")
            .replace("n#+n#+n#", "n#+n#")
            .replace("n#+n#", "several nodes");
        let key = format!("{}: {class}", v.kind.map_or("-", Kind::name));
        classes.entry(key).or_insert((0, v.pos)).0 += 1;
    }
    if !classes.is_empty() {
        let _ = writeln!(
            r,
            "
## violations by class (count, first position)"
        );
        for (k, (n, first)) in &classes {
            let _ = writeln!(r, "- {k} ... x{n}, first at #{first}");
        }
    }
    for v in &verdict.violations {
        let f = &schedule[v.pos];
        let _ = writeln!(
            r,
            "\n## violation at schedule position {} ({f})\n{}",
            v.pos, v.what
        );
        let _ = writeln!(r, "from {:.3} to {:.3} (epoch s)", v.from, v.to);
        let _ = writeln!(r, "capture excerpt (ha-vip decode --json, summarised):");
        let shown: Vec<&(f64, String)> = packets
            .iter()
            .filter(|(t, _)| *t >= v.from - 0.5 && *t <= v.to + 0.5)
            .collect();
        for (t, l) in shown.iter().take(40) {
            let _ = writeln!(r, "  {:+.3} {l}", t - v.from);
        }
        if shown.len() > 40 {
            let _ = writeln!(r, "  ... {} more", shown.len() - 40);
        }
        let _ = writeln!(r, "logs written during the fault (state lines):");
        if let Some(ends) = excerpts_logs.get(v.pos) {
            for (&p, &(a, b)) in ends {
                let text = g.lab.log(p);
                let part = text.get(a..b.min(text.len())).unwrap_or("");
                let interesting: Vec<&str> = part
                    .lines()
                    .filter(|l| {
                        [
                            "Active", "Backup", "Master", "MASTER", "BACKUP", "FAULT", "split",
                            "WARN", "ERROR", "error", "priority",
                        ]
                        .iter()
                        .any(|k| l.contains(k))
                    })
                    .collect();
                if interesting.is_empty() {
                    continue;
                }
                let who = g.lab.procs[p].node;
                let _ = writeln!(
                    r,
                    "  --- {} ({}):",
                    g.lab.nodes[who].name,
                    g.lab.procs[p].log.display()
                );
                for l in interesting.iter().take(12) {
                    let _ = writeln!(r, "    {l}");
                }
            }
        }
    }
    let _ = fs::write(report_path.join("report.md"), &r);
    println!("\n{r}");
    Run {
        schedule,
        verdict,
        report: r,
        report_path,
    }
}
