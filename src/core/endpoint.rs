//! Every virtual router of one process, after quinn-proto's `Endpoint`.
//!
//! The [`Endpoint`] owns each [`VirtualRouter`] behind a [`RouterId`] and
//! makes every decision that concerns more than one router or the bytes on
//! the wire: which router a received advert belongs to (the demux by
//! interface, family and VRID, a lookup), what is done with adverts for no
//! router of ours, whether a router accepts the checksum form an advert
//! came with, which source address a router sends from (RFC 9568 5.1.2.1),
//! where each advert goes (the group or the unicast peers) and whether it
//! leaves from the virtual MAC, and which routers one timer wake-up serves
//! (the Adver_Timer's early window, [`ADVER_EARLY_DIVISOR`]).
//!
//! Like the rest of `core` it never reads a clock and never touches a
//! socket: inputs carry `now`; adverts come out of [`Endpoint::poll_transmit`]
//! as bytes with their source, destination and socket, everything else out
//! of [`Endpoint::poll_event`]; [`Endpoint::poll_timeout`] says when
//! [`Endpoint::handle_timeout`] is next due. The shell drains the transmits
//! of an input before its events, so an advert always leaves before the
//! address changes, announcements and log lines of the same input (RFC 9568
//! 6.4.1 / 6.4.2: peers learn of a new Active router first).
//!
//! [`ADVER_EARLY_DIVISOR`]: super::ADVER_EARLY_DIVISOR

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use super::counters::{DropReason, PacketDrop};
use super::router::{Action, Drain, Reason, ReconfigureError, RouterConfig, State, VirtualRouter};
use crate::wire::EmitError;
use crate::wire::vrrp::{self, ChecksumForm, ChecksumPolicy, Received};
use crate::wire::{Family, MacAddr, Version};

/// A handle on one router of an [`Endpoint`], like quinn-proto's
/// `ConnectionHandle`. Handles are never reused within an endpoint, and
/// they order as the routers were inserted (configuration order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouterId(u32);

impl fmt::Display for RouterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What the endpoint needs to know of a configured router besides the
/// protocol parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    /// The protocol parameters. `primary_address` is replaced by the source
    /// chosen at [`Endpoint::start`].
    pub router: RouterConfig,
    /// `source_address` from the configuration, if set.
    pub source: Option<IpAddr>,
    /// VRRPv3 over IPv4: the checksum form sent, and those accepted.
    pub checksum_send: ChecksumForm,
    pub checksum_accept: ChecksumPolicy,
    /// RFC 9568 7.3: the Active router answers from the virtual MAC.
    pub virtual_mac: bool,
}

impl RouterSpec {
    /// A spec with the defaults of the configuration files: pseudo-header
    /// checksum sent, either accepted, no virtual MAC, no fixed source.
    pub fn new(router: RouterConfig) -> RouterSpec {
        RouterSpec {
            router,
            source: None,
            checksum_send: ChecksumForm::PseudoHeader,
            checksum_accept: ChecksumPolicy::Either,
            virtual_mac: false,
        }
    }
}

/// The interface a router runs on, as the shell found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub ifindex: u32,
    /// The interface's own MAC address.
    pub mac: MacAddr,
    /// Administratively up with carrier.
    pub up: bool,
    /// The interface forwards IPv6 (`net.ipv6.conf.IF.forwarding`): the node
    /// is a router, so its unsolicited NAs carry the Router flag (RFC 9568
    /// 6.4.1 / 6.4.2; a host using the VIP as its default gateway drops it
    /// from its router list on R = 0, RFC 4861 7.2.5).
    pub ipv6_forwarding: bool,
}

/// An advert to send, written into the buffer given to
/// [`Endpoint::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub router: RouterId,
    pub ifindex: u32,
    pub family: Family,
    /// The IP source the checksum was computed with: the kernel must be
    /// told to use exactly this one (IP_PKTINFO / IPV6_PKTINFO).
    pub source: IpAddr,
    /// The VRRP group (RFC 9568 5.1.1.2 / 5.1.2.2) or a unicast peer.
    pub destination: IpAddr,
    pub checksum: ChecksumForm,
    /// Leave from the router's virtual MAC (its macvlan), not from the
    /// interface's own address: RFC 9568 7.3, while Active.
    pub via_virtual_mac: bool,
    /// Bytes of the VRRP message written (the kernel adds the IP header).
    pub len: usize,
}

