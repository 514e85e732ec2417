//! The generic checks (tcp, http, exec, interface), the debouncer in virtual
//! time, and `weight_warning`.

mod health_support;

use std::path::Path;
use std::time::{Duration, Instant};

use ha_vip::health::{
    CheckKind, CheckSpec, Debouncer, ExecParams, Failure, HttpParams, InterfaceParams, Prober,
    Service, Stage, TcpParams, spawn_check, weight_warning,
};
use health_support::{FakeApiServer, closed_port};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_millis(800);

async fn probe(kind: CheckKind, timeout: Duration) -> ha_vip::health::ProbeResult {
    Prober::new("test", &kind).probe(timeout).await
}

// ---- debouncer, virtual time ------------------------------------------------

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn fall_count_without_buffer_changes_on_the_last_failure() {
    let t0 = Instant::now();
    let mut d = Debouncer::new(2, 3, Duration::ZERO);
    assert_eq!(d.observe(t0, true, false), Some(true));
    assert_eq!(d.observe(t0 + s(1), false, false), None);
    assert_eq!(d.observe(t0 + s(2), false, false), None);
    assert_eq!(d.poll_timeout(), None, "the count is not complete");
    assert_eq!(d.observe(t0 + s(3), false, false), Some(false));
    // Rise 2: one success is not enough, a failure in between restarts it.
    assert_eq!(d.observe(t0 + s(4), true, false), None);
    assert_eq!(d.observe(t0 + s(5), false, false), None);
    assert_eq!(d.observe(t0 + s(6), true, false), None);
    assert_eq!(d.observe(t0 + s(7), true, false), Some(true));
    assert_eq!(d.state(), Some(true));
}

#[test]
fn stability_buffer_delays_the_change_to_first_failure_plus_buffer() {
    // The API-server defaults: interval 2 s, fall 1, stability 5 s.
    let t0 = Instant::now();
    let mut d = Debouncer::new(1, 1, s(5));
    assert_eq!(d.observe(t0, true, false), Some(true));
    assert_eq!(d.observe(t0 + s(2), false, false), None);
    assert_eq!(d.pending(), Some((false, t0 + s(2))));
    assert_eq!(d.poll_timeout(), Some(t0 + s(7)));
    assert_eq!(d.observe(t0 + s(4), false, false), None);
    assert_eq!(d.observe(t0 + s(6), false, false), None);
    assert_eq!(d.handle_timeout(t0 + s(7) - Duration::from_nanos(1)), None);
    assert_eq!(d.state(), Some(true));
    assert_eq!(d.handle_timeout(t0 + s(7)), Some(false));
    assert_eq!(d.poll_timeout(), None);
    assert_eq!(d.state(), Some(false));
}

#[test]
fn a_good_result_inside_the_buffer_cancels_the_change() {
    let t0 = Instant::now();
    let mut d = Debouncer::new(1, 1, s(5));
    d.observe(t0, true, false);
    d.observe(t0 + s(2), false, false);
    assert_eq!(d.observe(t0 + s(4), true, false), None);
    assert_eq!(d.poll_timeout(), None);
    assert_eq!(d.handle_timeout(t0 + s(7)), None);
    // A new failure starts a new buffer from its own instant.
    d.observe(t0 + s(6), false, false);
    assert_eq!(d.poll_timeout(), Some(t0 + s(11)));
    assert_eq!(d.state(), Some(true));
}

#[test]
fn count_and_buffer_both_hold_whichever_is_later() {
    // fall 3 at 2 s intervals takes 4 s after the first failure: longer than
    // a 1 s buffer, so the third failure decides.
    let t0 = Instant::now();
    let mut d = Debouncer::new(1, 3, s(1));
    d.observe(t0, true, false);
    assert_eq!(d.observe(t0 + s(2), false, false), None);
    assert_eq!(d.observe(t0 + s(4), false, false), None);
    assert_eq!(d.poll_timeout(), None);
    assert_eq!(d.observe(t0 + s(6), false, false), Some(false));
    // Recovery with rise 1 and the same buffer: due 1 s after the first ok.
    assert_eq!(d.observe(t0 + s(8), true, false), None);
    assert_eq!(d.poll_timeout(), Some(t0 + s(9)));
    assert_eq!(d.handle_timeout(t0 + s(9)), Some(true));
}

#[test]
fn shutting_down_skips_count_and_buffer() {
    let t0 = Instant::now();
    let mut d = Debouncer::new(3, 3, s(5));
    d.observe(t0, true, false);
    d.observe(t0 + s(2), false, false);
    assert_eq!(d.observe(t0 + s(3), false, true), Some(false));
    assert_eq!(d.pending(), None);
    assert_eq!(d.poll_timeout(), None);
    // Repeated shutdown results change nothing further.
    assert_eq!(d.observe(t0 + s(4), false, true), None);
    assert_eq!(d.state(), Some(false));
}

