//! The API-server check against a real HTTPS server on 127.0.0.1 (see
//! `health_support`): every outcome the issue lists, token rotation,
//! in-cluster discovery, and the runner end to end.

mod health_support;

use std::path::PathBuf;
use std::time::Duration;

use ha_vip::health::{
    CheckSpec, CheckUpdate, Failure, InClusterEnv, K8sParams, K8sProber, ProbeSource, Secret,
    Service, Stage, spawn_check,
};
use health_support::{FakeApiServer, Mode, TestPki, closed_port};

const TOKEN: &str = "token-one.abc";
const TIMEOUT: Duration = Duration::from_millis(800);

fn external(server: &FakeApiServer, dir: &tempfile::TempDir) -> K8sParams {
    K8sParams {
        api_server: server.url(),
        token: Some(Secret::new(TOKEN)),
        ca_cert: Some(server.pki.write_ca(dir.path(), "ca.crt")),
        ..K8sParams::default()
    }
}

#[tokio::test]
async fn healthy_api_server_is_ok_with_the_token_and_the_name() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut prober = K8sProber::new("k8s", external(&server, &dir));
    let result = prober.probe(TIMEOUT).await;
    assert_eq!(result.outcome, Ok(()), "{}", result.reason());
    assert_eq!(result.reason(), "ok");
    assert!(result.latency < TIMEOUT);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/readyz");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some("Bearer token-one.abc")
    );
    assert_eq!(seen[0].host, Some(server.addr.to_string()));
}

#[tokio::test]
async fn readyz_500_is_failed_with_the_failed_checks() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    server.set_mode(Mode::NotReady(vec!["etcd", "informer-sync"]));
    let dir = tempfile::tempdir().unwrap();
    let result = K8sProber::new("k8s", external(&server, &dir))
        .probe(TIMEOUT)
        .await;
    assert_eq!(
        result.outcome,
        Err(Failure::NotReady {
            status: 500,
            failed: vec![
                "etcd failed: reason withheld".to_string(),
                "informer-sync failed: reason withheld".to_string()
            ],
        })
    );
    assert!(!result.shutting_down());
    let reason = result.reason();
    assert!(reason.contains("500"), "{reason}");
    assert!(reason.contains("etcd failed: reason withheld"), "{reason}");
}

#[tokio::test]
async fn readyz_shutdown_marks_shutting_down() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    server.set_mode(Mode::NotReady(vec!["shutdown"]));
    let dir = tempfile::tempdir().unwrap();
    let result = K8sProber::new("k8s", external(&server, &dir))
        .probe(TIMEOUT)
        .await;
    assert!(result.shutting_down(), "{:?}", result.outcome);
    assert!(!result.healthy());
    assert_eq!(
        result.failed_checks(),
        ["shutdown failed: reason withheld".to_string()]
    );
}

#[tokio::test]
async fn wrong_token_gives_the_401_hint() {
    let server = FakeApiServer::start(Some("the-right-token")).await;
    let dir = tempfile::tempdir().unwrap();
    let result = K8sProber::new("k8s", external(&server, &dir))
        .probe(TIMEOUT)
        .await;
    assert_eq!(result.outcome, Err(Failure::Unauthorized));
    assert_eq!(
        result.reason(),
        "token rejected: expired or wrong token (create a new one: kubectl create token \
         ha-vip -n kube-system)"
    );
}

#[tokio::test]
async fn forbidden_gives_the_rbac_hint() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    server.set_mode(Mode::Forbidden);
    let dir = tempfile::tempdir().unwrap();
    let result = K8sProber::new("k8s", external(&server, &dir))
        .probe(TIMEOUT)
        .await;
    assert_eq!(result.outcome, Err(Failure::Forbidden));
    assert_eq!(
        result.reason(),
        "forbidden: check the RBAC ClusterRole/Binding for nonResourceURLs /readyz"
    );
}

#[tokio::test]
async fn closed_port_is_refused() {
    let addr = closed_port().await;
    let params = K8sParams {
        api_server: format!("https://{addr}"),
        ..K8sParams::default()
    };
    let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
    assert_eq!(
        result.outcome,
        Err(Failure::Refused {
            service: Service::ApiServer,
            addr
        })
    );
    assert_eq!(
        result.reason(),
        format!("connection refused: is the API server running on {addr}?")
    );
}

