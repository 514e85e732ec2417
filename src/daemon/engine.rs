//! The daemon's one event loop.
//!
//! Inputs, in priority order: signals, netlink events, received packets,
//! timers. Every input becomes a call on a `core::VirtualRouter` with the
//! current instant, followed by draining that router's actions. No protocol
//! decision is made here.

use std::collections::{BTreeMap, HashSet};
use std::future::poll_fn;
use std::net::IpAddr;
use std::path::PathBuf;
use std::task::Poll;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{debug, error, info, warn};

use super::control::{self, ControlMsg};
use super::metrics;
use super::notify::{Change, Notifier};
use super::pace::RxPace;
use super::timer::DeadlineTimer;
use crate::capture::{self, IFACE_ETHERNET, IFACE_IP, Note, RotatingFile};
use crate::config::{self, Config};
use crate::core::{self, Action, State, VirtualRouter};
use crate::health::{self, CheckHandle, CheckSpec, CheckUpdate};
use crate::net::mmsg::{self, RecvBatch, SendBatch};
use crate::net::netlink::{self, Event, Netlink};
use crate::net::packet::FrameSender;
use crate::net::socket::{Rx, VrrpSocket, realtime_now};
use crate::net::{VRRP_GROUP_V4, VRRP_GROUP_V6};
use crate::status::{ActiveStatus, RouterStatus, Status, TrackedStatus, TransitionStatus};
use crate::wire::{self, Family};

/// Largest advert: 8-byte header + 255 IPv6 addresses.
const TX_BUF: usize = crate::net::MAX_ADVERT;
/// At most one split-brain log line per peer in this time (all counted).
const SPLIT_BRAIN_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// Packets read from one socket before the loop looks at other inputs
/// (eight recvmmsg batches).
const RX_BURST: usize = 8 * mmsg::BATCH;

pub async fn run(dir: PathBuf, config: Config) -> anyhow::Result<()> {
    let mut sigterm = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("SIGHUP handler")?;
    let mut events = netlink::watch().context("netlink monitor (needs CAP_NET_ADMIN)")?;
    let mut engine = Engine::new(dir).context("netlink")?;
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
    if let Some(dir) = &config.daemon.capture.dir {
        let file = RotatingFile::start(
            dir,
            config.daemon.capture.max_file_bytes,
            config.daemon.capture.max_files,
        )
        .with_context(|| format!("capture directory {}", dir.display()))?;
        info!("capturing VRRP, ARP and NA to {}", dir.display());
        engine.cap.file = Some(file);
    }
    let (check_tx, mut check_rx) = tokio::sync::mpsc::channel::<CheckUpdate>(256);
    engine.check_tx = Some(check_tx);
    engine.spawn_checks(&config.daemon);
    engine.daemon_cfg = config.daemon.clone();
    engine.apply(config).await;

    let mut timer = DeadlineTimer::new().context("timerfd")?;
    let mut pace = RxPace::default();
    loop {
        let deadline = match (engine.next_deadline(), pace.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        timer.set(deadline).context("timerfd")?;
        let wait_readable = pace.wait_readable();
        // Paced, the sockets leave the epoll set: otherwise every arriving
        // packet would still wake the thread, only to find nothing to do.
        engine.set_sockets_polled(wait_readable);
        let input = {
            let sockets = &engine.sockets;
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
                i = poll_fn(|cx| {
                    for (i, s) in sockets.iter().enumerate() {
                        if let Poll::Ready(r) = s.sock.poll_read_ready(cx) {
                            return Poll::Ready((i, r));
                        }
                    }
                    Poll::Pending
                }), if wait_readable => Input::Readable(i.0, i.1),
            }
        };
        match input {
            Input::Stop(sig) => {
                info!("{sig}: stopping; Active routers hand over with priority 0");
                engine.shutdown_all().await;
                info!("stopped");
                return Ok(());
            }
            Input::Reload => engine.reload().await,
            Input::Netlink(ev) => engine.on_netlink(ev).await,
            Input::Readable(i, Ok(())) => {
                let (packets, drained) = engine.read_socket(i).await;
                let now = Instant::now();
                pace.after_read(now, packets, drained);
                // The timerfd's readiness is seen only when the runtime
                // polls its reactor, which a socket that never drains
                // delays (a flood): run what is due after every burst.
                if engine.next_deadline().is_some_and(|d| d <= now) {
                    engine.on_timer().await;
                }
            }
            Input::Readable(i, Err(e)) => {
                error!("socket {i}: {e}");
            }
            Input::Timer => {
                // Read what has arrived before acting on any deadline: an
                // advert received before a Master_Down deadline resets it
                // (its receive time is the kernel's, however late it is
                // read). This is also the paced read (pace.rs).
                if !wait_readable || engine.any_socket_ready() {
                    let (packets, drained) = engine.read_sockets().await;
                    pace.after_read(Instant::now(), packets, drained);
                }
                engine.on_timer().await;
            }
            Input::Control(msg) => engine.on_control(msg),
            Input::Check(update) => engine.on_check(update).await,
        }
        // One sendmmsg for every advert this input produced.
        engine.flush_sends();
    }
}

enum Input {
    Stop(&'static str),
    Reload,
    Netlink(Event),
    Readable(usize, std::io::Result<()>),
    Timer,
    Control(ControlMsg),
    Check(CheckUpdate),
}

/// A running health check and what it last reported.
struct Check {
    handle: CheckHandle,
    spec: CheckSpec,
    last: Option<CheckUpdate>,
}

impl Drop for Check {
    fn drop(&mut self) {
        self.handle.task.abort();
    }
}

/// Where packets are copied for debugging: on-demand taps (`ha-vip
/// capture`) and the rotating file of `[capture]`. Idle costs nothing.
#[derive(Default)]
pub struct Capture {
    taps: Vec<(Instant, tokio::sync::mpsc::Sender<Vec<u8>>)>,
    file: Option<RotatingFile>,
}

impl Capture {
    fn active(&self) -> bool {
        !self.taps.is_empty() || self.file.is_some()
    }

