//! A simulated LAN for testing the core in virtual time.
//!
//! Hosts share a link; each host runs an [`Endpoint`], as the daemon does,
//! with one router ([`Sim::add_router`]) or several ([`Sim::add_host`],
//! [`Sim::add_router_to`]). Each advert an endpoint emits, as bytes, is
//! delivered to every other host (or to the hosts of its unicast peers)
//! after a per-link delay, unless the link loses it (seeded RNG) or a
//! partition separates the two; the receiving endpoint parses it with
//! `wire` and demultiplexes it, so the endpoint's demux, checksum verdict,
//! source selection and timer sweep are all exercised. Time
//! advances by [`Sim::step`] straight to the earliest deadline of any router
//! or in-flight packet: runs are exact and never sleep. Every event is
//! recorded in a trace of (instant, router, event) for tests to assert on.
//!
//! Ordering at one instant: due packets are delivered first (in send order),
//! then due host timers (in host order; each endpoint serves its routers in
//! their order), repeated until nothing is due.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::counters::DropReason;
use super::endpoint::{
    Dropped, Endpoint, EventKind, HostAddress, Link as EpLink, Output, RouterId, RouterSpec,
    Transmit,
};
use super::router::{Drain, Reason, RouterConfig, State, VirtualRouter};
use crate::wire::vrrp::{self, ParseOptions};
use crate::wire::{Addresses, AdvertRepr, Auth, Family, MacAddr, Version};

/// What happened, as recorded in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Startup,
    Shutdown,
    /// Stopped without sending priority 0.
    Crashed,
    Handover,
    /// Planned maintenance set (`ha-vip drain` / `resume`).
    Drain(Drain),
    InterfaceDown,
    InterfaceUp,
    /// The router emitted an advert.
    Sent {
        priority: u8,
        max_advert_interval_cs: u16,
    },
    /// An advert from `from` reached the router and was processed.
    Received {
        from: usize,
        priority: u8,
    },
    /// An advert from `from` reached the router and was dropped by it.
    Dropped {
        from: usize,
        reason: DropReason,
    },
    /// An advert to host `to` was lost (loss, partition, or `to` is down).
    Lost {
        to: usize,
    },
    /// Host `host`'s endpoint refused the advert before any router saw it
    /// (no router for its VRID, checksum form refused), by counter.
    Refused {
        host: usize,
        counter: &'static str,
    },
    AddAddresses,
    RemoveAddresses,
    /// One address added / removed by a reconfiguration in place.
    AddAddress(IpAddr),
    RemoveAddress(IpAddr),
    Announce,
    /// The router, Active, heard another Active router (split brain).
    PeerActive {
        peer: IpAddr,
        peer_priority: u8,
        yielded: bool,
    },
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    /// The effective priority after a tracked object changed.
    PriorityChanged {
        priority: u8,
    },
}

/// One trace entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEntry {
    pub at: Instant,
    pub router: usize,
    pub event: Event,
}

/// Delay and loss of one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Link {
    pub delay: Duration,
    /// Probability in 0.0..=1.0 that a packet is lost.
    pub loss: f64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            delay: Duration::ZERO,
            loss: 0.0,
        }
    }
}

/// An advert on the wire: the bytes an endpoint emitted, with the IP
/// header fields the kernel would add.
#[derive(Debug, Clone)]
struct Packet {
    /// The sending router and the receiving host.
    from: usize,
    to_host: usize,
    src: IpAddr,
    dst: IpAddr,
    bytes: Vec<u8>,
}