#[tokio::test]
async fn hung_api_server_times_out_within_the_bound() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    for (mode, stage) in [(Mode::HangTcp, Stage::Tls), (Mode::HangHttp, Stage::Http)] {
        server.set_mode(mode);
        let limit = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let result = K8sProber::new("k8s", external(&server, &dir))
            .probe(limit)
            .await;
        let took = started.elapsed();
        assert_eq!(
            result.outcome,
            Err(Failure::Timeout {
                service: Service::ApiServer,
                stage,
                limit
            })
        );
        assert!(
            result
                .reason()
                .starts_with("timeout: network or a hung API server"),
            "{}",
            result.reason()
        );
        assert!(took >= limit, "{took:?}");
        assert!(took < limit + Duration::from_millis(500), "{took:?}");
    }
}

#[tokio::test]
async fn wrong_ca_or_wrong_name_fails_tls() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    // Another cluster's CA: under another name, the issuer is unknown; under
    // the same name (kubeadm calls every cluster CA "kubernetes"), the
    // signature does not match. Both are certificate failures.
    for (ca_name, expected) in [
        ("other CA", "UnknownIssuer"),
        ("ha-vip test CA", "BadSignature"),
    ] {
        let other = TestPki::with_ca_name(ca_name, &["kubernetes"]);
        let params = K8sParams {
            ca_cert: Some(other.write_ca(dir.path(), "other-ca.crt")),
            ..external(&server, &dir)
        };
        let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
        let Err(Failure::Tls(detail)) = &result.outcome else {
            panic!("expected a TLS failure, got {:?}", result.outcome);
        };
        assert!(detail.contains(expected), "{detail}");
        assert!(
            result
                .reason()
                .starts_with("certificate: check ca_cert / server_name")
        );
    }
    // The right CA but a name the certificate does not carry.
    let params = K8sParams {
        server_name: "not-kubernetes".into(),
        ..external(&server, &dir)
    };
    let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
    let Err(Failure::Tls(detail)) = &result.outcome else {
        panic!("expected a TLS failure, got {:?}", result.outcome);
    };
    assert!(
        detail.contains("not valid for name \"not-kubernetes\""),
        "{detail}"
    );
    assert!(
        server.seen().is_empty(),
        "no request may cross a failed handshake"
    );
}

#[tokio::test]
async fn no_ca_skips_verification_and_never_sends_the_token() {
    // An anonymous /readyz, as kube-apiserver allows by default.
    let server = FakeApiServer::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let params = K8sParams {
        ca_cert: None,
        server_name: "any-name".into(),
        ..external(&server, &dir)
    };
    let mut prober = K8sProber::new("k8s", params);
    assert_eq!(prober.probe(TIMEOUT).await.outcome, Ok(()));
    assert_eq!(prober.probe(TIMEOUT).await.outcome, Ok(()));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|s| s.authorization.is_none()),
        "a token crossed unverified TLS: {seen:?}"
    );
}

#[tokio::test]
async fn rotated_token_file_is_used_on_the_next_probe() {
    let server = FakeApiServer::start(Some("first")).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "first\n").unwrap();
    let params = K8sParams {
        token: None,
        token_file: Some(token_file.clone()),
        ..external(&server, &dir)
    };
    let mut prober = K8sProber::new("k8s", params);
    assert_eq!(prober.probe(TIMEOUT).await.outcome, Ok(()));

    // The cluster rotates: the server now accepts only the new token.
    server.set_token(Some("second"));
    assert_eq!(
        prober.probe(TIMEOUT).await.outcome,
        Err(Failure::Unauthorized),
        "the old token must be rejected"
    );
    // Replace the file the way kubelet does: a new file renamed over it.
    let tmp = dir.path().join("token.new");
    std::fs::write(&tmp, "second").unwrap();
    std::fs::rename(&tmp, &token_file).unwrap();
    assert_eq!(prober.probe(TIMEOUT).await.outcome, Ok(()));

    let auth: Vec<_> = server
        .seen()
        .into_iter()
        .map(|s| s.authorization.unwrap_or_default())
        .collect();
    assert_eq!(
        auth,
        ["Bearer first", "Bearer first", "Bearer second"].map(String::from)
    );
}

