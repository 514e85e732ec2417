//! A simulated LAN for testing [`VirtualRouter`]s in virtual time.
//!
//! N routers share a link. Each `SendAdvert` is delivered to every other
//! router (or to the sender's unicast peers) after a per-link delay, unless
//! the link loses it (seeded RNG) or a partition separates the two. Time
//! advances by [`Sim::step`] straight to the earliest deadline of any router
//! or in-flight packet: runs are exact and never sleep. Every event is
//! recorded in a trace of (instant, router, event) for tests to assert on.
//!
//! Ordering at one instant: due packets are delivered first (in send order),
//! then due router timers (in router order), repeated until nothing is due.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::counters::DropReason;
use super::router::{Action, Reason, RouterConfig, State, VirtualRouter};
use crate::wire::{Addresses, AdvertRepr, Auth, Family, Version};

/// What happened, as recorded in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Startup,
    Shutdown,
    /// Stopped without sending priority 0.
    Crashed,
    Handover,
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
    /// An advert to `to` was lost (loss, partition, or `to` is down).
    Lost {
        to: usize,
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

/// An advert on the wire: everything needed to rebuild its `AdvertRepr`.
#[derive(Debug, Clone)]
struct Packet {
    from: usize,
    to: usize,
    src: IpAddr,
    version: Version,
    vrid: u8,
    priority: u8,
    max_advert_interval_cs: u16,
    auth: Auth,
    family: Family,
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
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

struct Node {
    cfg: RouterConfig,
    router: VirtualRouter,
    /// False after a crash until restart.
    alive: bool,
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
    nodes: Vec<Node>,
    default_link: Link,
    links: HashMap<(usize, usize), Link>,
    /// Partition group of each router; `None`: no partition.
    groups: Option<Vec<usize>>,
    in_flight: BinaryHeap<InFlight>,
    seq: u64,
    rng: Rng,
    trace: Vec<TraceEntry>,
}

impl Sim {
    /// An empty LAN at virtual time zero, loss decisions seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        let base = Instant::now();
        Sim {
            base,
            now: base,
            nodes: Vec::new(),
            default_link: Link::default(),
            links: HashMap::new(),
            groups: None,
            in_flight: BinaryHeap::new(),
            seq: 0,
            // xorshift must not start at zero.
            rng: Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1),
            trace: Vec::new(),
        }
    }

    /// Add a router (in Initialize); returns its index.
    pub fn add_router(&mut self, cfg: RouterConfig) -> usize {
        self.nodes.push(Node {
            router: VirtualRouter::new(cfg.clone()),
            cfg,
            alive: true,
            wire: None,
        });
        self.nodes.len() - 1
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

    /// The earliest deadline of any live router or in-flight packet.
    pub fn next_deadline(&self) -> Option<Instant> {
        let packets = self.in_flight.peek().map(|p| p.at);
        let timers = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.router.poll_timeout());
        packets.into_iter().chain(timers).min()
    }

    /// Advance to the next deadline and process everything due then.
    /// Returns false when nothing is pending.
    pub fn step(&mut self) -> bool {
        let Some(t) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(t);
        self.process_due();
        true
    }

    /// Step until virtual time `t` (events at exactly `t` included).
    pub fn run_until(&mut self, t: Instant) {
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
            for i in 0..self.nodes.len() {
                let due = self.nodes.get(i).is_some_and(|n| {
                    n.alive && n.router.poll_timeout().is_some_and(|t| t <= self.now)
                });
                if due {
                    let now = self.now;
                    if let Some(n) = self.nodes.get_mut(i) {
                        n.router.handle_timeout(now);
                    }
                    self.drain(i);
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

    fn node_mut(&mut self, i: usize) -> &mut Node {
        match self.nodes.get_mut(i) {
            Some(n) => n,
            None => panic!("sim: no router {i}"),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match self.nodes.get(i) {
            Some(n) => n,
            None => panic!("sim: no router {i}"),
        }
    }

    /// Startup event for router `i` now.
    pub fn start(&mut self, i: usize) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        self.record(i, Event::Startup);
        self.node_mut(i).router.startup(now);
        self.drain(i);
    }

    /// Startup event for every router now, in index order.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Orderly shutdown: an Active router sends priority 0.
    pub fn shutdown(&mut self, i: usize) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        self.record(i, Event::Shutdown);
        self.node_mut(i).router.shutdown(now);
        self.drain(i);
    }

    /// The router stops dead: no priority 0, no more timers or receptions.
    /// Packets it already sent stay on the wire.
    pub fn crash(&mut self, i: usize) {
        self.record(i, Event::Crashed);
        self.node_mut(i).alive = false;
    }

    /// A crashed (or any) router comes back as a fresh process and starts.
    pub fn restart(&mut self, i: usize) {
        let node = self.node_mut(i);
        node.router = VirtualRouter::new(node.cfg.clone());
        node.alive = true;
        self.start(i);
    }

    // Inputs to a crashed router are ignored (it is not running).

    pub fn handover(&mut self, i: usize) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        self.record(i, Event::Handover);
        self.node_mut(i).router.handover(now);
        self.drain(i);
    }

    pub fn interface_down(&mut self, i: usize) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        self.record(i, Event::InterfaceDown);
        self.node_mut(i).router.interface_down(now);
        self.drain(i);
    }

    pub fn interface_up(&mut self, i: usize) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        self.record(i, Event::InterfaceUp);
        self.node_mut(i).router.interface_up(now);
        self.drain(i);
    }

    /// Set a tracked object of router `i` (see `VirtualRouter::set_tracked`).
    pub fn set_tracked(&mut self, i: usize, name: &str, weight: i32, failed: bool) {
        if !self.node(i).alive {
            return;
        }
        let now = self.now;
        let node = self.node_mut(i);
        let before = node.router.effective_priority();
        node.router.set_tracked(now, name, weight, failed);
        let after = node.router.effective_priority();
        if before != after {
            self.record(i, Event::PriorityChanged { priority: after });
        }
        self.drain(i);
    }

    /// Make router `i` put other values on the wire than its config says.
    pub fn set_wire(&mut self, i: usize, wire: WireOverride) {
        self.node_mut(i).wire = Some(wire);
    }

    // ----- the LAN ----------------------------------------------------------

    /// Delay and loss of every link without its own setting.
    pub fn set_default_link(&mut self, link: Link) {
        self.default_link = link;
    }

    /// Delay and loss from `from` to `to` (one direction).
    pub fn set_link(&mut self, from: usize, to: usize, link: Link) {
        self.links.insert((from, to), link);
    }

    /// Split the LAN: routers in different groups no longer hear each other.
    /// Routers in no group are alone.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let mut g: Vec<usize> = (0..self.nodes.len()).map(|i| groups.len() + i).collect();
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

    /// Turn router `i`'s queued actions into trace entries and packets.
    fn drain(&mut self, i: usize) {
        while let Some(action) = self.node_mut(i).router.poll_action() {
            match action {
                Action::SendAdvert {
                    priority,
                    max_advert_interval_cs,
                } => {
                    self.record(
                        i,
                        Event::Sent {
                            priority,
                            max_advert_interval_cs,
                        },
                    );
                    self.transmit(i, priority, max_advert_interval_cs);
                }
                Action::AddAddresses => self.record(i, Event::AddAddresses),
                Action::RemoveAddresses => self.record(i, Event::RemoveAddresses),
                Action::AddAddress(a) => self.record(i, Event::AddAddress(a)),
                Action::RemoveAddress(a) => self.record(i, Event::RemoveAddress(a)),
                Action::Announce => self.record(i, Event::Announce),
                Action::PeerActive {
                    peer,
                    peer_priority,
                    yielded,
                    ..
                } => self.record(
                    i,
                    Event::PeerActive {
                        peer,
                        peer_priority,
                        yielded,
                    },
                ),
                Action::StateChanged { from, to, reason } => {
                    self.record(i, Event::StateChanged { from, to, reason })
                }
            }
        }
    }

    fn transmit(&mut self, from: usize, priority: u8, interval_cs: u16) {
        let node = self.node(from);
        let cfg = &node.cfg;
        let wire = node.wire.clone().unwrap_or_default();
        let addresses = wire.addresses.unwrap_or_else(|| cfg.addresses.clone());
        let template = Packet {
            from,
            to: from,
            src: cfg.primary_address,
            version: wire.version.unwrap_or(cfg.version),
            vrid: cfg.vrid,
            priority,
            max_advert_interval_cs: wire.max_advert_interval_cs.unwrap_or(interval_cs),
            auth: match cfg.version {
                Version::V2 => cfg.auth,
                Version::V3 => Auth::None,
            },
            family: cfg.family,
            v4: addresses
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(a) => Some(*a),
                    IpAddr::V6(_) => None,
                })
                .collect(),
            v6: addresses
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V6(a) => Some(*a),
                    IpAddr::V4(_) => None,
                })
                .collect(),
        };
        let peers = cfg.unicast_peers.clone();
        let targets: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != from)
            .filter(|&j| peers.is_empty() || peers.contains(&self.node(j).cfg.primary_address))
            .collect();
        for to in targets {
            let link = self.link(from, to);
            let lost =
                !self.connected(from, to) || (link.loss > 0.0 && self.rng.next_f64() < link.loss);
            if lost {
                self.record(from, Event::Lost { to });
                continue;
            }
            self.seq += 1;
            let mut packet = template.clone();
            packet.to = to;
            self.in_flight.push(InFlight {
                at: self.now + link.delay,
                seq: self.seq,
                packet,
            });
        }
    }

    fn deliver(&mut self, p: Packet) {
        let now = self.now;
        let to = p.to;
        if !self.node(to).alive {
            self.record(p.from, Event::Lost { to });
            return;
        }
        let addresses = match p.family {
            Family::Ipv4 => Addresses::V4(&p.v4),
            Family::Ipv6 => Addresses::V6(&p.v6),
        };
        let repr = AdvertRepr {
            version: p.version,
            vrid: p.vrid,
            priority: p.priority,
            max_advert_interval_cs: p.max_advert_interval_cs,
            auth: p.auth,
            addresses,
        };
        let result = self.node_mut(to).router.handle_advert(now, p.src, &repr);
        let event = match result {
            Ok(()) => Event::Received {
                from: p.from,
                priority: p.priority,
            },
            Err(reason) => Event::Dropped {
                from: p.from,
                reason,
            },
        };
        self.record(to, event);
        self.drain(to);
    }

    // ----- observation -------------------------------------------------------

    pub fn router(&self, i: usize) -> &VirtualRouter {
        &self.node(i).router
    }

    /// Direct access, for inputs the harness has no method for.
    pub fn router_mut(&mut self, i: usize) -> &mut VirtualRouter {
        &mut self.node_mut(i).router
    }

    pub fn is_alive(&self, i: usize) -> bool {
        self.node(i).alive
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
            .filter(|&i| self.node(i).alive && self.node(i).router.state() == State::Active)
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