    fn record(&mut self, iface: u32, data: &[u8], note: &Note<'_>) {
        let at = SystemTime::now();
        if let Some(f) = self.file.as_mut() {
            f.packet(iface, at, data, note);
        }
        if !self.taps.is_empty() {
            let block = capture::packet(iface, at, data, note);
            // A tap whose reader is gone or too slow is dropped.
            self.taps
                .retain(|(_, tx)| tx.try_send(block.clone()).is_ok());
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.taps.iter().map(|(until, _)| *until).min()
    }

    /// Close taps whose time is up (dropping the sender ends the stream).
    fn expire(&mut self, now: Instant) {
        self.taps.retain(|(until, _)| *until > now);
    }
}

/// A shared socket of one (interface, family) and its frame sender.
struct SockSlot {
    ifindex: u32,
    family: Family,
    sock: VrrpSocket,
    frames: FrameSender,
    /// The last epoll registration failed (logged once).
    poll_failed: bool,
}

/// The socket queued adverts leave through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxVia {
    /// `Engine::sockets[i]`.
    Shared(usize),
    /// The virtual MAC socket of `Engine::routers[i]`.
    Vmac(usize),
}

/// A router whose interface is present and which runs the core.
struct Running {
    ifindex: u32,
    mac: [u8; 6],
    /// Index into `Engine::sockets`.
    sock: usize,
    vr: VirtualRouter,
    link_up: bool,
    /// The address adverts are sent from.
    source: IpAddr,
    /// `virtual_mac = true`: the macvlan carrying the RFC virtual MAC.
    vmac: Option<Vmac>,
}

/// A router's macvlan (RFC 9568 7.3: the Active router answers from
/// 00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}). Up only while
/// Active; the VIPs live on it; adverts and announcements leave from it.
struct Vmac {
    index: u32,
    name: String,
    mac: [u8; 6],
    tx: VrrpSocket,
    frames: FrameSender,
}

/// One configured virtual router.
struct Slot {
    cfg: config::Router,
    run: Option<Running>,
    /// Why the router is not running, for `status`.
    waiting: Option<String>,
    notifier: Option<Notifier>,
    /// State changes by "to-state: reason".
    transitions: BTreeMap<String, u64>,
    announcements_sent: u64,
    last_takeover: Option<SystemTime>,
    /// The last split brain logged (peer, when), for the log's rate limit.
    split_brain_logged: Option<(IpAddr, Instant)>,
    /// The core's `poll_timeout()` and `poll_timeout_early()`, cached
    /// after every drain.
    deadline: Option<Instant>,
    early: Option<Instant>,
}

pub struct Engine {
    dir: PathBuf,
    nl: Netlink,
    routers: Vec<Slot>,
    sockets: Vec<SockSlot>,
    /// Receive storage for one recvmmsg (taken out while in use).
    rx_batch: Option<RecvBatch>,
    /// Scratch for emitting one advert.
    tx_buf: Vec<u8>,
    /// Adverts queued for one sendmmsg, all through `tx_via`, and the
    /// router of each (for error logs). Flushed before any other action
    /// with an effect outside (addresses, ARP/NA), and after every input.
    tx_batch: SendBatch,
    tx_via: Option<TxVia>,
    tx_routers: Vec<usize>,
    frame_buf: Vec<u8>,
    /// Packets dropped before reaching a router, by wire error counter.
    drops: BTreeMap<&'static str, u64>,
    /// (source, VRID) of adverts for no router of ours, logged once each.
    unknown_vrids: UnknownVrids,
    pub cap: Capture,
    started: Instant,
    checks: BTreeMap<String, Check>,
    check_tx: Option<tokio::sync::mpsc::Sender<CheckUpdate>>,
    daemon_cfg: config::DaemonConfig,
}

impl Engine {
    pub fn new(dir: PathBuf) -> std::io::Result<Engine> {
        Ok(Engine {
            dir,
            nl: Netlink::open()?,
            routers: Vec::new(),
            sockets: Vec::new(),
            rx_batch: Some(RecvBatch::default()),
            tx_buf: vec![0; TX_BUF],
            tx_batch: SendBatch::default(),
            tx_via: None,
            tx_routers: Vec::with_capacity(mmsg::BATCH),
            frame_buf: vec![0; 1514],
            drops: BTreeMap::new(),
            unknown_vrids: UnknownVrids::default(),
            cap: Capture::default(),
            started: Instant::now(),
            checks: BTreeMap::new(),
            check_tx: None,
            daemon_cfg: config::DaemonConfig::default(),
        })
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.routers
            .iter()
            .filter_map(|s| s.deadline)
            .chain(self.cap.next_deadline())
            .min()
    }

    /// Start every router of a freshly loaded configuration.
    async fn apply(&mut self, config: Config) {
        for cfg in config.routers {
            let slot = Slot::new(cfg);
            self.routers.push(slot);
            let i = self.routers.len() - 1;
            self.start(i).await;
        }
    }

    /// Bring a router up: find its interface, clear stale VIPs, open or
    /// share the socket, and start the core. When it cannot run yet
    /// (interface missing, no source address) the reason is logged and
    /// shown in `status`; the netlink monitor retries when things change.
    async fn start(&mut self, i: usize) {
        let result = self.try_start(i).await;
        let Some(slot) = self.routers.get_mut(i) else {
            return;
        };
        match result {
            Ok(()) => slot.waiting = None,
            Err(why) => {
                if slot.waiting.as_deref() != Some(why.as_str()) {
                    warn!(router = %slot.cfg.name, "not running: {why}");
                }
                slot.waiting = Some(why);
            }
        }
        self.drain(i).await;
    }

    async fn try_start(&mut self, i: usize) -> Result<(), String> {
        let Some(slot) = self.routers.get(i) else {
            return Ok(());
        };
        let cfg = slot.cfg.clone();
        let link = match self.nl.link_by_name(&cfg.interface).await {
            Ok(Some(l)) => l,
            Ok(None) => return Err(format!("waiting for interface {} to appear", cfg.interface)),
            Err(e) => return Err(format!("interface {}: {e}", cfg.interface)),
        };
        let Some(mac) = link.mac else {
            return Err(format!(
                "interface {} has no Ethernet address; VRRP needs one",
                cfg.interface
            ));
        };
        let addrs = self
            .nl
            .addresses(link.index)
            .await
            .map_err(|e| e.to_string())?;
        // A crashed run may have left our VIPs behind: remove them before the
        // router starts, so the LAN never sees two holders.
        for a in &addrs {
            if cfg.addresses.iter().any(|v| v.addr == a.addr) {
                warn!(router = %cfg.name, "removing {}/{} left on {} by an earlier run", a.addr, a.prefix_len, cfg.interface);
                if let Err(e) = self.nl.del_address(link.index, a.addr, a.prefix_len).await {
                    error!(router = %cfg.name, "{e}");
                }
            }
        }
        let all_vips: HashSet<IpAddr> = self
            .routers
            .iter()
            .flat_map(|s| s.cfg.addresses.iter().map(|v| v.addr))
            .collect();
        let source = match cfg.source_address {
            Some(s) => s,
            None => pick_source(cfg.family, &addrs, &all_vips).ok_or_else(|| {
                format!(
                    "interface {} has no {} address to send adverts from (set source_address)",
                    cfg.interface,
                    match cfg.family {
                        Family::Ipv4 => "IPv4",
                        Family::Ipv6 => "IPv6 link-local",
                    }
                )
            })?,
        };
        let sock = self
            .socket_for(&cfg, link.index, source)
            .map_err(|e| format!("cannot open the VRRP socket on {}: {e}", cfg.interface))?;
        let vmac = if cfg.virtual_mac {
            Some(self.open_vmac(&cfg, link.index, source).await?)
        } else {
            None
        };
        let mut vr = VirtualRouter::new(core_config(&cfg, source));
        let now = Instant::now();
        // A check that has not reported yet counts as failed: every node
        // starts with the same penalty, so their order is kept.
        for (name, weight) in self.tracked_checks(&cfg) {
            let failed = !self.check_healthy(&name);
            vr.set_tracked(now, &name, weight, failed);
        }
        if link.up {
            vr.startup(now);
        } else {
            warn!(router = %cfg.name, "interface {} is down; staying in Initialize", cfg.interface);
        }
        info!(router = %cfg.name, interface = %cfg.interface, vrid = cfg.vrid,
            source = %source, "virtual router configured");
        if let Some(slot) = self.routers.get_mut(i) {
            slot.run = Some(Running {
                ifindex: link.index,
                mac,
                sock,
                vr,
                link_up: link.up,
                source,
                vmac,
            });
        }
        Ok(())
    }