/// What the shell must do besides sending adverts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
    /// Add the router's addresses: to its macvlan (bringing it up) when
    /// `on_virtual_mac`, else to the interface.
    AddAddresses { on_virtual_mac: bool },
    /// Remove them (and take the macvlan down when `on_virtual_mac`).
    RemoveAddresses { on_virtual_mac: bool },
    /// Add one address (an address-list change in place, `reconfigure`).
    AddAddress { addr: IpAddr, on_virtual_mac: bool },
    /// Remove one address (an address-list change in place).
    RemoveAddress { addr: IpAddr, on_virtual_mac: bool },
    /// One gratuitous ARP / unsolicited NA per address, from `mac`, with the
    /// NA's Router flag as given, sent from the macvlan when
    /// `on_virtual_mac`.
    Announce {
        mac: MacAddr,
        on_virtual_mac: bool,
        router_flag: bool,
    },
    /// Another Active router heard while Active (split brain), for the log.
    PeerActive {
        peer: IpAddr,
        peer_priority: u8,
        our_priority: u8,
        yielded: bool,
    },
}

/// One output of [`Endpoint::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    pub router: RouterId,
    pub kind: EventKind,
}

/// One output of [`Endpoint::poll_output`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Transmit(Result<Transmit, (RouterId, EmitError)>),
    Event(Event),
}

/// Why [`Endpoint::handle`] dropped an advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// No router of ours has this (interface, family, VRID). `log` says
    /// whether this (source, VRID) is new (bounded bookkeeping).
    UnknownVrid {
        src: IpAddr,
        vrid: u8,
        priority: u8,
        log: UnknownVrid,
    },
    /// The router refuses the checksum form the advert came with.
    ChecksumFormRefused { router: RouterId },
    /// The router's own checks (RFC 9568 7.1) refused it.
    Router {
        router: RouterId,
        reason: DropReason,
    },
}

impl Dropped {
    /// The counter the drop is counted under (status, metrics, captures).
    pub fn counter(&self) -> &'static str {
        match self {
            Dropped::UnknownVrid { .. } => PacketDrop::VridUnknown.counter(),
            Dropped::ChecksumFormRefused { .. } => PacketDrop::ChecksumFormRefused.counter(),
            Dropped::Router { reason, .. } => reason.counter(),
        }
    }

    /// The router it was meant for, if any.
    pub fn router(&self) -> Option<RouterId> {
        match self {
            Dropped::UnknownVrid { .. } => None,
            Dropped::ChecksumFormRefused { router } | Dropped::Router { router, .. } => {
                Some(*router)
            }
        }
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::UnknownVrid { .. } => write!(f, "{}: no router for this VRID", self.counter()),
            Dropped::ChecksumFormRefused { .. } => f.write_str(self.counter()),
            Dropped::Router { reason, .. } => f.write_str(reason.counter()),
        }
    }
}

/// How many (source, VRID) pairs of adverts for no router of ours are
/// remembered for the log: more than a link carries in practice. Past it a
/// flood from spoofed sources would grow the set and the log with every
/// packet.
pub const UNKNOWN_VRID_LOG_LIMIT: usize = 256;

/// Whether to log an advert for no router of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownVrid {
    /// A new (source, VRID): log it.
    New,
    /// The first new pair past the limit: log that no more are logged.
    LimitReached,
    /// Already logged, or past the limit: nothing.
    Seen,
}

#[derive(Debug, Default)]
struct UnknownVrids {
    seen: HashSet<(IpAddr, u8)>,
    limit_reached: bool,
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

/// An address of an interface, as the shell reads it from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostAddress {
    pub addr: IpAddr,
    /// Added by ha-vip (a VIP of ours, held or left by a crashed run).
    pub ours: bool,
    /// IPv6 duplicate address detection is still running (or failed): the
    /// kernel refuses it as a source.
    pub tentative: bool,
}

