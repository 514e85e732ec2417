//! The Kubernetes API-server VIP, end to end: three nodes, each with its
//! own API-server stand-in on its own 127.0.0.1:6443 (inside its
//! namespace), and ha-vip checking it with TLS against the test CA.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::apiserver::{Mode, StandIn};
use crate::health_support::TestPki;
use crate::lab::*;

const VIP: &str = "192.0.2.100";
/// The check's timing in these tests: probe every 200 ms, 1 s stability
/// buffer; adverts every 100 ms (Master_Down_Interval about 0.35 s).
const INTERVAL_S: f64 = 0.2;
const STABILITY_S: f64 = 1.0;
const MASTER_DOWN_S: f64 = 0.36;

struct Cluster {
    lab: Lab,
    nodes: Vec<usize>,
    api: Vec<StandIn>,
}

fn cluster(test: &str, priorities: &[u8]) -> Cluster {
    cluster_with(
        test,
        priorities,
        "interval = \"200ms\"\ntimeout = \"500ms\"\nstability = \"1s\"\n",
    )
}

/// `timing`: the `[k8s]` timing keys of every node.
fn cluster_with(test: &str, priorities: &[u8], timing: &str) -> Cluster {
    let mut lab = Lab::new(test);
    let pki = TestPki::new(&["kubernetes"]);
    let ca = lab.dir.path().join("ca.crt");
    fs::write(&ca, &pki.ca_pem).expect("write CA");
    let mut nodes = Vec::new();
    let mut api = Vec::new();
    for (i, prio) in priorities.iter().enumerate() {
        let n = lab.add_node(&format!("cp{i}"), 11 + i as u8);
        api.push(StandIn::start(lab.ns(n), &pki));
        let daemon = format!(
            "[control]\nsocket = \"{}\"\n\
             [k8s]\nenabled = true\napi_server = \"https://127.0.0.1:6443\"\nca_cert = \"{}\"\n\
             server_name = \"kubernetes\"\n{timing}",
            lab.dir.path().join(format!("cp{i}.sock")).display(),
            ca.display()
        );
        lab.start_ha_vip(
            n,
            &[(
                "api",
                ha_router(70, *prio, &format!("{VIP}/24"), "100ms", ""),
            )],
            Some(&daemon),
        );
        nodes.push(n);
    }
    Cluster { lab, nodes, api }
}

fn wait_holder(c: &Cluster, node: usize, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    wait_until(within, || {
        c.lab.holders(&c.nodes, VIP) == vec![c.nodes[node]]
    })
    .then(|| t0.elapsed())
}

/// The holder stays `node` alone for `d` (no flapping).
fn assert_stays(c: &Cluster, node: usize, d: Duration) {
    let moved = wait_until(d, || c.lab.holders(&c.nodes, VIP) != vec![c.nodes[node]]);
    assert!(
        !moved,
        "VIP left cp{node}: holders {:?}\n{}",
        c.lab.holders(&c.nodes, VIP),
        c.lab.logs()
    );
}