    /// Create (or adopt, after a crash) the router's macvlan, left down,
    /// with no stale VIP on it, and its send sockets.
    async fn open_vmac(
        &mut self,
        cfg: &config::Router,
        parent: u32,
        source: IpAddr,
    ) -> Result<Vmac, String> {
        let (tag, last) = match cfg.family {
            Family::Ipv4 => ("4", 0x01),
            Family::Ipv6 => ("6", 0x02),
        };
        // FRR's naming: vrrp4-IFINDEX-VRID (at most 15 bytes).
        let name = format!("vrrp{tag}-{parent}-{}", cfg.vrid);
        let mac = [0x00, 0x00, 0x5e, 0x00, last, cfg.vrid];
        let index = self
            .nl
            .ensure_macvlan(parent, &name, mac)
            .await
            .map_err(|e| format!("virtual MAC: {e}"))?;
        let _ = self.nl.set_link_down(index).await;
        if let Ok(addrs) = self.nl.addresses(index).await {
            for a in addrs {
                if cfg.addresses.iter().any(|v| v.addr == a.addr) {
                    warn!(router = %cfg.name, "removing {}/{} left on {name} by an earlier run", a.addr, a.prefix_len);
                    let _ = self.nl.del_address(index, a.addr, a.prefix_len).await;
                }
            }
        }
        // The parent must never tie the VIP to its own MAC: answer ARP only
        // for addresses of the interface the request came in on
        // (arp_ignore=1), and never use the VIP as the sender of its own
        // ARP requests (arp_announce=2). keepalived and FRR document the
        // same two settings for their virtual MACs.
        if cfg.family == Family::Ipv4 {
            for (key, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
                let path = format!("/proc/sys/net/ipv4/conf/{}/{key}", cfg.interface);
                if let Err(e) = std::fs::write(&path, value) {
                    warn!(router = %cfg.name, "{path}: {e}");
                }
            }
        }
        let mut tx = VrrpSocket::open(&name, index, source, false)
            .map_err(|e| format!("virtual MAC socket on {name}: {e}"))?;
        // Send-only: nothing reads it, so nothing should wake for it.
        tx.set_polled(false)
            .map_err(|e| format!("virtual MAC socket on {name}: {e}"))?;
        let frames = FrameSender::open(index).map_err(|e| format!("{name}: {e}"))?;
        info!(router = %cfg.name, "virtual MAC {} on {name}", wire::MacAddr(mac));
        Ok(Vmac {
            index,
            name,
            mac,
            tx,
            frames,
        })
    }

    /// Find or open the shared socket of (interface, family).
    fn socket_for(
        &mut self,
        cfg: &config::Router,
        ifindex: u32,
        source: IpAddr,
    ) -> std::io::Result<usize> {
        let family = Family::of(&source);
        if let Some(i) = self
            .sockets
            .iter()
            .position(|s| s.ifindex == ifindex && s.family == family)
        {
            return Ok(i);
        }
        // Unicast routers also receive on this socket; joining the group is
        // harmless for them and needed by any multicast router sharing it.
        let sock = VrrpSocket::open(&cfg.interface, ifindex, source, true)?;
        let frames = FrameSender::open(ifindex)?;
        self.sockets.push(SockSlot {
            ifindex,
            family,
            sock,
            frames,
            poll_failed: false,
        });
        Ok(self.sockets.len() - 1)
    }

    fn set_sockets_polled(&mut self, polled: bool) {
        for (si, slot) in self.sockets.iter_mut().enumerate() {
            match slot.sock.set_polled(polled) {
                Ok(()) => slot.poll_failed = false,
                // Logged once until it works again; meanwhile the socket is
                // read before every timer and paced read.
                Err(e) if !slot.poll_failed => {
                    slot.poll_failed = true;
                    error!("socket #{si}: cannot add it to the epoll set: {e}");
                }
                Err(_) => {}
            }
        }
    }

    /// Whether a polled socket has readiness the loop has not acted on
    /// (the timer won the same epoll_wait). A packet that arrived before a
    /// deadline was reported by the epoll_wait that reported the deadline,
    /// so this is all the timer path needs to look at when not pacing.
    fn any_socket_ready(&self) -> bool {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        self.sockets
            .iter()
            .any(|s| s.sock.poll_read_ready(&mut cx).is_ready())
    }

    /// Read every socket (at most a burst each): packets read, and whether
    /// every socket was left empty.
    async fn read_sockets(&mut self) -> (usize, bool) {
        let mut packets = 0;
        let mut drained = true;
        for si in 0..self.sockets.len() {
            let (n, d) = self.read_socket(si).await;
            packets += n;
            drained &= d;
        }
        (packets, drained)
    }

    /// Read up to a burst of packets from one socket, a batch per system
    /// call, and hand each to its router: packets read, and whether the
    /// socket was left empty.
    async fn read_socket(&mut self, si: usize) -> (usize, bool) {
        // Taken out for the loop, so each packet can borrow it while the
        // routers are handed theirs; always put back.
        let Some(mut batch) = self.rx_batch.take() else {
            return (0, true);
        };
        let mut packets = 0;
        let mut drained = false;
        while packets < RX_BURST {
            let Some(slot) = self.sockets.get(si) else {
                drained = true;
                break;
            };
            let n = match slot.sock.recv_batch(&mut batch) {
                Ok(n) => n,
                Err(e) => {
                    warn!("receive on socket #{si}: {e}");
                    0
                }
            };
            if n < mmsg::BATCH {
                // A short batch: the queue is empty now.
                slot.sock.clear_ready();
                drained = true;
            }
            let (ifindex, family) = (slot.ifindex, slot.family);
            // One clock reading per batch: each packet's arrival is this
            // instant less its age by the kernel's receive timestamp.
            let read_at = Instant::now();
            let realtime = realtime_now();
            for k in 0..n {
                let Some((data, meta)) = batch.get(k) else {
                    continue;
                };
                packets += 1;
                let datagram = (family == Family::Ipv4).then_some(data);
                if meta.truncated {
                    self.drop_received("datagram_too_long", "longer than any advert", datagram);
                    continue;
                }
                match Rx::from_batch(family, data, meta, realtime) {
                    Ok(rx) => self.handle_packet(ifindex, family, rx, read_at).await,
                    Err(e) => self.drop_received("control_data_missing", e, datagram),
                }
            }
            if drained {
                break;
            }
        }
        self.rx_batch = Some(batch);
        (packets, drained)
    }

    /// A received packet dropped before parsing: counted, logged at debug,
    /// and noted in captures.
    /// `datagram`: the whole IP datagram, if known (an IPv6 socket gives
    /// the payload only).
    /// `why` is formatted only if the debug log or a capture wants it.
    fn drop_received(
        &mut self,
        counter: &'static str,
        why: impl std::fmt::Display,
        datagram: Option<&[u8]>,
    ) {
        *self.drops.entry(counter).or_default() += 1;
        debug!(reason = counter, "dropped packet: {why}");
        if let Some(datagram) = datagram
            && self.cap.active()
        {
            let note = format!("{counter}: {why}");
            self.cap.record(IFACE_IP, datagram, &Note::Dropped(&note));
        }
    }