impl HostAddress {
    /// An address the host has of its own: not ours, not tentative.
    pub fn host(addr: IpAddr) -> HostAddress {
        HostAddress {
            addr,
            ours: false,
            tentative: false,
        }
    }
}

/// Why no source address could be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSource {
    /// The interface has no IPv4 address that is not a VIP of ours.
    NoIpv4,
    /// The interface has no IPv6 link-local address.
    NoIpv6LinkLocal,
    /// Its IPv6 link-local address is still tentative (DAD): sends from it
    /// fail until DAD ends.
    Ipv6LinkLocalTentative,
    UnknownRouter,
}

impl fmt::Display for NoSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoSource::NoIpv4 => "IPv4",
            NoSource::NoIpv6LinkLocal => "IPv6 link-local",
            NoSource::Ipv6LinkLocalTentative => "usable IPv6 link-local (DAD still runs)",
            NoSource::UnknownRouter => "(unknown router)",
        })
    }
}

/// Why [`Endpoint::set_drain`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainError {
    UnknownRouter,
    /// Priority 255: the virtual addresses are the owner's own; it cannot
    /// hand them over (RFC 9568 6.1).
    Owner,
}

/// Why [`Endpoint::start`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    UnknownRouter,
    /// Another running router has this (interface, family, VRID).
    Duplicate(RouterId),
}

/// A router that runs: bound to an interface, with a source.
#[derive(Debug)]
struct Running {
    link: Link,
    source: IpAddr,
    vr: VirtualRouter,
    /// The router's `poll_timeout()` and `poll_timeout_early()`, cached
    /// after every input: the earliest-deadline scan and the timer sweep
    /// read two fields instead of asking every router.
    deadline: Option<Instant>,
    early: Option<Instant>,
    /// The macvlan is up: its addresses were added (AddAddresses with a
    /// virtual MAC) and not removed since.
    vmac_up: bool,
    /// The macvlan's own IPv6 link-local, once the shell has seen it: IPv6
    /// adverts from the virtual MAC leave from it (as FRR's do), since the
    /// kernel refuses the parent's link-local as a source on the macvlan.
    vmac_source: Option<IpAddr>,
}

#[derive(Debug)]
struct Entry {
    spec: RouterSpec,
    run: Option<Running>,
    /// Planned maintenance: outlives the router's runs (a restart after
    /// its interface came back starts it drained).
    drain: Drain,
}

/// An advert the core asked for, emitted by [`Endpoint::poll_transmit`]
/// once per destination.
#[derive(Debug, Clone, Copy)]
struct PendingAdvert {
    router: RouterId,
    priority: u8,
    max_advert_interval_cs: u16,
    /// The next unicast peer to send to (multicast: only 0).
    next: usize,
    /// From the virtual MAC, and from which source: decided when the core
    /// asked for the advert, in the order of its actions (the first advert
    /// of a new Active router precedes the macvlan coming up).
    via_virtual_mac: bool,
    source: IpAddr,
}

/// Every router of the process. See the module docs.
#[derive(Debug, Default)]
pub struct Endpoint {
    routers: BTreeMap<RouterId, Entry>,
    next_id: u32,
    /// (interface, family, VRID) of every running router.
    demux: HashMap<(u32, Family, u8), RouterId>,
    out: Queues,
    /// Adverts dropped before reaching a router's state machine, by counter.
    drops: BTreeMap<&'static str, u64>,
    unknown_vrids: UnknownVrids,
}

impl Endpoint {
    pub fn new() -> Endpoint {
        Endpoint::default()
    }

    // ----- routers ---------------------------------------------------------

    /// Add a configured router; it waits until [`Self::start`].
    pub fn insert(&mut self, spec: RouterSpec) -> RouterId {
        let id = RouterId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.routers.insert(
            id,
            Entry {
                spec,
                run: None,
                drain: Drain::Off,
            },
        );
        id
    }

    /// Forget a router (after [`Self::stop`] and draining its outputs).
    pub fn remove(&mut self, id: RouterId) -> Option<RouterSpec> {
        self.detach(id);
        self.routers.remove(&id).map(|e| e.spec)
    }

