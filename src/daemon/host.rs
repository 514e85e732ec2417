//! The host: every socket, the netlink handle, the virtual-MAC links and the
//! send batch. It carries out what the core decided (sends the endpoint's
//! transmits, changes addresses, sends announcements) and decides nothing
//! about the protocol: which source, destination, socket, MAC and Router
//! flag apply comes with each transmit and event from `core::Endpoint`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Instant;

use tracing::{debug, error, info, warn};

use super::tap::Capture;
use crate::capture::{self, IFACE_ETHERNET, IFACE_IP, Note};
use crate::config::VirtualAddress;
use crate::core::{Endpoint, PacketDrop, RouterId, Transmit};
use crate::net::mmsg::{self, RecvBatch, SendBatch};
use crate::net::netlink::{Added, LinkAddress, Netlink};
use crate::net::packet::FrameSender;
use crate::net::socket::{Rx, VrrpSocket, realtime_now};
use crate::wire::{self, Family, MacAddr};

/// A shared VRRP socket: one per (interface index, family).
pub type SockKey = (u32, Family);

/// Packets read from one socket before the loop looks at other inputs
/// (eight recvmmsg batches).
const RX_BURST: usize = 8 * mmsg::BATCH;

/// A shared socket of one (interface, family) and its frame sender.
struct SockSlot {
    sock: VrrpSocket,
    frames: FrameSender,
    /// The last epoll registration failed (logged once).
    poll_failed: bool,
}

/// A router's macvlan (RFC 9568 7.3: the Active router answers from
/// 00-00-5E-00-01-{VRID}, IPv6 00-00-5E-00-02-{VRID}). Up only while
/// Active; the VIPs live on it; adverts and announcements leave from it.
struct Vmac {
    index: u32,
    name: String,
    tx: VrrpSocket,
    frames: FrameSender,
}

/// The socket queued adverts leave through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TxVia {
    Shared(SockKey),
    Vmac(RouterId),
}

/// One packet read from a socket, for the daemon to parse and hand over.
pub struct Read<'a> {
    pub ifindex: u32,
    /// The packet, or why the socket layer could not deliver it.
    pub rx: Result<Rx<'a>, (PacketDrop, Option<&'a [u8]>)>,
    /// When its batch was read (the packet's arrival is this less its age).
    pub read_at: Instant,
}

pub struct Host {
    pub nl: Netlink,
    sockets: BTreeMap<SockKey, SockSlot>,
    vmacs: HashMap<RouterId, Vmac>,
    /// Receive storage for one recvmmsg (taken out while in use).
    rx_batch: Option<RecvBatch>,
    /// Where the endpoint writes each advert.
    tx_buf: Vec<u8>,
    /// Adverts queued for one sendmmsg, all through `tx_via`, and the
    /// router of each (for error logs).
    tx_batch: SendBatch,
    tx_via: Option<TxVia>,
    tx_routers: Vec<RouterId>,
    frame_buf: Vec<u8>,
    /// (link, address) of every VIP this process added: the only addresses
    /// it ever removes.
    added: HashSet<(u32, IpAddr)>,
}

impl Host {
    pub fn new() -> std::io::Result<Host> {
        Ok(Host {
            nl: Netlink::open()?,
            sockets: BTreeMap::new(),
            vmacs: HashMap::new(),
            rx_batch: Some(RecvBatch::default()),
            tx_buf: vec![0; wire::vrrp::MAX_ADVERT_LEN],
            tx_batch: SendBatch::default(),
            tx_via: None,
            tx_routers: Vec::with_capacity(mmsg::BATCH),
            frame_buf: vec![0; 1514],
            added: HashSet::new(),
        })
    }

    /// Open the shared socket of (interface, family) unless it is open.
    pub fn open_socket(&mut self, ifname: &str, key: SockKey) -> std::io::Result<()> {
        if self.sockets.contains_key(&key) {
            return Ok(());
        }
        let (ifindex, family) = key;
        // Unicast routers also receive on this socket; joining the group is
        // harmless for them and needed by any multicast router sharing it.
        let sock = VrrpSocket::open(ifname, ifindex, family, true)?;
        let frames = FrameSender::open(ifindex)?;
        self.sockets.insert(
            key,
            SockSlot {
                sock,
                frames,
                poll_failed: false,
            },
        );
        Ok(())
    }