/// /readyz failing on the Active node moves the VIP to a healthy node
/// well within interval + stability buffer + Master_Down_Interval (a
/// failure is confirmed by a second probe, not buffered); all three failing leaves the VIP where it is (a failing
/// router does not preempt: docs/protocol.md, "All unhealthy"), with no
/// flapping; recovery follows the preempt rule.
#[test]
fn readyz_failure_moves_the_vip_and_all_down_keeps_one_holder() {
    let c = cluster("k8s", &[150, 140, 130]);
    assert!(
        wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
        "cp0 never became the only holder\n{}",
        c.lab.logs()
    );
    assert_stays(&c, 0, Duration::from_secs(2));

    // cp0's API server is up (TCP works) but not ready: /readyz decides.
    c.api[0].set(Mode::NotReady);
    let took = wait_holder(&c, 1, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("VIP did not move to cp1\n{}", c.lab.logs()));
    let bound = INTERVAL_S + STABILITY_S + MASTER_DOWN_S;
    eprintln!(
        "readyz failure -> takeover: {:.0} ms (bound {:.0} ms)",
        took.as_secs_f64() * 1e3,
        bound * 1e3
    );
    // A failing /readyz is confirmed by a second probe (confirm_after,
    // 200 ms) and then acted on: the stability buffer now guards only the
    // recovery (docs/kubernetes.md), so the move comes well inside the old
    // interval + buffer + Master_Down_Interval bound.
    assert!(
        took.as_secs_f64() < bound + 1.5,
        "took {took:?}, bound {bound} s (+1.5 s slack for polling and load)\n{}",
        c.lab.logs()
    );

    // Every API server fails: cp0 (150-50) is now above cp1 (140-50), but
    // failing itself it does not preempt: the VIP stays on cp1. (Before,
    // it moved once more, to cp0, a node that could not serve either.)
    c.api[1].set(Mode::NotReady);
    c.api[2].set(Mode::NotReady);
    assert_stays(&c, 1, Duration::from_secs(6));

    // All recover: cp0, healthy and highest, preempts and keeps it.
    for a in &c.api {
        a.set(Mode::Ready);
    }
    assert!(
        wait_holder(&c, 0, Duration::from_secs(10)).is_some(),
        "cp0 did not preempt after recovering\n{}",
        c.lab.logs()
    );
    assert_stays(&c, 0, Duration::from_secs(3));

    // cp0 fails again, then recovers: with preempt (the default) it takes
    // the VIP back once healthy for the stability buffer.
    c.api[0].set(Mode::NotReady);
    assert!(
        wait_holder(&c, 1, Duration::from_secs(10)).is_some(),
        "{}",
        c.lab.logs()
    );
    c.api[0].set(Mode::Ready);
    assert!(
        wait_holder(&c, 0, Duration::from_secs(10)).is_some(),
        "cp0 did not preempt back after recovering\n{}",
        c.lab.logs()
    );
}