#[derive(Debug)]
struct InFlight {
    at: Instant,
    seq: u64,
    packet: Packet,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    /// Reversed so that `BinaryHeap` pops the earliest (then first sent).
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One machine on the LAN: an [`Endpoint`] with its routers.
struct Host {
    endpoint: Endpoint,
    /// False after a crash until restart.
    alive: bool,
}

/// One router of the simulation, by its index in the trace.
struct Node {
    host: usize,
    spec: RouterSpec,
    id: RouterId,
    /// The advert contents as tests override them (see `Sim::set_wire`).
    wire: Option<WireOverride>,
}

/// Lets a test make one router put other values on the wire than its
/// config says (a misconfigured or foreign peer).
#[derive(Debug, Clone, Default)]
pub struct WireOverride {
    pub max_advert_interval_cs: Option<u16>,
    pub addresses: Option<Vec<IpAddr>>,
    pub version: Option<Version>,
}

/// xorshift64*: tiny, seeded, good enough for loss decisions.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The simulated LAN. See the module docs.
pub struct Sim {
    base: Instant,
    now: Instant,
    hosts: Vec<Host>,
    nodes: Vec<Node>,
    default_link: Link,
    links: HashMap<(usize, usize), Link>,
    /// Partition group of each host; `None`: no partition.
    groups: Option<Vec<usize>>,
    in_flight: BinaryHeap<InFlight>,
    seq: u64,
    rng: Rng,
    trace: Vec<TraceEntry>,
    /// Emit buffer for adverts.
    buf: Vec<u8>,
    /// Routers handed out by [`Sim::router_mut`], whose outputs are
    /// collected at the next step.
    touched: Vec<usize>,
}

/// The interface every simulated host is on.
const IFINDEX: u32 = 1;

impl Sim {
    /// An empty LAN at virtual time zero `base` (any instant: the
    /// simulation never reads the clock), loss decisions seeded by `seed`.
    pub fn new(seed: u64, base: Instant) -> Self {
        Sim {
            base,
            now: base,
            hosts: Vec::new(),
            nodes: Vec::new(),
            default_link: Link::default(),
            links: HashMap::new(),
            groups: None,
            in_flight: BinaryHeap::new(),
            seq: 0,
            // xorshift must not start at zero.
            rng: Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1),
            trace: Vec::new(),
            buf: vec![0; vrrp::MAX_ADVERT_LEN],
            touched: Vec::new(),
        }
    }

    /// Add a router (in Initialize) on a host of its own; returns its
    /// index, which is also the host's.
    pub fn add_router(&mut self, cfg: RouterConfig) -> usize {
        let host = self.add_host();
        let mut spec = RouterSpec::new(cfg.clone());
        spec.source = Some(cfg.primary_address);
        self.add_router_to(host, spec)
    }

    /// Add a host with no router yet; returns its index (links and
    /// partitions are between hosts).
    pub fn add_host(&mut self) -> usize {
        self.hosts.push(Host {
            endpoint: Endpoint::new(),
            alive: true,
        });
        self.hosts.len() - 1
    }

    /// Add a router (in Initialize) to `host`'s endpoint. Its source is
    /// `spec.source`, else the endpoint's choice among the host's
    /// addresses (the sources of the host's other routers, and
    /// `spec.router.primary_address`). Returns the router's index.
    pub fn add_router_to(&mut self, host: usize, spec: RouterSpec) -> usize {
        let index = self.nodes.len();
        let id = self.host_mut(host).endpoint.insert(spec.clone());
        self.nodes.push(Node {
            host,
            spec,
            id,
            wire: None,
        });
        self.bind(index);
        index
    }

    /// Start router `i` in its endpoint with the link down: the state
    /// machine exists, in Initialize, until [`Sim::start`].
    fn bind(&mut self, i: usize) {
        let now = self.now;
        let (host, id, primary) = {
            let n = self.node(i);
            (n.host, n.id, n.spec.router.primary_address)
        };
        let addrs = [HostAddress::host(primary)];
        let ep = &mut self.host_mut(host).endpoint;
        let source = ep.select_source(id, &addrs).unwrap_or(primary);
        let link = EpLink {
            ifindex: IFINDEX,
            mac: MacAddr([0x02, 0, 0, 0, (host >> 8) as u8, host as u8]),
            up: false,
            ipv6_forwarding: false,
        };
        if let Err(e) = ep.start(now, id, link, source, &[]) {
            panic!("sim: router {i} cannot start: {e:?}");
        }
        self.drain_host(host);
    }

    // ----- time -------------------------------------------------------------

