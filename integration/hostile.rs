//! Hostile packets against a running pair: ha-vip Active (priority 200)
//! and keepalived Backup (priority 100) on VRID 51, VRRPv3, 100 ms adverts,
//! VIP 192.0.2.100, and a third node, the attacker, that crafts packets
//! with `scripts/hostile.py` (scapy, Debian's /usr/bin/python3) and sends
//! them raw (AF_PACKET) to 224.0.0.18 and to ha-vip's own address. Variants:
//! the pair in unicast mode, the pair in VRRPv2, ha-vip alone over IPv6,
//! and ha-vip alone without root. docs/security.md is the summary.
//!
//! What every pair test checks, beside its own counter: the Active router
//! stays Active, it alone holds the VIP the whole time (a watcher thread
//! samples both nodes every 20 ms), and no state change happens
//! (`routers[0].transitions` unchanged). Counters are read from `ha-vip
//! status --json`: wire-level drops in the top-level `drops` map (keyed by
//! `ParseError::counter`, plus `vrid_unknown`), router-level drops in
//! `routers[0].counters` (`DropReason::counter`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lab::*;
use crate::{VIP4, assert_sole_holder};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/hostile.py");
const GROUP: &str = "224.0.0.18";
/// How long a counter may take to show a packet on a loaded machine.
const COUNT_DEADLINE: Duration = Duration::from_secs(20);