    /// Close the sockets no running router uses.
    pub fn close_unused_sockets(&mut self, used: &HashSet<SockKey>) {
        self.flush();
        self.sockets.retain(|k, _| used.contains(k));
    }

    /// Whether readiness of the sockets wakes the loop (receive pacing).
    pub fn set_polled(&mut self, polled: bool) {
        for ((ifindex, family), slot) in self.sockets.iter_mut() {
            match slot.sock.set_polled(polled) {
                Ok(()) => slot.poll_failed = false,
                // Logged once until it works again; meanwhile the socket is
                // read before every timer and paced read.
                Err(e) if !slot.poll_failed => {
                    slot.poll_failed = true;
                    error!("socket {family:?} #{ifindex}: cannot add it to the epoll set: {e}");
                }
                Err(_) => {}
            }
        }
    }

    /// The first readable socket (no allocation, no future).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<(SockKey, std::io::Result<()>)> {
        for (key, s) in &self.sockets {
            if let Poll::Ready(r) = s.sock.poll_read_ready(cx) {
                return Poll::Ready((*key, r));
            }
        }
        Poll::Pending
    }

    /// Whether a polled socket has readiness the loop has not acted on
    /// (the timer won the same epoll_wait). A packet that arrived before a
    /// deadline was reported by the epoll_wait that reported the deadline,
    /// so this is all the timer path needs to look at when not pacing.
    pub fn any_socket_ready(&self) -> bool {
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        self.sockets
            .values()
            .any(|s| s.sock.poll_read_ready(&mut cx).is_ready())
    }

    /// Read every socket (at most a burst each): packets read, and whether
    /// every socket was left empty.
    pub fn read_all(&mut self, mut sink: impl FnMut(Read<'_>)) -> (usize, bool) {
        use std::ops::Bound::{Excluded, Unbounded};
        // Key by key: no list allocated per wake-up.
        let (mut packets, mut drained) = (0, true);
        let mut next = self.sockets.keys().next().copied();
        while let Some(key) = next {
            let (n, d) = self.read(key, &mut sink);
            packets += n;
            drained &= d;
            next = self
                .sockets
                .range((Excluded(key), Unbounded))
                .next()
                .map(|(k, _)| *k);
        }
        (packets, drained)
    }

    /// Read up to a burst of packets from one socket, a batch per system
    /// call, handing each to `sink`: packets read, and whether the socket
    /// was left empty.
    pub fn read(&mut self, key: SockKey, mut sink: impl FnMut(Read<'_>)) -> (usize, bool) {
        // Taken out for the loop, so each packet can borrow it; always put
        // back.
        let Some(mut batch) = self.rx_batch.take() else {
            return (0, true);
        };
        let (ifindex, family) = key;
        let mut packets = 0;
        let mut drained = false;
        while packets < RX_BURST {
            let Some(slot) = self.sockets.get(&key) else {
                drained = true;
                break;
            };
            let n = match slot.sock.recv_batch(&mut batch) {
                Ok(n) => n,
                Err(e) => {
                    warn!("receive on socket {family:?} #{ifindex}: {e}");
                    0
                }
            };
            if n < mmsg::BATCH {
                // A short batch: the queue is empty now.
                slot.sock.clear_ready();
                drained = true;
            }
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
                let rx = if meta.truncated {
                    Err((PacketDrop::DatagramTooLong, datagram))
                } else {
                    Rx::from_batch(family, data, meta, realtime)
                        .map_err(|_| (PacketDrop::ControlDataMissing, datagram))
                };
                sink(Read {
                    ifindex,
                    rx,
                    read_at,
                });
            }
            if drained {
                break;
            }
        }
        self.rx_batch = Some(batch);
        (packets, drained)
    }

    /// Create (or adopt, after a crash) a router's macvlan on `parent`,
    /// left down, with no stale VIP on it, and its send sockets.
    pub async fn open_vmac(
        &mut self,
        id: RouterId,
        router: &str,
        parent: (&str, u32),
        family: Family,
        vrid: u8,
        vips: &[VirtualAddress],
    ) -> Result<(), String> {
        let (parent_name, parent_index) = parent;
        let tag = match family {
            Family::Ipv4 => "4",
            Family::Ipv6 => "6",
        };
        // FRR's naming: vrrp4-IFINDEX-VRID (at most 15 bytes).
        let name = format!("vrrp{tag}-{parent_index}-{vrid}");
        let mac = MacAddr::vrrp_virtual(family, vrid);
        let index = self
            .nl
            .ensure_macvlan(parent_index, &name, mac.octets())
            .await
            .map_err(|e| format!("virtual MAC: {e}"))?;
        let _ = self.nl.set_link_down(index).await;
        self.remove_leftovers(router, &name, index, vips).await;
        // Without these the parent answers ARP for the VIP with its own MAC
        // (IPv4), or the macvlan's link-local is the virtual MAC's EUI-64
        // one, the same on every node, and tentative when the router needs
        // it (IPv6): refuse rather than run half right.
        let failed = match family {
            Family::Ipv4 => crate::net::sysctl::set_virtual_mac_parent(parent_name),
            Family::Ipv6 => crate::net::sysctl::set_virtual_mac_link(&name),
        };
        if let Some((path, e)) = failed.first() {
            let _ = self.nl.del_link(index).await;
            let want = match family {
                Family::Ipv4 => format!(
                    "net.ipv4.conf.{parent_name}.arp_ignore=1 and net.ipv4.conf.{parent_name}.arp_announce=2"
                ),
                Family::Ipv6 => format!(
                    "net.ipv6.conf.default.addr_gen_mode=3 and net.ipv6.conf.default.accept_dad=0 (inherited by {name} when ha-vip creates it)"
                ),
            };
            return Err(format!(
                "virtual MAC: cannot write {path} ({e}); set {want} beforehand (sysctl.d), or let ha-vip write them (docs/operations.md, \"Virtual MAC\")"
            ));
        }
        let mut tx = VrrpSocket::open(&name, index, family, false)
            .map_err(|e| format!("virtual MAC socket on {name}: {e}"))?;
        // Send-only: nothing reads it, so nothing should wake for it.
        tx.set_polled(false)
            .map_err(|e| format!("virtual MAC socket on {name}: {e}"))?;
        let frames = FrameSender::open(index).map_err(|e| format!("{name}: {e}"))?;
        info!(router, "virtual MAC {mac} on {name}");
        self.vmacs.insert(
            id,
            Vmac {
                index,
                name,
                tx,
                frames,
            },
        );
        Ok(())
    }

    /// Delete a router's macvlan: nothing is left behind.
    pub async fn close_vmac(&mut self, id: RouterId, router: &str) {
        self.flush();
        if let Some(vm) = self.vmacs.remove(&id)
            && let Err(e) = self.nl.del_link(vm.index).await
        {
            warn!(router, "{}: {e}", vm.name);
        }
    }

    /// The router whose macvlan has interface index `index`.
    pub fn vmac_router(&self, index: u32) -> Option<RouterId> {
        self.vmacs
            .iter()
            .find(|(_, vm)| vm.index == index)
            .map(|(id, _)| *id)
    }

    /// The usable IPv6 link-local of a router's macvlan, if it has one now.
    pub async fn vmac_link_local(&self, id: RouterId) -> Option<IpAddr> {
        let vm = self.vmacs.get(&id)?;
        let addrs = self.nl.addresses(vm.index).await.ok()?;
        addrs
            .iter()
            .find(|a| {
                matches!(a.addr, IpAddr::V6(v6) if v6.is_unicast_link_local()) && !a.tentative
            })
            .map(|a| a.addr)
    }

    /// Where a router's addresses live: its macvlan if the core says so.
    pub fn address_link(&self, id: RouterId, ifindex: u32, on_virtual_mac: bool) -> u32 {
        match self.vmacs.get(&id) {
            Some(vm) if on_virtual_mac => vm.index,
            _ => ifindex,
        }
    }

    /// Send every advert the endpoint has queued, batched per socket (one
    /// sendmmsg per batch), and recorded in `cap`. `name` names a router
    /// for the log.
    pub fn send_transmits(
        &mut self,
        endpoint: &mut Endpoint,
        cap: &mut Capture,
        name: &dyn Fn(RouterId) -> String,
    ) {
        while let Some(t) = endpoint.poll_transmit(&mut self.tx_buf) {
            match t {
                Ok(t) => self.queue(&t, cap, name),
                Err((id, e)) => error!(router = %name(id), "cannot build advert: {e}"),
            }
        }
        self.flush_with(name);
    }

    fn queue(&mut self, t: &Transmit, cap: &mut Capture, name: &dyn Fn(RouterId) -> String) {
        let via = if t.via_virtual_mac && self.vmacs.contains_key(&t.router) {
            TxVia::Vmac(t.router)
        } else {
            TxVia::Shared((t.ifindex, t.family))
        };
        if self.tx_via != Some(via) || !self.tx_batch.fits(t.len) {
            self.flush_with(name);
        }
        let Some(payload) = self.tx_buf.get(..t.len) else {
            return;
        };
        if cap.active()
            && let Some(dg) =
                capture::ip_datagram(t.source, t.destination, wire::vrrp::TTL, payload)
        {
            cap.record(IFACE_IP, &dg, &Note::Sent);
        }
        self.tx_via = Some(via);
        self.tx_batch
            .push(payload, t.source, SocketAddr::new(t.destination, 0));
        self.tx_routers.push(t.router);
    }

    /// Send what is queued (errors logged without router names).
    pub fn flush(&mut self) {
        self.flush_with(&|id| id.to_string());
    }

    fn flush_with(&mut self, name: &dyn Fn(RouterId) -> String) {
        let Some(via) = self.tx_via.take() else {
            return;
        };
        let sock = match via {
            TxVia::Shared(key) => self.sockets.get(&key).map(|s| &s.sock),
            TxVia::Vmac(id) => self.vmacs.get(&id).map(|v| &v.tx),
        };
        let queued = &self.tx_routers;
        match sock {
            Some(sock) => sock.send_batch(&mut self.tx_batch, |k, dst, e| {
                let router = queued
                    .get(k)
                    .map_or_else(|| "?".to_string(), |id| name(*id));
                warn!(router, "send advert to {dst}: {e}");
            }),
            None => {
                // Not reachable: every change of the sockets flushes first.
                // Said rather than lost silently.
                error!(
                    "{} queued adverts not sent: their socket is gone",
                    self.tx_batch.len()
                );
                self.tx_batch.clear();
            }
        }
        self.tx_routers.clear();
    }

    /// Add or remove a router's addresses on `link` (its macvlan is brought
    /// up before an add and down after a remove). Only what this process
    /// added is ever removed: an address that was on the interface already
    /// and not tagged by ha-vip (the host's own address as the owner's VIP,
    /// an operator's) is left where it is.
    pub async fn set_addresses(
        &mut self,
        id: RouterId,
        router: &str,
        link: u32,
        vips: &[VirtualAddress],
        add: bool,
    ) {
        let vmac = self.vmacs.get(&id).filter(|vm| vm.index == link);
        if add
            && let Some(vm) = vmac
            && let Err(e) = self.nl.set_link_up(vm.index).await
        {
            error!(router, "{}: {e}", vm.name);
        }
        for v in vips {
            if add {
                self.add_address(router, link, v).await;
            } else if self.added.remove(&(link, v.addr)) {
                match self.nl.del_address(link, v.addr, v.prefix_len).await {
                    Ok(()) => debug!(router, "removed {}/{}", v.addr, v.prefix_len),
                    Err(e) => error!(router, "{e}"),
                }
            } else {
                debug!(
                    router,
                    "{}/{} not added by this run: left alone", v.addr, v.prefix_len
                );
            }
        }
        let vmac = self.vmacs.get(&id).filter(|vm| vm.index == link);
        if !add
            && let Some(vm) = vmac
            && let Err(e) = self.nl.set_link_down(vm.index).await
        {
            error!(router, "{}: {e}", vm.name);
        }
    }

    /// Add one VIP and remember it as ours, unless it was there already and
    /// is not tagged by ha-vip.
    pub async fn add_address(&mut self, router: &str, link: u32, v: &VirtualAddress) {
        match self.nl.add_address(link, v.addr, v.prefix_len).await {
            Ok(Added::Added) => {
                self.added.insert((link, v.addr));
                debug!(router, "added {}/{}", v.addr, v.prefix_len);
            }
            // Already there: ours if this run added it, else someone else's
            // (leftovers went at start). No dump: one per event stalls.
            Ok(Added::Present) => {
                if !self.added.contains(&(link, v.addr)) {
                    warn!(
                        router,
                        "{}/{} is already on the interface and was not added by ha-vip: it is used as it is, and left there when this router gives it up",
                        v.addr,
                        v.prefix_len
                    );
                }
            }
            Err(e) => error!(router, "{e}"),
        }
    }

    /// Remove one VIP if this process added it; leave it otherwise.
    pub async fn remove_address(&mut self, router: &str, link: u32, v: &VirtualAddress) {
        if !self.added.remove(&(link, v.addr)) {
            debug!(
                router,
                "{}/{} not added by this run: left alone", v.addr, v.prefix_len
            );
            return;
        }
        match self.nl.del_address(link, v.addr, v.prefix_len).await {
            Ok(()) => debug!(router, "removed {}/{}", v.addr, v.prefix_len),
            Err(e) => error!(router, "{e}"),
        }
    }

    /// Remove what a crashed run of ha-vip left on `link`: the router's VIPs
    /// tagged as ours. An equal address without the tag was put there by
    /// someone else and is never touched.
    pub async fn remove_leftovers(
        &mut self,
        router: &str,
        ifname: &str,
        link: u32,
        vips: &[VirtualAddress],
    ) -> Vec<LinkAddress> {
        let addrs = match self.nl.addresses(link).await {
            Ok(a) => a,
            Err(e) => {
                warn!(router, "addresses of {ifname}: {e}");
                return Vec::new();
            }
        };
        let mut kept = Vec::with_capacity(addrs.len());
        for a in addrs {
            let is_vip = vips.iter().any(|v| v.addr == a.addr);
            if is_vip && a.ours && !self.added.contains(&(link, a.addr)) {
                warn!(
                    router,
                    "removing {}/{} left on {ifname} by an earlier run", a.addr, a.prefix_len
                );
                if let Err(e) = self.nl.del_address(link, a.addr, a.prefix_len).await {
                    error!(router, "{e}");
                }
                continue;
            }
            if is_vip && !a.ours {
                info!(
                    router,
                    "{}/{} on {ifname} is one of this router's addresses but was not added by ha-vip: left alone",
                    a.addr,
                    a.prefix_len
                );
            }
            kept.push(a);
        }
        kept
    }

    /// One GARP / unsolicited NA per address (RFC 9568 6.4.1): how many went.
    #[allow(clippy::too_many_arguments)]
    pub fn announce(
        &mut self,
        id: RouterId,
        router: &str,
        key: SockKey,
        mac: MacAddr,
        on_virtual_mac: bool,
        router_flag: bool,
        vips: &[VirtualAddress],
        cap: &mut Capture,
    ) -> u64 {
        let frames = match self.vmacs.get(&id) {
            Some(vm) if on_virtual_mac => &vm.frames,
            _ => match self.sockets.get(&key) {
                Some(s) => &s.frames,
                None => return 0,
            },
        };
        let mut sent = 0;
        for v in vips {
            let built = match v.addr {
                IpAddr::V4(ip) => {
                    wire::ArpRepr::gratuitous(mac, ip).emit_frame(&mut self.frame_buf)
                }
                IpAddr::V6(ip) => {
                    wire::ndisc::emit_unsolicited_na(mac, ip, router_flag, &mut self.frame_buf)
                }
            };
            match built {
                Ok(n) => {
                    let frame = self.frame_buf.get(..n).unwrap_or_default();
                    match frames.send(frame) {
                        Ok(()) => sent += 1,
                        Err(e) => warn!(router, "announce {}: {e}", v.addr),
                    }
                    if cap.active() {
                        cap.record(IFACE_ETHERNET, frame, &Note::Sent);
                    }
                }
                Err(e) => error!(router, "cannot build announcement: {e}"),
            }
        }
        sent
    }
}
