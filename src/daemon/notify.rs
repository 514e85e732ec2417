//! Notify hooks, like keepalived's notify scripts.
//!
//! On a state change of a router its programs run in order, as
//! `PROGRAM ROUTER STATE PRIORITY`, with the same values in the environment
//! (HA_VIP_ROUTER, HA_VIP_STATE, HA_VIP_PRIORITY, HA_VIP_VRID,
//! HA_VIP_INTERFACE) and `PATH`; nothing else of the daemon's environment,
//! no ambient capabilities, no shell (see `health::spawn`, shared with the
//! `exec` checks). They run on their own task: the protocol never waits for
//! them. Each program has a timeout after which its process group is killed.
//!
//! Changes are coalesced per router: while the programs run, only the
//! latest state waits, so a peer that makes the router flap cannot queue
//! hooks without bound. A program always ends up told the router's current
//! state; states that came and went while it ran are skipped (and counted
//! in the log). At most [`STDERR_KEPT`] bytes of a program's stderr are
//! kept for the log line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::health::spawn;

/// stderr bytes of one notify program kept for its log line.
pub const STDERR_KEPT: usize = 4096;

/// One state change to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: String,
    pub priority: u8,
}

/// The hook runner of one router.
pub struct Notifier {
    /// The latest change and its sequence number (1, 2, ...).
    tx: watch::Sender<Option<(u64, Change)>>,
}

impl Notifier {
    /// Spawn the runner task; `None` when the router has no programs. The
    /// task ends when the `Notifier` is dropped, after the change sent
    /// last (if it had not been taken yet).
    pub fn spawn(
        router: String,
        vrid: u8,
        interface: String,
        programs: Vec<PathBuf>,
        timeout: Duration,
    ) -> Option<Notifier> {
        if programs.is_empty() {
            return None;
        }
        let (tx, mut rx) = watch::channel::<Option<(u64, Change)>>(None);
        tokio::spawn(async move {
            let mut done = 0u64;
            while rx.changed().await.is_ok() {
                let Some((seq, change)) = rx.borrow_and_update().clone() else {
                    continue;
                };
                let skipped = seq.saturating_sub(done).saturating_sub(1);
                if skipped > 0 {
                    info!(router, state = %change.state, skipped,
                        "notify: {skipped} state change(s) came and went while the programs ran; running for the latest");
                }
                done = seq;
                for prog in &programs {
                    run_one(prog, &router, vrid, &interface, &change, timeout).await;
                }
            }
        });
        Some(Notifier { tx })
    }

    /// Queues `change`, replacing any change still waiting.
    pub fn notify(&self, change: Change) {
        self.tx.send_modify(|latest| {
            let seq = latest.as_ref().map_or(0, |(seq, _)| *seq) + 1;
            *latest = Some((seq, change));
        });
    }
}

/// The environment a notify program gets, besides `PATH`.
fn environment(
    router: &str,
    vrid: u8,
    interface: &str,
    change: &Change,
) -> Vec<(&'static str, String)> {
    vec![
        ("HA_VIP_ROUTER", router.to_string()),
        ("HA_VIP_STATE", change.state.clone()),
        ("HA_VIP_PRIORITY", change.priority.to_string()),
        ("HA_VIP_VRID", vrid.to_string()),
        ("HA_VIP_INTERFACE", interface.to_string()),
    ]
}

async fn run_one(
    prog: &Path,
    router: &str,
    vrid: u8,
    interface: &str,
    change: &Change,
    timeout: Duration,
) {
    let priority = change.priority.to_string();
    let cmd = spawn::command(
        prog,
        [router, change.state.as_str(), priority.as_str()],
        &environment(router, vrid, interface, change),
    );
    let deadline = tokio::time::Instant::now() + timeout;
    let run = match spawn::run(cmd, deadline, STDERR_KEPT).await {
        Ok(run) => run,
        Err(e) => {
            warn!(router, "notify {}: cannot start: {e}", prog.display());
            return;
        }
    };
    match run.ended {
        spawn::Ended::Exited(status) if status.success() => {
            info!(router, state = %change.state, "notify {} done", prog.display());
        }
        spawn::Ended::Exited(status) => {
            let err = String::from_utf8_lossy(&run.stderr);
            warn!(router, state = %change.state, "notify {} failed ({}): {}{}",
                prog.display(), status, err.trim(),
                if run.stderr_truncated { " [stderr truncated]" } else { "" });
        }
        spawn::Ended::Wait(e) => warn!(router, "notify {}: {e}", prog.display()),
        spawn::Ended::TimedOut => {
            warn!(router, state = %change.state, "notify {} killed after {:?}", prog.display(), timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A program that appends `STATE` to `log` and then sleeps a while.
    fn slow_recorder(dir: &std::path::Path) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt as _;
        let log = dir.join("log");
        let prog = dir.join("hook");
        std::fs::write(
            &prog,
            format!(
                "#!/bin/sh\necho \"$2 $HA_VIP_STATE\" >> {}\nsleep 0.3\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        (prog, log)
    }

    fn lines(log: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[tokio::test]
    async fn a_flapping_router_coalesces_to_the_latest_state() {
        let dir = tempfile::tempdir().unwrap();
        let (prog, log) = slow_recorder(dir.path());
        let n = Notifier::spawn(
            "r1".into(),
            51,
            "eth0".into(),
            vec![prog],
            Duration::from_secs(5),
        )
        .unwrap();
        // 200 changes while the first run sleeps: at most one waits.
        for i in 0..200u32 {
            let state = if i % 2 == 0 { "Active" } else { "Backup" };
            n.notify(Change {
                state: format!("{state}{i}"),
                priority: 100,
            });
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = lines(&log);
            if seen.last().map(String::as_str) == Some("Backup199 Backup199") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{seen:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Give a wrongly queued run the time to show up.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let seen = lines(&log);
        assert!(seen.len() <= 2, "ran {} times: {seen:?}", seen.len());
        assert_eq!(seen.last().map(String::as_str), Some("Backup199 Backup199"));
    }

    #[tokio::test]
    async fn stderr_kept_is_capped() {
        let cmd = spawn::command(
            std::path::Path::new("/bin/sh"),
            ["-c", "head -c 1000000 /dev/zero | tr '\\0' x >&2; exit 3"],
            &[],
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let run = spawn::run(cmd, deadline, STDERR_KEPT).await.unwrap();
        assert!(matches!(run.ended, spawn::Ended::Exited(s) if s.code() == Some(3)));
        assert_eq!(run.stderr.len(), STDERR_KEPT);
        assert!(run.stderr.iter().all(|&b| b == b'x'));
        assert!(run.stderr_truncated);
    }
}
