//! Fault scenarios in network namespaces: link flaps, SIGKILL and restart,
//! reload storms, an interface deleted and created again, a VIP removed by
//! hand, realtime clock jumps, and a hanging API server.
//!
//! Each test says above it what it asserts. Faults are driven on a fixed
//! rhythm (a link down for 500 ms is the fault itself), but every outcome
//! is decided by polling with generous deadlines, never by a fixed sleep.
//! `HA_VIP_LONG=1` (`scripts/test.sh --long`) makes the flap last a minute.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use crate::apiserver::{Mode, StandIn};
use crate::health_support::TestPki;
use crate::lab::*;
use crate::{SETTLE, assert_sole_holder};

const VIP: &str = "192.0.2.100";

/// The long variants run when `HA_VIP_LONG=1`.
fn long() -> bool {
    std::env::var("HA_VIP_LONG").is_ok_and(|v| v == "1")
}

/// `ha-vip status --json`, or `None` while the daemon cannot answer.
fn status(sock: &Path) -> Option<Value> {
    let out = Command::new(HA_VIP)
        .args(["status", "--json", "--socket"])
        .arg(sock)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// One router of `status --json`, by name.
fn router(sock: &Path, name: &str) -> Option<Value> {
    status(sock)?["routers"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)
        .cloned()
}

/// Poll `router(sock, name)` until `f` holds for it; the last value seen.
fn wait_router(sock: &Path, name: &str, within: Duration, f: impl Fn(&Value) -> bool) -> bool {
    wait_until(within, || router(sock, name).is_some_and(|r| f(&r)))
}

/// What must not change while a router keeps its state: the transition
/// counts and the last transition (without its age, which grows).
fn state_fingerprint(r: &Value) -> (Value, Value, Value, Value, Value) {
    (
        r["state"].clone(),
        r["transitions"].clone(),
        r["last_transition"]["from"].clone(),
        r["last_transition"]["to"].clone(),
        r["last_transition"]["reason"].clone(),
    )
}

fn sent_adverts(r: &Value) -> u64 {
    r["counters"]["sentAdvertisements"].as_u64().unwrap_or(0)
}

/// A `[control]` table with a socket in the lab's directory.
fn control(lab: &Lab, name: &str) -> (String, PathBuf) {
    let sock = lab.dir.path().join(format!("{name}.sock"));
    (
        format!("[control]\nsocket = \"{}\"\n", sock.display()),
        sock,
    )
}

/// Send `sig` to a process and return at once.
fn send(lab: &Lab, p: usize, sig: Signal) {
    let pid = lab.procs[p].child.id();
    kill(Pid::from_raw(pid as i32), sig).expect("kill");
}

/// SIGHUP, then wait until the log shows the reload was handled (one more
/// `configuration reloaded` or `reload refused` line than before).
fn reload(lab: &Lab, p: usize) {
    let count =
        |l: &str| l.matches("configuration reloaded").count() + l.matches("reload refused").count();
    let before = count(&lab.log(p));
    send(lab, p, Signal::SIGHUP);
    let ok = wait_until(Duration::from_secs(15), || count(&lab.log(p)) > before);
    assert!(ok, "SIGHUP was not handled\n{}", lab.logs());
}

/// Two ha-vip daemons on one link, both with control sockets: `a` above
/// `b`, once `a` holds the VIP alone.
struct Pair {
    lab: Lab,
    a: usize,
    b: usize,
    pa: usize,
    pb: usize,
    sock_a: PathBuf,
    sock_b: PathBuf,
}

fn pair(test: &str, vrid: u8, interval: &str, prio_a: u8, prio_b: u8) -> Pair {
    let mut lab = Lab::new(test);
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let (da, sock_a) = control(&lab, "a");
    let (db, sock_b) = control(&lab, "b");
    let vip = format!("{VIP}/24");
    let pa = lab.start_ha_vip(
        a,
        &[("vip", ha_router(vrid, prio_a, &vip, interval, ""))],
        Some(&da),
    );
    let pb = lab.start_ha_vip(
        b,
        &[("vip", ha_router(vrid, prio_b, &vip, interval, ""))],
        Some(&db),
    );
    assert_sole_holder(&lab, &[a, b], VIP, a);
    assert!(
        wait_router(&sock_a, "vip", SETTLE, |r| r["state"] == "Active"),
        "a never reported Active\n{}",
        lab.logs()
    );
    Pair {
        lab,
        a,
        b,
        pa,
        pb,
        sock_a,
        sock_b,
    }
}

/// `ip monitor address` in a node's namespace, kept in a file: it sees
/// every address removal, however short, where polling could miss one.
struct AddrMonitor {
    child: Child,
    out: PathBuf,
}

impl AddrMonitor {
    fn start(lab: &Lab, node: usize) -> AddrMonitor {
        let out = lab.dir.path().join(format!("monitor-{node}.txt"));
        let file = fs::File::create(&out).expect("monitor file");
        let child = Command::new("ip")
            .args(["-n", lab.ns(node), "monitor", "address"])
            .stdout(file)
            .stderr(Stdio::null())
            .spawn()
            .expect("ip monitor");
        // Prove it is listening before the test relies on it: a marker
        // address (not a VIP) comes and goes and must show up.
        let ns = lab.ns(node);
        let seen = wait_until(Duration::from_secs(10), || {
            sh_quiet(&format!("ip -n {ns} addr add 198.51.100.254/32 dev lo"));
            sh_quiet(&format!("ip -n {ns} addr del 198.51.100.254/32 dev lo"));
            fs::read_to_string(&out).is_ok_and(|t| t.contains("198.51.100.254"))
        });
        assert!(seen, "ip monitor never reported the marker address");
        AddrMonitor { child, out }
    }

    /// The lines seen so far.
    fn text(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for AddrMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A log without its colour codes (`ESC [ ... letter`).
fn strip_ansi(text: &str) -> String {
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            clean.push(c);
        }
    }
    clean
}

/// Lines of `text` that report `addr` deleted.
fn deletions(text: &str, addr: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("Deleted") && l.contains(&format!(" {addr}/")))
        .map(str::to_string)
        .collect()
}