    /// Every router, in configuration order.
    pub fn ids(&self) -> impl Iterator<Item = RouterId> + '_ {
        self.routers.keys().copied()
    }

    pub fn spec(&self, id: RouterId) -> Option<&RouterSpec> {
        self.routers.get(&id).map(|e| &e.spec)
    }

    /// The running state machine, for status; `None` while waiting.
    pub fn router(&self, id: RouterId) -> Option<&VirtualRouter> {
        self.running(id).map(|r| &r.vr)
    }

    /// Direct access to a running state machine; its outputs are queued at
    /// its next input (or [`Self::input`] with a no-op).
    pub fn router_mut(&mut self, id: RouterId) -> Option<&mut VirtualRouter> {
        self.routers.get_mut(&id)?.run.as_mut().map(|r| &mut r.vr)
    }

    /// The source address a running router sends from.
    pub fn source(&self, id: RouterId) -> Option<IpAddr> {
        self.running(id).map(|r| r.source)
    }

    /// The interface a running router is bound to.
    pub fn link(&self, id: RouterId) -> Option<Link> {
        self.running(id).map(|r| r.link)
    }

    /// The running router of (interface, family, VRID).
    pub fn find(&self, ifindex: u32, family: Family, vrid: u8) -> Option<RouterId> {
        self.demux.get(&(ifindex, family, vrid)).copied()
    }

    fn running(&self, id: RouterId) -> Option<&Running> {
        self.routers.get(&id).and_then(|e| e.run.as_ref())
    }

    /// The source address for a router, RFC 9568 5.1.2.1: the configured
    /// `source_address`, else the interface's first IPv4 address that is
    /// not a VIP added by ha-vip, or its IPv6 link-local address (IPv6
    /// adverts come from the link-local) once it is no longer tentative.
    /// A VIP the host has of its own (not added by ha-vip: the address
    /// owner's, RFC 9568 6.1) is a source like any of the host's addresses.
    pub fn select_source(&self, id: RouterId, addrs: &[HostAddress]) -> Result<IpAddr, NoSource> {
        let entry = self.routers.get(&id).ok_or(NoSource::UnknownRouter)?;
        if let Some(s) = entry.spec.source {
            return Ok(s);
        }
        let family = entry.spec.router.family;
        let is_vip = |a: &IpAddr| {
            self.routers
                .values()
                .any(|e| e.spec.router.addresses.contains(a))
        };
        let mut tentative = false;
        for a in addrs {
            match (family, a.addr) {
                (Family::Ipv4, IpAddr::V4(_)) if !(a.ours && is_vip(&a.addr)) => return Ok(a.addr),
                (Family::Ipv6, IpAddr::V6(v6)) if v6.is_unicast_link_local() => {
                    if !a.tentative {
                        return Ok(a.addr);
                    }
                    tentative = true;
                }
                _ => {}
            }
        }
        Err(match family {
            Family::Ipv4 => NoSource::NoIpv4,
            Family::Ipv6 if tentative => NoSource::Ipv6LinkLocalTentative,
            Family::Ipv6 => NoSource::NoIpv6LinkLocal,
        })
    }

    /// Start a router on `link`, sending from `source`: a new state machine
    /// with its tracked objects (`(name, weight, failed)`) set, then the
    /// Startup event if the link is up (else it waits in Initialize for
    /// [`Self::link_changed`]).
    pub fn start(
        &mut self,
        now: Instant,
        id: RouterId,
        link: Link,
        source: IpAddr,
        tracked: &[(String, i32, bool)],
    ) -> Result<(), StartError> {
        let entry = self.routers.get(&id).ok_or(StartError::UnknownRouter)?;
        let key = (
            link.ifindex,
            entry.spec.router.family,
            entry.spec.router.vrid,
        );
        if let Some(&other) = self.demux.get(&key)
            && other != id
        {
            return Err(StartError::Duplicate(other));
        }
        let mut cfg = entry.spec.router.clone();
        cfg.primary_address = source;
        cfg.family = Family::of(&source);
        let mut vr = VirtualRouter::new(cfg);
        for (name, weight, failed) in tracked {
            vr.set_tracked(now, name, *weight, *failed);
        }
        // Drained before it starts: a drained router that restarts never
        // claims the addresses on the way.
        vr.set_drain(now, entry.drain);
        if link.up {
            vr.startup(now);
        }
        if let Some(entry) = self.routers.get_mut(&id) {
            entry.run = Some(Running {
                link,
                source,
                vr,
                deadline: None,
                early: None,
                vmac_up: false,
                vmac_source: None,
            });
        }
        self.demux.insert(key, id);
        self.drain(id);
        Ok(())
    }

    /// Stop a running router: `clean`, the Shutdown event (an Active router
    /// sends priority 0); otherwise as if its interface went down. Drain the
    /// outputs, then [`Self::detach`] (or [`Self::remove`]).
    pub fn stop(&mut self, now: Instant, id: RouterId, clean: bool) {
        self.input(id, |vr| {
            if clean {
                vr.shutdown(now)
            } else {
                vr.interface_down(now)
            }
        });
    }

    /// Apply a changed spec in place, as RFC 9568 allows
    /// ([`VirtualRouter::reconfigure`]: priority, interval, preemption,
    /// announcements, peers, addresses, ...; the checksum forms here). The
    /// source stays the one chosen at start. VRID, family and version
    /// cannot change in place: the error says which, and nothing changes.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        id: RouterId,
        spec: RouterSpec,
    ) -> Result<(), ReconfigureError> {
        let Some(entry) = self.routers.get_mut(&id) else {
            return Ok(());
        };
        if let Some(run) = entry.run.as_mut() {
            let mut cfg = spec.router.clone();
            cfg.primary_address = run.source;
            cfg.family = Family::of(&run.source);
            run.vr.reconfigure(now, cfg)?;
        }
        entry.spec = spec;
        self.drain(id);
        Ok(())
    }

    /// The router's macvlan has (or, `None`, no longer has) the usable IPv6
    /// link-local `addr`: IPv6 adverts from the virtual MAC leave from it.
    pub fn virtual_mac_source(&mut self, id: RouterId, addr: Option<IpAddr>) {
        if let Some(run) = self.routers.get_mut(&id).and_then(|e| e.run.as_mut()) {
            run.vmac_source = addr;
        }
    }

    /// Unbind a stopped router from its interface: it waits again.
    pub fn detach(&mut self, id: RouterId) {
        let Some(run) = self.routers.get_mut(&id).and_then(|e| e.run.take()) else {
            return;
        };
        let key = (
            run.link.ifindex,
            run.vr.config().family,
            run.vr.config().vrid,
        );
        if self.demux.get(&key) == Some(&id) {
            self.demux.remove(&key);
        }
        // Adverts not yet emitted cannot be: their router is gone.
        self.out.transmits.retain(|(_, t)| t.router != id);
    }

    /// The router's interface changed: carrier (`up`) and its MAC address.
    pub fn link_changed(&mut self, now: Instant, id: RouterId, up: bool, mac: MacAddr) {
        let virtual_mac = self.spec(id).is_some_and(|s| s.virtual_mac);
        let Some(run) = self.routers.get_mut(&id).and_then(|e| e.run.as_mut()) else {
            return;
        };
        if run.link.mac != mac {
            run.link.mac = mac;
            // Without a virtual MAC, hosts must learn the new one: an
            // Active router re-announces at once. With one, hosts never
            // saw the interface's MAC for the VIPs.
            if !virtual_mac {
                run.vr.link_address_changed(now);
            }
        }
        if run.link.up != up {
            run.link.up = up;
            if up {
                run.vr.interface_up(now);
            } else {
                run.vr.interface_down(now);
            }
        }
        self.drain(id);
    }

    // ----- inputs to one router ---------------------------------------------

    /// A tracked object's new state. `leaving` says the service it checks
    /// is going away on purpose (the API server's `[-]shutdown`): an Active
    /// router then hands over at once (priority 0, so the Backups wait only
    /// Skew_Time) instead of waiting for a Backup to preempt. Returns
    /// whether it handed over.
    pub fn tracked_changed(
        &mut self,
        now: Instant,
        id: RouterId,
        name: &str,
        weight: i32,
        failed: bool,
        leaving: bool,
    ) -> bool {
        self.input(id, |vr| {
            vr.set_tracked(now, name, weight, failed);
            let hand_over = leaving && vr.state() == State::Active;
            if hand_over {
                vr.handover(now);
            }
            hand_over
        })
        .unwrap_or(false)
    }

    /// Planned maintenance for a router, running or not ([`Drain`],
    /// [`VirtualRouter::set_drain`]); it holds across the router's
    /// restarts. Resuming a hard-drained router whose link is up starts
    /// it (the Startup event). The address owner is refused.
    pub fn set_drain(
        &mut self,
        now: Instant,
        id: RouterId,
        drain: Drain,
    ) -> Result<(), DrainError> {
        let entry = self.routers.get_mut(&id).ok_or(DrainError::UnknownRouter)?;
        if drain != Drain::Off && entry.spec.router.priority == 255 {
            return Err(DrainError::Owner);
        }
        entry.drain = drain;
        let link_up = entry.run.as_ref().is_some_and(|r| r.link.up);
        self.input(id, |vr| {
            vr.set_drain(now, drain);
            if drain == Drain::Off && link_up {
                vr.startup(now);
            }
        });
        Ok(())
    }

    /// A router's planned maintenance.
    pub fn drain_of(&self, id: RouterId) -> Drain {
        self.routers.get(&id).map_or(Drain::Off, |e| e.drain)
    }

    /// Hand the addresses over (priority 0) while staying in the election.
    pub fn handover(&mut self, now: Instant, id: RouterId) {
        self.input(id, |vr| vr.handover(now));
    }

    /// Any other input to a running router; its outputs are queued after.
    pub fn input<R>(&mut self, id: RouterId, f: impl FnOnce(&mut VirtualRouter) -> R) -> Option<R> {
        let run = self.routers.get_mut(&id)?.run.as_mut()?;
        let r = f(&mut run.vr);
        self.drain(id);
        Some(r)
    }

    // ----- received packets -------------------------------------------------

    /// An advert that `wire` parsed, received on interface `ifindex` at
    /// `now` (its kernel receive time: the Master_Down_Timer runs from
    /// there, RFC 9568 6.4.2). Demultiplexed by (interface, family, VRID),
    /// checked against the router's checksum policy, then handed to it.
    /// Every drop is counted.
    pub fn handle(
        &mut self,
        now: Instant,
        ifindex: u32,
        received: &Received<'_>,
    ) -> Result<RouterId, Dropped> {
        let family = Family::of(&received.src);
        let vrid = received.advert.vrid;
        let Some(&id) = self.demux.get(&(ifindex, family, vrid)) else {
            self.count(PacketDrop::VridUnknown.counter());
            return Err(Dropped::UnknownVrid {
                src: received.src,
                vrid,
                priority: received.advert.priority,
                log: self.unknown_vrids.note(received.src, vrid),
            });
        };
        let Some(entry) = self.routers.get_mut(&id) else {
            return Err(Dropped::Router {
                router: id,
                reason: DropReason::NotRunning,
            });
        };
        // The socket parses with either IPv4 checksum form and reports
        // which one matched; the policy is the router's.
        if let ChecksumPolicy::Only(form) = entry.spec.checksum_accept
            && received.advert.version == Version::V3
            && family == Family::Ipv4
            && received.checksum_form != form
        {
            self.count(PacketDrop::ChecksumFormRefused.counter());
            return Err(Dropped::ChecksumFormRefused { router: id });
        }
        let Some(run) = entry.run.as_mut() else {
            return Err(Dropped::Router {
                router: id,
                reason: DropReason::NotRunning,
            });
        };
        let result = run.vr.handle_advert(now, received.src, &received.advert);
        self.drain(id);
        result
            .map(|()| id)
            .map_err(|reason| Dropped::Router { router: id, reason })
    }

    /// Count a packet the shell dropped before it could be parsed or
    /// handed over (truncated, control data missing, refused by `wire`).
    pub fn count_drop(&mut self, drop: PacketDrop) {
        self.count(drop.counter());
    }

    /// Count a packet `wire` refused, under its parse error's counter.
    pub fn count_parse_error(&mut self, e: &crate::wire::ParseError) {
        self.count(e.counter());
    }

    fn count(&mut self, counter: &'static str) {
        *self.drops.entry(counter).or_default() += 1;
    }

    /// Packets dropped before reaching a router, by counter.
    pub fn drops(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.drops.iter().map(|(k, n)| (*k, *n))
    }

    // ----- time -------------------------------------------------------------

    /// When [`Self::handle_timeout`] is next due: the earliest deadline of
    /// any running router (never an early window).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.routers
            .values()
            .filter_map(|e| e.run.as_ref()?.deadline)
            .min()
    }

    /// Serve every router whose timer window has opened by `now`, not only
    /// the one whose deadline woke the shell: Active routers due within the
    /// Adver_Timer's early window share this wake-up
    /// ([`super::ADVER_EARLY_DIVISOR`]). A Master_Down_Timer is never early.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (&id, entry) in self.routers.iter_mut() {
            let Some(run) = entry.run.as_mut() else {
                continue;
            };
            if run.early.is_none_or(|t| t > now) {
                continue;
            }
            if let Some(deadline) = run.vr.poll_timeout() {
                tracing::trace!(router = %id,
                    late_us = now.saturating_duration_since(deadline).as_micros() as u64, "timer");
            }
            run.vr.handle_timeout(now);
            drain(id, entry, &mut self.out);
        }
    }

    // ----- outputs ----------------------------------------------------------

    /// Move a router's actions to the endpoint's queues and cache its
    /// deadlines. Every input to a router ends here.
    fn drain(&mut self, id: RouterId) {
        if let Some(entry) = self.routers.get_mut(&id) {
            drain(id, entry, &mut self.out);
        }
    }

    /// The next advert to send, written into `buf` (at least
    /// [`vrrp::MAX_ADVERT_LEN`] bytes): one per destination, in the order
    /// the routers asked. `Some(Err)` for an advert that cannot be built
    /// (it is skipped).
    pub fn poll_transmit(
        &mut self,
        buf: &mut [u8],
    ) -> Option<Result<Transmit, (RouterId, EmitError)>> {
        loop {
            let (_, pending) = *self.out.transmits.front()?;
            let id = pending.router;
            let Some(entry) = self.routers.get(&id) else {
                self.out.transmits.pop_front();
                continue;
            };
            let Some(run) = entry.run.as_ref() else {
                self.out.transmits.pop_front();
                continue;
            };
            let cfg = run.vr.config();
            let destination = if cfg.unicast_peers.is_empty() {
                match cfg.family {
                    Family::Ipv4 => IpAddr::V4(vrrp::MULTICAST_V4),
                    Family::Ipv6 => IpAddr::V6(vrrp::MULTICAST_V6),
                }
            } else {
                match cfg.unicast_peers.get(pending.next) {
                    Some(p) => *p,
                    None => {
                        self.out.transmits.pop_front();
                        continue;
                    }
                }
            };
            let (priority, interval) = (pending.priority, pending.max_advert_interval_cs);
            let next = pending.next + 1;
            if cfg.unicast_peers.len() <= next {
                self.out.transmits.pop_front();
            } else if let Some((_, p)) = self.out.transmits.front_mut() {
                p.next = next;
            }
            let repr = run.vr.advert(priority, interval);
            let form = entry.spec.checksum_send;
            // The pseudo-header form covers the source and the
            // destination: emitted per destination.
            return Some(
                vrrp::emit_advert(&repr, pending.source, destination, form, buf)
                    .map(|len| Transmit {
                        router: id,
                        ifindex: run.link.ifindex,
                        family: cfg.family,
                        source: pending.source,
                        destination,
                        checksum: form,
                        via_virtual_mac: pending.via_virtual_mac,
                        len,
                    })
                    .map_err(|e| (id, e)),
            );
        }
    }

    /// The next event for the shell, in order. Drain [`Self::poll_transmit`]
    /// first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front().map(|(_, e)| e)
    }

    /// Transmits and events merged, in the order the routers produced
    /// them (the simulator's trace); `buf` as for [`Self::poll_transmit`].
    pub fn poll_output(&mut self, buf: &mut [u8]) -> Option<Output> {
        let t = self.out.transmits.front().map(|(seq, _)| *seq);
        let e = self.out.events.front().map(|(seq, _)| *seq);
        match (t, e) {
            (Some(t), Some(e)) if e < t => self.poll_event().map(Output::Event),
            (Some(_), _) => self.poll_transmit(buf).map(Output::Transmit),
            (None, Some(_)) => self.poll_event().map(Output::Event),
            (None, None) => None,
        }
    }
}

