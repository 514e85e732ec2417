use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use super::exposition::*;
use super::*;
use crate::status::{CheckStatus, TrackedStatus, TransitionCount};
use crate::status::{LatencyHistogram, RouterStatus};

fn sample() -> Status {
    let mut latency = LatencyHistogram::default();
    for ms in [1, 2, 30] {
        latency.observe(Duration::from_millis(ms));
    }
    Status {
        version: "0.1.0".into(),
        uptime_s: 5.0,
        routers: vec![RouterStatus {
            name: "api".into(),
            interface: "eth0".into(),
            vrid: 51,
            family: "ipv4".into(),
            state: "Backup".into(),
            base_priority: 150,
            effective_priority: 100,
            advert_interval_cs: 100,
            master_down_interval_ms: 3609.4,
            tracked: vec![TrackedStatus {
                check: "k8s".into(),
                weight: -50,
                failed: true,
            }],
            counters: crate::core::Counters::default()
                .iter()
                .map(|(k, _)| (k.to_string(), 7))
                .chain([("someNewCounter".to_string(), 1)])
                .collect(),
            transitions_by_class: vec![
                TransitionCount {
                    to: "Active".into(),
                    reason: "master_down".into(),
                    count: 2,
                },
                TransitionCount {
                    to: "Backup".into(),
                    reason: "higher_priority".into(),
                    count: 1,
                },
            ],
            announcements_sent: 10,
            last_takeover_unix_s: Some(1_700_000_000.5),
            ..Default::default()
        }],
        drops: BTreeMap::from([("ttl_not_255".into(), 3)]),
        checks: vec![CheckStatus {
            name: "k8s".into(),
            healthy: false,
            probes: 3,
            failures: 1,
            latency,
            ..Default::default()
        }],
        ..Default::default()
    }
}

const ID: &str = r#"router="api",interface="eth0",vrid="51",family="ipv4""#;

#[test]
fn one_metric_per_counter_with_its_mib_name_in_help() {
    let text = render(&sample());
    for (counter, name, help) in ROUTER_COUNTERS {
        assert!(
            text.contains(&format!("ha_vip_router_{name}_total{{{ID}}} 7\n")),
            "{counter}: {text}"
        );
        assert!(
            text.contains(&format!("# HELP ha_vip_router_{name}_total {help}\n")),
            "{counter}"
        );
        if counter.starts_with("vrrp") {
            assert!(
                help.contains(counter),
                "{counter}: HELP must keep the MIB name"
            );
        }
    }
    // A counter the table does not know is still exported, by its name.
    assert!(
        text.contains(&format!("ha_vip_router_some_new_counter_total{{{ID}}} 1\n")),
        "{text}"
    );
    assert!(!text.contains("counter=\""), "{text}");
}

#[test]
fn every_counter_of_the_core_has_a_described_metric() {
    for (counter, _) in crate::core::Counters::default().iter() {
        assert!(
            ROUTER_COUNTERS.iter().any(|(c, _, _)| *c == counter),
            "core counter {counter} has no entry in ROUTER_COUNTERS (name, HELP) and none in docs/operations.md"
        );
    }
    let mut names: Vec<&str> = ROUTER_COUNTERS.iter().map(|(_, n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), ROUTER_COUNTERS.len());
}

#[test]
fn counter_names_become_snake_case_without_mib_prefixes() {
    assert_eq!(
        counter_metric_name("vrrpv3StatisticsPacketLengthErrors"),
        "packet_length_errors"
    );
    assert_eq!(
        counter_metric_name("addressListMismatch"),
        "address_list_mismatch"
    );
    assert_eq!(
        counter_metric_name("vrrpStatsAuthFailures"),
        "auth_failures"
    );
    assert_eq!(counter_metric_name("odd-name"), "odd_name");
}

