//! What the API-server check logs: never a token, the insecure warnings
//! once. Alone in its binary: tracing caches per call site whether anyone
//! listens, and a thread-local subscriber set while other tests' threads
//! hit the same call sites can miss lines.

mod health_support;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use ha_vip::health::{CheckSpec, CheckUpdate, K8sParams, K8sProber, spawn_check};
use health_support::FakeApiServer;

const TIMEOUT: Duration = Duration::from_millis(800);

async fn recv(rx: &mut tokio::sync::mpsc::Receiver<CheckUpdate>) -> CheckUpdate {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("an update within 5 s")
        .expect("channel open")
}

/// Collects everything logged, at every level, on this thread.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test]
async fn tokens_never_reach_the_log_and_no_ca_is_warned_once() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = FakeApiServer::start(Some("secret-token-one")).await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "secret-token-one").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let params = K8sParams {
        api_server: server.url(),
        token_file: Some(token_file.clone()),
        ca_cert: Some(server.pki.write_ca(dir.path(), "ca.crt")),
        ..K8sParams::default()
    };
    let mut spec = CheckSpec::k8s(params.clone());
    spec.interval = Duration::from_millis(30);
    spec.stability = Duration::ZERO;
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let handle = spawn_check(spec, tx);
    assert!(recv(&mut rx).await.healthy);
    // Rotate on the server first (401 for a while), then on disk.
    server.set_token(Some("secret-token-two"));
    let rejected = recv(&mut rx).await;
    assert!(!rejected.healthy);
    assert!(rejected.reason.starts_with("token rejected"));
    std::fs::write(&token_file, "secret-token-two").unwrap();
    assert!(recv(&mut rx).await.healthy);
    handle.task.abort();
    // Without a CA: warned once, with the token left out.
    let mut insecure = K8sProber::new(
        "k8s",
        K8sParams {
            ca_cert: None,
            ..params
        },
    );
    insecure.probe(TIMEOUT).await;
    insecure.probe(TIMEOUT).await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // Once per prober, not per probe: two probers here.
    assert_eq!(
        log.matches("the token file is world-readable").count(),
        2,
        "{log}"
    );
    assert!(log.contains("The bearer token is NOT sent"), "{log}");
    assert!(!log.contains("secret-token"), "a token leaked:\n{log}");
    assert_eq!(
        log.matches("TLS VERIFICATION OF THE API SERVER IS DISABLED")
            .count(),
        1,
        "{log}"
    );
    assert!(log.contains("token changed on disk"), "{log}");
    assert!(log.contains("check is now FAILED: token rejected"), "{log}");
}
