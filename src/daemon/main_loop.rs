//! The daemon's one event loop and its inputs.
//!
//! Inputs, in priority order: signals, the deadline timer, netlink events,
//! control requests, check results, readable sockets. Each becomes a call
//! on [`Routers`], which hands it to `core::Endpoint` and carries out what
//! the endpoint then asks for. No protocol decision is made here.

use std::future::poll_fn;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info};

use super::checks::Checks;
use super::control::{self, ControlMsg};
use super::host::{Host, SockKey};
use super::metrics;
use super::pace::RxPace;
use super::routers::Routers;
use super::supervisor::Supervisor;
use super::tap::Capture;
use super::timer::DeadlineTimer;
use crate::capture::RotatingFile;
use crate::config::Config;
use crate::health::CheckUpdate;
use crate::net::netlink::{self, Event};

enum Input {
    Stop(&'static str),
    Reload,
    Netlink(Event),
    Readable(SockKey, std::io::Result<()>),
    Timer,
    Control(ControlMsg),
    Check(CheckUpdate),
}

pub async fn run(dir: PathBuf, config: Config) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut events = netlink::watch().context("netlink monitor (needs CAP_NET_ADMIN)")?;
    let host = Host::new().context("netlink")?;
    info!(
        routers = config.routers.len(),
        "ha-vip {} starting",
        env!("CARGO_PKG_VERSION")
    );
    let (control_tx, mut control_rx) = tokio::sync::mpsc::channel::<ControlMsg>(64);
    let _control = control::serve(&config.daemon.control.socket, control_tx.clone())
        .context("control socket")?;
    if let Some(addr) = config.daemon.metrics.listen {
        metrics::serve(addr, control_tx.clone()).await?;
        info!("metrics on http://{addr}/metrics and /healthz");
    }
    let mut cap = Capture::default();
    if let Some(dir) = &config.daemon.capture.dir {
        let file = RotatingFile::start(
            dir,
            config.daemon.capture.max_file_bytes,
            config.daemon.capture.max_files,
        )
        .with_context(|| format!("capture directory {}", dir.display()))?;
        info!("capturing VRRP, ARP and NA to {}", dir.display());
        cap.file = Some(file);
    }
    let (check_tx, mut check_rx) = tokio::sync::mpsc::channel::<CheckUpdate>(256);
    let checks = Checks::start(&config.daemon, check_tx);
    let mut routers = Routers::new(dir, host, checks, cap, config.daemon.clone());
    routers.apply(config).await;
    let mut supervisor = Supervisor::from_env();
    supervisor.ready(routers.summary());
    let mut changes_seen = routers.state_changes;

    let mut timer = DeadlineTimer::new().context("timerfd")?;
    let mut pace = RxPace::default();
    loop {
        let deadline = [
            routers.next_deadline(),
            pace.deadline(),
            supervisor.deadline(),
        ]
        .into_iter()
        .flatten()
        .min();
        timer.set(deadline).context("timerfd")?;
        let wait_readable = pace.wait_readable();
        // Paced, the sockets leave the epoll set: otherwise every arriving
        // packet would still wake the thread, only to find nothing to do.
        routers.host.set_polled(wait_readable);
        let input = {
            let host = &routers.host;
            let timer = &mut timer;
            tokio::select! {
                biased;
                _ = sigterm.recv() => Input::Stop("SIGTERM"),
                _ = sigint.recv() => Input::Stop("SIGINT"),
                _ = sighup.recv() => Input::Reload,
                // Timers before packets: a deadline that has passed must not
                // wait behind a burst of received adverts.
                r = poll_fn(|cx| timer.poll_expired(cx)) => match r {
                    Ok(()) => Input::Timer,
                    Err(e) => return Err(anyhow::anyhow!("timerfd: {e}")),
                },
                Some(ev) = events.recv() => Input::Netlink(ev),
                Some(msg) = control_rx.recv() => Input::Control(msg),
                Some(update) = check_rx.recv() => Input::Check(update),
                (key, r) = poll_fn(|cx| host.poll_readable(cx)), if wait_readable => Input::Readable(key, r),
            }
        };
        match input {
            Input::Stop(sig) => {
                info!("{sig}: stopping; Active routers hand over with priority 0");
                supervisor.stopping();
                routers.shutdown_all().await;
                info!("stopped");
                return Ok(());
            }
            Input::Reload => {
                supervisor.reloading();
                routers.reload().await;
                supervisor.ready(routers.summary());
            }
            Input::Netlink(ev) => routers.on_netlink(ev).await,
            Input::Readable(key, Ok(())) => {
                let (packets, drained) = routers.read(Some(key));
                let now = Instant::now();
                pace.after_read(now, packets, drained);
                // The timerfd's readiness is seen only when the runtime
                // polls its reactor, which a socket that never drains
                // delays (a flood): run what is due after every burst.
                if routers.next_deadline().is_some_and(|d| d <= now) {
                    routers.on_timer().await;
                } else {
                    routers.carry_out().await;
                }
            }
            Input::Readable(key, Err(e)) => {
                error!("socket {key:?}: {e}");
            }
            Input::Timer => {
                // Read what has arrived before acting on any deadline: an
                // advert received before a Master_Down deadline resets it
                // (its receive time is the kernel's, however late it is
                // read). This is also the paced read (pace.rs).
                if !wait_readable || routers.host.any_socket_ready() {
                    let (packets, drained) = routers.read(None);
                    pace.after_read(Instant::now(), packets, drained);
                }
                routers.on_timer().await;
            }
            Input::Control(msg) => routers.on_control(msg),
            Input::Check(update) => routers.on_check(update).await,
        }
        // The watchdog is fed here, by the loop that runs the protocol.
        supervisor.tick(Instant::now());
        if routers.state_changes != changes_seen && supervisor.enabled() {
            changes_seen = routers.state_changes;
            supervisor.status(routers.summary());
        }
    }
}