    /// One received packet: parse, find its router, hand it over, carry
    /// out what the router decided. `read_at` is when its batch was read.
    async fn handle_packet(&mut self, ifindex: u32, family: Family, rx: Rx<'_>, read_at: Instant) {
        let opts = wire::ParseOptions::default();
        // For captures: the whole datagram (IPv6 headers are rebuilt
        // from what the kernel reported).
        let rebuilt;
        // The advert's arrival, from the kernel's receive timestamp: the
        // Master_Down_Timer runs from there (RFC 9568 6.4.2).
        let now = read_at.checked_sub(rx.age()).unwrap_or(read_at);
        let (parsed, datagram): (_, &[u8]) = match rx {
            Rx::V4 { datagram, .. } => (wire::parse_ipv4(datagram, &opts), datagram),
            Rx::V6 {
                src,
                dst,
                hop_limit,
                payload,
                ..
            } => {
                rebuilt = if self.cap.active() {
                    capture::ip_datagram(IpAddr::V6(src), IpAddr::V6(dst), hop_limit, payload)
                } else {
                    None
                };
                (
                    wire::parse_ipv6(src, dst, hop_limit, payload, &opts),
                    rebuilt.as_deref().unwrap_or(&[]),
                )
            }
        };
        let received = match parsed {
            Ok(r) => r,
            Err(e) => {
                self.drop_received(e.counter(), e, Some(datagram));
                return;
            }
        };
        let vrid = received.advert.vrid;
        let target = self.routers.iter().position(|s| {
            s.cfg.vrid == vrid
                && s.cfg.family == family
                && s.run.as_ref().is_some_and(|r| r.ifindex == ifindex)
        });
        let Some(ri) = target else {
            *self.drops.entry("vrid_unknown").or_default() += 1;
            match self.unknown_vrids.note(received.src, vrid) {
                UnknownVrid::New => warn!(
                    "advert for VRID {vrid} from {} (priority {}) matches no router of ours on this interface",
                    received.src, received.advert.priority
                ),
                UnknownVrid::LimitReached => warn!(
                    "adverts for VRIDs of no router of ours from {UNKNOWN_VRID_LOG_LIMIT} (source, VRID) pairs: not logging further ones (spoofed sources?); they are still counted as vrid_unknown"
                ),
                UnknownVrid::Seen => {}
            }
            if self.cap.active() {
                self.cap.record(
                    IFACE_IP,
                    datagram,
                    &Note::Dropped("vrid_unknown: no router for this VRID"),
                );
            }
            return;
        };
        let Some(target) = self.routers.get_mut(ri) else {
            return;
        };
        debug!(router = %target.cfg.name, src = %received.src,
            priority = received.advert.priority, interval_cs = received.advert.max_advert_interval_cs,
            "advert received");
        // The receive checksum policy is per router; the socket parsed
        // with either form and reports which one matched.
        let verdict: Result<(), &'static str> = if let wire::ChecksumPolicy::Only(form) =
            target.cfg.checksum.accept.policy()
            && received.advert.version == wire::Version::V3
            && family == Family::Ipv4
            && received.checksum_form != form
        {
            *self.drops.entry("checksum_form_refused").or_default() += 1;
            Err("checksum_form_refused")
        } else if let Some(run) = target.run.as_mut() {
            run.vr
                .handle_advert(now, received.src, &received.advert)
                .map_err(|reason| reason.counter())
        } else {
            Ok(())
        };
        if let Err(reason) = verdict {
            debug!(router = %target.cfg.name, reason, "advert from {} dropped", received.src);
        }
        if self.cap.active() {
            let note = match verdict {
                Ok(()) => Note::Received,
                Err(reason) => Note::Dropped(reason),
            };
            self.cap.record(IFACE_IP, datagram, &note);
        }
        self.drain(ri).await;
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        self.cap.expire(now);
        for i in 0..self.routers.len() {
            // Every router whose window has opened, not only the one whose
            // deadline woke us: Active routers due within the Adver_Timer's
            // early window share this wake-up (core::ADVER_EARLY_DIVISOR).
            let due = self.routers[i].early.is_some_and(|d| d <= now);
            if due {
                let slot = &mut self.routers[i];
                if let Some(run) = slot.run.as_mut() {
                    if let Some(deadline) = run.vr.poll_timeout() {
                        tracing::trace!(router = %slot.cfg.name,
                            late_us = now.saturating_duration_since(deadline).as_micros() as u64, "timer");
                    }
                    run.vr.handle_timeout(now);
                }
                self.drain(i).await;
            }
        }
    }

    /// Carry out every action the router queued, in order.
    async fn drain(&mut self, i: usize) {
        // A change to Active is logged (and notified) once its first
        // advert is on the wire: the peers are waiting for that advert, a
        // log line and a hook can wait the few microseconds. It is let go
        // after that advert, before any other action, or at the end.
        let mut held: Option<(State, State, core::Reason)> = None;
        while let Some(slot) = self.routers.get_mut(i) {
            let Some(run) = slot.run.as_mut() else {
                slot.deadline = None;
                slot.early = None;
                break;
            };
            let Some(action) = run.vr.poll_action() else {
                // Every input to a router ends here: cache its next
                // deadline, so the loop's earliest-deadline scan and the
                // timer sweep read one field instead of asking every core.
                slot.deadline = run.vr.poll_timeout();
                slot.early = run.vr.poll_timeout_early();
                break;
            };
            match action {
                Action::StateChanged { from, to, reason } if to == State::Active => {
                    held = Some((from, to, reason));
                }
                Action::SendAdvert { .. } if held.is_some() => {
                    self.act(i, action).await;
                    self.flush_sends();
                    if let Some((from, to, reason)) = held.take() {
                        self.state_changed(i, from, to, reason);
                    }
                }
                _ => {
                    if let Some((from, to, reason)) = held.take() {
                        self.state_changed(i, from, to, reason);
                    }
                    self.act(i, action).await;
                }
            }
        }
        if let Some((from, to, reason)) = held {
            self.state_changed(i, from, to, reason);
        }
    }

    /// Carry out one action of router `i`.
    async fn act(&mut self, i: usize, action: Action) {
        match action {
            Action::SendAdvert {
                priority,
                max_advert_interval_cs,
            } => self.send_advert(i, priority, max_advert_interval_cs),
            // The core's order holds outside too: queued adverts leave
            // before addresses change or ARP / NA go out.
            Action::AddAddresses => {
                self.flush_sends();
                self.set_addresses(i, true).await;
            }
            Action::RemoveAddresses => {
                self.flush_sends();
                self.set_addresses(i, false).await;
            }
            // From core::VirtualRouter::reconfigure (not called by the
            // daemon yet: the lead wires it into the reload).
            Action::AddAddress(a) | Action::RemoveAddress(a) => {
                self.flush_sends();
                self.set_one_address(i, a, matches!(action, Action::AddAddress(_)))
                    .await;
            }
            Action::Announce => {
                self.flush_sends();
                self.announce(i);
            }
            Action::PeerActive {
                peer,
                peer_priority,
                our_priority,
                yielded,
            } => self.peer_active(i, peer, peer_priority, our_priority, yielded),
            Action::StateChanged { from, to, reason } => self.state_changed(i, from, to, reason),
        }
    }