#[test]
fn states_transitions_checks_and_build_info() {
    let text = render(&sample());
    for (state, v) in [
        ("Initialize", 0),
        ("Backup", 1),
        ("Active", 0),
        ("Waiting", 0),
    ] {
        assert!(
            text.contains(&format!(
                "ha_vip_router_state{{{ID},state=\"{state}\"}} {v}\n"
            )),
            "{state}: {text}"
        );
    }
    assert!(text.contains(&format!(
        "ha_vip_router_transitions_total{{{ID},to=\"Active\",reason=\"master_down\"}} 2\n"
    )));
    assert!(text.contains(&format!(
        "ha_vip_router_transitions_total{{{ID},to=\"Backup\",reason=\"higher_priority\"}} 1\n"
    )));
    assert!(text.contains(&format!("ha_vip_router_effective_priority{{{ID}}} 100\n")));
    assert!(text.contains(&format!(
        "ha_vip_router_advert_interval_seconds{{{ID}}} 1\n"
    )));
    assert!(text.contains(&format!(
        "ha_vip_router_tracked_check_failed{{{ID},check=\"k8s\"}} 1\n"
    )));
    assert!(
        text.contains("ha_vip_build_info{version=\"0.1.0\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("ha_vip_packets_dropped_total{reason=\"ttl_not_255\"} 3\n"));
    assert!(text.contains("ha_vip_check_healthy{check=\"k8s\"} 0\n"));
    assert!(text.contains("ha_vip_check_probes_total{check=\"k8s\"} 3\n"));
    assert!(text.contains("ha_vip_check_probe_failures_total{check=\"k8s\"} 1\n"));
    assert!(text.contains("# TYPE ha_vip_check_probe_duration_seconds histogram\n"));
    // 1 ms and 2 ms at or under 2.5 ms, 30 ms under 50 ms; all three
    // in +Inf and the count; the sum in seconds.
    for (le, n) in [
        ("0.001", 1),
        ("0.0025", 2),
        ("0.025", 2),
        ("0.05", 3),
        ("+Inf", 3),
    ] {
        assert!(
            text.contains(&format!(
                "ha_vip_check_probe_duration_seconds_bucket{{check=\"k8s\",le=\"{le}\"}} {n}\n"
            )),
            "le {le}: {text}"
        );
    }
    assert!(text.contains("ha_vip_check_probe_duration_seconds_count{check=\"k8s\"} 3\n"));
    assert!(text.contains("ha_vip_check_probe_duration_seconds_sum{check=\"k8s\"} 0.033"));
    // The text format (0.0.4), not OpenMetrics.
    assert!(!text.contains("# EOF"), "{text}");
}

#[test]
fn healthz_follows_the_snapshot() {
    let mut st = sample();
    assert!(healthz(&st).0);
    st.routers[0].state = "Initialize".into();
    let (ok, body) = healthz(&st);
    assert!(!ok);
    assert!(body.contains("api: Initialize"), "{body}");
    st.routers[0].waiting = Some("interface eth0 missing".into());
    assert!(
        healthz(&st)
            .1
            .contains("api: waiting: interface eth0 missing")
    );
}

#[test]
fn only_two_paths_and_two_methods_are_served() {
    assert_eq!(route(&Method::GET, "/metrics"), Route::Metrics);
    assert_eq!(route(&Method::HEAD, "/healthz"), Route::Healthz);
    assert_eq!(route(&Method::GET, "/"), Route::NotFound);
    assert_eq!(route(&Method::GET, "/metrics/"), Route::NotFound);
    assert_eq!(route(&Method::POST, "/metrics"), Route::MethodNotAllowed);
}

/// A fake protocol loop: answers every snapshot request with `sample()`
/// and counts them.
fn fake_loop() -> (mpsc::Sender<ControlMsg>, Arc<AtomicU64>) {
    let (tx, mut rx) = mpsc::channel::<ControlMsg>(64);
    let asked = Arc::new(AtomicU64::new(0));
    let n = asked.clone();
    std::thread::spawn(move || {
        while let Some(msg) = rx.blocking_recv() {
            if let ControlMsg::Status(reply) = msg {
                n.fetch_add(1, Ordering::SeqCst);
                let _ = reply.send(sample());
            }
        }
    });
    (tx, asked)
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn wait_until(mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn unknown_paths_cost_no_snapshot_and_metrics_one() {
    let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = l.local_addr().unwrap();
    let (engine, asked) = fake_loop();
    let server = start(l, engine).unwrap();
    for path in ["/", "/favicon.ico", "/metrics/../x", "/status"] {
        let r = get(addr, path);
        assert!(r.starts_with("HTTP/1.1 404"), "{path}: {r}");
    }
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(r.starts_with("HTTP/1.1 405"), "{r}");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "a 404 or 405 asked the loop"
    );
    let r = get(addr, "/metrics");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("text/plain; version=0.0.4"), "{r}");
    assert!(r.contains("ha_vip_build_info"), "{r}");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    assert_eq!(server.stats.snapshots.load(Ordering::SeqCst), 1);
    let r = get(addr, "/healthz");
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("ok: 1 routers running"), "{r}");
}

/// Silent clients: each is closed after the header-read timeout; while
/// MAX_CONNECTIONS of them are open, one more is closed at accept.
#[test]
fn silent_clients_are_capped_and_timed_out() {
    let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = l.local_addr().unwrap();
    let (engine, asked) = fake_loop();
    let server = start(l, engine).unwrap();
    let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    // The server accepts in order: once these hold every slot, the
    // next connection is closed at once, without a byte.
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(extra.read(&mut buf).unwrap_or(0), 0);
    assert!(
        wait_until(|| server.stats.rejected.load(Ordering::SeqCst) >= 1),
        "the connection over the cap was not rejected"
    );
    // Every silent client is closed by the server (EOF), not by us.
    for mut s in silent {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        assert_eq!(
            s.read(&mut buf).unwrap_or(1),
            0,
            "a silent client was not closed"
        );
    }
    assert!(wait_until(
        || server.stats.timed_out.load(Ordering::SeqCst) == MAX_CONNECTIONS as u64
    ));
    // The slots are free again.
    let r = get(addr, "/metrics");
    assert!(
        r.contains("ha_vip_metrics_connections_rejected_total 1\n"),
        "{r}"
    );
    assert!(
        r.contains(&format!(
            "ha_vip_metrics_connections_timed_out_total {MAX_CONNECTIONS}\n"
        )),
        "{r}"
    );
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}
