//! Operating ha-vip: status, captures, metrics and notify hooks, against a
//! running daemon in a namespace lab with keepalived as the peer.

use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::lab::*;

/// Status shows the state, priorities, the Active router and the reason of
/// the last change; the text view names the same things; the control
/// socket is owner-only.
#[test]
fn status_reports_state_and_reason() {
    let mut lab = Lab::new("status");
    let a = lab.add_node("a", 11);
    let k = lab.add_node("k", 12);
    let sock = lab.dir.path().join("a.sock");
    let daemon = format!("[control]\nsocket = \"{}\"\n", sock.display());
    lab.start_ha_vip(
        a,
        &[("vip", ha_router(61, 100, "192.0.2.100/24", "100ms", ""))],
        Some(&daemon),
    );
    lab.start_keepalived(k, &keepalived_conf(61, 150, "192.0.2.100/24", "0.1", 3, ""));
    assert!(
        wait_until(Duration::from_secs(15), || lab.has_addr(k, "192.0.2.100")),
        "keepalived never became Active\n{}",
        lab.logs()
    );
    assert!(wait_until(Duration::from_secs(10), || sock.exists()));
    let mode = fs::metadata(&sock).expect("socket").permissions();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        mode.mode() & 0o777,
        0o600,
        "control socket must be owner-only"
    );

    let ok = wait_until(Duration::from_secs(10), || {
        let st = status_json(&sock);
        st["routers"][0]["active_router"]["address"] == "192.0.2.12"
    });
    assert!(
        ok,
        "status never showed keepalived as Active\n{}",
        lab.logs()
    );
    let st = status_json(&sock);
    let r = &st["routers"][0];
    assert_eq!(r["name"], "vip");
    assert_eq!(r["state"], "Backup");
    assert_eq!(r["vrid"], 61);
    assert_eq!(r["base_priority"], 100);
    assert_eq!(r["effective_priority"], 100);
    assert_eq!(r["active_router"]["priority"], 150);
    assert_eq!(r["learned_interval_cs"], 10);
    assert_eq!(r["last_transition"]["to"], "Backup");
    assert!(
        r["counters"]["vrrpv3StatisticsRcvdAdvertisements"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );

    let text = Command::new(HA_VIP)
        .args(["status", "--socket"])
        .arg(&sock)
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("vip  eth0 VRID 61 ipv4 v3  Backup"), "{text}");
    assert!(
        text.contains("active:      192.0.2.12 priority 150"),
        "{text}"
    );

    // Stop keepalived: ha-vip takes over, and status says why.
    let kp = lab.procs.len() - 1;
    lab.signal(kp, nix::sys::signal::Signal::SIGTERM);
    let ok = wait_until(Duration::from_secs(10), || {
        status_json(&sock)["routers"][0]["state"] == "Active"
    });
    assert!(ok, "ha-vip never became Active\n{}", lab.logs());
    let st = status_json(&sock);
    let reason = st["routers"][0]["last_transition"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.to_lowercase().contains("priority 0")
            || reason.to_lowercase().contains("priority zero"),
        "takeover after keepalived's priority-0 advert, got reason {reason:?}"
    );
}

/// `ha-vip capture` records sent and received adverts and sent GARPs; an
/// advert for a VRID we do not run is written with the drop reason as the
/// packet comment. Both `ha-vip decode` and tshark read the file, and both
/// show the comment.
#[test]
fn capture_is_readable_by_decode_and_tshark() {
    let mut lab = Lab::new("capture");
    let a = lab.add_node("a", 11);
    let k = lab.add_node("k", 12);
    let sock = lab.dir.path().join("a.sock");
    let daemon = format!("[control]\nsocket = \"{}\"\n", sock.display());
    lab.start_ha_vip(
        a,
        &[("vip", ha_router(62, 200, "192.0.2.100/24", "100ms", ""))],
        Some(&daemon),
    );
    // keepalived on another VRID: its adverts reach ha-vip and are dropped.
    lab.start_keepalived(k, &keepalived_conf(63, 100, "192.0.2.101/24", "0.1", 3, ""));
    assert!(wait_until(Duration::from_secs(10), || sock.exists()));
    let file = lab.dir.path().join("cap.pcapng");
    // Start the capture, then force a takeover burst inside it by cycling
    // ha-vip's link (GARPs go out when it becomes Active again).
    let mut cap = Command::new(HA_VIP)
        .args(["capture", "--duration", "4s", "-o"])
        .arg(&file)
        .arg("--socket")
        .arg(&sock)
        .spawn()
        .expect("capture");
    std::thread::sleep(Duration::from_millis(500));
    lab.link(a, false);
    lab.link(a, true);
    let st = cap.wait().expect("capture exit");
    assert!(st.success(), "capture failed\n{}", lab.logs());

    let out = Command::new(HA_VIP)
        .args(["decode", "--json"])
        .arg(&file)
        .output()
        .expect("decode");
    assert!(
        out.status.success(),
        "decode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let pkts: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let sent_vrid62 = pkts
        .iter()
        .filter(|p| p.to_string().contains("\"vrid\":62") && p.to_string().contains("192.0.2.11"))
        .count();
    assert!(
        sent_vrid62 >= 5,
        "expected our adverts in the capture, got {sent_vrid62}:\n{text}"
    );
    assert!(
        pkts.iter().any(|p| p["proto"] == "arp"),
        "no gratuitous ARP in the capture:\n{text}"
    );
    // ha-vip decode shows the daemon's verdict from the packet comment too.
    assert!(
        pkts.iter().any(|p| p["vrid"] == 63
            && p["comment"]
                .as_str()
                .is_some_and(|c| c.starts_with("dropped: vrid_unknown"))),
        "decode did not show the drop reason of the VRID 63 advert:\n{text}"
    );
    assert!(pkts.iter().any(|p| p["comment"] == "sent"), "{text}");

    // tshark reads it too, and shows the drop reason as the comment.
    let ts = Command::new("tshark")
        .args(["-r"])
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.comment",
            "-e",
            "vrrp.virt_rtr_id",
        ])
        .output()
        .expect("tshark (install: apt-get install tshark)");
    assert!(
        ts.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&ts.stderr)
    );
    let ts = String::from_utf8_lossy(&ts.stdout);
    assert!(
        ts.lines()
            .any(|l| l.starts_with("dropped: vrid_unknown") && l.ends_with("63")),
        "tshark did not show the dropped VRID 63 advert with its reason:\n{ts}"
    );
    assert!(ts.lines().any(|l| l.starts_with("sent")), "{ts}");
}