/// A client connects to VIP:6443 in a loop from its own namespace while
/// every API server is restarted in turn, each failing /readyz with
/// `[-]shutdown` for a shutdown delay before closing its port. The Active
/// node hands over as soon as its shutdown begins, so the client sees no
/// failed connection.
#[test]
fn rolling_restart_of_every_api_server_loses_no_connection() {
    let mut c = cluster("roll", &[150, 140, 130]);
    let client = c.lab.add_node("client", 50);
    assert!(
        wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
        "{}",
        c.lab.logs()
    );
    // Let every check report healthy before the client starts.
    std::thread::sleep(Duration::from_millis(1500));

    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let slowest_ms = Arc::new(AtomicU64::new(0));
    let ns_file = fs::File::open(format!("/var/run/netns/{}", c.lab.ns(client))).expect("netns");
    let (s, a, f, m) = (
        stop.clone(),
        attempts.clone(),
        failures.clone(),
        slowest_ms.clone(),
    );
    let client_thread = std::thread::spawn(move || {
        nix::sched::setns(&ns_file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let addr: SocketAddr = format!("{VIP}:6443").parse().expect("addr");
        while !s.load(Ordering::SeqCst) {
            let t0 = Instant::now();
            a.fetch_add(1, Ordering::SeqCst);
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(_) => {}
                Err(e) => {
                    f.fetch_add(1, Ordering::SeqCst);
                    eprintln!("client: connect to {addr} failed: {e}");
                }
            }
            m.fetch_max(t0.elapsed().as_millis() as u64, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(25));
        }
    });

    for i in 0..3 {
        // Graceful shutdown: /readyz says [-]shutdown while still serving
        // for the shutdown delay, then the port closes, then it is back.
        c.api[i].set(Mode::ShuttingDown);
        std::thread::sleep(Duration::from_secs(3));
        c.api[i].set(Mode::Closed);
        std::thread::sleep(Duration::from_secs(1));
        c.api[i].set(Mode::Ready);
        // Back to the steady state (cp0 holds the VIP) before the next.
        assert!(
            wait_holder(&c, 0, Duration::from_secs(15)).is_some(),
            "after restarting cp{i} the VIP did not return to cp0\n{}",
            c.lab.logs()
        );
        std::thread::sleep(Duration::from_millis(1500));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = client_thread.join();
    let (n, bad, slow) = (
        attempts.load(Ordering::SeqCst),
        failures.load(Ordering::SeqCst),
        slowest_ms.load(Ordering::SeqCst),
    );
    eprintln!("rolling restart: {n} connections, {bad} failed, slowest {slow} ms");
    assert!(n > 100, "the client made only {n} connections");
    assert_eq!(bad, 0, "{bad} of {n} connections failed\n{}", c.lab.logs());
    let handovers = c.lab.log(0).matches("handing over now").count();
    assert!(
        handovers >= 1,
        "cp0 never took the shutdown fast path\n{}",
        c.lab.logs()
    );
}

/// At the check's default timing (but a 1 s recovery buffer, to keep the
/// test short), each kind of API-server failure on the Active node moves
/// the VIP: a crash (port closed: the listener watch), a freeze (TCP
/// accepted, TLS never answered: the TLS bound), and an etcd member gone
/// (500 only after 2.0 s: the response bound). The figures are printed
/// (docs/kubernetes.md); the test asserts the moves, not their durations.
#[test]
fn crash_freeze_and_etcd_gone_each_move_the_vip() {
    let c = cluster_with("k8sfail", &[150, 140, 130], "stability = \"1s\"\n");
    assert!(
        wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
        "cp0 never became the only holder\n{}",
        c.lab.logs()
    );
    for (name, fault) in [
        ("crash", Mode::Closed),
        ("freeze", Mode::Hang),
        ("etcd gone", Mode::EtcdGone),
    ] {
        // Healthy long enough for any hold-down from the previous round.
        std::thread::sleep(Duration::from_secs(2));
        c.api[0].set(fault);
        let took = wait_holder(&c, 1, Duration::from_secs(15))
            .unwrap_or_else(|| panic!("{name}: the VIP did not move to cp1\n{}", c.lab.logs()));
        eprintln!(
            "{name}: VIP on cp1 {:.0} ms after the fault (adverts 100 ms)",
            took.as_secs_f64() * 1e3
        );
        c.api[0].set(Mode::Ready);
        assert!(
            wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
            "{name}: cp0 did not take the VIP back once healthy\n{}",
            c.lab.logs()
        );
    }
}

/// cp0's `/readyz` alternates between failing and passing every second
/// for a minute (the check at its defaults): it fails once and never gets
/// the 5 s of passing probes its recovery needs while the flapping lasts,
/// so the VIP moves at most twice in that minute (docs/kubernetes.md, the
/// rules table), and comes back once the flapping stops.
#[test]
fn flapping_readyz_moves_the_vip_at_most_twice_a_minute() {
    let c = cluster_with("k8sflap", &[150, 140, 130], "");
    assert!(
        wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
        "cp0 never became the only holder\n{}",
        c.lab.logs()
    );
    let mut moves = 0;
    let mut last = c.nodes[0];
    let start = Instant::now();
    let mut failing = false;
    let mut next_flip = start;
    while start.elapsed() < Duration::from_secs(60) {
        if Instant::now() >= next_flip {
            failing = !failing;
            c.api[0].set(if failing { Mode::NotReady } else { Mode::Ready });
            next_flip += Duration::from_secs(1);
        }
        if let [only] = c.lab.holders(&c.nodes, VIP)[..]
            && only != last
        {
            moves += 1;
            last = only;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    c.api[0].set(Mode::Ready);
    eprintln!("flapping /readyz for 60 s: the VIP moved {moves} time(s)");
    assert!(moves <= 2, "the VIP moved {moves} times\n{}", c.lab.logs());
    assert!(
        wait_holder(&c, 0, Duration::from_secs(20)).is_some(),
        "cp0 did not take the VIP back after the flapping stopped\n{}",
        c.lab.logs()
    );
}
