//! Running an operator's program: `exec` checks and notify hooks both come
//! here, so both get the same rules.
//!
//! - The program is an absolute path, run directly: no shell, no `PATH`
//!   lookup of the program itself (the configuration refuses anything else).
//! - The environment is cleared; the program gets `PATH` (below) and the
//!   variables its caller documents (`HA_VIP_*`), nothing of the daemon's.
//! - Ambient capabilities are cleared in the child before `execve`: ha-vip
//!   runs with CAP_NET_ADMIN and CAP_NET_RAW, and an ambient set would hand
//!   them to every program it starts (its effective set is already dropped
//!   by `execve` for a non-root program without file capabilities).
//! - Its own process group, so a timeout kills what it started too; killed
//!   and reaped when dropped.
//! - stderr, when kept, is capped: a chatty program cannot grow the daemon.

use std::ffi::OsStr;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt as _;
use tokio::time::{Instant, timeout_at};

/// The `PATH` a program is given, for the tools it runs itself.
pub const PROGRAM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How a run ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    /// The deadline passed: the whole process group was killed.
    TimedOut,
    /// Waiting for it failed.
    Wait(io::Error),
}

/// One finished run.
#[derive(Debug)]
pub struct Run {
    pub ended: Ended,
    /// The first `stderr_cap` bytes of its stderr.
    pub stderr: Vec<u8>,
    /// It wrote more than that; the rest was read and dropped.
    pub stderr_truncated: bool,
}

/// The command for `program`, with the rules above applied.
pub fn command<I, S>(program: &Path, args: I, env: &[(&str, String)]) -> tokio::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", PROGRAM_PATH)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0);
    for (key, value) in env {
        cmd.env(key, value);
    }
    // SAFETY: the closure runs in the child between fork and execve, where
    // only async-signal-safe calls are allowed; prctl(2) is a plain system
    // call that neither allocates nor takes a lock.
    unsafe {
        cmd.pre_exec(|| {
            // PR_CAP_AMBIENT_CLEAR_ALL exists since Linux 4.3; on an older
            // kernel there is no ambient set to clear and EINVAL is fine.
            let rc = libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            );
            if rc != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e);
                }
            }
            Ok(())
        });
    }
    cmd
}

/// Starts `cmd` and waits for it until `deadline`, keeping at most
/// `stderr_cap` bytes of its stderr (0: stderr goes nowhere). On timeout
/// the process group is killed and reaped (bounded). `Err` when it could
/// not be started at all.
pub async fn run(
    mut cmd: tokio::process::Command,
    deadline: Instant,
    stderr_cap: usize,
) -> io::Result<Run> {
    if stderr_cap > 0 {
        cmd.stderr(Stdio::piped());
    }
    let mut child = cmd.spawn()?;
    let mut stderr = child.stderr.take();
    let read_stderr = async {
        let mut kept = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 4096];
        if let Some(pipe) = stderr.as_mut() {
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = stderr_cap.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        truncated |= n > room;
                    }
                }
            }
        }
        (kept, truncated)
    };
    let both = async { tokio::join!(child.wait(), read_stderr) };
    match timeout_at(deadline, both).await {
        Ok((status, (stderr, stderr_truncated))) => Ok(Run {
            ended: match status {
                Ok(s) => Ended::Exited(s),
                Err(e) => Ended::Wait(e),
            },
            stderr,
            stderr_truncated,
        }),
        Err(_) => {
            // The child leads its group (process_group(0)): its pid is the
            // group id. `id()` is None only once it has been reaped.
            if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            // SIGKILL cannot be caught: reaping takes a moment, bounded anyway.
            let _ = tokio::time::timeout(Duration::from_secs(1), child.wait()).await;
            Ok(Run {
                ended: Ended::TimedOut,
                stderr: Vec::new(),
                stderr_truncated: false,
            })
        }
    }
}