/// A map of counters (`drops` or `routers[0].counters`) as numbers.
fn counters(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// Where a counter lives in `status --json`.
#[derive(Clone, Copy, Debug)]
enum Counter {
    /// Top-level `drops`: refused by the wire layer or by demultiplexing.
    Wire(&'static str),
    /// `routers[0].counters`: refused by the virtual router.
    Router(&'static str),
}

/// Counter names of the router that count drops (every one of them must
/// stay put except the one a case aims at) and the one that counts
/// accepted adverts (must stay put for every hostile case).
const ROUTER_DROP_COUNTERS: &[&str] = &[
    "vrrpv3RouterVersionErrors",
    "vrrpv3RouterVrIdErrors",
    "familyErrors",
    "ownAdvertisements",
    "unicastPeerErrors",
    "vrrpStatsAuthTypeMismatch",
    "vrrpStatsAuthFailures",
    "vrrpv3StatisticsAdvIntervalErrors",
    "invalidIntervalErrors",
    "notRunningDrops",
    "vrrpv3StatisticsRcvdAdvertisements",
];

struct Snapshot {
    drops: BTreeMap<String, u64>,
    router: BTreeMap<String, u64>,
    transitions: Value,
    state: String,
}

impl Snapshot {
    fn take(sock: &Path) -> Snapshot {
        let st = status_json(sock);
        let r = &st["routers"][0];
        Snapshot {
            drops: counters(&st["drops"]),
            router: counters(&r["counters"]),
            transitions: r["transitions"].clone(),
            state: r["state"].as_str().unwrap_or_default().to_string(),
        }
    }

    fn get(&self, c: Counter) -> u64 {
        match c {
            Counter::Wire(k) => self.drops.get(k).copied().unwrap_or(0),
            Counter::Router(k) => self.router.get(k).copied().unwrap_or(0),
        }
    }
}

/// Run hostile.py in `node`'s namespace towards `dst` (`dst_mac` for a
/// unicast destination); returns its JSON line.
fn run_hostile(lab: &Lab, node: usize, dst: &str, dst_mac: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        lab.ns(node),
        "/usr/bin/python3",
        SCRIPT,
        "--iface",
        "eth0",
        "--dst",
        dst,
    ]);
    if let Some(mac) = dst_mac {
        cmd.args(["--dst-mac", mac]);
    }
    let out = cmd.args(args).output().expect("run scripts/hostile.py");
    assert!(
        out.status.success(),
        "hostile.py {dst} {args:?} failed (needs python3-scapy): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("hostile.py output {text:?}: {e}"))
}

/// Samples which of two nodes hold the VIP until stopped; records every
/// sample where the holder set was not exactly the expected one.
struct HolderWatch {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(u64, Vec<String>)>>,
}

impl HolderWatch {
    fn start(expected_ns: &str, other_ns: &str) -> HolderWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let (exp, oth, flag) = (expected_ns.to_string(), other_ns.to_string(), stop.clone());
        let handle = std::thread::spawn(move || {
            let holds = |ns: &str| {
                Command::new("ip")
                    .args(["-n", ns, "-o", "addr", "show", "dev", "eth0"])
                    .output()
                    .map(|o| {
                        String::from_utf8_lossy(&o.stdout)
                            .split_whitespace()
                            .any(|w| w.split('/').next() == Some(VIP4))
                    })
                    .unwrap_or(false)
            };
            let t0 = Instant::now();
            let (mut samples, mut bad) = (0u64, Vec::new());
            while !flag.load(Ordering::SeqCst) {
                let (a, b) = (holds(&exp), holds(&oth));
                samples += 1;
                if !a || b {
                    bad.push(format!(
                        "at {:?}: expected holder has VIP: {a}, other has VIP: {b}",
                        t0.elapsed()
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (samples, bad)
        });
        HolderWatch {
            stop,
            handle: Some(handle),
        }
    }

    /// Stop and return (samples, violations).
    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle
            .take()
            .map(|h| h.join().expect("watcher thread"))
            .unwrap_or_default()
    }
}

impl Drop for HolderWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The running pair and the attacker.
struct Pair {
    lab: Lab,
    ha: usize,
    ka: usize,
    atk: usize,
    /// ha-vip's process index.
    pha: usize,
    sock: PathBuf,
}

impl Pair {
    /// Build the lab and wait until ha-vip is Active and alone holds the VIP.
    /// `unicast`: both sides send to each other only. `log`: HA_VIP_LOG.
    fn start(test: &str, unicast: bool, log: Option<&str>) -> Pair {
        Pair::start_version(test, unicast, log, 3)
    }

    /// [`Pair::start`] with VRRP `version` (2: 1 s adverts, the v2 minimum).
    fn start_version(test: &str, unicast: bool, log: Option<&str>, version: u8) -> Pair {
        let mut lab = Lab::new(test);
        if let Some(l) = log {
            lab.ha_vip_log = l.to_string();
        }
        let ha = lab.add_node("ha", 11);
        let ka = lab.add_node("ka", 12);
        let atk = lab.add_node("atk", 66);
        let sock = lab.dir.path().join("ha.sock");
        let daemon = format!("[control]\nsocket = \"{}\"\n", sock.display());
        let (ha_extra, ka_extra) = if unicast {
            (
                "unicast_peers = [\"192.0.2.12\"]".to_string(),
                "  unicast_src_ip 192.0.2.12\n  unicast_peer {\n    192.0.2.11\n  }".to_string(),
            )
        } else {
            (String::new(), String::new())
        };
        let (interval, ka_interval, ha_extra) = if version == 2 {
            ("1s", "1", format!("version = 2\n{ha_extra}"))
        } else {
            ("100ms", "0.1", ha_extra)
        };
        let pha = lab.start_ha_vip(
            ha,
            &[(
                "vip",
                ha_router(51, 200, "192.0.2.100/24", interval, &ha_extra),
            )],
            Some(&daemon),
        );
        lab.start_keepalived(
            ka,
            &keepalived_conf(51, 100, "192.0.2.100/24", ka_interval, version, &ka_extra),
        );
        assert_sole_holder(&lab, &[ha, ka], VIP4, ha);
        assert!(
            wait_until(COUNT_DEADLINE, || sock.exists()
                && Snapshot::take(&sock).state == "Active"),
            "ha-vip never reported Active\n{}",
            lab.logs()
        );
        Pair {
            lab,
            ha,
            ka,
            atk,
            pha,
            sock,
        }
    }

    fn watch(&self) -> HolderWatch {
        HolderWatch::start(self.lab.ns(self.ha), self.lab.ns(self.ka))
    }

    /// Run hostile.py in the attacker's namespace; returns its JSON line.
    fn hostile(&self, dst: &str, args: &[&str]) -> Value {
        let mac = (dst != GROUP).then(|| self.lab.nodes[self.ha].mac.as_str());
        run_hostile(&self.lab, self.atk, dst, mac, args)
    }

    fn ha_ip(&self) -> String {
        self.lab.nodes[self.ha].ip.clone()
    }

    /// Send `case` `per_dst` times to the group and to ha-vip's address
    /// (only to the address when `unicast_only`); assert that exactly that
    /// many land on `counter`, that no other drop counter and no
    /// accepted-advert counter moved, and that the Active router stayed
    /// Active, alone with the VIP, with no transition.
    fn expect_dropped(
        &self,
        case: &str,
        counter: Counter,
        per_dst: u64,
        unicast_only: bool,
        extra: &[&str],
    ) {
        let before = Snapshot::take(&self.sock);
        let watch = self.watch();
        let n = per_dst.to_string();
        let ha_ip = self.ha_ip();
        let dsts: &[&str] = if unicast_only {
            &[ha_ip.as_str()]
        } else {
            &[GROUP, ha_ip.as_str()]
        };
        let sent = per_dst * dsts.len() as u64;
        for &dst in dsts {
            let mut args = vec!["--count", n.as_str()];
            args.extend_from_slice(extra);
            args.push(case);
            self.hostile(dst, &args);
        }
        let want = before.get(counter) + sent;
        let reached = wait_until(COUNT_DEADLINE, || {
            Snapshot::take(&self.sock).get(counter) >= want
        });
        // A little longer: a late duplicate or a second counter would show.
        std::thread::sleep(Duration::from_millis(300));
        let after = Snapshot::take(&self.sock);
        let (samples, bad) = watch.finish();
        let lab = &self.lab;
        assert!(
            reached && after.get(counter) == want,
            "{case}: {counter:?} went {} -> {}, expected +{}\nafter: {:?} {:?}\n{}",
            before.get(counter),
            after.get(counter),
            sent,
            after.drops,
            after.router,
            lab.logs()
        );
        // Only the intended counter moved.
        let keys: BTreeSet<&String> = before.drops.keys().chain(after.drops.keys()).collect();
        for k in keys {
            if matches!(counter, Counter::Wire(c) if c == k.as_str()) {
                continue;
            }
            assert_eq!(
                before.drops.get(k),
                after.drops.get(k),
                "{case}: drop counter {k} moved too"
            );
        }
        for k in ROUTER_DROP_COUNTERS {
            if matches!(counter, Counter::Router(c) if c == *k) {
                continue;
            }
            let c = Counter::Router(k);
            assert_eq!(
                before.get(c),
                after.get(c),
                "{case}: router counter {k} moved too"
            );
        }
        assert_eq!(
            after.state,
            "Active",
            "{case}: ha-vip left Active\n{}",
            lab.logs()
        );
        assert_eq!(
            before.transitions,
            after.transitions,
            "{case}: a state change happened\n{}",
            lab.logs()
        );
        assert!(
            bad.is_empty() && samples > 0,
            "{case}: the VIP was not on ha-vip alone ({samples} samples): {bad:?}\n{}",
            lab.logs()
        );
    }

    /// utime + stime of ha-vip, in seconds.
    fn cpu_s(&self) -> f64 {
        let pid = self.lab.procs[self.pha].child.id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
        // Fields after the parenthesised command name; utime and stime are
        // fields 14 and 15 (proc(5)), i.e. 12 and 13 after the name.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let f: Vec<u64> = rest
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        (f[11] + f[12]) as f64 / ticks
    }

    fn log_lines(&self) -> usize {
        self.lab.log(self.pha).lines().count()
    }
}

/// Every malformed or misdirected advert, each sent three times to
/// 224.0.0.18 and three times to ha-vip's address, priority 250 (above the
/// Active's 200, so one accepted by mistake would take over), lands on
/// exactly the counter of its defect, six times, and on no other; no advert
/// is accepted; ha-vip stays Active and alone holds the VIP throughout,
/// with no state change. Cases: TTL 254 (RFC 9568 7.1), a bad checksum in
/// the pseudo-header form and in the RFC 9568 form, a truncated header, a
/// count above and below the carried addresses, a count of zero, 1000
/// trailing bytes, a 65535-byte datagram (fragmented on the wire,
/// reassembled by the kernel), an IPv6 address list in IPv4, interval 0
/// (to ha-vip's address only), versions 1 and 4, type 2, VRID 99 (no router), and a valid VRRPv2
/// advert at this VRRPv3 router (RFC 9568 7.1: version mismatch).
#[test]
fn malformed_adverts_are_counted_and_dropped() {
    let p = Pair::start("hostile-malformed", false, None);
    let cases: &[(&str, Counter, bool)] = &[
        ("ttl254", Counter::Wire("ttl_not_255"), false),
        ("bad-checksum-pseudo", Counter::Wire("bad_checksum"), false),
        ("bad-checksum-rfc", Counter::Wire("bad_checksum"), false),
        (
            "truncated-header",
            Counter::Wire("truncated_vrrp_header"),
            false,
        ),
        (
            "truncated-addresses",
            Counter::Wire("truncated_addresses"),
            false,
        ),
        ("count-high", Counter::Wire("truncated_addresses"), false),
        ("count-low", Counter::Wire("address_count_mismatch"), false),
        ("count-zero", Counter::Wire("zero_addresses"), false),
        (
            "oversize-trailing",
            Counter::Wire("address_count_mismatch"),
            false,
        ),
        (
            "oversize-fragmented",
            // Longer than any advert: flagged truncated by the kernel
            // (the daemon reads 4224 bytes per packet) and dropped unparsed.
            Counter::Wire("datagram_too_long"),
            false,
        ),
        (
            "family-mismatch",
            Counter::Wire("address_family_mismatch"),
            false,
        ),
        // Unicast only: keepalived 2.2.7, the Backup, accepts Max Adver Int 0
        // from a higher priority, its Master_Down_Interval collapses to
        // Skew_Time and it takes over, which would blur what ha-vip does.
        ("interval-zero", Counter::Wire("interval_zero"), true),
        ("version1", Counter::Wire("bad_version"), false),
        ("version4", Counter::Wire("bad_version"), false),
        ("type2", Counter::Wire("bad_type"), false),
        ("v2", Counter::Router("vrrpv3RouterVersionErrors"), false),
    ];
    for (case, counter, unicast_only) in cases {
        p.expect_dropped(case, *counter, 3, *unicast_only, &[]);
    }
    // VRID 99: no router of ours; counted, and logged once with its source.
    p.expect_dropped(
        "valid",
        Counter::Wire("vrid_unknown"),
        3,
        false,
        &["--vrid", "99"],
    );
    let log = p.lab.log(p.pha);
    let lines = log
        .lines()
        .filter(|l| l.contains("advert for VRID 99 from 192.0.2.66"))
        .count();
    assert_eq!(
        lines, 1,
        "the unknown VRID is logged once per source:\n{log}"
    );
}

/// Unicast mode (`unicast_peers = ["192.0.2.12"]` on ha-vip, keepalived
/// with `unicast_peer { 192.0.2.11 }`): a valid priority-255 advert from the
/// attacker, who is not in the peer list, sent to ha-vip's address and to
/// the group, is counted as `unicastPeerErrors` and ignored: ha-vip stays
/// Active, alone with the VIP, with no state change. An advert whose
/// checksum uses the group in the pseudo-header although it was sent
/// unicast (keepalived before 1.3.6) is a `bad_checksum`.
#[test]
fn unicast_mode_ignores_priority_255_from_a_stranger() {
    let p = Pair::start("hostile-unicast", true, None);
    p.expect_dropped(
        "valid",
        Counter::Router("unicastPeerErrors"),
        3,
        false,
        &["--priority", "255"],
    );
    p.expect_dropped(
        "bad-checksum-old-unicast",
        Counter::Wire("bad_checksum"),
        3,
        true,
        &["--priority", "255"],
    );
}

/// VRRPv2 (ha-vip `version = 2`, keepalived `vrrp_version 2`, 1 s
/// adverts): a valid v2 advert at priority 250 that carries Auth Type 1 and
/// a clear-text password is refused (`vrrpStatsAuthTypeMismatch`, RFC 3768
/// 7.1: ha-vip has no password configured) and changes nothing. The
/// password itself is readable by anyone on the link: it is no protection
/// (docs/security.md).
#[test]
fn v2_advert_with_a_password_is_refused() {
    let p = Pair::start_version("hostile-v2", false, None, 2);
    p.expect_dropped(
        "v2-pass",
        Counter::Router("vrrpStatsAuthTypeMismatch"),
        3,
        false,
        &[],
    );
}

/// IPv6 (RFC 9568 7.1: Hop Limit 255): ha-vip alone, Active for
/// 2001:db8::100 on VRID 51; a priority-250 advert to ff02::12 from the
/// attacker's link-local address with Hop Limit 254, three times, lands
/// three times on `ttl_not_255` and changes nothing; the very same advert
/// with Hop Limit 255 is accepted and makes ha-vip Backup, which shows that
/// the Hop Limit alone decided.
#[test]
fn ipv6_hop_limit_254_is_dropped() {
    let mut lab = Lab::new("hostile-v6");
    let ha = lab.add_node("ha", 11);
    let atk = lab.add_node("atk", 66);
    let sock = lab.dir.path().join("ha.sock");
    let daemon = format!("[control]\nsocket = \"{}\"\n", sock.display());
    lab.start_ha_vip(
        ha,
        &[("vip6", ha_router(51, 200, "2001:db8::100/64", "100ms", ""))],
        Some(&daemon),
    );
    assert!(
        wait_until(COUNT_DEADLINE, || sock.exists()
            && Snapshot::take(&sock).state == "Active"),
        "ha-vip never became Active\n{}",
        lab.logs()
    );
    let before = Snapshot::take(&sock);
    let ttl = Counter::Wire("ttl_not_255");
    run_hostile(&lab, atk, "ff02::12", None, &["--count", "3", "ttl254"]);
    let reached = wait_until(COUNT_DEADLINE, || {
        Snapshot::take(&sock).get(ttl) == before.get(ttl) + 3
    });
    let after = Snapshot::take(&sock);
    assert!(
        reached,
        "hop limit 254: ttl_not_255 {} -> {}\n{}",
        before.get(ttl),
        after.get(ttl),
        lab.logs()
    );
    assert_eq!(after.state, "Active");
    assert_eq!(before.transitions, after.transitions);
    assert!(lab.has_addr(ha, "2001:db8::100"));
    // Control: with Hop Limit 255 the same advert wins.
    run_hostile(&lab, atk, "ff02::12", None, &["--count", "3", "valid"]);
    assert!(
        wait_until(COUNT_DEADLINE, || Snapshot::take(&sock).state == "Backup"),
        "the Hop Limit 255 advert was not accepted: the test proves nothing\n{}",
        lab.logs()
    );
}

/// The flood's length: 3 s by default, 10 s with HA_VIP_LONG=1.
fn flood_seconds() -> &'static str {
    if std::env::var_os("HA_VIP_LONG").is_some() {
        "10"
    } else {
        "3"
    }
}

/// Result of one flood, for the report printed by the test.
struct Flood {
    sent: u64,
    pps: u64,
    wall_s: f64,
    cpu_s: f64,
    log_lines: usize,
    before: Snapshot,
    after: Snapshot,
}

/// Flood ha-vip's address at line rate for `flood_seconds()` with the given
/// hostile.py arguments (ha-vip logging at info, as in production), and
/// check what every flood must leave intact: Active, alone with the VIP
/// throughout, no state change, CPU under one core.
fn flood(test: &str, args: &[&str]) -> (Pair, Flood) {
    flood_logging(test, "info", args)
}

/// [`flood`] with ha-vip logging at `log`.
fn flood_logging(test: &str, log: &str, args: &[&str]) -> (Pair, Flood) {
    let p = Pair::start(test, false, Some(log));
    let before = Snapshot::take(&p.sock);
    let (cpu0, lines0, t0) = (p.cpu_s(), p.log_lines(), Instant::now());
    let watch = p.watch();
    let mut a = vec!["--seconds", flood_seconds()];
    a.extend_from_slice(args);
    a.push("flood");
    let out = p.hostile(&p.ha_ip(), &a);
    let (wall_s, cpu1) = (t0.elapsed().as_secs_f64(), p.cpu_s());
    let (samples, bad) = watch.finish();
    // The queue drains; the daemon must still answer.
    let after = Snapshot::take(&p.sock);
    let f = Flood {
        sent: out["sent"].as_u64().unwrap_or(0),
        pps: out["pps"].as_u64().unwrap_or(0),
        wall_s,
        cpu_s: cpu1 - cpu0,
        log_lines: p.log_lines() - lines0,
        before,
        after,
    };
    eprintln!(
        "{test}: sent {} packets ({} pps) in {:.1} s; ha-vip CPU {:.2} s = {:.0}% of one core; {} log lines; drops {:?}; router {:?}",
        f.sent,
        f.pps,
        f.wall_s,
        f.cpu_s,
        100.0 * f.cpu_s / f.wall_s,
        f.log_lines,
        f.after.drops,
        f.after.router
    );
    assert!(f.sent > 0, "the flood sent nothing: {out}");
    assert_eq!(
        f.after.state,
        "Active",
        "ha-vip left Active\n{}",
        p.lab.logs()
    );
    assert_eq!(
        f.before.transitions,
        f.after.transitions,
        "a state change happened during the flood\n{}",
        p.lab.logs()
    );
    assert!(
        bad.is_empty() && samples > 0,
        "the VIP was not on ha-vip alone during the flood ({samples} samples): {bad:?}\n{}",
        p.lab.logs()
    );
    // Generous: the runtime is single-threaded, so a busy loop shows as
    // about one core; this catches threads spinning beside it.
    assert!(
        f.cpu_s < f.wall_s,
        "ha-vip used {:.2} s CPU in {:.2} s\n{}",
        f.cpu_s,
        f.wall_s,
        p.lab.logs()
    );
    (p, f)
}

/// A line-rate flood of valid VRID 51 adverts at priority 100 (below the
/// Active's 200) at ha-vip's address: the adverts are received and
/// counted (`vrrpv3StatisticsRcvdAdvertisements` rises), nothing changes
/// state, the VIP stays on ha-vip alone, CPU stays under one core, the
/// log grows by a bounded number of lines (nothing per packet at info),
/// and ha-vip does not reflect the flood: it answers a lower priority at
/// most once per Advertisement_Interval (before, each flood packet cost an
/// advert and five broadcast ARPs).
#[test]
fn flood_of_lower_priority_adverts() {
    let (p, f) = flood("hostile-flood51", &["--vrid", "51", "--priority", "100"]);
    let rcvd = Counter::Router("vrrpv3StatisticsRcvdAdvertisements");
    assert!(
        f.after.get(rcvd) > f.before.get(rcvd),
        "the flood's adverts were never received\n{}",
        p.lab.logs()
    );
    assert!(
        f.log_lines < 20,
        "the log grew by {} lines during the flood:\n{}",
        f.log_lines,
        p.lab.log(p.pha)
    );
    // No reflection: at 100 ms, ten regular adverts a second plus at most
    // one answer (an advert and five gratuitous ARPs) per interval.
    let delta =
        |k: &'static str| f.after.get(Counter::Router(k)) - f.before.get(Counter::Router(k));
    let (adverts, arps) = (delta("sentAdvertisements"), delta("announcements"));
    let received = f.after.get(rcvd) - f.before.get(rcvd);
    eprintln!("received {received} adverts; sent {adverts} adverts and {arps} ARP rounds");
    let intervals = f.wall_s / 0.1;
    assert!(
        (adverts as f64) <= 2.0 * intervals + 10.0 && (arps as f64) <= 5.0 * intervals + 10.0,
        "ha-vip reflected the flood: {adverts} adverts and {arps} ARP rounds sent for {received} received in {:.1} s",
        f.wall_s
    );
}

/// A line-rate flood of lower-priority VRID 51 adverts whose address list
/// alternates between the VIP alone (matches ours) and the VIP plus
/// 192.0.2.101 (differs): every other one counts in
/// `vrrpv3StatisticsAddressListErrors`, and the "address list differs"
/// warning is logged at most once a minute (it was re-armed by every
/// matching advert, so this flood logged a line per two packets).
#[test]
fn flood_of_alternating_address_lists() {
    let (p, f) = flood(
        "hostile-flood-lists",
        &["--vrid", "51", "--priority", "100", "--alternate-lists"],
    );
    let errors = Counter::Router("vrrpv3StatisticsAddressListErrors");
    let counted = f.after.get(errors) - f.before.get(errors);
    let log = p.lab.log(p.pha);
    let warned = log
        .lines()
        .filter(|l| l.contains("address list differs"))
        .count();
    eprintln!("address list errors {counted}; warnings {warned}");
    assert!(counted > 1, "no address list error counted\n{log}");
    assert_eq!(
        warned, 1,
        "address list warnings not rate limited ({counted} errors)"
    );
    assert!(f.log_lines < 20, "the log grew by {} lines", f.log_lines);
}

/// A line-rate flood where every advert names another VRID (80..=99) from
/// another spoofed source of 192.0.2.0/24: 5060 distinct (source, VRID)
/// pairs. All are counted as `vrid_unknown`; the VIP stays put; and the
/// "matches no router of ours" warning, logged once per (source, VRID), is
/// bounded: at most `UNKNOWN_VRID_LOG_LIMIT` (256) lines and one line saying
/// that further ones are not logged, however many pairs arrive (before this
/// test the set and the log grew with every spoofed pair).
#[test]
fn flood_of_unknown_vrids_from_spoofed_sources() {
    let (p, f) = flood("hostile-flood-spoof", &["--spoof", "--priority", "100"]);
    let unknown = Counter::Wire("vrid_unknown");
    let counted = f.after.get(unknown) - f.before.get(unknown);
    assert!(
        counted > 0,
        "no vrid_unknown drop counted\n{}",
        p.lab.logs()
    );
    let log = p.lab.log(p.pha);
    let warned = log
        .lines()
        .filter(|l| l.contains("matches no router of ours"))
        .count();
    let capped = log
        .lines()
        .filter(|l| l.contains("not logging further"))
        .count();
    eprintln!("vrid_unknown drops {counted}; warnings {warned}; cap notices {capped}");
    assert!(
        counted > 256,
        "too few packets got through to test the cap ({counted}); machine overloaded?"
    );
    assert!(
        warned <= 256 && capped == 1,
        "unknown-VRID warnings not bounded: {warned} lines, {capped} cap notices ({counted} drops)"
    );
    assert!(
        f.log_lines <= 256 + 20,
        "the log grew by {} lines during the flood",
        f.log_lines
    );
}

/// ha-vip needs root for nothing: as user `nobody` with CAP_NET_ADMIN and
/// CAP_NET_RAW only (bounding, permitted, effective and ambient sets; what
/// deploy/daemonset.yaml and deploy/static-pod.yaml grant), it opens its
/// sockets, wins the election, adds the VIP, creates its control socket
/// owner-only, and on SIGTERM hands over and removes the VIP.
#[test]
fn runs_unprivileged_with_net_admin_and_net_raw_only() {
    use std::os::unix::fs::PermissionsExt;
    let mut lab = Lab::new("hostile-caps");
    let a = lab.add_node("a", 11);
    let base = lab.dir.path().to_path_buf();
    let cfg = base.join("cfg");
    let run = base.join("run");
    std::fs::create_dir_all(cfg.join("routers")).expect("mkdir");
    std::fs::create_dir_all(&run).expect("mkdir");
    let sock = run.join("ha.sock");
    std::fs::write(
        cfg.join("routers/vip.toml"),
        ha_router(51, 150, "192.0.2.100/24", "100ms", ""),
    )
    .expect("write");
    std::fs::write(
        cfg.join("ha-vip.toml"),
        format!("[control]\nsocket = \"{}\"\n", sock.display()),
    )
    .expect("write");
    // nobody reads the configuration and creates the socket in `run`.
    for (p, mode) in [
        (&base, 0o755),
        (&cfg, 0o755),
        (&cfg.join("routers"), 0o755),
        (&run, 0o777),
    ] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    let caps = "-all,+net_admin,+net_raw";
    let log = base.join("caps.log");
    let logf = std::fs::File::create(&log).expect("log");
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.ns(a),
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
        ])
        .args(["--clear-groups", "--no-new-privs"])
        .arg(format!("--inh-caps={caps}"))
        .arg(format!("--ambient-caps={caps}"))
        .arg(format!("--bounding-set={caps}"))
        .args([HA_VIP, "run", "--config"])
        .arg(&cfg)
        .env("HA_VIP_LOG", "info")
        .stdout(logf.try_clone().expect("dup"))
        .stderr(logf)
        .spawn()
        .expect("setpriv (util-linux)");
    lab.procs.push(Proc {
        node: a,
        kind: Kind::HaVip,
        child,
        log,
        config: cfg,
    });
    let p = lab.procs.len() - 1;
    assert!(
        wait_until(COUNT_DEADLINE, || lab.has_addr(a, VIP4)),
        "unprivileged ha-vip never added the VIP\n{}",
        lab.logs()
    );
    // setpriv execs: the pid is ha-vip's. Check what it really runs with.
    let pid = lab.procs[p].child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13: 0x3000.
    for set in ["CapEff:", "CapPrm:", "CapBnd:"] {
        assert_eq!(field(set), "0000000000003000", "{set}\n{status}");
    }
    assert!(field("Uid:").starts_with("65534"), "{status}");
    let st = Snapshot::take(&sock);
    assert_eq!(st.state, "Active");
    let meta = std::fs::metadata(&sock).expect("socket");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), 65534, "the socket belongs to the daemon's user");
    let exit = lab.signal(p, nix::sys::signal::Signal::SIGTERM);
    assert!(exit.success(), "exit {exit:?}\n{}", lab.logs());
    assert!(
        !lab.has_addr(a, VIP4),
        "VIP left behind after SIGTERM\n{}",
        lab.logs()
    );
}

