//! RFC 9568 receive rules against real peers, in namespaces
//! (docs/protocol.md, "Receive checks"; docs/interop.md, "IPv6").
//!
//! - A third host on the link sends well-formed adverts for our VRID, at
//!   priority 254 (above everyone), listing another cluster's VIP: ha-vip
//!   drops every one (`addressListMismatch`), and the VIP stays where it
//!   is, beside keepalived 2.2.7 and beside FRR 8.4.
//! - ha-vip as the address owner (priority 255) takes the VIP from an
//!   Active keepalived and discards lower-priority adverts
//!   (`addressOwnerDiscards`) without a state change.
//! - IPv6: what keepalived and FRR put first in the address list (the
//!   configured global address, not a link-local one) and that ha-vip
//!   accepts it; the source is the link-local address.
//!
//! The third host crafts its adverts with `scripts/hostile.py` (scapy).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::lab::*;
use crate::{SETTLE, VIP4, VIP6, assert_sole_holder};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/hostile.py");
/// Adverts the foreign cluster sends, one per 100 ms: 4 s, more than ten
/// Master_Down_Intervals of the 100 ms routers here.
const FOREIGN_ADVERTS: u64 = 40;
const COUNT_DEADLINE: Duration = Duration::from_secs(20);

/// Start hostile.py in `node`'s namespace (to the IPv4 group).
fn spawn_hostile(lab: &Lab, node: usize, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", lab.ns(node), "/usr/bin/python3", SCRIPT])
        .args(["--iface", "eth0", "--dst", "224.0.0.18"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/hostile.py")
}

fn finish_hostile(child: Child) {
    let out = child.wait_with_output().expect("hostile.py");
    assert!(
        out.status.success(),
        "hostile.py failed (needs python3-scapy): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn counter(sock: &Path, name: &str) -> u64 {
    status_json(sock)["routers"][0]["counters"][name]
        .as_u64()
        .unwrap_or(0)
}

fn state(sock: &Path) -> String {
    if !sock.exists() {
        return String::new();
    }
    status_json(sock)["routers"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn transitions(sock: &Path) -> serde_json::Value {
    status_json(sock)["routers"][0]["transitions"].clone()
}

/// ha-vip's control socket for its process `p` on `node`.
fn sock_of(lab: &Lab, node: usize, p: usize) -> PathBuf {
    lab.dir.path().join(format!("ctl-{node}-{p}.sock"))
}

/// While `sender` runs, sample the holders of VIP4 among `nodes` every
/// 50 ms; every sample where it is not `want` alone is returned.
fn holders_while(lab: &Lab, nodes: &[usize], want: usize, mut sender: Child) -> Vec<String> {
    let mut bad = Vec::new();
    let t0 = std::time::Instant::now();
    loop {
        let h = lab.holders(nodes, VIP4);
        if h != vec![want] {
            bad.push(format!("at {:?}: holders {h:?}", t0.elapsed()));
        }
        if sender.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    finish_hostile(sender);
    bad
}

/// The foreign cluster's adverts reach ha-vip (Active, 200) and its peer
/// (Backup, 100): ha-vip drops each one, counted, and nothing moves.
fn foreign_list_is_dropped(lab: &Lab, ha: usize, peer: usize, atk: usize, sock: &Path) {
    assert_sole_holder(lab, &[ha, peer], VIP4, ha);
    assert!(
        wait_until(SETTLE, || state(sock) == "Active"),
        "ha-vip never reported Active\n{}",
        lab.logs()
    );
    let drops0 = counter(sock, "addressListMismatch");
    let rcvd0 = counter(sock, "vrrpv3StatisticsRcvdAdvertisements");
    let trans0 = transitions(sock);
    let n = FOREIGN_ADVERTS.to_string();
    let sender = spawn_hostile(
        lab,
        atk,
        &[
            "--priority",
            "254",
            "--count",
            &n,
            "--gap",
            "0.1",
            "other-list",
        ],
    );
    let bad = holders_while(lab, &[ha, peer], ha, sender);
    let want = drops0 + FOREIGN_ADVERTS;
    let counted = wait_until(COUNT_DEADLINE, || {
        counter(sock, "addressListMismatch") >= want
    });
    assert!(
        counted && counter(sock, "addressListMismatch") == want,
        "addressListMismatch {} -> {}, expected +{FOREIGN_ADVERTS}\n{}",
        drops0,
        counter(sock, "addressListMismatch"),
        lab.logs()
    );
    assert!(
        bad.is_empty(),
        "the VIP left ha-vip while a foreign cluster advertised: {bad:?}\n{}",
        lab.logs()
    );
    assert_eq!(
        counter(sock, "vrrpv3StatisticsRcvdAdvertisements"),
        rcvd0,
        "a foreign advert was processed"
    );
    assert_eq!(state(sock), "Active");
    assert_eq!(transitions(sock), trans0, "a state change happened");
    let log = lab.log(0);
    let warned = log
        .lines()
        .filter(|l| l.contains("address list differs") && l.contains("192.0.2.66"))
        .count();
    assert_eq!(
        warned, 1,
        "one rate-limited warning naming the sender\n{log}"
    );
}

/// Beside keepalived 2.2.7 (which ignores such adverts as well).
#[test]
fn foreign_address_list_is_dropped_beside_keepalived() {
    let mut lab = Lab::new("rfc-list-ka");
    let ha = lab.add_node("ha", 11);
    let ka = lab.add_node("ka", 12);
    let atk = lab.add_node("atk", 66);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(51, 200, "192.0.2.100/24", "100ms", ""))],
        None,
    );
    assert_eq!(p, 0, "ha-vip's log is process 0");
    let kp = lab.start_keepalived(
        ka,
        &keepalived_conf(51, 100, "192.0.2.100/24", "0.1", 3, ""),
    );
    let sock = sock_of(&lab, ha, p);
    foreign_list_is_dropped(&lab, ha, ka, atk, &sock);
    // keepalived did not follow the stranger into Master either, and says
    // why in its log.
    let klog = lab.log(kp);
    assert!(
        !klog.contains("Entering MASTER STATE"),
        "keepalived went Master:\n{klog}"
    );
    assert!(
        klog.contains("not present in MASTER advert"),
        "keepalived 2.2.7 drops it too, with this line:\n{klog}"
    );
    eprintln!(
        "keepalived on the foreign list: {:?}",
        klog.lines()
            .filter(|l| {
                let l = l.to_lowercase();
                l.contains("mismatch") || l.contains("not present") || l.contains("ignoring")
            })
            .take(4)
            .collect::<Vec<_>>()
    );
}

/// Beside FRR 8.4 (Backup): ha-vip keeps the VIP; FRR stays Backup.
#[test]
fn foreign_address_list_is_dropped_beside_frr() {
    require_frr();
    let mut lab = Lab::new("rfc-list-frr");
    let ha = lab.add_node("ha", 11);
    let fr = lab.add_node("frr", 12);
    let atk = lab.add_node("atk", 66);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(61, 200, "192.0.2.100/24", "100ms", ""))],
        None,
    );
    assert_eq!(p, 0, "ha-vip's log is process 0");
    let frr = lab.start_frr(
        fr,
        &FrrRouter {
            vrid: 61,
            version: 3,
            priority: 100,
            interval_ms: 100,
            ipv4: vec!["192.0.2.100/24".to_string()],
            ipv6: vec![],
            extra: vec![],
        },
    );
    let sock = sock_of(&lab, ha, p);
    let frr_state = |lab: &Lab| {
        lab.frr_show(frr, 61, "v4")["status"]
            .as_str()
            .unwrap_or("(no answer)")
            .to_string()
    };
    assert!(
        wait_until(SETTLE, || frr_state(&lab) == "Backup"),
        "FRR is {}\n{}",
        frr_state(&lab),
        lab.logs()
    );
    // VRID 61 here: the sender's adverts name it.
    assert_sole_holder(&lab, &[ha, fr], VIP4, ha);
    let drops0 = counter(&sock, "addressListMismatch");
    let sender = spawn_hostile(
        &lab,
        atk,
        &[
            "--vrid",
            "61",
            "--priority",
            "254",
            "--count",
            &FOREIGN_ADVERTS.to_string(),
            "--gap",
            "0.1",
            "other-list",
        ],
    );
    let bad = holders_while(&lab, &[ha, fr], ha, sender);
    let want = drops0 + FOREIGN_ADVERTS;
    assert!(
        wait_until(COUNT_DEADLINE, || counter(&sock, "addressListMismatch")
            >= want)
            && counter(&sock, "addressListMismatch") == want,
        "addressListMismatch {} -> {}\n{}",
        drops0,
        counter(&sock, "addressListMismatch"),
        lab.logs()
    );
    assert!(bad.is_empty(), "the VIP moved: {bad:?}\n{}", lab.logs());
    assert_eq!(state(&sock), "Active");
    assert_eq!(frr_state(&lab), "Backup", "FRR left Backup\n{}", lab.logs());
}