/// tcpdump on the lab's bridge (VRRP and ARP), decoded at the end with
/// `ha-vip decode --json`.
struct BridgeCapture {
    child: Child,
    pcap: PathBuf,
}

impl BridgeCapture {
    /// Start, and return once the capture holds a packet (an advert of the
    /// Active router, which must be running).
    fn start(lab: &Lab, name: &str) -> BridgeCapture {
        let pcap = lab.dir.path().join(format!("{name}.pcap"));
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
                "--immediate-mode",
            ])
            .arg("-w")
            .arg(&pcap)
            .args(["vrrp or arp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump");
        // pcap file header (24) + record header (16) + an advert frame.
        let capturing = wait_until(SETTLE, || {
            fs::metadata(&pcap).is_ok_and(|m| m.len() > 24 + 16 + 40)
        });
        assert!(capturing, "tcpdump on the bridge captured nothing");
        BridgeCapture { child, pcap }
    }

    /// Stop tcpdump (SIGINT: it flushes) and decode what it captured, one
    /// JSON value per packet.
    fn finish(mut self) -> Vec<Value> {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
        let _ = self.child.wait();
        let out = Command::new(HA_VIP)
            .args(["decode", "--json"])
            .arg(&self.pcap)
            .output()
            .expect("decode");
        assert!(out.status.success(), "decode failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for BridgeCapture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A decoded packet's capture time, in seconds since the epoch.
fn packet_time(d: &Value) -> f64 {
    d["time"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

fn epoch_s(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

// ---------------------------------------------------------------------
// 1. Link flap
// ---------------------------------------------------------------------

/// The Active router's link goes down and up every second, for 10 s
/// (a minute with HA_VIP_LONG=1), at 100 ms adverts, so every down is a
/// real failover and every up a preemption. Asserts afterwards: exactly
/// one holder (the higher priority, `a`), no VIP left on the Backup, both
/// daemons alive, the status of each side in the expected state, and
/// every link-down seen by `a` (one log line per down).
fn link_flap(peer_is_keepalived: bool) {
    let mut lab = Lab::new("flap");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let (da, sock_a) = control(&lab, "a");
    let (db, sock_b) = control(&lab, "b");
    let vip = format!("{VIP}/24");
    let pa = lab.start_ha_vip(
        a,
        &[("vip", ha_router(81, 150, &vip, "100ms", ""))],
        Some(&da),
    );
    let pb = if peer_is_keepalived {
        lab.start_keepalived(b, &keepalived_conf(81, 100, &vip, "0.1", 3, ""))
    } else {
        lab.start_ha_vip(
            b,
            &[("vip", ha_router(81, 100, &vip, "100ms", ""))],
            Some(&db),
        )
    };
    assert_sole_holder(&lab, &[a, b], VIP, a);

    let cycles = if long() { 60 } else { 10 };
    for _ in 0..cycles {
        lab.link(a, false);
        std::thread::sleep(Duration::from_millis(500));
        lab.link(a, true);
        std::thread::sleep(Duration::from_millis(500));
    }

    assert_sole_holder(&lab, &[a, b], VIP, a);
    assert!(lab.is_running(pa), "ha-vip on a died\n{}", lab.logs());
    assert!(lab.is_running(pb), "the peer on b died\n{}", lab.logs());
    assert!(
        wait_router(&sock_a, "vip", SETTLE, |r| r["state"] == "Active"),
        "a is not Active after the flap\n{}",
        lab.logs()
    );
    if !peer_is_keepalived {
        assert!(
            wait_router(&sock_b, "vip", SETTLE, |r| r["state"] == "Backup"),
            "b is not Backup after the flap\n{}",
            lab.logs()
        );
    }
    let downs = lab.log(pa).matches("interface eth0 down").count();
    assert_eq!(
        downs,
        cycles,
        "a saw {downs} link-downs of {cycles}\n{}",
        lab.logs()
    );
}

#[test]
fn link_flap_ha_vip_pair() {
    link_flap(false);
}

#[test]
fn link_flap_ha_vip_and_keepalived() {
    link_flap(true);
}

// ---------------------------------------------------------------------
// 2. SIGKILL and restart
// ---------------------------------------------------------------------

/// SIGKILL on the Active router leaves its VIP behind (a duplicate once
/// the Backup takes over). The restarted daemon removes the stale VIP
/// before it sends anything: the test sees the VIP gone from `a` at a
/// realtime instant earlier than the first packet `a` sends after the
/// restart in a capture on the bridge (tcpdump in the hub, decoded with
/// `ha-vip decode --json`; both stamps are CLOCK_REALTIME of one kernel,
/// and the observation is after the removal, so the order is proven).
/// The log shows the same order: removal, then configured, then Active.
/// At the end `a` (higher priority) holds the VIP alone.
#[test]
fn sigkill_restart_removes_stale_vip_before_announcing() {
    let mut p = pair("kill2", 82, "1s", 200, 100);
    let (a, b) = (p.a, p.b);
    let capture = BridgeCapture::start(&p.lab, "restart");

    p.lab.signal(p.pa, Signal::SIGKILL);
    assert!(
        p.lab.has_addr(a, VIP),
        "precondition: SIGKILL leaves the VIP on a"
    );
    // b takes over after Master_Down_Interval: both hold the VIP now.
    assert!(
        wait_until(SETTLE, || p.lab.holders(&[a, b], VIP) == vec![a, b]),
        "precondition: b takes over while the stale VIP is on a\n{}",
        p.lab.logs()
    );

    let restart_at = SystemTime::now();
    let cfg = p.lab.config_dir(p.pa).to_path_buf();
    let pa2 = p.lab.spawn_ha_vip(a, cfg);
    let mut gone_seen_at = None;
    let gone = wait_until(SETTLE, || {
        if !p.lab.has_addr(a, VIP) {
            gone_seen_at = Some(SystemTime::now());
            return true;
        }
        false
    });
    assert!(gone, "the stale VIP was never removed\n{}", p.lab.logs());
    assert_sole_holder(&p.lab, &[a, b], VIP, a);

    let packets = capture.finish();
    let restart_s = epoch_s(restart_at);
    // What a sent after the restart: adverts from its address, and ARP
    // with its MAC as the sender.
    let mac_a = p.lab.nodes[a].mac.clone();
    let first = packets
        .iter()
        .filter(|d| {
            let from_a = (d["proto"] == "vrrp" && d["src"] == "192.0.2.11")
                || (d["proto"] == "arp" && d["arp"]["sender_mac"] == mac_a.as_str());
            packet_time(d) > restart_s && from_a
        })
        .map(packet_time)
        .reduce(f64::min)
        .unwrap_or_else(|| panic!("no packet from a after the restart:\n{packets:#?}"));
    let gone_s = epoch_s(gone_seen_at.unwrap_or(UNIX_EPOCH));
    eprintln!(
        "restart +{:.3} s: stale VIP seen gone; +{:.3} s: first packet from a",
        gone_s - restart_s,
        first - restart_s
    );
    assert!(
        gone_s < first,
        "a sent a packet at {first} before its stale VIP was seen removed at {gone_s}"
    );

    let log = p.lab.log(pa2);
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("`{needle}` not in the log:\n{log}"))
    };
    let removed = at("removing 192.0.2.100/24 left on eth0 by an earlier run");
    let configured = at("virtual router configured");
    let active = at("-> Active");
    assert!(
        removed < configured && configured < active,
        "log order: removed {removed}, configured {configured}, Active {active}\n{log}"
    );
}

// ---------------------------------------------------------------------
// 3. SIGHUP reload storm, and reloads that change things
// ---------------------------------------------------------------------

/// 100 SIGHUPs with an unchanged configuration, each waited for in the
/// log: the Active router never changes state (transitions and
/// last_transition identical, still Active), the Backup neither, the VIP
/// is never removed from `a` (ip monitor sees no deletion), `b` never
/// holds it, and adverts keep flowing. Then: a new router file is started
/// by a reload; a broken file makes the reload refused (logged, naming the
/// file) and the running routers are untouched; removing a router file
/// stops that router cleanly, its VIP is removed and the peer takes over
/// in about Skew_Time (priority 0 advert), well before
/// Master_Down_Interval.
#[test]
fn sighup_storm_and_reload_changes() {
    let p = pair("hup", 83, "1s", 200, 100);
    let (a, b) = (p.a, p.b);
    let before_a = router(&p.sock_a, "vip").expect("status a");
    let before_b = router(&p.sock_b, "vip").expect("status b");
    assert_eq!(before_b["state"], "Backup");
    let monitor = AddrMonitor::start(&p.lab, a);

    let reloads = 100;
    for i in 0..reloads {
        reload(&p.lab, p.pa);
        assert!(
            p.lab.has_addr(a, VIP) && !p.lab.has_addr(b, VIP),
            "after reload {i}: holders {:?}\n{}",
            p.lab.holders(&[a, b], VIP),
            p.lab.logs()
        );
    }
    let log = strip_ansi(&p.lab.log(p.pa));
    let unchanged = log
        .lines()
        .filter(|l| l.contains("configuration reloaded"))
        .filter(|l| l.contains("kept=1") && l.contains("stopped=0") && l.contains("started=0"))
        .count();
    assert_eq!(unchanged, reloads, "each reload keeps the router:\n{log}");
    let after_a = router(&p.sock_a, "vip").expect("status a");
    let after_b = router(&p.sock_b, "vip").expect("status b");
    assert_eq!(state_fingerprint(&before_a), state_fingerprint(&after_a));
    assert_eq!(state_fingerprint(&before_b), state_fingerprint(&after_b));
    assert_eq!(after_a["state"], "Active");
    assert!(
        sent_adverts(&after_a) > sent_adverts(&before_a),
        "no adverts sent during the storm"
    );
    assert_eq!(
        deletions(&monitor.text(), VIP),
        Vec::<String>::new(),
        "the VIP left a during the storm"
    );

    // A new router file: the reload starts it (alone on VRID 84, it
    // becomes Active after Master_Down_Interval).
    let routers = p.lab.config_dir(p.pa).join("routers");
    fs::write(
        routers.join("second.toml"),
        ha_router(84, 150, "192.0.2.101/24", "1s", ""),
    )
    .expect("write");
    reload(&p.lab, p.pa);
    assert!(
        wait_router(&p.sock_a, "second", SETTLE, |r| r["state"] == "Active")
            && wait_until(SETTLE, || p.lab.has_addr(a, "192.0.2.101")),
        "the new router did not start\n{}",
        p.lab.logs()
    );
    let vip_before = router(&p.sock_a, "vip").expect("status");

    // A broken file: refused, named in the log, nothing changes.
    fs::write(
        routers.join("broken.toml"),
        "interface = \"eth0\"\nvrid = 300\naddresses = [\"192.0.2.102/24\"]\n",
    )
    .expect("write");
    reload(&p.lab, p.pa);
    let log = p.lab.log(p.pa);
    let refused = log
        .split("reload refused")
        .nth(1)
        .unwrap_or_else(|| panic!("no `reload refused` in the log:\n{log}"));
    assert!(
        refused.contains("broken.toml"),
        "refusal names the file:\n{log}"
    );
    let st = status(&p.sock_a).expect("status");
    let names: Vec<&str> = st["routers"]
        .as_array()
        .expect("routers")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["vip", "second"], "the old configuration runs on");
    let vip_after = router(&p.sock_a, "vip").expect("status");
    assert_eq!(
        state_fingerprint(&vip_before),
        state_fingerprint(&vip_after)
    );
    assert!(p.lab.has_addr(a, VIP) && p.lab.has_addr(a, "192.0.2.101"));
    fs::remove_file(routers.join("broken.toml")).expect("rm");

    // Removing a router file stops it cleanly: priority 0, VIP removed,
    // b takes over after Skew_Time (0.61 s at priority 100 and 1 s), far
    // sooner than Master_Down_Interval (3.61 s).
    fs::remove_file(routers.join("vip.toml")).expect("rm");
    let t0 = Instant::now();
    reload(&p.lab, p.pa);
    assert!(
        wait_until(SETTLE, || !p.lab.has_addr(a, VIP) && p.lab.has_addr(b, VIP)),
        "b did not take over after the router was removed\n{}",
        p.lab.logs()
    );
    let took = t0.elapsed();
    eprintln!("router file removed -> b holds the VIP: {took:?}");
    assert!(
        took < Duration::from_millis(2500),
        "takeover took {took:?}: the priority-0 handover was not used\n{}",
        p.lab.logs()
    );
    assert!(
        wait_router(&p.sock_b, "vip", SETTLE, |r| {
            r["state"] == "Active"
                && r["last_transition"]["reason"]
                    .as_str()
                    .is_some_and(|s| s.to_lowercase().contains("priority 0"))
        }),
        "b's takeover reason is not the priority-0 advert: {:?}",
        router(&p.sock_b, "vip")
    );
    assert!(
        p.lab
            .log(p.pa)
            .contains("reload: router removed or changed; stopping it")
    );
    let st = status(&p.sock_a).expect("status");
    let names: Vec<&str> = st["routers"]
        .as_array()
        .expect("routers")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, ["second"]);
    assert!(
        p.lab.has_addr(a, "192.0.2.101"),
        "the other router was disturbed"
    );
}

// ---------------------------------------------------------------------
// 4. Interface deleted and created again
// ---------------------------------------------------------------------

/// Create `eth0` again in `node` as the lab does: a veth into the bridge,
/// the same MAC (the same hardware), the same address, then up.
fn recreate_eth0(lab: &Lab, node: usize) {
    let n = &lab.nodes[node];
    let peer = format!("rc{node}");
    sh(&format!(
        "ip -n {ns} link add eth0 address {mac} type veth peer name {peer} netns {hub}",
        ns = n.ns,
        mac = n.mac,
        hub = lab.hub
    ));
    sh(&format!("ip -n {} link set {peer} master br0 up", lab.hub));
    sh(&format!(
        "ip -n {ns} addr add {ip}/24 dev eth0 && ip -n {ns} link set eth0 up",
        ns = n.ns,
        ip = n.ip
    ));
}

/// `ip link del eth0` under the Active router: it waits (status: state
/// "Waiting" with a reason naming eth0, log says so), `b` takes over;
/// eth0 created again: the router runs again (status leaves Waiting), `a`
/// preempts back, and at the end exactly one node holds the VIP.
#[test]
fn interface_deleted_and_recreated() {
    let mut p = pair("ifdel", 85, "100ms", 200, 100);
    let (a, b) = (p.a, p.b);
    sh(&format!("ip -n {} link del eth0", p.lab.ns(a)));
    let waiting = wait_router(&p.sock_a, "vip", SETTLE, |r| {
        r["state"] == "Waiting" && r["waiting"].as_str().is_some_and(|w| w.contains("eth0"))
    });
    assert!(
        waiting,
        "status did not show Waiting with a reason: {:?}\n{}",
        router(&p.sock_a, "vip"),
        p.lab.logs()
    );
    assert!(
        p.lab
            .log(p.pa)
            .contains("interface eth0 removed; waiting for it"),
        "{}",
        p.lab.logs()
    );
    assert!(
        wait_until(SETTLE, || p.lab.has_addr(b, VIP)),
        "b did not take over\n{}",
        p.lab.logs()
    );

    recreate_eth0(&p.lab, a);
    let running = wait_router(&p.sock_a, "vip", SETTLE, |r| {
        (r["state"] == "Backup" || r["state"] == "Active") && r["waiting"].is_null()
    });
    assert!(
        running,
        "the router did not run again: {:?}\n{}",
        router(&p.sock_a, "vip"),
        p.lab.logs()
    );
    assert_sole_holder(&p.lab, &[a, b], VIP, a);
    assert!(
        wait_router(&p.sock_b, "vip", SETTLE, |r| r["state"] == "Backup"),
        "{}",
        p.lab.logs()
    );
    assert!(
        p.lab.is_running(p.pa) && p.lab.is_running(p.pb),
        "a daemon died\n{}",
        p.lab.logs()
    );
}

/// eth0 gets a new MAC address (down, `ip link set address`, up), as
/// when a NIC is replaced or a bond changes its address: the router's
/// gratuitous ARPs afterwards carry the new MAC, never the old one, so
/// clients are not sent to an address that no longer exists. Read from a
/// capture on the bridge.
#[test]
fn mac_change_is_used_by_later_announcements() {
    let mut p = pair("macchg", 89, "100ms", 200, 100);
    let (a, b) = (p.a, p.b);
    let old_mac = p.lab.nodes[a].mac.clone();
    let new_mac = "02:00:00:00:aa:0b".to_string();
    let capture = BridgeCapture::start(&p.lab, "macchg");
    let changed_at = SystemTime::now();
    sh(&format!(
        "ip -n {ns} link set eth0 down && ip -n {ns} link set eth0 address {new_mac} && ip -n {ns} link set eth0 up",
        ns = p.lab.ns(a)
    ));
    p.lab.nodes[a].mac = new_mac.clone();
    // a left on link down, b took over, a preempts back: a announces anew.
    assert!(
        wait_router(&p.sock_a, "vip", SETTLE, |r| {
            r["state"] == "Active"
                && r["transitions"]["Initialize: interface down"].as_u64() == Some(1)
        }),
        "a did not become Active again\n{}",
        p.lab.logs()
    );
    assert_sole_holder(&p.lab, &[a, b], VIP, a);
    let packets = capture.finish();
    let garps: Vec<String> = packets
        .iter()
        .filter(|d| packet_time(d) > epoch_s(changed_at))
        .filter(|d| d["proto"] == "arp" && d["arp"]["gratuitous"] == true)
        .filter(|d| d["arp"]["sender_ip"] == VIP)
        .filter_map(|d| d["arp"]["sender_mac"].as_str().map(str::to_string))
        .collect();
    assert!(
        garps.contains(&new_mac),
        "no gratuitous ARP with a's new MAC after the change: {garps:?}\n{}",
        p.lab.logs()
    );
    assert!(
        !garps.contains(&old_mac),
        "gratuitous ARP with a's old MAC {old_mac} after the change: {garps:?}\n{}",
        p.lab.logs()
    );
}

/// The MAC changes while the link stays up (veth allows it, as bonds do):
/// the Active router re-announces at once with the new MAC, with no state
/// change, so clients do not wait for their ARP cache to expire.
#[test]
fn mac_change_while_active_is_announced_at_once() {
    let mut p = pair("macup", 88, "1s", 200, 100);
    let (a, b) = (p.a, p.b);
    let new_mac = "02:00:00:00:bb:0b".to_string();
    let before = router(&p.sock_a, "vip").expect("status");
    let capture = BridgeCapture::start(&p.lab, "macup");
    let changed_at = SystemTime::now();
    sh(&format!(
        "ip -n {} link set eth0 address {new_mac}",
        p.lab.ns(a)
    ));
    p.lab.nodes[a].mac = new_mac.clone();
    // The re-announcement is immediate; the regular second burst would only
    // come after `announce.delay` (5 s) of a takeover, and there is none.
    let seen = wait_until(Duration::from_secs(3), || {
        p.lab.log(p.pa).contains("has a new MAC address")
    });
    assert!(seen, "the MAC change was not noticed\n{}", p.lab.logs());
    std::thread::sleep(Duration::from_millis(300));
    let packets = capture.finish();
    let garps: Vec<f64> = packets
        .iter()
        .filter(|d| d["proto"] == "arp" && d["arp"]["gratuitous"] == true)
        .filter(|d| d["arp"]["sender_mac"] == new_mac.as_str())
        .map(packet_time)
        .collect();
    let first = garps.first().copied();
    assert!(
        first.is_some_and(|t| t - epoch_s(changed_at) < 2.0),
        "no gratuitous ARP with the new MAC within 2 s: {garps:?}\n{}",
        p.lab.logs()
    );
    let after = router(&p.sock_a, "vip").expect("status");
    assert_eq!(after["state"], "Active");
    assert_eq!(
        after["transitions"], before["transitions"],
        "no state change"
    );
    assert_sole_holder(&p.lab, &[a, b], VIP, a);
}

// ---------------------------------------------------------------------
// 5. VIP deleted by hand
// ---------------------------------------------------------------------

/// `ip addr del` of the VIP on the Active router: ha-vip puts it back
/// (soon, without a state change) and logs it; `b` never takes it.
#[test]
fn vip_deleted_by_hand_is_put_back() {
    let p = pair("vipdel", 86, "1s", 200, 100);
    let (a, b) = (p.a, p.b);
    let before = router(&p.sock_a, "vip").expect("status");
    sh(&format!("ip -n {} addr del {VIP}/24 dev eth0", p.lab.ns(a)));
    let t0 = Instant::now();
    assert!(
        wait_until(SETTLE, || p.lab.has_addr(a, VIP)),
        "the VIP was not put back\n{}",
        p.lab.logs()
    );
    eprintln!("VIP deleted by hand -> back on a: {:?}", t0.elapsed());
    assert!(
        p.lab
            .log(p.pa)
            .contains("192.0.2.100/24 was removed from eth0 while Active: putting it back"),
        "{}",
        p.lab.logs()
    );
    assert_sole_holder(&p.lab, &[a, b], VIP, a);
    let after = router(&p.sock_a, "vip").expect("status");
    assert_eq!(state_fingerprint(&before), state_fingerprint(&after));
}

// ---------------------------------------------------------------------
// 6. Realtime clock jumps
// ---------------------------------------------------------------------

/// libfaketime from Debian's `faketime` package, on whatever architecture:
/// `/usr/lib/<multiarch>/faketime/libfaketime.so.1`.
fn libfaketime() -> Option<PathBuf> {
    fs::read_dir("/usr/lib")
        .ok()?
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.exists())
}