#[tokio::test]
async fn unreadable_token_file_is_a_config_failure() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let params = K8sParams {
        token_file: Some(dir.path().join("missing")),
        ..external(&server, &dir)
    };
    let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
    let Err(Failure::Config(detail)) = &result.outcome else {
        panic!("{:?}", result.outcome);
    };
    assert!(detail.contains("cannot read token file"), "{detail}");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn exclude_reaches_the_query_string() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let params = K8sParams {
        exclude: vec!["etcd".into(), "informer-sync".into()],
        ..external(&server, &dir)
    };
    let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
    assert_eq!(result.outcome, Ok(()));
    assert_eq!(
        server.seen()[0].path_and_query,
        "/readyz?exclude=etcd&exclude=informer-sync"
    );
}

fn service_account(server: &FakeApiServer, token: &str) -> (tempfile::TempDir, InClusterEnv) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), token).unwrap();
    server.pki.write_ca(dir.path(), "ca.crt");
    let env = InClusterEnv {
        service_host: Some(server.addr.ip().to_string()),
        service_port: Some(server.addr.port().to_string()),
        service_account_dir: dir.path().to_path_buf(),
    };
    (dir, env)
}

#[tokio::test]
async fn in_cluster_discovers_host_token_and_ca() {
    let server = FakeApiServer::start(Some("sa-token")).await;
    let (dir, env) = service_account(&server, "sa-token\n");
    let params = K8sParams {
        in_cluster: true,
        // Ignored in cluster: none of these would work.
        api_server: "https://192.0.2.1:1".into(),
        token: Some(Secret::new("wrong")),
        ca_cert: Some(PathBuf::from("/nonexistent/ca.crt")),
        in_cluster_env: Some(env),
        ..K8sParams::default()
    };
    let mut prober = K8sProber::new("k8s", params);
    let result = prober.probe(TIMEOUT).await;
    assert_eq!(result.outcome, Ok(()), "{}", result.reason());
    assert_eq!(
        server.seen()[0].authorization.as_deref(),
        Some("Bearer sa-token")
    );
    // The projected token rotates: re-read on the next probe.
    server.set_token(Some("sa-token-2"));
    std::fs::write(dir.path().join("token"), "sa-token-2").unwrap();
    assert_eq!(prober.probe(TIMEOUT).await.outcome, Ok(()));
    assert_eq!(
        server.seen()[1].authorization.as_deref(),
        Some("Bearer sa-token-2")
    );
}

#[tokio::test]
async fn in_cluster_without_service_account_says_so() {
    let server = FakeApiServer::start(None).await;
    let empty = tempfile::tempdir().unwrap();
    let cases = [
        InClusterEnv {
            service_host: None,
            service_port: None,
            service_account_dir: empty.path().to_path_buf(),
        },
        InClusterEnv {
            service_host: Some("127.0.0.1".into()),
            service_port: Some(server.addr.port().to_string()),
            service_account_dir: empty.path().to_path_buf(),
        },
    ];
    for env in cases {
        let params = K8sParams {
            in_cluster: true,
            in_cluster_env: Some(env.clone()),
            ..K8sParams::default()
        };
        let result = K8sProber::new("k8s", params).probe(TIMEOUT).await;
        assert!(
            result
                .reason()
                .starts_with("failed to create in-cluster config: "),
            "{env:?}: {}",
            result.reason()
        );
    }
    assert!(server.seen().is_empty());
}

async fn recv(rx: &mut tokio::sync::mpsc::Receiver<CheckUpdate>) -> CheckUpdate {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an update within 5 s")
        .expect("channel open")
}