/// ha-vip as the address owner (255) beside keepalived (200, started first
/// and Master): ha-vip takes the VIP at once and keeps it; lower-priority
/// adverts from a third host are discarded by the owner, counted, with no
/// state change (RFC 9568 7.1).
#[test]
fn owner_takes_over_from_keepalived_and_discards_lower_adverts() {
    let mut lab = Lab::new("rfc-owner-ka");
    let ha = lab.add_node("ha", 11);
    let ka = lab.add_node("ka", 12);
    let atk = lab.add_node("atk", 66);
    let kp = lab.start_keepalived(
        ka,
        &keepalived_conf(51, 200, "192.0.2.100/24", "0.1", 3, ""),
    );
    assert_sole_holder(&lab, &[ha, ka], VIP4, ka);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(51, 255, "192.0.2.100/24", "100ms", ""))],
        None,
    );
    let sock = sock_of(&lab, ha, p);
    assert_sole_holder(&lab, &[ha, ka], VIP4, ha);
    assert!(
        wait_until(SETTLE, || state(&sock) == "Active"),
        "{}",
        lab.logs()
    );
    // Straight to Active (OwnerStartup) and never left.
    let trans0 = transitions(&sock);
    // `transitions` counts changes by "State: reason".
    let only = trans0
        .as_object()
        .is_some_and(|m| m.len() == 1 && m.keys().all(|k| k.contains("address owner")));
    assert!(only, "owner transitions: {trans0}");
    let klog = lab.log(kp);
    assert!(
        klog.contains("Entering BACKUP STATE"),
        "keepalived did not yield:\n{klog}"
    );
    let discards0 = counter(&sock, "addressOwnerDiscards");
    let rcvd0 = counter(&sock, "vrrpv3StatisticsRcvdAdvertisements");
    let sender = spawn_hostile(
        &lab,
        atk,
        &[
            "--priority",
            "254",
            "--count",
            "20",
            "--gap",
            "0.05",
            "valid",
        ],
    );
    let bad = holders_while(&lab, &[ha, ka], ha, sender);
    let want = discards0 + 20;
    assert!(
        wait_until(COUNT_DEADLINE, || counter(&sock, "addressOwnerDiscards")
            >= want)
            && counter(&sock, "addressOwnerDiscards") == want,
        "addressOwnerDiscards {} -> {}\n{}",
        discards0,
        counter(&sock, "addressOwnerDiscards"),
        lab.logs()
    );
    assert_eq!(counter(&sock, "vrrpv3StatisticsRcvdAdvertisements"), rcvd0);
    assert!(bad.is_empty(), "the VIP moved: {bad:?}\n{}", lab.logs());
    assert_eq!(transitions(&sock), trans0);
}