/// Seconds since the epoch of the RFC 3339 UTC stamp that starts a log
/// line (`2026-11-24T15:50:00.123456Z`), colour codes stripped.
fn log_line_epoch(line: &str) -> Option<f64> {
    let clean = strip_ansi(line);
    let stamp = clean.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (hh, mm) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let ss: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + ss)
}

/// ha-vip runs under libfaketime with DONT_FAKE_MONOTONIC=1: its
/// CLOCK_REALTIME jumps back an hour, then forward two days, then back a
/// month, while CLOCK_MONOTONIC is untouched. Proof that the jump reached
/// the daemon: the log line of a reload after each jump carries the faked
/// time. Asserts: the Active router keeps its state (fingerprint
/// unchanged), its adverts keep their 100 ms interval across each jump
/// (sentAdvertisements over 2 s), and the peer (not faked) never takes
/// the VIP. A daemon timing with SystemTime would stall for an hour on the
/// first jump and the peer would take over in 0.36 s.
#[test]
fn realtime_jumps_do_not_disturb_the_daemon() {
    let libfaketime = libfaketime().unwrap_or_else(|| {
        panic!("prerequisite libfaketime is missing: run `sudo scripts/install-prereqs.sh`")
    });
    let mut lab = Lab::new("clock");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let (da, sock_a) = control(&lab, "a");
    let (db, _) = control(&lab, "b");
    let vip = format!("{VIP}/24");
    let cfg = lab.dir.path().join("ha-vip-faked");
    fs::create_dir_all(cfg.join("routers")).expect("mkdir");
    fs::write(
        cfg.join("routers/vip.toml"),
        ha_router(87, 200, &vip, "100ms", ""),
    )
    .expect("write");
    fs::write(cfg.join("ha-vip.toml"), da).expect("write");
    let offset_file = lab.dir.path().join("faketime");
    fs::write(&offset_file, "+0\n").expect("write");
    let log = lab.dir.path().join("ha-vip-faked.log");
    let logf = fs::File::create(&log).expect("log");
    let child = Command::new("ip")
        .args(["netns", "exec", lab.ns(a), HA_VIP, "run", "--config"])
        .arg(&cfg)
        .env("HA_VIP_LOG", "info,ha_vip=debug")
        .env("LD_PRELOAD", &libfaketime)
        .env("FAKETIME_TIMESTAMP_FILE", &offset_file)
        .env("FAKETIME_NO_CACHE", "1")
        .env("DONT_FAKE_MONOTONIC", "1")
        .stdin(Stdio::null())
        .stdout(logf.try_clone().expect("dup"))
        .stderr(logf)
        .spawn()
        .expect("spawn ha-vip under faketime");
    lab.procs.push(Proc {
        node: a,
        kind: Kind::HaVip,
        child,
        log,
        config: cfg,
    });
    let pa = lab.procs.len() - 1;
    lab.start_ha_vip(
        b,
        &[("vip", ha_router(87, 100, &vip, "100ms", ""))],
        Some(&db),
    );
    assert_sole_holder(&lab, &[a, b], VIP, a);
    assert!(
        wait_router(&sock_a, "vip", SETTLE, |r| r["state"] == "Active"),
        "{}",
        lab.logs()
    );
    let before = router(&sock_a, "vip").expect("status");
    let monitor = AddrMonitor::start(&lab, b);

    for (offset, shift_s) in [
        ("-1h", -3600.0),
        ("+2d", 2.0 * 86_400.0),
        ("-30d", -30.0 * 86_400.0),
    ] {
        fs::write(&offset_file, format!("{offset}\n")).expect("write offset");
        let real_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        reload(&lab, pa);
        let text = lab.log(pa);
        let line = text
            .lines()
            .rfind(|l| l.contains("configuration reloaded"))
            .unwrap_or_default();
        let logged =
            log_line_epoch(line).unwrap_or_else(|| panic!("no timestamp in the log line {line:?}"));
        let seen_shift = logged - real_now;
        assert!(
            (seen_shift - shift_s).abs() < 60.0,
            "faketime {offset} did not reach the daemon: log time off by {seen_shift} s"
        );

        // Adverts over 2 s after the jump: 20 at 100 ms.
        let r0 = router(&sock_a, "vip").expect("status");
        let t0 = Instant::now();
        let moved = wait_until(Duration::from_secs(2), || lab.has_addr(b, VIP));
        assert!(
            !moved,
            "b took the VIP after the jump {offset}\n{}",
            lab.logs()
        );
        let r1 = router(&sock_a, "vip").expect("status");
        let rate = (sent_adverts(&r1) - sent_adverts(&r0)) as f64 / t0.elapsed().as_secs_f64();
        eprintln!("after realtime {offset}: {rate:.1} adverts/s (expected 10)");
        assert!(
            (7.0..=13.0).contains(&rate),
            "advert rate {rate}/s after the jump {offset}, expected 10/s\n{}",
            lab.logs()
        );
        assert_eq!(state_fingerprint(&before), state_fingerprint(&r1));
    }
    assert!(
        !monitor.text().contains(VIP),
        "the VIP appeared on b during the jumps"
    );
    assert!(lab.is_running(pa), "{}", lab.logs());
}