/// Steps a debouncer through probes every `interval` whose results come from
/// `healthy_at`, jumping to whichever is next: a probe or the debouncer's
/// deadline (the runner's loop, in virtual time). Returns the changes.
fn simulate(
    d: &mut Debouncer,
    t0: Instant,
    interval: Duration,
    until: Duration,
    healthy_at: impl Fn(Duration) -> bool,
) -> Vec<(Duration, bool)> {
    let mut changes = Vec::new();
    let mut next_probe = t0;
    while next_probe <= t0 + until {
        if let Some(due) = d.poll_timeout().filter(|due| *due < next_probe) {
            if let Some(h) = d.handle_timeout(due) {
                changes.push((due - t0, h));
            }
            continue;
        }
        if let Some(h) = d.observe(next_probe, healthy_at(next_probe - t0), false) {
            changes.push((next_probe - t0, h));
        }
        next_probe += interval;
    }
    changes
}

#[test]
fn failover_timing_of_the_api_server_check() {
    // The API server dies at 3 s and comes back at 20 s. Probes at 0, 2, 4,
    // ...: the first failing probe is at 4 s, reported at 4 + 5 = 9 s; the
    // first good one at 20 s, reported at 25 s.
    let t0 = Instant::now();
    let mut d = Debouncer::new(1, 1, s(5));
    let changes = simulate(&mut d, t0, s(2), s(30), |t| !(s(3)..s(20)).contains(&t));
    assert_eq!(changes, vec![(s(0), true), (s(9), false), (s(25), true)]);
}

#[test]
fn flapping_shorter_than_the_buffer_is_never_reported() {
    // Down for one probe out of every three: never 5 s in a row.
    let t0 = Instant::now();
    let mut d = Debouncer::new(1, 1, s(5));
    let changes = simulate(&mut d, t0, s(2), s(60), |t| (t.as_secs() / 2) % 3 != 1);
    assert_eq!(changes, vec![(s(0), true)]);
}

// ---- weight_warning ---------------------------------------------------------

#[test]
fn weight_that_moves_the_vip_gives_no_warning() {
    assert_eq!(weight_warning(&[150, 140, 130], -50), None);
    assert_eq!(weight_warning(&[130, 150, 140], -11), None);
    // Equal priorities: any drop moves it.
    assert_eq!(weight_warning(&[100, 100, 100], -1), None);
    // One node: nothing to compare with.
    assert_eq!(weight_warning(&[100], -50), None);
}

#[test]
fn weight_too_small_is_warned_with_the_bound() {
    let w = weight_warning(&[150, 140, 130], -10).unwrap();
    assert!(w.contains("too small to move the VIP"), "{w}");
    assert!(w.contains("drops to 140"), "{w}");
    assert!(w.contains("at most -11"), "{w}");
}

#[test]
fn weight_that_clamps_every_priority_is_warned() {
    let w = weight_warning(&[100, 90], -100).unwrap();
    assert!(w.contains("below 1"), "{w}");
    assert!(!w.contains("too small"), "{w}");
}

#[test]
fn zero_or_positive_weight_is_warned() {
    assert!(weight_warning(&[150, 140], 0).unwrap().contains("weight 0"));
    assert!(
        weight_warning(&[150, 140], 20)
            .unwrap()
            .contains("weight = -20")
    );
}

// ---- tcp --------------------------------------------------------------------

#[tokio::test]
async fn tcp_check_connects_or_is_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ok = probe(
        CheckKind::Tcp(TcpParams {
            address: addr.to_string(),
        }),
        TIMEOUT,
    )
    .await;
    assert_eq!(ok.outcome, Ok(()));
    drop(listener);
    let closed = closed_port().await;
    let refused = probe(
        CheckKind::Tcp(TcpParams {
            address: closed.to_string(),
        }),
        TIMEOUT,
    )
    .await;
    assert_eq!(
        refused.outcome,
        Err(Failure::Refused {
            service: Service::Server,
            addr: closed
        })
    );
    let bad = probe(
        CheckKind::Tcp(TcpParams {
            address: "no-port-here".into(),
        }),
        TIMEOUT,
    )
    .await;
    assert!(
        matches!(
            bad.outcome,
            Err(Failure::Io {
                stage: Stage::Resolve,
                ..
            })
        ),
        "{:?}",
        bad.outcome
    );
}

// ---- http -------------------------------------------------------------------

