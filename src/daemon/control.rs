//! The control socket: a Unix stream socket, owner-only (0600).
//!
//! Each connection carries one JSON request line (see `status::Request`).
//! Requests are handed to the protocol loop over a channel; the loop answers
//! from its own state, so the protocol loop never waits on a client.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::status::{Request, Status};

/// A request for the protocol loop.
pub enum ControlMsg {
    Status(oneshot::Sender<Status>),
    /// Start a capture; packets are sent as pcapng bytes until `until`.
    Capture {
        duration: Duration,
        out: mpsc::Sender<Vec<u8>>,
    },
}

/// The bound socket; removes its file when dropped.
pub struct ControlSocket {
    path: PathBuf,
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Bind the socket at `path` and serve it on the current runtime.
///
/// A socket file left by a crashed run is replaced; one that answers
/// belongs to a running daemon, and starting a second is refused.
pub fn serve(path: &Path, lp: mpsc::Sender<ControlMsg>) -> io::Result<ControlSocket> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("create {}: {e}", dir.display())))?;
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "{} answers: another ha-vip is running with this control socket",
                    path.display()
                ),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("bind {}: {e}", path.display())))?;
    // Owner-only: status shows the network's state, capture its packets.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let lp = lp.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, lp).await {
                            debug!("control connection: {e}");
                        }
                    });
                }
                Err(e) => {
                    warn!("control socket accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(ControlSocket {
        path: path.to_path_buf(),
    })
}

/// Longest request line accepted.
const MAX_REQUEST: usize = 4096;
/// Longest on-demand capture.
const MAX_CAPTURE: Duration = Duration::from_secs(3600);

async fn handle(stream: UnixStream, lp: mpsc::Sender<ControlMsg>) -> io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd.take(MAX_REQUEST as u64));
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), rd.read_line(&mut line))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request within 5 s"))??;
    let req: Request = match serde_json::from_str(line.trim()) {
        Ok(r) => r,
        Err(e) => {
            let msg = serde_json::json!({ "error": format!("bad request: {e}") });
            wr.write_all(format!("{msg}\n").as_bytes()).await?;
            return Ok(());
        }
    };
    match req {
        Request::Status => {
            let (tx, rx) = oneshot::channel();
            lp.send(ControlMsg::Status(tx))
                .await
                .map_err(|_| io::Error::other("the daemon loop stopped"))?;
            let st = rx
                .await
                .map_err(|_| io::Error::other("the daemon loop stopped"))?;
            let mut j = serde_json::to_string(&st).map_err(io::Error::other)?;
            j.push('\n');
            wr.write_all(j.as_bytes()).await?;
        }
        Request::Capture { duration_ms } => {
            let duration = Duration::from_millis(duration_ms).min(MAX_CAPTURE);
            let (tx, mut rx) = mpsc::channel(1024);
            lp.send(ControlMsg::Capture { duration, out: tx })
                .await
                .map_err(|_| io::Error::other("the daemon loop stopped"))?;
            // The loop drops its sender when the capture ends.
            while let Some(chunk) = rx.recv().await {
                wr.write_all(&chunk).await?;
            }
        }
    }
    wr.shutdown().await
}