    /// Log a split brain: every event is counted (splitBrainEvents); the
    /// log gets a new peer, a yield, or one line a minute, so a flood from
    /// the link cannot flood the log.
    fn peer_active(
        &mut self,
        i: usize,
        peer: IpAddr,
        peer_priority: u8,
        our_priority: u8,
        yielded: bool,
    ) {
        let Some(slot) = self.routers.get_mut(i) else {
            return;
        };
        let Some(run) = slot.run.as_ref() else {
            return;
        };
        let now = Instant::now();
        let quiet = slot.split_brain_logged.is_some_and(|(p, at)| {
            p == peer && now.saturating_duration_since(at) < SPLIT_BRAIN_LOG_EVERY
        });
        if yielded || !quiet {
            slot.split_brain_logged = Some((peer, now));
            let name = &slot.cfg.name;
            warn!(router = %name, vrid = slot.cfg.vrid, ours = %run.source, %peer, our_priority, peer_priority,
                "{name}: split brain: {peer} (priority {peer_priority}) is Active too; we are {} (priority {our_priority}): {}",
                run.source,
                if yielded { "yielding to it" } else { "asserting with an advert" });
        }
    }

    /// Log, count and notify a state change.
    fn state_changed(&mut self, i: usize, from: State, to: State, reason: core::Reason) {
        let Some(slot) = self.routers.get_mut(i) else {
            return;
        };
        let priority = slot
            .run
            .as_ref()
            .map_or(slot.cfg.priority, |r| r.vr.effective_priority());
        let name = &slot.cfg.name;
        info!(router = %name, from = %from, to = %to, reason = %reason, "{name}: {from} -> {to} ({reason})");
        *slot
            .transitions
            .entry(format!("{to}: {reason}"))
            .or_default() += 1;
        if to == State::Active {
            slot.last_takeover = Some(SystemTime::now());
        }
        if let Some(n) = &slot.notifier {
            n.notify(Change {
                state: to.to_string(),
                priority,
            });
        }
    }

    fn send_advert(&mut self, i: usize, priority: u8, max_advert_interval_cs: u16) {
        let Some(slot) = self.routers.get(i) else {
            return;
        };
        let Some(run) = slot.run.as_ref() else {
            return;
        };
        let Some(sock) = self.sockets.get(run.sock) else {
            return;
        };
        let src = sock.sock.source();
        let group = match slot.cfg.family {
            Family::Ipv4 => IpAddr::V4(VRRP_GROUP_V4),
            Family::Ipv6 => IpAddr::V6(VRRP_GROUP_V6),
        };
        // From the virtual MAC while Active (its macvlan is up only then);
        // otherwise from the interface itself.
        let via = match &run.vmac {
            Some(_) if run.vr.state() == State::Active => TxVia::Vmac(i),
            _ => TxVia::Shared(run.sock),
        };
        let destinations = slot.cfg.unicast_peers.len().max(1);
        for k in 0..destinations {
            // Looked up again each time: queueing needs the engine mutably.
            let Some(slot) = self.routers.get(i) else {
                return;
            };
            let Some(run) = slot.run.as_ref() else {
                return;
            };
            let dst = match slot.cfg.unicast_peers.get(k) {
                Some(peer) => *peer,
                None => group,
            };
            let repr = run.vr.advert(priority, max_advert_interval_cs);
            // The pseudo-header form covers the destination: emit per peer.
            match wire::emit_advert(&repr, src, dst, slot.cfg.checksum.send, &mut self.tx_buf) {
                Ok(n) => {
                    if self.cap.active()
                        && let Some(dg) = capture::ip_datagram(src, dst, 255, &self.tx_buf[..n])
                    {
                        self.cap.record(IFACE_IP, &dg, &Note::Sent);
                    }
                    self.queue_send(via, i, n, dst);
                }
                Err(e) => error!(router = %slot.cfg.name, "cannot build advert: {e}"),
            }
        }
    }

    /// Queue the advert in `tx_buf[..len]` for the next sendmmsg.
    fn queue_send(&mut self, via: TxVia, router: usize, len: usize, dst: IpAddr) {
        if self.tx_via != Some(via) || !self.tx_batch.fits(len) {
            self.flush_sends();
        }
        self.tx_via = Some(via);
        self.tx_batch
            .push(&self.tx_buf[..len], std::net::SocketAddr::new(dst, 0));
        self.tx_routers.push(router);
    }

    /// Send every queued advert (one sendmmsg per batch).
    fn flush_sends(&mut self) {
        let Some(via) = self.tx_via.take() else {
            return;
        };
        let sock = match via {
            TxVia::Shared(si) => self.sockets.get(si).map(|s| &s.sock),
            TxVia::Vmac(ri) => self
                .routers
                .get(ri)
                .and_then(|s| s.run.as_ref())
                .and_then(|r| r.vmac.as_ref())
                .map(|v| &v.tx),
        };
        let (routers, queued) = (&self.routers, &self.tx_routers);
        match sock {
            Some(sock) => sock.send_batch(&mut self.tx_batch, |k, dst, e| {
                let name = queued
                    .get(k)
                    .and_then(|&ri| routers.get(ri))
                    .map_or("?", |s| s.cfg.name.as_str());
                warn!(router = %name, "send advert to {dst}: {e}");
            }),
            None => {
                // Not reachable: every change of the routers or sockets
                // flushes first. Said rather than lost silently.
                error!(
                    "{} queued adverts not sent: their socket is gone",
                    self.tx_batch.len()
                );
                self.tx_batch.clear();
            }
        }
        self.tx_routers.clear();
    }

    async fn set_addresses(&mut self, i: usize, add: bool) {
        let Some(slot) = self.routers.get(i) else {
            return;
        };
        let Some(run) = slot.run.as_ref() else {
            return;
        };
        let target = match &run.vmac {
            Some(vm) => {
                if add && let Err(e) = self.nl.set_link_up(vm.index).await {
                    error!(router = %slot.cfg.name, "{}: {e}", vm.name);
                }
                vm.index
            }
            None => run.ifindex,
        };
        for v in &slot.cfg.addresses {
            let res = if add {
                self.nl.add_address(target, v.addr, v.prefix_len).await
            } else {
                self.nl.del_address(target, v.addr, v.prefix_len).await
            };
            match res {
                Ok(()) => {
                    debug!(router = %slot.cfg.name, "{} {}/{}", if add { "added" } else { "removed" }, v.addr, v.prefix_len)
                }
                Err(e) => error!(router = %slot.cfg.name, "{e}"),
            }
        }
        if !add
            && let Some(vm) = &run.vmac
            && let Err(e) = self.nl.set_link_down(vm.index).await
        {
            error!(router = %slot.cfg.name, "{}: {e}", vm.name);
        }
    }

    /// Add or remove one address of router `i` (an address-list change in
    /// place), with its configured prefix length, else a host prefix.
    async fn set_one_address(&mut self, i: usize, addr: IpAddr, add: bool) {
        let Some(slot) = self.routers.get(i) else {
            return;
        };
        let Some(run) = slot.run.as_ref() else {
            return;
        };
        let target = run.vmac.as_ref().map_or(run.ifindex, |vm| vm.index);
        let prefix_len = slot
            .cfg
            .addresses
            .iter()
            .find(|v| v.addr == addr)
            .map_or(if addr.is_ipv4() { 32 } else { 128 }, |v| v.prefix_len);
        let res = if add {
            self.nl.add_address(target, addr, prefix_len).await
        } else {
            self.nl.del_address(target, addr, prefix_len).await
        };
        if let Err(e) = res {
            error!(router = %slot.cfg.name, "{e}");
        }
    }