/// A flood faster than ha-vip can read (here: TTL 254 adverts while it
/// logs every dropped packet at debug level, which makes each one
/// expensive), which it never answers: its own timers still run on time,
/// so the Active router sends at least nine adverts in ten intervals and
/// keepalived never takes over. Measured: with the socket served before
/// the timer, half the adverts went missing and keepalived took the VIP;
/// with the timer first but its readiness left to the reactor, 27 in 33
/// intervals (each advert about 20 ms late, two intervals at 10 ms); with
/// due timers also run after every read burst, 32 or 33.
#[test]
fn flood_faster_than_the_daemon_does_not_starve_its_timers() {
    let (p, f) = flood_logging(
        "hostile-flood-starve",
        "info,ha_vip=debug",
        &["--vrid", "51", "--priority", "250", "--ttl", "254"],
    );
    let sent = Counter::Router("sentAdvertisements");
    let adverts = f.after.get(sent) - f.before.get(sent);
    let intervals = f.wall_s / 0.1;
    eprintln!(
        "sent {adverts} adverts in {:.1} s ({intervals:.0} intervals)",
        f.wall_s
    );
    assert!(
        adverts as f64 >= intervals * 0.9,
        "ha-vip sent {adverts} adverts in {:.1} s of flood\n{}",
        f.wall_s,
        p.lab.logs()
    );
}