    /// Virtual time zero.
    pub fn base(&self) -> Instant {
        self.base
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since zero.
    pub fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    /// The instant `d` after virtual time zero.
    pub fn at(&self, d: Duration) -> Instant {
        self.base + d
    }

    /// The earliest deadline of any live host or in-flight packet.
    pub fn next_deadline(&self) -> Option<Instant> {
        let packets = self.in_flight.peek().map(|p| p.at);
        let timers = self
            .hosts
            .iter()
            .filter(|h| h.alive)
            .filter_map(|h| h.endpoint.poll_timeout());
        packets.into_iter().chain(timers).min()
    }

    /// Advance to the next deadline and process everything due then.
    /// Returns false when nothing is pending.
    pub fn step(&mut self) -> bool {
        self.collect_touched();
        let Some(t) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(t);
        self.process_due();
        true
    }

    /// Step until virtual time `t` (events at exactly `t` included).
    pub fn run_until(&mut self, t: Instant) {
        self.collect_touched();
        while let Some(next) = self.next_deadline() {
            if next > t {
                break;
            }
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Step for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    fn process_due(&mut self) {
        loop {
            let mut progressed = false;
            while self.in_flight.peek().is_some_and(|p| p.at <= self.now) {
                if let Some(p) = self.in_flight.pop() {
                    self.deliver(p.packet);
                    progressed = true;
                }
            }
            for h in 0..self.hosts.len() {
                let now = self.now;
                let due = self.hosts.get(h).is_some_and(|host| {
                    host.alive && host.endpoint.poll_timeout().is_some_and(|t| t <= now)
                });
                if due {
                    // The endpoint's sweep: every router of the host whose
                    // window is open, as the daemon serves them.
                    self.host_mut(h).endpoint.handle_timeout(now);
                    self.drain_host(h);
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }

    // ----- inputs -----------------------------------------------------------

    fn record(&mut self, router: usize, event: Event) {
        self.trace.push(TraceEntry {
            at: self.now,
            router,
            event,
        });
    }

    fn node(&self, i: usize) -> &Node {
        match self.nodes.get(i) {
            Some(n) => n,
            None => panic!("sim: no router {i}"),
        }
    }

    fn host_mut(&mut self, h: usize) -> &mut Host {
        match self.hosts.get_mut(h) {
            Some(host) => host,
            None => panic!("sim: no host {h}"),
        }
    }

    fn host(&self, h: usize) -> &Host {
        match self.hosts.get(h) {
            Some(host) => host,
            None => panic!("sim: no host {h}"),
        }
    }

    /// An input to router `i`'s endpoint, recorded as `event` first;
    /// ignored while its host is crashed.
    fn input(&mut self, i: usize, event: Event, f: impl FnOnce(&mut Endpoint, RouterId, Instant)) {
        let (host, id) = (self.node(i).host, self.node(i).id);
        if !self.host(host).alive {
            return;
        }
        let now = self.now;
        self.record(i, event);
        f(&mut self.host_mut(host).endpoint, id, now);
        self.drain_host(host);
    }

    fn mac_of(&self, i: usize) -> MacAddr {
        let (host, id) = (self.node(i).host, self.node(i).id);
        self.host(host)
            .endpoint
            .link(id)
            .map_or(MacAddr([0; 6]), |l| l.mac)
    }

    /// Startup event for router `i` now (its link comes up).
    pub fn start(&mut self, i: usize) {
        let mac = self.mac_of(i);
        self.input(i, Event::Startup, |ep, id, now| {
            ep.link_changed(now, id, true, mac)
        });
    }

    /// Startup event for every router now, in index order.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Orderly shutdown: an Active router sends priority 0.
    pub fn shutdown(&mut self, i: usize) {
        self.input(i, Event::Shutdown, |ep, id, now| ep.stop(now, id, true));
    }

    /// Router `i`'s host stops dead: no priority 0, no more timers or
    /// receptions. Packets it already sent stay on the wire.
    pub fn crash(&mut self, i: usize) {
        self.record(i, Event::Crashed);
        let host = self.node(i).host;
        self.host_mut(host).alive = false;
    }

    /// A crashed (or any) router's host comes back as a fresh process and
    /// every router on it starts.
    pub fn restart(&mut self, i: usize) {
        let host = self.node(i).host;
        let on_host: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.node(j).host == host)
            .collect();
        self.host_mut(host).endpoint = Endpoint::new();
        self.host_mut(host).alive = true;
        for &j in &on_host {
            let spec = self.node(j).spec.clone();
            let id = self.host_mut(host).endpoint.insert(spec);
            if let Some(n) = self.nodes.get_mut(j) {
                n.id = id;
            }
            self.bind(j);
        }
        for j in on_host {
            self.start(j);
        }
    }

    pub fn handover(&mut self, i: usize) {
        self.input(i, Event::Handover, |ep, id, now| ep.handover(now, id));
    }

    /// Drain (or resume, `Drain::Off`) router `i`; refused for the owner
    /// (nothing happens then, as the daemon refuses it).
    pub fn set_drain(&mut self, i: usize, drain: Drain) {
        self.input(i, Event::Drain(drain), |ep, id, now| {
            let _ = ep.set_drain(now, id, drain);
        });
    }

    pub fn interface_down(&mut self, i: usize) {
        let mac = self.mac_of(i);
        self.input(i, Event::InterfaceDown, |ep, id, now| {
            ep.link_changed(now, id, false, mac)
        });
    }

    pub fn interface_up(&mut self, i: usize) {
        let mac = self.mac_of(i);
        self.input(i, Event::InterfaceUp, |ep, id, now| {
            ep.link_changed(now, id, true, mac)
        });
    }

    /// Set a tracked object of router `i` (see `VirtualRouter::set_tracked`).
    pub fn set_tracked(&mut self, i: usize, name: &str, weight: i32, failed: bool) {
        let (host, id) = (self.node(i).host, self.node(i).id);
        if !self.host(host).alive {
            return;
        }
        let now = self.now;
        let ep = &mut self.host_mut(host).endpoint;
        let before = ep.router(id).map(VirtualRouter::effective_priority);
        ep.tracked_changed(now, id, name, weight, failed, false);
        let after = ep.router(id).map(VirtualRouter::effective_priority);
        if let Some(priority) = after.filter(|_| before != after) {
            self.record(i, Event::PriorityChanged { priority });
        }
        self.drain_host(host);
    }

    /// Make router `i` put other values on the wire than its config says.
    pub fn set_wire(&mut self, i: usize, wire: WireOverride) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.wire = Some(wire);
        }
    }

    // ----- the LAN ----------------------------------------------------------

    /// Delay and loss of every link without its own setting.
    pub fn set_default_link(&mut self, link: Link) {
        self.default_link = link;
    }

    /// Delay and loss from host `from` to host `to` (one direction).
    pub fn set_link(&mut self, from: usize, to: usize, link: Link) {
        self.links.insert((from, to), link);
    }

    /// Split the LAN: hosts in different groups no longer hear each other.
    /// Hosts in no group are alone.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut g: Vec<usize> = (0..self.hosts.len()).map(|i| groups.len() + i).collect();
        for (gi, members) in groups.iter().enumerate() {
            for &m in members.iter() {
                if let Some(slot) = g.get_mut(m) {
                    *slot = gi;
                }
            }
        }
        self.groups = Some(g);
    }

    /// Join the LAN again.
    pub fn heal(&mut self) {
        self.groups = None;
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        match &self.groups {
            None => true,
            Some(g) => g.get(a) == g.get(b),
        }
    }

    fn link(&self, from: usize, to: usize) -> Link {
        self.links
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }

    /// The router index of `id` on `host`.
    fn index_of(&self, host: usize, id: RouterId) -> Option<usize> {
        self.nodes.iter().position(|n| n.host == host && n.id == id)
    }

    /// Turn `host`'s queued outputs into trace entries and packets, in the
    /// order its routers produced them.
    fn drain_host(&mut self, host: usize) {
        let mut buf = std::mem::take(&mut self.buf);
        while let Some(output) = self.host_mut(host).endpoint.poll_output(&mut buf) {
            match output {
                Output::Transmit(Ok(t)) => {
                    let Some(i) = self.index_of(host, t.router) else {
                        continue;
                    };
                    let bytes = buf.get(..t.len).unwrap_or_default().to_vec();
                    self.transmit(i, host, t, bytes);
                }
                Output::Transmit(Err((id, e))) => {
                    panic!("sim: router {id} emitted an unbuildable advert: {e}")
                }
                Output::Event(e) => {
                    let Some(i) = self.index_of(host, e.router) else {
                        continue;
                    };
                    let event = match e.kind {
                        EventKind::AddAddresses { .. } => Event::AddAddresses,
                        EventKind::RemoveAddresses { .. } => Event::RemoveAddresses,
                        EventKind::AddAddress { addr, .. } => Event::AddAddress(addr),
                        EventKind::RemoveAddress { addr, .. } => Event::RemoveAddress(addr),
                        EventKind::Announce { .. } => Event::Announce,
                        EventKind::PeerActive {
                            peer,
                            peer_priority,
                            yielded,
                            ..
                        } => Event::PeerActive {
                            peer,
                            peer_priority,
                            yielded,
                        },
                        EventKind::StateChanged { from, to, reason } => {
                            Event::StateChanged { from, to, reason }
                        }
                    };
                    self.record(i, event);
                }
            }
        }
        self.buf = buf;
    }

    /// Router `i`'s advert onto the LAN: rewritten first when the test
    /// overrides what it sends, then to every other host (multicast) or
    /// to the hosts of its unicast peers.
    fn transmit(&mut self, i: usize, host: usize, t: Transmit, mut bytes: Vec<u8>) {
        let mut priority = 0;
        let mut interval = 0;
        if let Ok(r) = vrrp::parse_message(
            &bytes,
            t.source,
            t.destination,
            vrrp::TTL,
            &ParseOptions::default(),
        ) {
            priority = r.advert.priority;
            interval = r.advert.max_advert_interval_cs;
        }
        if let Some(w) = self.node(i).wire.clone() {
            bytes = rewrite(&bytes, &t, &w);
        }
        self.record(
            i,
            Event::Sent {
                priority,
                max_advert_interval_cs: interval,
            },
        );
        let targets: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| h != host)
            .filter(|&h| t.destination.is_multicast() || self.host_has(h, t.destination))
            .collect();
        for to in targets {
            let link = self.link(host, to);
            let lost =
                !self.connected(host, to) || (link.loss > 0.0 && self.rng.next_f64() < link.loss);
            if lost {
                self.record(i, Event::Lost { to });
                continue;
            }
            self.seq += 1;
            self.in_flight.push(InFlight {
                at: self.now + link.delay,
                seq: self.seq,
                packet: Packet {
                    from: i,
                    to_host: to,
                    src: t.source,
                    dst: t.destination,
                    bytes: bytes.clone(),
                },
            });
        }
    }

    /// Whether one of `host`'s routers sends from `addr`.
    fn host_has(&self, host: usize, addr: IpAddr) -> bool {
        let ep = &self.host(host).endpoint;
        ep.ids().any(|id| ep.source(id) == Some(addr))
    }

    fn deliver(&mut self, p: Packet) {
        let now = self.now;
        let to = p.to_host;
        if !self.host(to).alive {
            self.record(p.from, Event::Lost { to });
            return;
        }
        let parsed =
            vrrp::parse_message(&p.bytes, p.src, p.dst, vrrp::TTL, &ParseOptions::default());
        let received = match parsed {
            Ok(r) => r,
            Err(e) => panic!("sim: an advert of router {} does not parse: {e}", p.from),
        };
        let priority = received.advert.priority;
        let result = self.host_mut(to).endpoint.handle(now, IFINDEX, &received);
        match result {
            Ok(id) => {
                if let Some(r) = self.index_of(to, id) {
                    self.record(
                        r,
                        Event::Received {
                            from: p.from,
                            priority,
                        },
                    );
                }
            }
            Err(Dropped::Router { router, reason }) => {
                if let Some(r) = self.index_of(to, router) {
                    self.record(
                        r,
                        Event::Dropped {
                            from: p.from,
                            reason,
                        },
                    );
                }
            }
            Err(other) => self.record(
                p.from,
                Event::Refused {
                    host: to,
                    counter: other.counter(),
                },
            ),
        }
        self.drain_host(to);
    }

    // ----- observation -------------------------------------------------------

    pub fn router(&self, i: usize) -> &VirtualRouter {
        let n = self.node(i);
        match self.host(n.host).endpoint.router(n.id) {
            Some(r) => r,
            None => panic!("sim: router {i} is not running"),
        }
    }

    /// Direct access, for inputs the harness has no method for. The
    /// router's outputs are collected at the next step.
    pub fn router_mut(&mut self, i: usize) -> &mut VirtualRouter {
        self.touched.push(i);
        let (host, id) = (self.node(i).host, self.node(i).id);
        match self.host_mut(host).endpoint.router_mut(id) {
            Some(r) => r,
            None => panic!("sim: router {i} is not running"),
        }
    }

    fn collect_touched(&mut self) {
        for i in std::mem::take(&mut self.touched) {
            let (host, id) = (self.node(i).host, self.node(i).id);
            self.host_mut(host).endpoint.input(id, |_| ());
            self.drain_host(host);
        }
    }

    /// Router `i`'s host's endpoint, for tests of the endpoint itself.
    pub fn endpoint(&self, i: usize) -> &Endpoint {
        &self.host(self.node(i).host).endpoint
    }

    /// Router `i`'s handle in its host's endpoint.
    pub fn id(&self, i: usize) -> RouterId {
        self.node(i).id
    }

    /// Whether router `i`'s host is running.
    pub fn is_alive(&self, i: usize) -> bool {
        self.host(self.node(i).host).alive
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn trace(&self) -> &[TraceEntry] {
        &self.trace
    }

    /// Live routers in Active.
    pub fn active_routers(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.is_alive(i) && self.router(i).state() == State::Active)
            .collect()
    }

    /// Router `i`'s state changes: (time since zero, from, to, reason).
    pub fn transitions(&self, i: usize) -> Vec<(Duration, State, State, Reason)> {
        self.trace
            .iter()
            .filter(|e| e.router == i)
            .filter_map(|e| match e.event {
                Event::StateChanged { from, to, reason } => {
                    Some((e.at - self.base, from, to, reason))
                }
                _ => None,
            })
            .collect()
    }

    /// When router `i` sent adverts: (time since zero, priority).
    pub fn sent(&self, i: usize) -> Vec<(Duration, u8)> {
        self.trace
            .iter()
            .filter(|e| e.router == i)
            .filter_map(|e| match e.event {
                Event::Sent { priority, .. } => Some((e.at - self.base, priority)),
                _ => None,
            })
            .collect()
    }

    /// Router `i`'s trace events: (time since zero, event).
    pub fn events(&self, i: usize) -> Vec<(Duration, Event)> {
        self.trace
            .iter()
            .filter(|e| e.router == i)
            .map(|e| (e.at - self.base, e.event))
            .collect()
    }
}

/// The advert in `bytes` with the test's overrides applied, emitted again.
fn rewrite(bytes: &[u8], t: &Transmit, w: &WireOverride) -> Vec<u8> {
    let Ok(r) = vrrp::parse_message(
        bytes,
        t.source,
        t.destination,
        vrrp::TTL,
        &ParseOptions::default(),
    ) else {
        return bytes.to_vec();
    };
    let original: Vec<IpAddr> = r.advert.addresses.iter().collect();
    let list = w.addresses.clone().unwrap_or(original);
    let (v4, v6) = crate::wire::split_families(&list);
    let version = w.version.unwrap_or(r.advert.version);
    let repr = AdvertRepr {
        version,
        max_advert_interval_cs: w
            .max_advert_interval_cs
            .unwrap_or(r.advert.max_advert_interval_cs),
        auth: match version {
            Version::V2 => r.advert.auth,
            Version::V3 => Auth::None,
        },
        addresses: match t.family {
            Family::Ipv4 => Addresses::V4(&v4),
            Family::Ipv6 => Addresses::V6(&v6),
        },
        ..r.advert
    };
    let mut out = vec![0; vrrp::MAX_ADVERT_LEN];
    match vrrp::emit_advert(&repr, t.source, t.destination, t.checksum, &mut out) {
        Ok(n) => {
            out.truncate(n);
            out
        }
        Err(e) => panic!("sim: the overridden advert cannot be emitted: {e}"),
    }
}