    /// One gratuitous ARP / unsolicited NA per address (RFC 9568 6.4.1).
    fn announce(&mut self, i: usize) {
        let Some(slot) = self.routers.get_mut(i) else {
            return;
        };
        let Some(run) = slot.run.as_ref() else {
            return;
        };
        let Some(sock) = self.sockets.get(run.sock) else {
            return;
        };
        for v in &slot.cfg.addresses {
            let mac = wire::MacAddr(run.vmac.as_ref().map_or(run.mac, |vm| vm.mac));
            let built = match v.addr {
                IpAddr::V4(ip) => {
                    wire::ArpRepr::gratuitous(mac, ip).emit_frame(&mut self.frame_buf)
                }
                // Router flag off, as keepalived sends it on a host that does
                // not forward.
                IpAddr::V6(ip) => {
                    wire::ndisc::emit_unsolicited_na(mac, ip, false, &mut self.frame_buf)
                }
            };
            match built {
                Ok(n) => {
                    let frame = &self.frame_buf[..n];
                    let frames = run.vmac.as_ref().map_or(&sock.frames, |vm| &vm.frames);
                    match frames.send(frame) {
                        Ok(()) => slot.announcements_sent += 1,
                        Err(e) => warn!(router = %slot.cfg.name, "announce {}: {e}", v.addr),
                    }
                    if self.cap.active() {
                        self.cap.record(IFACE_ETHERNET, frame, &Note::Sent);
                    }
                }
                Err(e) => error!(router = %slot.cfg.name, "cannot build announcement: {e}"),
            }
        }
    }

    /// Start the `[k8s]` check (when enabled) and every `[checks.NAME]`.
    fn spawn_checks(&mut self, daemon: &config::DaemonConfig) {
        let Some(tx) = self.check_tx.clone() else {
            return;
        };
        let mut specs: Vec<CheckSpec> = daemon.checks.clone();
        if daemon.k8s.enabled {
            specs.push(k8s_spec(&daemon.k8s));
        }
        for spec in specs {
            info!(check = %spec.name, "starting check (every {:?}, timeout {:?})", spec.interval, spec.timeout);
            let handle = health::spawn_check(spec.clone(), tx.clone());
            self.checks.insert(
                spec.name.clone(),
                Check {
                    handle,
                    spec,
                    last: None,
                },
            );
        }
    }

    /// (check, weight) a router tracks: `[k8s]` unless it opted out, and its
    /// `track` list.
    fn tracked_checks(&self, cfg: &config::Router) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        if self.daemon_cfg.k8s.enabled && cfg.track_k8s {
            out.push(("k8s".to_string(), self.daemon_cfg.k8s.weight));
        }
        out.extend(cfg.track.iter().map(|t| (t.check.clone(), t.weight)));
        out
    }

    fn check_healthy(&self, name: &str) -> bool {
        self.checks
            .get(name)
            .and_then(|c| c.last.as_ref())
            .is_some_and(|u| u.healthy)
    }

    /// A check's debounced state changed: every router tracking it gets the
    /// new state at once; a graceful API-server shutdown also hands over.
    async fn on_check(&mut self, update: CheckUpdate) {
        let now = Instant::now();
        if update.healthy {
            info!(check = %update.name, latency_ms = update.latency.as_millis() as u64, "check healthy");
        } else {
            warn!(check = %update.name, failed = ?update.failed, shutting_down = update.shutting_down,
                "check failed: {}", update.reason);
        }
        for i in 0..self.routers.len() {
            let tracks = self.tracked_checks(&self.routers[i].cfg);
            let Some((_, weight)) = tracks.iter().find(|(n, _)| *n == update.name) else {
                continue;
            };
            let slot = &mut self.routers[i];
            let Some(run) = slot.run.as_mut() else {
                continue;
            };
            run.vr
                .set_tracked(now, &update.name, *weight, !update.healthy);
            if update.shutting_down && run.vr.state() == State::Active {
                warn!(router = %slot.cfg.name,
                    "the API server is shutting down: handing over now (priority 0, then Backup)");
                run.vr.handover(now);
            }
            self.drain(i).await;
        }
        if let Some(c) = self.checks.get_mut(&update.name) {
            c.last = Some(update);
        }
    }

    /// After a reload changed the checks: start the new set and give every
    /// running router its tracked checks again.
    async fn restart_checks(&mut self, daemon: &config::DaemonConfig) {
        self.checks.clear();
        self.daemon_cfg = daemon.clone();
        self.spawn_checks(daemon);
        let now = Instant::now();
        for i in 0..self.routers.len() {
            let tracks = self.tracked_checks(&self.routers[i].cfg);
            let Some(run) = self.routers[i].run.as_mut() else {
                continue;
            };
            let old: Vec<String> = run.vr.tracked().map(|(n, _, _)| n.to_string()).collect();
            for name in old {
                if !tracks.iter().any(|(n, _)| *n == name) {
                    run.vr.remove_tracked(now, &name);
                }
            }
            for (name, weight) in tracks {
                run.vr.set_tracked(now, &name, weight, true);
            }
            self.drain(i).await;
        }
    }

    fn on_control(&mut self, msg: ControlMsg) {
        match msg {
            ControlMsg::Status(reply) => {
                let _ = reply.send(self.snapshot());
            }
            ControlMsg::Capture { duration, out } => {
                info!("capture requested for {duration:?}");
                if out.try_send(capture::header()).is_ok() {
                    self.cap.taps.push((Instant::now() + duration, out));
                }
            }
        }
    }