/// The runner end to end, in real time but with short timings: healthy at
/// once, a 500 reported only after the stability buffer, a `[-]shutdown`
/// reported at once.
#[tokio::test]
async fn runner_fails_fast_recovers_slowly_and_counts_the_flap() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CheckSpec::k8s(external(&server, &dir));
    spec.interval = Duration::from_millis(50);
    spec.stability = Duration::from_millis(1000);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let handle = spawn_check(spec, tx);
    let first = recv(&mut rx).await;
    assert_eq!(first.name, "k8s");
    assert!(first.healthy);
    assert_eq!(first.reason, "ok");
    assert_eq!(first.flaps, 0);

    // A 500 is confirmed by a second probe, then failed: no buffer.
    server.set_mode(Mode::NotReady(vec!["etcd"]));
    let down = recv(&mut rx).await;
    assert!(!down.healthy);
    assert!(!down.shutting_down && !down.definite);
    assert_eq!(down.stage, Some(Stage::Http));
    assert_eq!(down.source, ProbeSource::Full);
    assert_eq!(down.failed, ["etcd failed: reason withheld".to_string()]);
    assert_eq!(down.flaps, 1);
    let seen_failing = server
        .seen()
        .iter()
        .filter(|s| s.path_and_query == "/readyz")
        .count();
    assert!(seen_failing >= 2);

    // The recovery waits for the hold-down (the buffer, one flap).
    server.set_mode(Mode::Ready);
    let up = recv(&mut rx).await;
    assert!(up.healthy);
    assert_eq!(up.hold_down, Duration::from_millis(1000));
    {
        let st = handle.status.borrow();
        assert_eq!(st.flaps, 1);
        let last_failure = st.last_failure.as_ref().unwrap();
        assert_eq!(last_failure.stage(), Some(Stage::Http));
        assert!(st.failures >= 2, "{st:?}");
    }

    // A shutdown is definite: failed on the first probe that sees it, and
    // the hold-down doubles with the second flap.
    server.set_mode(Mode::NotReady(vec!["shutdown"]));
    let gone = recv(&mut rx).await;
    assert!(!gone.healthy);
    assert!(gone.shutting_down && gone.definite);
    assert_eq!(gone.flaps, 2);
    assert_eq!(gone.hold_down, Duration::from_millis(2000));
    handle.task.abort();
}

#[tokio::test]
async fn a_crash_is_seen_by_the_fast_probe() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CheckSpec::k8s(external(&server, &dir));
    // The full probe would take an hour to see it: only the connect
    // probe can.
    spec.interval = Duration::from_secs(3600);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let handle = spawn_check(spec, tx);
    assert!(recv(&mut rx).await.healthy);
    server.crash();
    let down = recv(&mut rx).await;
    assert!(!down.healthy);
    assert!(down.definite && !down.shutting_down);
    assert_eq!(down.source, ProbeSource::Connect);
    assert_eq!(down.stage, Some(Stage::Connect));
    assert!(down.reason.starts_with("not listening"), "{}", down.reason);
    let st = handle.status.borrow().clone();
    let connect = st.connect.unwrap();
    assert_eq!(connect.target, Some(server.addr));
    // 127.0.0.1 is local: the kernel is asked, nothing connects.
    assert_eq!(connect.method, "sock_diag notices");
    assert!(connect.failures >= 1);
    assert_eq!(st.probes, 1, "one full probe, at the start");
    handle.task.abort();
}

#[tokio::test]
async fn shutdown_then_close_reports_the_shutdown_first() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = CheckSpec::k8s(external(&server, &dir));
    spec.interval = Duration::from_millis(50);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let handle = spawn_check(spec, tx);
    assert!(recv(&mut rx).await.healthy);
    server.set_mode(Mode::ShutdownThenClose(Duration::from_millis(500)));
    let gone = recv(&mut rx).await;
    assert!(gone.shutting_down && gone.definite, "{gone:?}");
    // Then the port closes: the fast probe finds no listener, and the
    // check stays failed (no second update: it is failed already).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let refused = handle
            .status
            .borrow()
            .connect
            .as_ref()
            .and_then(|c| c.last.clone())
            .is_some_and(|r| matches!(r.outcome, Err(Failure::NotListening { .. })));
        if refused {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(handle.status.borrow().healthy, Some(false));
    assert!(rx.try_recv().is_err());
    handle.task.abort();
}

