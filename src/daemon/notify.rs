//! Notify hooks, like keepalived's notify scripts.
//!
//! On every state change of a router its programs run in order, as
//! `PROGRAM ROUTER STATE PRIORITY` with the same values in the environment
//! (HA_VIP_ROUTER, HA_VIP_STATE, HA_VIP_PRIORITY, HA_VIP_VRID,
//! HA_VIP_INTERFACE). They run on their own task: the protocol never waits
//! for them. Changes are queued and run one after another, so a program
//! always sees the transitions in order. Each program has a timeout after
//! which it is killed. Programs are executed directly, never by a shell.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// One state change to report.
#[derive(Debug, Clone)]
pub struct Change {
    pub state: String,
    pub priority: u8,
}

/// The queue of one router's notify programs.
pub struct Notifier {
    tx: mpsc::UnboundedSender<Change>,
}

impl Notifier {
    /// Spawn the runner task; `None` when the router has no programs.
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
        let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                for prog in &programs {
                    run_one(prog, &router, vrid, &interface, &change, timeout).await;
                }
            }
        });
        Some(Notifier { tx })
    }

    pub fn notify(&self, change: Change) {
        let _ = self.tx.send(change);
    }
}

async fn run_one(
    prog: &PathBuf,
    router: &str,
    vrid: u8,
    interface: &str,
    change: &Change,
    timeout: Duration,
) {
    let priority = change.priority.to_string();
    let mut cmd = Command::new(prog);
    cmd.arg(router)
        .arg(&change.state)
        .arg(&priority)
        .env("HA_VIP_ROUTER", router)
        .env("HA_VIP_STATE", &change.state)
        .env("HA_VIP_PRIORITY", &priority)
        .env("HA_VIP_VRID", vrid.to_string())
        .env("HA_VIP_INTERFACE", interface)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so a timeout kills what it started too.
        .process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            warn!(router, "notify {}: cannot start: {e}", prog.display());
            return;
        }
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {
            info!(router, state = %change.state, "notify {} done", prog.display());
        }
        Ok(Ok(out)) => {
            let err = String::from_utf8_lossy(&out.stderr);
            warn!(router, state = %change.state, "notify {} failed ({}): {}",
                prog.display(), out.status, err.trim());
        }
        Ok(Err(e)) => warn!(router, "notify {}: {e}", prog.display()),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            warn!(router, state = %change.state, "notify {} killed after {:?}", prog.display(), timeout);
        }
    }
}