// ---------------------------------------------------------------------
// 7. API-server check hanging
// ---------------------------------------------------------------------

/// The Active node's API server accepts TCP and never answers. The check
/// times out within its bound (500 ms), the node's priority drops after
/// the stability buffer, the VIP moves to the other node; meanwhile the
/// Active router's adverts keep their 100 ms interval (the protocol loop
/// is never blocked by the check: sentAdvertisements sampled over time,
/// no gap as long as a probe timeout). When the API server answers again
/// the VIP comes back.
#[test]
fn hanging_api_server_moves_the_vip_without_stalling_adverts() {
    let mut lab = Lab::new("hang");
    let pki = TestPki::new(&["kubernetes"]);
    let ca = lab.dir.path().join("ca.crt");
    fs::write(&ca, &pki.ca_pem).expect("write CA");
    let mut nodes = Vec::new();
    let mut api = Vec::new();
    let mut socks = Vec::new();
    for (i, prio) in [150u8, 140].iter().enumerate() {
        let n = lab.add_node(&format!("cp{i}"), 11 + i as u8);
        api.push(StandIn::start(lab.ns(n), &pki));
        let (ctl, sock) = control(&lab, &format!("cp{i}"));
        let daemon = format!(
            "{ctl}[k8s]\nenabled = true\napi_server = \"https://127.0.0.1:6443\"\nca_cert = \"{}\"\n\
             server_name = \"kubernetes\"\ninterval = \"200ms\"\ntimeout = \"500ms\"\nstability = \"1s\"\n",
            ca.display()
        );
        lab.start_ha_vip(
            n,
            &[(
                "api",
                ha_router(88, *prio, &format!("{VIP}/24"), "100ms", ""),
            )],
            Some(&daemon),
        );
        nodes.push(n);
        socks.push(sock);
    }
    assert_sole_holder(&lab, &nodes, VIP, nodes[0]);
    let healthy = wait_until(SETTLE, || {
        status(&socks[0]).is_some_and(|s| s["checks"][0]["healthy"] == true)
            && router(&socks[0], "api").is_some_and(|r| r["effective_priority"] == 150)
    });
    assert!(healthy, "cp0's check never became healthy\n{}", lab.logs());

    api[0].set(Mode::Hang);
    let t0 = Instant::now();
    // Sample cp0's sent adverts until it stops being Active.
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    let deadline = t0 + Duration::from_secs(20);
    while Instant::now() < deadline {
        let Some(r) = router(&socks[0], "api") else {
            continue;
        };
        if r["state"] != "Active" {
            break;
        }
        samples.push((Instant::now(), sent_adverts(&r)));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        wait_until(SETTLE, || lab.holders(&nodes, VIP) == vec![nodes[1]]),
        "the VIP did not move to cp1\n{}",
        lab.logs()
    );
    let took = t0.elapsed();
    eprintln!("API server hangs -> VIP on cp1: {took:?}");
    // interval 0.2 + timeout 0.5 + stability 1 + Master_Down 0.36 s, with
    // slack for a loaded machine.
    assert!(
        took < Duration::from_secs(6),
        "took {took:?}\n{}",
        lab.logs()
    );
    assert!(
        took > Duration::from_millis(900),
        "moved after {took:?}: the stability buffer was not applied"
    );

    let (first, last) = (samples.first().copied(), samples.last().copied());
    let (Some((ta, ca0)), Some((tb, cb))) = (first, last) else {
        panic!("no samples while cp0 was Active");
    };
    let span = tb.duration_since(ta).as_secs_f64();
    assert!(span > 0.8, "sampled only {span} s while Active");
    let rate = (cb - ca0) as f64 / span;
    let longest_gap = samples
        .windows(2)
        .fold((Duration::ZERO, ta, ca0), |(gap, since, count), w| {
            let (t, c) = w[1];
            if c > count {
                (gap, t, c)
            } else {
                (gap.max(t.duration_since(since)), since, count)
            }
        })
        .0;
    eprintln!(
        "while the check hung: {rate:.1} adverts/s over {span:.2} s, longest gap {longest_gap:?}"
    );
    assert!(
        (7.0..=13.0).contains(&rate),
        "advert rate {rate}/s while the check hung, expected 10/s"
    );
    assert!(
        longest_gap < Duration::from_millis(450),
        "adverts stalled for {longest_gap:?} (a probe timeout is 500 ms)"
    );

    let st = status(&socks[0]).expect("status");
    let check = &st["checks"][0];
    assert_eq!(check["healthy"], false, "{check}");
    assert!(
        check["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("timeout")),
        "{check}"
    );
    let latency = check["latency_ms"].as_f64().unwrap_or(f64::MAX);
    assert!(
        latency <= 500.0 + 250.0,
        "the probe took {latency} ms, its timeout is 500 ms"
    );
    let prio = router(&socks[0], "api").expect("status")["effective_priority"]
        .as_u64()
        .unwrap_or(255);
    assert!(prio < 140, "cp0's priority only dropped to {prio}");

    api[0].set(Mode::Ready);
    assert!(
        wait_until(SETTLE, || lab.holders(&nodes, VIP) == vec![nodes[0]]),
        "the VIP did not come back to cp0\n{}",
        lab.logs()
    );
}