/// A plain HTTP server that answers every request with `status`.
async fn plain_http(status: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi"
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn http_check_compares_the_status() {
    let up = plain_http("200 OK").await;
    let down = plain_http("503 Service Unavailable").await;
    let ok = probe(
        CheckKind::Http(HttpParams::new(format!("http://{up}/healthz"))),
        TIMEOUT,
    )
    .await;
    assert_eq!(ok.outcome, Ok(()));
    let bad = probe(
        CheckKind::Http(HttpParams::new(format!("http://{down}/healthz"))),
        TIMEOUT,
    )
    .await;
    assert_eq!(
        bad.outcome,
        Err(Failure::Status {
            got: 503,
            expected: 200
        })
    );
    let expected_503 = probe(
        CheckKind::Http(HttpParams {
            expected_status: 503,
            ..HttpParams::new(format!("http://{down}/"))
        }),
        TIMEOUT,
    )
    .await;
    assert_eq!(expected_503.outcome, Ok(()));
}

#[tokio::test]
async fn https_check_verifies_with_its_ca_or_skips_when_insecure() {
    let server = FakeApiServer::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = server.pki.write_ca(dir.path(), "ca.crt");
    let url = format!("https://127.0.0.1:{}/readyz", server.addr.port());
    // 127.0.0.1 is not in the certificate: name it.
    let named = probe(
        CheckKind::Http(HttpParams {
            ca_cert: Some(ca.clone()),
            server_name: Some("kubernetes".into()),
            ..HttpParams::new(url.clone())
        }),
        TIMEOUT,
    )
    .await;
    assert_eq!(named.outcome, Ok(()), "{}", named.reason());
    let unnamed = probe(
        CheckKind::Http(HttpParams {
            ca_cert: Some(ca),
            ..HttpParams::new(url.clone())
        }),
        TIMEOUT,
    )
    .await;
    assert!(
        matches!(&unnamed.outcome, Err(Failure::Tls(d)) if d.contains("not valid for name")),
        "{:?}",
        unnamed.outcome
    );
    let insecure = probe(
        CheckKind::Http(HttpParams {
            insecure: true,
            ..HttpParams::new(url.clone())
        }),
        TIMEOUT,
    )
    .await;
    assert_eq!(insecure.outcome, Ok(()));
    // The system trust store does not know the test CA.
    let system = probe(CheckKind::Http(HttpParams::new(url)), TIMEOUT).await;
    assert!(
        matches!(&system.outcome, Err(Failure::Tls(_) | Failure::Config(_))),
        "{:?}",
        system.outcome
    );
}

// ---- exec -------------------------------------------------------------------

fn exec(program: &str, args: &[&str]) -> CheckKind {
    CheckKind::Exec(ExecParams {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    })
}

#[tokio::test]
async fn exec_check_uses_the_exit_status() {
    assert_eq!(probe(exec("/bin/true", &[]), TIMEOUT).await.outcome, Ok(()));
    assert_eq!(
        probe(exec("/bin/false", &[]), TIMEOUT).await.outcome,
        Err(Failure::Exit("exit status 1".into()))
    );
    // No shell: the metacharacters reach the program as they are.
    assert_eq!(
        probe(exec("/usr/bin/test", &["a;b", "=", "a;b"]), TIMEOUT)
            .await
            .outcome,
        Ok(())
    );
    let missing = probe(exec("/nonexistent/ha-vip-check", &[]), TIMEOUT).await;
    assert!(
        matches!(&missing.outcome, Err(Failure::Spawn { program, .. }) if program == "/nonexistent/ha-vip-check"),
        "{:?}",
        missing.outcome
    );
}

fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie waiting for its new parent to reap it is dead too.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[tokio::test]
async fn exec_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", pid_file.display());
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let result = probe(exec("/bin/sh", &["-c", &script]), limit).await;
    let took = started.elapsed();
    assert_eq!(
        result.outcome,
        Err(Failure::Timeout {
            service: Service::Server,
            stage: Stage::Exec,
            limit
        })
    );
    assert!(
        took >= limit && took < limit + Duration::from_millis(700),
        "{took:?}"
    );
    let grandchild: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while !process_gone(grandchild) {
        assert!(Instant::now() < deadline, "sleep {grandchild} survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- interface --------------------------------------------------------------

fn fake_link(root: &Path, name: &str, operstate: &str, carrier: Option<&str>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("operstate"), format!("{operstate}\n")).unwrap();
    if let Some(c) = carrier {
        std::fs::write(dir.join("carrier"), format!("{c}\n")).unwrap();
    }
}

fn iface(root: &Path, name: &str) -> CheckKind {
    CheckKind::Interface(InterfaceParams {
        name: name.into(),
        sysfs_net: root.to_path_buf(),
    })
}

#[tokio::test]
async fn interface_check_reads_operstate_and_carrier() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fake_link(root, "eth0", "up", Some("1"));
    fake_link(root, "eth1", "down", Some("0"));
    fake_link(root, "eth2", "down", None);
    fake_link(root, "tun0", "unknown", Some("1"));
    assert_eq!(probe(iface(root, "eth0"), TIMEOUT).await.outcome, Ok(()));
    assert_eq!(probe(iface(root, "tun0"), TIMEOUT).await.outcome, Ok(()));
    assert_eq!(
        probe(iface(root, "eth1"), TIMEOUT).await.outcome,
        Err(Failure::LinkDown {
            name: "eth1".into(),
            operstate: "down".into(),
            carrier: "0".into()
        })
    );
    assert_eq!(
        probe(iface(root, "eth2"), TIMEOUT).await.outcome,
        Err(Failure::LinkDown {
            name: "eth2".into(),
            operstate: "down".into(),
            carrier: "unknown".into()
        })
    );
    assert!(matches!(
        probe(iface(root, "eth9"), TIMEOUT).await.outcome,
        Err(Failure::Interface(_))
    ));
    assert!(matches!(
        probe(iface(root, "../etc"), TIMEOUT).await.outcome,
        Err(Failure::Config(_))
    ));
}

#[tokio::test]
async fn interface_check_on_the_real_loopback() {
    let result = probe(CheckKind::Interface(InterfaceParams::new("lo")), TIMEOUT).await;
    assert_eq!(result.outcome, Ok(()), "{}", result.reason());
}

// ---- runner with a generic check --------------------------------------------

#[tokio::test]
async fn runner_applies_fall_to_an_exec_check() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("healthy");
    std::fs::write(&flag, "").unwrap();
    let mut spec = CheckSpec::new(
        "flag",
        exec("/usr/bin/test", &["-e", flag.to_str().unwrap()]),
    );
    spec.interval = Duration::from_millis(40);
    spec.fall = 3;
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let handle = spawn_check(spec, tx);
    let first = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(first.healthy);
    assert_eq!(first.name, "flag");
    std::fs::remove_file(&flag).unwrap();
    let down = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(!down.healthy);
    assert_eq!(down.reason, "command failed: exit status 1");
    // Three failures were needed.
    let status = handle.status.borrow().clone();
    assert!(status.failures >= 3, "{status:?}");
    drop(rx);
    // The task ends once nobody listens.
    tokio::time::timeout(Duration::from_secs(2), handle.task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn k8s_check_accepts_plain_http_too() {
    // A local proxy or an insecure port: no TLS, /readyz still decides.
    let up = plain_http("200 OK").await;
    let down = plain_http("500 Internal Server Error").await;
    let k8s = |addr: std::net::SocketAddr| {
        CheckKind::K8s(ha_vip::health::K8sParams {
            api_server: format!("http://{addr}"),
            ..Default::default()
        })
    };
    assert_eq!(probe(k8s(up), TIMEOUT).await.outcome, Ok(()));
    assert_eq!(
        probe(k8s(down), TIMEOUT).await.outcome,
        Err(Failure::NotReady {
            status: 500,
            failed: vec![]
        })
    );
}

/// The runner in tokio's paused clock: probes at exact 2 s steps, a link
/// that goes down at 3 s is first seen at 4 s and reported at 4 + 5 = 9 s;
/// back at 19 s, seen at 20 s, reported at 25 s. Nothing sleeps for real.
#[tokio::test(start_paused = true)]
async fn runner_timing_is_exact_in_virtual_time() {
    use tokio::time::{Instant as TokioInstant, sleep_until};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fake_link(root, "eth0", "up", Some("1"));
    let mut spec = CheckSpec::new("link", iface(root, "eth0"));
    spec.interval = s(2);
    spec.timeout = s(1);
    spec.stability = s(5);
    let t0 = TokioInstant::now();
    let at = |secs: u64| (t0 + s(secs)).into_std();
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let handle = spawn_check(spec, tx);

    let first = rx.recv().await.unwrap();
    assert!(first.healthy);
    assert_eq!(first.at, at(0));

    sleep_until(t0 + s(3)).await;
    fake_link(root, "eth0", "down", Some("0"));
    sleep_until(t0 + s(7)).await;
    {
        let status = handle.status.borrow();
        assert_eq!(status.healthy, Some(true), "still inside the buffer");
        assert_eq!(status.pending, Some((false, at(4))));
        assert_eq!(status.probes, 4, "probes at 0, 2, 4 and 6");
        assert_eq!(status.failures, 2);
    }
    let down = rx.recv().await.unwrap();
    assert!(!down.healthy);
    assert_eq!(down.at, at(9));
    assert_eq!(down.reason, "link down: eth0 operstate down, carrier 0");

    sleep_until(t0 + s(19)).await;
    fake_link(root, "eth0", "up", Some("1"));
    let up = rx.recv().await.unwrap();
    assert!(up.healthy);
    assert_eq!(up.at, at(25));
    assert_eq!(handle.status.borrow().pending, None);
    handle.task.abort();
}