/// Capture `count` IPv6 VRRP packets on `node`'s eth0 and decode them.
fn capture_v6_adverts(lab: &Lab, node: usize, count: u32) -> Vec<String> {
    let pcap = lab.dir.path().join(format!("v6-{node}.pcap"));
    let out = Command::new("ip")
        .args(["netns", "exec", lab.ns(node), "timeout", "20", "tcpdump"])
        .args(["-i", "eth0", "-U", "-c", &count.to_string(), "-w"])
        .arg(&pcap)
        .arg("ip6 and ip6[6] == 112")
        .output()
        .expect("tcpdump");
    assert!(
        pcap.exists(),
        "tcpdump wrote nothing: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(HA_VIP)
        .arg("decode")
        .arg(&pcap)
        .output()
        .expect("ha-vip decode");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("VRRPv3"))
        .map(str::to_string)
        .collect()
}

/// What the peer sends over IPv6: from its link-local address, with the
/// configured global VIP first (no link-local first address, which RFC
/// 9568 5.2.9 asks for and erratum 8300 would have receivers check); and
/// ha-vip, a Backup below it, accepts and follows it.
fn ipv6_peer_sends_global_first(lab: &Lab, ha: usize, sock: &Path, peer: &str) {
    let ok = wait_until(SETTLE, || {
        state(sock) == "Backup"
            && status_json(sock)["routers"][0]["active_router"]["address"]
                .as_str()
                .is_some_and(|a| a.starts_with("fe80:"))
    });
    assert!(ok, "ha-vip does not follow {peer}\n{}", lab.logs());
    let lines = capture_v6_adverts(lab, ha, 3);
    assert!(!lines.is_empty(), "no IPv6 advert captured from {peer}");
    for l in &lines {
        assert!(
            l.contains("fe80:"),
            "{peer}'s source is not link-local: {l}"
        );
        assert!(l.contains("> ff02::12"), "{l}");
        assert!(
            l.contains(&format!("addrs [{VIP6}]")),
            "{peer}'s address list is not the configured VIP alone: {l}"
        );
    }
    eprintln!("{peer} sends: {}", lines[0]);
    assert_eq!(
        counter(sock, "addressListMismatch"),
        0,
        "ha-vip dropped {peer}'s list"
    );
}