/// Metrics are Prometheus text with the router's state and priority, and
/// /healthz follows the real state.
#[test]
fn metrics_and_healthz() {
    let mut lab = Lab::new("metrics");
    let a = lab.add_node("a", 11);
    let daemon = format!(
        "[control]\nsocket = \"{}\"\n[metrics]\nlisten = \"127.0.0.1:9688\"\n",
        lab.dir.path().join("a.sock").display()
    );
    lab.start_ha_vip(
        a,
        &[
            ("vip", ha_router(64, 150, "192.0.2.100/24", "100ms", "")),
            // A router on an interface that does not exist keeps /healthz
            // at 503 with the reason.
            (
                "missing",
                "interface = \"nope0\"\nvrid = 65\naddresses = [\"192.0.2.101/24\"]\n".to_string(),
            ),
        ],
        Some(&daemon),
    );
    let ns = lab.ns(a).to_string();
    let get = |path: &str| -> (u16, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "/usr/bin/python3", "-c"])
            .arg(format!(
                "import urllib.request,urllib.error\n\
try:\n r=urllib.request.urlopen('http://127.0.0.1:9688{path}',timeout=3);print(r.status);print(r.read().decode())\n\
except urllib.error.HTTPError as e:\n print(e.code);print(e.read().decode())"
            ))
            .output()
            .expect("python3");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (code, body) = text.split_once('\n').unwrap_or(("0", ""));
        (code.trim().parse().unwrap_or(0), body.to_string())
    };
    let ok = wait_until(Duration::from_secs(15), || {
        get("/metrics").1.contains(r#"state="Active"} 1"#)
    });
    assert!(ok, "metrics never showed Active\n{}", lab.logs());
    let (code, body) = get("/metrics");
    assert_eq!(code, 200);
    // Parse the exposition: every sample line is NAME{LABELS} VALUE.
    let samples: Vec<(&str, f64)> = body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k, v.parse().ok()?))
        })
        .collect();
    let get_sample = |prefix: &str| {
        samples
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|s| s.1)
    };
    assert_eq!(
        get_sample(
            r#"ha_vip_router_state{router="vip",interface="eth0",vrid="64",family="ipv4",state="Active"}"#
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        get_sample(r#"ha_vip_router_effective_priority{router="vip""#),
        Some(150.0),
        "{body}"
    );
    assert!(
        get_sample(r#"ha_vip_router_announcements_total{router="vip""#).unwrap_or(0.0) >= 1.0,
        "{body}"
    );
    assert!(get_sample("ha_vip_router_last_takeover_timestamp_seconds").unwrap_or(0.0) > 1.0e9);
    let (code, body) = get("/healthz");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("missing: waiting: waiting for interface nope0"),
        "{body}"
    );
}

/// Notify programs are called in order with router, state and priority.
#[test]
fn notify_hook_records_transitions() {
    let mut lab = Lab::new("notify");
    let a = lab.add_node("a", 11);
    let record = lab.dir.path().join("calls.txt");
    let script = lab.dir.path().join("hook.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $2 $3 $HA_VIP_VRID\" >> {}\n",
            record.display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let extra = format!("notify = [\"{}\"]", script.display());
    lab.start_ha_vip(
        a,
        &[("vip", ha_router(66, 150, "192.0.2.100/24", "100ms", &extra))],
        None,
    );
    let ok = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(&record).is_ok_and(|t| t.contains("Active"))
    });
    assert!(ok, "notify never reported Active\n{}", lab.logs());
    let calls = fs::read_to_string(&record).unwrap_or_default();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(lines, ["vip Backup 150 66", "vip Active 150 66"], "{calls}");
}