#[tokio::test]
async fn stage_timeouts_name_the_stage_at_the_defaults() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = CheckSpec::k8s(external(&server, &dir));
    let probe = |params: K8sParams| async move {
        K8sProber::new("k8s", params)
            .probe_stages(spec.stages, spec.timeout)
            .await
    };
    // Accepts TCP, never finishes TLS (a frozen API server).
    server.set_mode(Mode::HangTcp);
    let r = probe(external(&server, &dir)).await;
    assert_eq!(
        r.outcome,
        Err(Failure::Timeout {
            service: Service::ApiServer,
            stage: Stage::Tls,
            limit: spec.stages.tls
        })
    );
    assert!(
        r.reason().contains("TLS handshake not done within 500 ms"),
        "{}",
        r.reason()
    );
    // Etcd gone: the 500 would come after 2.0 s; it is a late answer at
    // the response bound, and `exclude = ["etcd"]` still passes at once.
    server.set_mode(Mode::EtcdGone);
    let r = probe(external(&server, &dir)).await;
    assert_eq!(
        r.outcome,
        Err(Failure::Timeout {
            service: Service::ApiServer,
            stage: Stage::Http,
            limit: spec.stages.response
        })
    );
    let excluded = probe(K8sParams {
        exclude: vec!["etcd".into()],
        ..external(&server, &dir)
    })
    .await;
    assert_eq!(excluded.outcome, Ok(()), "{}", excluded.reason());
    // With a response bound past 2 s, the 500 itself is read, `[-]` line
    // and all.
    let mut stages = spec.stages;
    stages.response = Duration::from_secs(5);
    let r = K8sProber::new("k8s", external(&server, &dir))
        .probe_stages(stages, Duration::from_secs(6))
        .await;
    assert_eq!(
        r.outcome,
        Err(Failure::NotReady {
            status: 500,
            failed: vec!["etcd failed: reason withheld".into()]
        })
    );
    // Slow but inside the bound: healthy.
    server.set_mode(Mode::SlowReady(Duration::from_millis(100)));
    assert_eq!(probe(external(&server, &dir)).await.outcome, Ok(()));
}

/// Each stage has its own bound, and neither lends time to the other: a
/// handshake slower than the TLS bound fails even though connect + TLS
/// would have allowed it, and an answer slower than the response bound
/// fails even though the whole probe's timeout would have allowed it.
#[tokio::test]
async fn stages_do_not_borrow_time_from_each_other() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = CheckSpec::k8s(external(&server, &dir));
    let probe = || async {
        K8sProber::new("k8s", external(&server, &dir))
            .probe_stages(spec.stages, spec.timeout)
            .await
            .outcome
    };
    // 0.8 s of handshake: over the 0.5 s TLS bound, under connect + TLS.
    server.set_mode(Mode::SlowTls(Duration::from_millis(800)));
    assert_eq!(
        probe().await,
        Err(Failure::Timeout {
            service: Service::ApiServer,
            stage: Stage::Tls,
            limit: spec.stages.tls
        })
    );
    // 1.2 s to answer: over the 0.8 s response bound, under the 2 s total.
    server.set_mode(Mode::SlowReady(Duration::from_millis(1200)));
    assert_eq!(
        probe().await,
        Err(Failure::Timeout {
            service: Service::ApiServer,
            stage: Stage::Http,
            limit: spec.stages.response
        })
    );
    // Inside both bounds: healthy.
    server.set_mode(Mode::SlowTls(Duration::from_millis(200)));
    assert_eq!(probe().await, Ok(()));
}

#[tokio::test]
async fn the_runner_reports_the_stage_of_a_slow_500() {
    let server = FakeApiServer::start(Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = CheckSpec::k8s(external(&server, &dir));
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let handle = spawn_check(spec, tx);
    assert!(recv(&mut rx).await.healthy);
    server.set_mode(Mode::EtcdGone);
    let down = recv(&mut rx).await;
    assert!(!down.healthy && !down.definite);
    assert_eq!(down.stage, Some(Stage::Http));
    assert!(
        down.reason.contains("HTTP request not done within 800 ms"),
        "{}",
        down.reason
    );
    handle.task.abort();
}