#[test]
fn ipv6_keepalived_sends_the_global_address_first() {
    let mut lab = Lab::new("rfc-v6-ka");
    let ha = lab.add_node("ha", 11);
    let ka = lab.add_node("ka", 12);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(51, 100, "2001:db8::100/64", "100ms", ""))],
        None,
    );
    lab.start_keepalived(
        ka,
        &keepalived_conf(51, 200, "2001:db8::100/64", "0.1", 3, ""),
    );
    let sock = sock_of(&lab, ha, p);
    ipv6_peer_sends_global_first(&lab, ha, &sock, "keepalived");
}

#[test]
fn ipv6_frr_sends_the_global_address_first() {
    require_frr();
    let mut lab = Lab::new("rfc-v6-frr");
    let ha = lab.add_node("ha", 11);
    let fr = lab.add_node("frr", 12);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(61, 100, "2001:db8::100/64", "100ms", ""))],
        None,
    );
    lab.start_frr(
        fr,
        &FrrRouter {
            vrid: 61,
            version: 3,
            priority: 200,
            interval_ms: 100,
            ipv4: vec![],
            ipv6: vec!["2001:db8::100/64".to_string()],
            extra: vec![],
        },
    );
    let sock = sock_of(&lab, ha, p);
    ipv6_peer_sends_global_first(&lab, ha, &sock, "FRR");
}

/// And what ha-vip sends: from eth0's link-local address, the configured
/// list as is; keepalived (Backup below it) accepts it.
#[test]
fn ipv6_ha_vip_sends_from_link_local_with_the_configured_list() {
    let mut lab = Lab::new("rfc-v6-ha");
    let ha = lab.add_node("ha", 11);
    let ka = lab.add_node("ka", 12);
    let p = lab.start_ha_vip(
        ha,
        &[("vip", ha_router(51, 200, "2001:db8::100/64", "100ms", ""))],
        None,
    );
    let kp = lab.start_keepalived(
        ka,
        &keepalived_conf(51, 100, "2001:db8::100/64", "0.1", 3, ""),
    );
    let sock = sock_of(&lab, ha, p);
    assert!(
        wait_until(SETTLE, || state(&sock) == "Active"
            && lab.has_addr(ha, VIP6)),
        "{}",
        lab.logs()
    );
    let lines = capture_v6_adverts(&lab, ka, 3);
    assert!(!lines.is_empty(), "no advert of ha-vip captured");
    for l in &lines {
        assert!(l.contains("fe80:"), "not from link-local: {l}");
        assert!(l.contains(&format!("addrs [{VIP6}]")), "{l}");
    }
    // keepalived stays Backup: it accepts ha-vip's adverts.
    let flapped = wait_until(Duration::from_secs(2), || lab.has_addr(ka, VIP6));
    assert!(!flapped, "keepalived took the VIP\n{}", lab.logs());
    assert!(
        !lab.log(kp).contains("Entering MASTER STATE"),
        "{}",
        lab.log(kp)
    );
}

/// IPv6 unicast: with the source always link-local (`source_address` may
/// not be global any more), peers are listed by their link-local
/// addresses, and two ha-vip nodes elect one Active router that way.
#[test]
fn ipv6_unicast_peers_by_link_local_address() {
    let mut lab = Lab::new("rfc-v6-uni");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    // EUI-64 link-locals of the lab's MACs 02:00:00:00:01:0b, 02:00:00:00:02:0c.
    let (ll_a, ll_b) = ("fe80::ff:fe00:10b", "fe80::ff:fe00:20c");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(
                52,
                150,
                "2001:db8::100/64",
                "100ms",
                &format!("unicast_peers = [\"{ll_b}\"]"),
            ),
        )],
        None,
    );
    let pb = lab.start_ha_vip(
        b,
        &[(
            "vip",
            ha_router(
                52,
                100,
                "2001:db8::100/64",
                "100ms",
                &format!("unicast_peers = [\"{ll_a}\"]"),
            ),
        )],
        None,
    );
    let (sa, sb) = (sock_of(&lab, a, pa), sock_of(&lab, b, pb));
    let ok = wait_until(SETTLE, || {
        state(&sa) == "Active"
            && state(&sb) == "Backup"
            && lab.holders(&[a, b], VIP6) == vec![a]
            && counter(&sb, "vrrpv3StatisticsRcvdAdvertisements") > 5
    });
    assert!(
        ok,
        "a {} b {}, holders {:?}\n{}",
        state(&sa),
        state(&sb),
        lab.holders(&[a, b], VIP6),
        lab.logs()
    );
    assert_eq!(
        status_json(&sb)["routers"][0]["active_router"]["address"].as_str(),
        Some(ll_a)
    );
    assert_eq!(counter(&sb, "unicastPeerErrors"), 0);
}