    /// Everything `ha-vip status` and the metrics show.
    fn snapshot(&self) -> Status {
        let now = Instant::now();
        let unix = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        };
        let routers = self
            .routers
            .iter()
            .map(|slot| {
                let c = &slot.cfg;
                let run = slot.run.as_ref();
                let vr = run.map(|r| &r.vr);
                let state = match (vr, &slot.waiting) {
                    (Some(vr), _) => vr.state().to_string(),
                    (None, _) => "Waiting".to_string(),
                };
                let last = vr.and_then(|v| v.last_transition());
                RouterStatus {
                    name: c.name.clone(),
                    interface: c.interface.clone(),
                    vrid: c.vrid,
                    family: match c.family {
                        Family::Ipv4 => "ipv4".into(),
                        Family::Ipv6 => "ipv6".into(),
                    },
                    version: c.version.number(),
                    state,
                    waiting: slot.waiting.clone(),
                    base_priority: c.priority,
                    effective_priority: vr.map_or(c.priority, |v| v.effective_priority()),
                    addresses: c
                        .addresses
                        .iter()
                        .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                        .collect(),
                    source: run.map(|r| r.source.to_string()),
                    advert_interval_cs: c.advert_interval_cs,
                    learned_interval_cs: vr
                        .map_or(c.advert_interval_cs, |v| v.master_adver_interval_cs()),
                    master_down_interval_ms: vr
                        .map_or(0.0, |v| v.master_down_interval().as_secs_f64() * 1000.0),
                    active_router: vr.and_then(|v| {
                        let a = v.active_router()?;
                        Some(ActiveStatus {
                            address: a.address.to_string(),
                            priority: a.priority,
                            is_self: v.state() == State::Active,
                        })
                    }),
                    tracked: vr
                        .map(|v| {
                            v.tracked()
                                .map(|(name, weight, failed)| TrackedStatus {
                                    check: name.to_string(),
                                    weight,
                                    failed,
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    time_in_state_s: last
                        .map(|t| now.saturating_duration_since(t.at).as_secs_f64()),
                    last_transition: last.map(|t| TransitionStatus {
                        from: t.from.to_string(),
                        to: t.to.to_string(),
                        reason: t.reason.to_string(),
                        ago_s: now.saturating_duration_since(t.at).as_secs_f64(),
                    }),
                    counters: vr
                        .map(|v| {
                            v.counters()
                                .iter()
                                .map(|(k, n)| (k.to_string(), n))
                                .collect()
                        })
                        .unwrap_or_default(),
                    transitions: slot.transitions.clone(),
                    announcements_sent: slot.announcements_sent,
                    last_takeover_unix_s: slot.last_takeover.map(unix),
                }
            })
            .collect();
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_s: now.saturating_duration_since(self.started).as_secs_f64(),
            routers,
            drops: self
                .drops
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            checks: self
                .checks
                .values()
                .map(|c| {
                    let st = c.handle.status.borrow();
                    let (reason, latency) = match (&st.last, &c.last) {
                        (Some(p), _) => (p.reason(), p.latency),
                        (None, Some(u)) => (u.reason.clone(), u.latency),
                        (None, None) => ("no result yet".to_string(), std::time::Duration::ZERO),
                    };
                    crate::status::CheckStatus {
                        name: c.spec.name.clone(),
                        healthy: c.last.as_ref().is_some_and(|u| u.healthy),
                        reason,
                        latency_ms: latency.as_secs_f64() * 1000.0,
                        last_change_ago_s: c
                            .last
                            .as_ref()
                            .map(|u| now.saturating_duration_since(u.at).as_secs_f64()),
                    }
                })
                .collect(),
        }
    }

    async fn on_netlink(&mut self, ev: Event) {
        let now = Instant::now();
        match ev {
            Event::LinkChanged(link) => {
                for i in 0..self.routers.len() {
                    if self.routers[i].cfg.interface != link.name {
                        continue;
                    }
                    let slot = &mut self.routers[i];
                    let Some(run) = slot.run.as_mut() else {
                        // Waiting for this interface: try now.
                        self.start(i).await;
                        continue;
                    };
                    if run.ifindex != link.index {
                        // Deleted and created again: everything is new.
                        warn!(router = %slot.cfg.name, "interface {} was recreated; restarting", link.name);
                        self.stop(i, false).await;
                        self.start(i).await;
                        continue;
                    }
                    // A new MAC (NIC replaced, bond failover): later
                    // gratuitous ARPs and NAs must carry it, or clients are
                    // sent to an address nobody answers.
                    if let Some(mac) = link.mac.filter(|m| *m != run.mac) {
                        info!(router = %slot.cfg.name, "interface {} has a new MAC address", link.name);
                        run.mac = mac;
                        // Without a virtual MAC, clients must learn the new
                        // one: the core re-announces if Active.
                        if run.vmac.is_none() {
                            run.vr.link_address_changed(now);
                        }
                    }
                    if run.link_up == link.up {
                        self.drain(i).await;
                    } else {
                        run.link_up = link.up;
                        if link.up {
                            info!(router = %slot.cfg.name, "interface {} up", link.name);
                            run.vr.interface_up(now);
                        } else {
                            warn!(router = %slot.cfg.name, "interface {} down", link.name);
                            run.vr.interface_down(now);
                        }
                        self.drain(i).await;
                    }
                }
            }
            Event::LinkRemoved { index, name } => {
                for i in 0..self.routers.len() {
                    let hit = self.routers[i]
                        .run
                        .as_ref()
                        .is_some_and(|r| r.ifindex == index);
                    if hit {
                        warn!(router = %self.routers[i].cfg.name, "interface {name} removed; waiting for it");
                        self.stop(i, false).await;
                        // Status shows why it is not running, as for an
                        // interface missing at start.
                        if let Some(slot) = self.routers.get_mut(i) {
                            slot.waiting = Some(format!("waiting for interface {name} to appear"));
                        }
                    }
                }
                self.close_unused_sockets();
            }
            Event::AddressRemoved(a) => {
                for i in 0..self.routers.len() {
                    let slot = &self.routers[i];
                    let Some(run) = slot.run.as_ref() else {
                        continue;
                    };
                    if run.ifindex != a.index || run.vr.state() != State::Active {
                        continue;
                    }
                    if let Some(v) = slot.cfg.addresses.iter().find(|v| v.addr == a.addr) {
                        warn!(router = %slot.cfg.name,
                            "{}/{} was removed from {} while Active: putting it back", v.addr, v.prefix_len, slot.cfg.interface);
                        if let Err(e) = self.nl.add_address(run.ifindex, v.addr, v.prefix_len).await
                        {
                            error!(router = %slot.cfg.name, "{e}");
                        }
                    }
                }
            }
            Event::AddressAdded(a) => {
                // A router waiting for a source address may start now.
                let waiting: Vec<usize> = (0..self.routers.len())
                    .filter(|&i| self.routers[i].run.is_none())
                    .collect();
                if !waiting.is_empty() {
                    debug!("address {} appeared; retrying waiting routers", a.addr);
                }
                for i in waiting {
                    self.start(i).await;
                }
            }
        }
    }

    /// Stop one router. `clean`: hand over with priority 0 (shutdown);
    /// otherwise (interface gone) just forget it after releasing addresses.
    async fn stop(&mut self, i: usize, clean: bool) {
        let now = Instant::now();
        if let Some(run) = self.routers.get_mut(i).and_then(|s| s.run.as_mut()) {
            if clean {
                run.vr.shutdown(now);
            } else {
                run.vr.interface_down(now);
            }
        }
        self.drain(i).await;
        // Before the router's sockets go.
        self.flush_sends();
        if let Some(slot) = self.routers.get_mut(i)
            && let Some(run) = slot.run.take()
            && let Some(vm) = run.vmac
        {
            // Nothing left behind: the macvlan goes with the router.
            if let Err(e) = self.nl.del_link(vm.index).await {
                warn!(router = %slot.cfg.name, "{}: {e}", vm.name);
            }
        }
    }

    async fn shutdown_all(&mut self) {
        for i in 0..self.routers.len() {
            self.stop(i, true).await;
        }
    }

    /// SIGHUP: load the directory again. Unchanged routers keep their state
    /// and addresses; changed ones restart; removed ones stop cleanly; a bad
    /// configuration is refused and the running one kept.
    async fn reload(&mut self) {
        // Queued adverts name routers by index, which a reload shifts.
        self.flush_sends();
        let new = match config::load_dir(&self.dir) {
            Ok(c) => c,
            Err(errors) => {
                error!("reload refused, the running configuration is kept:\n{errors}");
                return;
            }
        };
        if new.daemon.checks != self.daemon_cfg.checks || new.daemon.k8s != self.daemon_cfg.k8s {
            info!("reload: health checks changed; restarting them");
            self.restart_checks(&new.daemon).await;
        } else if new.daemon != self.daemon_cfg {
            warn!(
                "reload: changes to ha-vip.toml other than checks ([control], [log], [metrics], [capture]) take effect at restart"
            );
        }
        let mut keep = vec![false; self.routers.len()];
        let mut to_start = Vec::new();
        for cfg in new.routers {
            match self.routers.iter().position(|s| s.cfg == cfg) {
                Some(j) => keep[j] = true,
                None => to_start.push(cfg),
            }
        }
        let (mut stopped, kept, started) = (0, keep.iter().filter(|k| **k).count(), to_start.len());
        for i in (0..self.routers.len()).rev() {
            if !keep[i] {
                info!(router = %self.routers[i].cfg.name, "reload: router removed or changed; stopping it");
                self.stop(i, true).await;
                self.routers.remove(i);
                stopped += 1;
            }
        }
        self.close_unused_sockets();
        for cfg in to_start {
            self.routers.push(Slot::new(cfg));
            let i = self.routers.len() - 1;
            self.start(i).await;
        }
        info!(kept, stopped, started, "configuration reloaded");
    }

    /// Close sockets no running router uses, fixing up router indices.
    fn close_unused_sockets(&mut self) {
        // Queued adverts name sockets by index, which this shifts.
        self.flush_sends();
        let mut si = 0;
        while si < self.sockets.len() {
            let used = self
                .routers
                .iter()
                .any(|s| s.run.as_ref().is_some_and(|r| r.sock == si));
            if used {
                si += 1;
                continue;
            }
            self.sockets.remove(si);
            for s in &mut self.routers {
                if let Some(r) = s.run.as_mut()
                    && r.sock > si
                {
                    r.sock -= 1;
                }
            }
        }
    }
}

impl Slot {
    fn new(cfg: config::Router) -> Slot {
        let notifier = Notifier::spawn(
            cfg.name.clone(),
            cfg.vrid,
            cfg.interface.clone(),
            cfg.notify.clone(),
            cfg.notify_timeout,
        );
        Slot {
            cfg,
            run: None,
            waiting: None,
            notifier,
            transitions: BTreeMap::new(),
            announcements_sent: 0,
            last_takeover: None,
            split_brain_logged: None,
            deadline: None,
            early: None,
        }
    }
}

/// How many (source, VRID) pairs of adverts for no router of ours are
/// logged: more than a link carries in practice. Past it a flood from
/// spoofed sources would grow the set and the log with every packet.
const UNKNOWN_VRID_LOG_LIMIT: usize = 256;

/// Adverts for no router of ours, remembered by (source, VRID) so that each
/// collision is logged once, with a bounded memory.
#[derive(Debug, Default)]
struct UnknownVrids {
    seen: HashSet<(IpAddr, u8)>,
    limit_reached: bool,
}

/// What to log for one advert for no router of ours.
#[derive(Debug, PartialEq, Eq)]
enum UnknownVrid {
    /// A new (source, VRID): log it.
    New,
    /// The first new pair past the limit: log that no more are logged.
    LimitReached,
    /// Already logged, or past the limit: nothing.
    Seen,
}

impl UnknownVrids {
    fn note(&mut self, src: IpAddr, vrid: u8) -> UnknownVrid {
        if self.seen.contains(&(src, vrid)) {
            return UnknownVrid::Seen;
        }
        if self.seen.len() >= UNKNOWN_VRID_LOG_LIMIT {
            if self.limit_reached {
                return UnknownVrid::Seen;
            }
            self.limit_reached = true;
            return UnknownVrid::LimitReached;
        }
        self.seen.insert((src, vrid));
        UnknownVrid::New
    }
}

/// The source of adverts when none is configured: the interface's first
/// IPv4 address that is not a VIP, or its IPv6 link-local address
/// (RFC 9568 section 5.1.2.1: IPv6 adverts come from the link-local).
fn pick_source(
    family: Family,
    addrs: &[netlink::LinkAddress],
    vips: &HashSet<IpAddr>,
) -> Option<IpAddr> {
    addrs.iter().map(|a| a.addr).find(|a| match (family, a) {
        (Family::Ipv4, IpAddr::V4(_)) => !vips.contains(a),
        (Family::Ipv6, IpAddr::V6(v6)) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        _ => false,
    })
}

/// The `[k8s]` keys as the health check's parameters.
fn k8s_spec(k: &config::K8sConfig) -> CheckSpec {
    let params = health::K8sParams {
        in_cluster: k.in_cluster,
        api_server: k.api_server.clone(),
        token: (!k.token.is_empty()).then(|| health::Secret::new(k.token.clone())),
        token_file: k.token_file.clone(),
        ca_cert: k.ca_cert.clone(),
        server_name: k.server_name.clone(),
        exclude: k.exclude.clone(),
        in_cluster_env: None,
    };
    let mut spec = CheckSpec::k8s(params);
    spec.interval = k.interval;
    spec.timeout = k.timeout;
    spec.stability = k.stability;
    spec
}

/// The one place configuration turns into the core's parameters.
fn core_config(cfg: &config::Router, primary_address: IpAddr) -> core::RouterConfig {
    let mut c = core::RouterConfig::new(
        cfg.vrid,
        primary_address,
        cfg.addresses.iter().map(|v| v.addr).collect(),
    );
    c.version = cfg.version;
    c.family = cfg.family;
    c.priority = cfg.priority;
    c.advert_interval_cs = cfg.advert_interval_cs;
    c.preempt = cfg.preempt;
    c.preempt_delay = cfg.preempt_delay;
    c.accept_mode = cfg.accept_mode;
    c.unicast_peers = cfg.unicast_peers.clone();
    c.announce.delay = cfg.announce.delay;
    c.announce.repeat = u32::from(cfg.announce.repeat);
    c.announce.interval = cfg.announce.interval;
    c.announce.refresh = cfg.announce.refresh;
    c.announce.refresh_repeat = u32::from(cfg.announce.refresh_repeat);
    c.address_list_check = cfg.address_list_check;
    c.make_before_break = cfg.make_before_break;
    if let Some(pass) = &cfg.auth_pass
        && let Some(data) = wire::vrrp::v2_simple_text(pass)
    {
        c.auth = wire::Auth::SimpleText(data);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each (source, VRID) is reported once; past the limit, one notice and
    /// then silence, and the set stops growing (spoofed-source floods).
    #[test]
    fn unknown_vrids_are_logged_once_each_and_bounded() {
        let mut u = UnknownVrids::default();
        let a: IpAddr = "192.0.2.66".parse().unwrap();
        assert_eq!(u.note(a, 99), UnknownVrid::New);
        assert_eq!(u.note(a, 99), UnknownVrid::Seen);
        assert_eq!(u.note(a, 98), UnknownVrid::New);
        let mut new = 2;
        let mut notices = 0;
        for v in 1..=255u8 {
            for h in 1..=20u8 {
                let src = IpAddr::from([198, 51, 100, h]);
                match u.note(src, v) {
                    UnknownVrid::New => new += 1,
                    UnknownVrid::LimitReached => notices += 1,
                    UnknownVrid::Seen => {}
                }
            }
        }
        assert_eq!(new, UNKNOWN_VRID_LOG_LIMIT);
        assert_eq!(notices, 1);
        assert_eq!(u.seen.len(), UNKNOWN_VRID_LOG_LIMIT);
        // Pairs logged before the limit stay quiet.
        assert_eq!(u.note(a, 99), UnknownVrid::Seen);
    }
}
