//! ha-vip beside FRR's vrrpd (Debian's frr 8.4), in namespaces.
//!
//! FRR runs as its documentation asks (zebra and vrrpd, one macvlan per
//! family with the virtual MAC and the VIPs, protodown while Backup); see
//! `Lab::start_frr`. Each test puts the two in one virtual router and
//! checks, from both sides, that they elect one Active router and that
//! each hears the other: ha-vip's status (the Active router it sees, its
//! receive counter) and FRR's `show vrrp json` (its state, `adverRx`). A
//! handover in each direction uses priority 0 (a clean stop), which each
//! must honour in the other's format.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::lab::*;
use crate::{SETTLE, VIP4, VIP6};

const VRID: u8 = 61;

fn frr_status(lab: &Lab, p: usize, fam: &str) -> String {
    lab.frr_show(p, VRID, fam)["status"]
        .as_str()
        .unwrap_or("(no answer)")
        .to_string()
}

fn frr_rx(lab: &Lab, p: usize, fam: &str) -> u64 {
    lab.frr_show(p, VRID, fam)["stats"]["adverRx"]
        .as_u64()
        .unwrap_or(0)
}

/// ha-vip's view of its one router: state, the Active router's address
/// and priority, adverts received.
/// All empty while the daemon is not answering yet.
fn ha_view(sock: &Path) -> (String, String, u64, u64) {
    let v = std::process::Command::new(HA_VIP)
        .args(["status", "--json", "--socket"])
        .arg(sock)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .unwrap_or(serde_json::Value::Null);
    let r = &v["routers"][0];
    (
        r["state"].as_str().unwrap_or("").to_string(),
        r["active_router"]["address"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        r["active_router"]["priority"].as_u64().unwrap_or(0),
        r["counters"]["vrrpv3StatisticsRcvdAdvertisements"]
            .as_u64()
            .unwrap_or(0),
    )
}

struct Pair {
    lab: Lab,
    ha_node: usize,
    frr_node: usize,
    client: usize,
    ha: usize,
    /// ha-vip's control socket (kept across a restart).
    sock: PathBuf,
    frr: usize,
    fam: &'static str,
    vip: &'static str,
}

/// ha-vip (priority `ha_prio`) on node "ha" and FRR (`frr_prio`) on node
/// "frr", 100 ms adverts, one VIP of the family of `vip`.
fn pair(
    test: &str,
    version: u8,
    vip: &'static str,
    ha_prio: u8,
    frr_prio: u8,
    ha_extra: &str,
    frr_extra: &[&str],
) -> Pair {
    let mut lab = Lab::new(test);
    let ha_node = lab.add_node("ha", 11);
    let frr_node = lab.add_node("frr", 12);
    let client = lab.add_node("cl", 50);
    let v6 = vip.contains(':');
    let prefixed = format!("{vip}/{}", if v6 { 64 } else { 24 });
    // VRRPv2 counts the interval in whole seconds.
    let (interval, interval_ms) = if version == 2 {
        ("1s", 1000)
    } else {
        ("100ms", 100)
    };
    let extra = if version == 2 {
        format!("version = 2\n{ha_extra}")
    } else {
        ha_extra.to_string()
    };
    let ha = lab.start_ha_vip(
        ha_node,
        &[("vip", ha_router(VRID, ha_prio, &prefixed, interval, &extra))],
        None,
    );
    let sock = lab.dir.path().join(format!("ctl-{ha_node}-{ha}.sock"));
    let r = FrrRouter {
        vrid: VRID,
        version,
        priority: frr_prio,
        interval_ms,
        ipv4: if v6 { vec![] } else { vec![prefixed.clone()] },
        ipv6: if v6 { vec![prefixed.clone()] } else { vec![] },
        extra: frr_extra.iter().map(|l| l.to_string()).collect(),
    };
    let frr = lab.start_frr(frr_node, &r);
    Pair {
        lab,
        ha_node,
        frr_node,
        client,
        ha,
        sock,
        frr,
        fam: if v6 { "v6" } else { "v4" },
        vip,
    }
}

impl Pair {
    fn frr_mac(&self) -> String {
        let fam_byte = if self.fam == "v6" { 2 } else { 1 };
        format!("00:00:5e:00:{fam_byte:02x}:{VRID:02x}")
    }

    /// ha-vip Active and holding the VIP, FRR Backup and hearing it.
    fn assert_ha_vip_active(&self) {
        let lab = &self.lab;
        let ok = wait_until(SETTLE, || {
            lab.has_addr(self.ha_node, self.vip)
                && ha_view(&self.sock).0 == "Active"
                && frr_status(lab, self.frr, self.fam) == "Backup"
        });
        assert!(
            ok,
            "expected ha-vip Active, FRR Backup: ha-vip {:?}, FRR {}\n{}",
            ha_view(&self.sock),
            frr_status(lab, self.frr, self.fam),
            lab.logs()
        );
        // FRR accepts ha-vip's adverts (version, checksum form, addresses):
        // its receive counter moves while it stays Backup.
        let rx0 = frr_rx(lab, self.frr, self.fam);
        let heard = wait_until(Duration::from_secs(5), || {
            frr_rx(lab, self.frr, self.fam) >= rx0 + 5
        });
        assert!(
            heard && frr_status(lab, self.frr, self.fam) == "Backup",
            "FRR does not count ha-vip's adverts (adverRx {} -> {}), state {}\n{}",
            rx0,
            frr_rx(lab, self.frr, self.fam),
            frr_status(lab, self.frr, self.fam),
            lab.logs()
        );
        let want = lab.nodes[self.ha_node].mac.clone();
        let ok = wait_until(SETTLE, || {
            lab.neighbour_mac(self.client, self.vip).as_deref() == Some(want.as_str())
        });
        assert!(
            ok,
            "client's entry for {} is {:?}, expected ha-vip's {want}\n{}",
            self.vip,
            lab.neighbour_mac(self.client, self.vip),
            lab.logs()
        );
    }

    /// FRR Master, ha-vip Backup hearing it (the Active router it reports
    /// is FRR's, at FRR's priority) and not holding the VIP.
    fn assert_frr_active(&self, frr_prio: u8) {
        let lab = &self.lab;
        let ok = wait_until(SETTLE, || {
            let (state, _, prio, _) = ha_view(&self.sock);
            state == "Backup"
                && prio == u64::from(frr_prio)
                && !lab.has_addr(self.ha_node, self.vip)
                && frr_status(lab, self.frr, self.fam) == "Master"
        });
        assert!(
            ok,
            "expected FRR Master, ha-vip Backup: ha-vip {:?} (holds VIP: {}), FRR {}\n{}",
            ha_view(&self.sock),
            lab.has_addr(self.ha_node, self.vip),
            frr_status(lab, self.frr, self.fam),
            lab.logs()
        );
        let (_, addr, _, rx0) = ha_view(&self.sock);
        if self.fam == "v4" {
            assert_eq!(addr, lab.nodes[self.frr_node].ip, "Active router address");
        } else {
            assert!(addr.starts_with("fe80::"), "FRR's IPv6 source {addr}");
        }
        let heard = wait_until(Duration::from_secs(5), || ha_view(&self.sock).3 >= rx0 + 5);
        assert!(heard, "ha-vip does not count FRR's adverts\n{}", lab.logs());
        let want = self.frr_mac();
        let ok = wait_until(SETTLE, || {
            lab.neighbour_mac(self.client, self.vip).as_deref() == Some(want.as_str())
        });
        assert!(
            ok,
            "client's entry for {} is {:?}, expected FRR's virtual MAC {want}\n{}",
            self.vip,
            lab.neighbour_mac(self.client, self.vip),
            lab.logs()
        );
    }

    /// FRR took over from a stopped ha-vip. (ha-vip sent priority 0; this
    /// checks the takeover, not whether FRR waited Skew_Time or the whole
    /// Master_Down_Interval: at 100 ms both are well inside SETTLE.)
    fn assert_frr_active_after_priority_zero(&self) {
        let lab = &self.lab;
        let ok = wait_until(SETTLE, || {
            frr_status(lab, self.frr, self.fam) == "Master" && !lab.has_addr(self.ha_node, self.vip)
        });
        assert!(
            ok,
            "FRR did not take over from a stopped ha-vip: FRR {}\n{}",
            frr_status(lab, self.frr, self.fam),
            lab.logs()
        );
    }
}

/// ha-vip above FRR: ha-vip is Active; its clean stop (priority 0) hands
/// over to FRR at once; restarted, it preempts FRR back.
fn ha_vip_above_frr(test: &str, version: u8, vip: &'static str, ha_extra: &str, frr: &[&str]) {
    let mut p = pair(test, version, vip, 150, 100, ha_extra, frr);
    p.assert_ha_vip_active();

    let status = p.lab.signal(p.ha, Signal::SIGTERM);
    assert!(status.success(), "ha-vip exit {status:?}\n{}", p.lab.logs());
    p.assert_frr_active_after_priority_zero();

    let cfg = p.lab.config_dir(p.ha).to_path_buf();
    p.ha = p.lab.spawn_ha_vip(p.ha_node, cfg);
    p.assert_ha_vip_active();
}

/// FRR above ha-vip: FRR is Master, ha-vip Backup; FRR's clean stop
/// (priority 0) hands over to ha-vip; restarted, FRR preempts back.
fn frr_above_ha_vip(test: &str, version: u8, vip: &'static str, ha_extra: &str, frr: &[&str]) {
    let mut p = pair(test, version, vip, 100, 150, ha_extra, frr);
    p.assert_frr_active(150);

    // vrrpd's clean stop sends priority 0 and puts its macvlan down.
    p.lab.signal(p.frr, Signal::SIGTERM);
    let lab = &p.lab;
    let ok = wait_until(SETTLE, || {
        ha_view(&p.sock).0 == "Active" && lab.has_addr(p.ha_node, p.vip)
    });
    assert!(ok, "ha-vip did not take over\n{}", lab.logs());
    let log = lab.log(p.ha);
    assert!(
        log.contains("Active router sent priority 0"),
        "ha-vip took over, but not on FRR's priority 0\n{log}"
    );

    p.frr = p.lab.restart_vrrpd(p.frr);
    p.assert_frr_active(150);
}

#[test]
fn frr_v3_ipv4_ha_vip_above_frr() {
    ha_vip_above_frr("frr-v3-4-ha", 3, VIP4, "", &[]);
}

#[test]
fn frr_v3_ipv4_frr_above_ha_vip() {
    frr_above_ha_vip("frr-v3-4-frr", 3, VIP4, "", &[]);
}

#[test]
fn frr_v3_ipv6_ha_vip_above_frr() {
    ha_vip_above_frr("frr-v3-6-ha", 3, VIP6, "", &[]);
}

#[test]
fn frr_v3_ipv6_frr_above_ha_vip() {
    frr_above_ha_vip("frr-v3-6-frr", 3, VIP6, "", &[]);
}

#[test]
fn frr_v2_ipv4_ha_vip_above_frr() {
    ha_vip_above_frr("frr-v2-ha", 2, VIP4, "", &[]);
}

#[test]
fn frr_v2_ipv4_frr_above_ha_vip() {
    frr_above_ha_vip("frr-v2-frr", 2, VIP4, "", &[]);
}

/// Debian 12's FRR (8.4) has no `checksum-with-ipv4-pseudoheader`
/// command (it came later): it sends and accepts only the RFC form, with
/// the pseudo-header. An ha-vip told to send the old form is never heard
/// by it, and what an operator then sees is checked here: FRR goes Master
/// with its receive counter still at 0, while ha-vip, which accepts
/// either form, hears FRR, stays Active at its higher priority and
/// reports the split brain (docs/interop.md).
#[test]
fn frr_v3_ipv4_checksum_form_mismatch_is_visible() {
    let p = pair(
        "frr-cksum",
        3,
        VIP4,
        150,
        100,
        "[checksum]\nsend = \"no-pseudo-header\"",
        &[],
    );
    let lab = &p.lab;
    let split = wait_until(SETTLE, || {
        frr_status(lab, p.frr, "v4") == "Master"
            && ha_view(&p.sock).0 == "Active"
            && lab
                .log(p.ha)
                .contains("split brain: 192.0.2.12 (priority 100) is Active too")
    });
    assert!(
        split,
        "expected both Active: ha-vip {:?}, FRR {}\n{}",
        ha_view(&p.sock),
        frr_status(lab, p.frr, "v4"),
        lab.logs()
    );
    // ha-vip keeps sending (it is Active) and FRR keeps dropping them.
    let (_, _, _, rx0) = ha_view(&p.sock);
    assert!(
        wait_until(Duration::from_secs(5), || ha_view(&p.sock).3 >= rx0 + 5),
        "ha-vip stopped hearing FRR\n{}",
        lab.logs()
    );
    assert_eq!(
        frr_rx(lab, p.frr, "v4"),
        0,
        "FRR 8.4 accepted an advert without the pseudo-header"
    );
    assert!(lab.has_addr(p.ha_node, VIP4), "ha-vip released the VIP");
}

/// IPv6 with a virtual MAC on the ha-vip side too: FRR hears ha-vip's
/// adverts (they leave from the macvlan's own link-local, as FRR's do; from
/// the parent's link-local the kernel refused every one with EINVAL), stays
/// Backup, the client reaches the VIP at the virtual MAC, and ha-vip's clean
/// stop hands over to FRR.
#[test]
fn frr_v3_ipv6_virtual_mac_on_both_sides() {
    let mut p = pair("frr-vmac6", 3, VIP6, 150, 100, "virtual_mac = true", &[]);
    let lab = &p.lab;
    let ok = wait_until(SETTLE, || {
        ha_view(&p.sock).0 == "Active" && frr_status(lab, p.frr, p.fam) == "Backup"
    });
    assert!(
        ok,
        "ha-vip {:?}, FRR {}\n{}",
        ha_view(&p.sock),
        frr_status(lab, p.frr, p.fam),
        lab.logs()
    );
    let rx0 = frr_rx(lab, p.frr, p.fam);
    let heard = wait_until(Duration::from_secs(5), || {
        frr_rx(lab, p.frr, p.fam) >= rx0 + 5
    });
    assert!(
        heard && frr_status(lab, p.frr, p.fam) == "Backup",
        "FRR does not count ha-vip's adverts\n{}",
        lab.logs()
    );
    sh(&format!(
        "ip netns exec {} ping -6 -c1 -W1 {} || true",
        lab.ns(p.client),
        p.vip
    ));
    let want = p.frr_mac();
    assert!(
        wait_until(SETTLE, || lab.neighbour_mac(p.client, p.vip).as_deref()
            == Some(want.as_str())),
        "client sees {:?}, expected the virtual MAC {want}\n{}",
        lab.neighbour_mac(p.client, p.vip),
        lab.logs()
    );
    let log = lab.log(p.ha);
    assert!(!log.contains("Invalid argument"), "refused adverts:\n{log}");
    let status = p.lab.signal(p.ha, Signal::SIGTERM);
    assert!(status.success(), "ha-vip exit {status:?}\n{}", p.lab.logs());
    p.assert_frr_active_after_priority_zero();
}