/// Move a router's actions to the endpoint's queues (adverts to
/// `transmits`, the rest to `events`) and cache its deadlines.
/// The endpoint's outputs in two queues, each entry with its place in the
/// order the routers produced them: the shell drains the transmits first,
/// the simulator merges both back into that order
/// ([`Endpoint::poll_output`]).
#[derive(Debug, Default)]
struct Queues {
    transmits: VecDeque<(u64, PendingAdvert)>,
    events: VecDeque<(u64, Event)>,
    seq: u64,
}

fn drain(id: RouterId, entry: &mut Entry, q: &mut Queues) {
    let virtual_mac = entry.spec.virtual_mac;
    let Some(run) = entry.run.as_mut() else {
        return;
    };
    while let Some(action) = run.vr.poll_action() {
        let kind = match action {
            Action::SendAdvert {
                priority,
                max_advert_interval_cs,
            } => {
                // RFC 9568 7.3: the Active router sends from the virtual
                // MAC, once its macvlan is up; an IPv6 advert from there
                // needs the macvlan's own link-local.
                let via = virtual_mac && run.vmac_up && run.vr.state() == State::Active;
                let (via_virtual_mac, source) = match (via, run.vr.config().family) {
                    (true, Family::Ipv4) => (true, run.source),
                    (true, Family::Ipv6) => match run.vmac_source {
                        Some(s) => (true, s),
                        None => (false, run.source),
                    },
                    (false, _) => (false, run.source),
                };
                q.seq += 1;
                q.transmits.push_back((
                    q.seq,
                    PendingAdvert {
                        router: id,
                        priority,
                        max_advert_interval_cs,
                        next: 0,
                        via_virtual_mac,
                        source,
                    },
                ));
                continue;
            }
            Action::AddAddresses => {
                run.vmac_up = virtual_mac;
                EventKind::AddAddresses {
                    on_virtual_mac: virtual_mac,
                }
            }
            Action::RemoveAddresses => {
                run.vmac_up = false;
                run.vmac_source = None;
                EventKind::RemoveAddresses {
                    on_virtual_mac: virtual_mac,
                }
            }
            Action::AddAddress(addr) => EventKind::AddAddress {
                addr,
                on_virtual_mac: virtual_mac,
            },
            Action::RemoveAddress(addr) => EventKind::RemoveAddress {
                addr,
                on_virtual_mac: virtual_mac,
            },
            Action::Announce => EventKind::Announce {
                // RFC 9568 7.3: from the virtual MAC when there is one.
                mac: if virtual_mac {
                    MacAddr::vrrp_virtual(run.vr.config().family, run.vr.config().vrid)
                } else {
                    run.link.mac
                },
                on_virtual_mac: virtual_mac,
                // The Router flag where the node routes, as keepalived
                // sets it (it reads the interface's forwarding).
                router_flag: run.link.ipv6_forwarding,
            },
            Action::PeerActive {
                peer,
                peer_priority,
                our_priority,
                yielded,
            } => EventKind::PeerActive {
                peer,
                peer_priority,
                our_priority,
                yielded,
            },
            Action::StateChanged { from, to, reason } => {
                EventKind::StateChanged { from, to, reason }
            }
        };
        q.seq += 1;
        q.events.push_back((q.seq, Event { router: id, kind }));
    }
    run.deadline = run.vr.poll_timeout();
    run.early = run.vr.poll_timeout_early();
}

/// The IPv4 address `0.0.0.0`, the placeholder primary address of a
/// router spec before [`Endpoint::start`] chose its source.
pub const UNSPECIFIED_V4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

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
