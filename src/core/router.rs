//! One virtual router: the state machine of RFC 9568 section 6 (and RFC 3768
//! section 6 for v2), without I/O and without a clock.
//!
//! Inputs are method calls that carry `now`; outputs are [`Action`]s drained
//! with [`VirtualRouter::poll_action`]; [`VirtualRouter::poll_timeout`] says
//! when [`VirtualRouter::handle_timeout`] is next due. The actions of one call
//! come out in this order: `StateChanged` first (so the shell logs the cause
//! before the effects), then the effects in the order the RFC lists them.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::counters::{Counters, DropReason};
use super::timers;
use crate::wire::{Addresses, AdvertRepr, Auth, Family, Version};

/// The shortest stall that fences an Active router, whatever its
/// Master_Down_Interval (36 ms at 10 ms adverts): a turn of the daemon's
/// own loop that carries out many address changes at once can take longer
/// than that, and fencing then would make more changes, a cascade (seen at
/// 1,020 routers at 10 ms); a frozen process or VM stops for longer.
pub const FENCE_MIN_STALL: Duration = Duration::from_secs(1);

/// `now + d`, saturating far in the future instead of panicking on a
/// configured duration too large for `Instant`.
fn later(now: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(d)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

/// How early an Adver_Timer may be served: 1/`ADVER_EARLY_DIVISOR` of the
/// advert interval (1.25 ms at 10 ms, 125 ms at 1 s).
///
/// A daemon with many Active routers would otherwise wake once per router
/// per interval, each wake-up a few microseconds of scheduler and timer
/// work for one packet. With the window, one wake-up serves every router
/// whose advert falls due within it, and a router served early restarts its
/// interval from that moment, so it stays in step with the others from then
/// on. The advert is never late; an interval is shortened, at most by this
/// much, only when a router joins another's wake-up. A Backup cannot tell:
/// an early advert only restarts its Master_Down_Timer sooner.
/// docs/performance.md has the measurements.
pub const ADVER_EARLY_DIVISOR: u32 = 8;

/// At most one "address list differs" line per router in this period.
const ADDRESS_LIST_LOG_PERIOD: Duration = Duration::from_secs(60);

/// At most one "two address owners" line per router in this period.
const OWNER_CONFLICT_LOG_PERIOD: Duration = Duration::from_secs(60);

/// At most one [`Action::PeerActive`] per router in this period, whatever
/// the sources: spoofed adverts from alternating sources are one report.
pub const SPLIT_BRAIN_REPORT_PERIOD: Duration = Duration::from_secs(60);

/// What a receiver does with an advert whose address list differs from
/// ours (RFC 9568 7.1). An advert at priority 255 (from the address owner)
/// is always processed, whatever this says, as 7.1 requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressListCheck {
    /// Drop it (`DropReason::AddressListMismatch`), count and log it: a
    /// second cluster misconfigured onto our VRID cannot take our VIP.
    #[default]
    Strict,
    /// keepalived's `vrrp_skip_check_adv_addr`: an advert from the Active
    /// router we already follow is not checked; one from any other source
    /// is, as in `Strict`. Lets a rolling change of the address list pass
    /// without a Backup taking over from an Active router with the new list.
    SkipKnownActive,
    /// Count and log it, and process it anyway (ha-vip before 0.x: a
    /// foreign advert can take the VIP away). Only by explicit choice.
    Off,
}

impl AddressListCheck {
    /// The config file's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressListCheck::Strict => "strict",
            AddressListCheck::SkipKnownActive => "skip-known-active",
            AddressListCheck::Off => "off",
        }
    }
}

/// Why [`VirtualRouter::reconfigure`] refused a new config: what cannot
/// change in place (the shell stops the router and starts a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconfigureError {
    Vrid { from: u8, to: u8 },
    Family { from: Family, to: Family },
    Version { from: Version, to: Version },
}

impl fmt::Display for ReconfigureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconfigureError::Vrid { from, to } => {
                write!(f, "the VRID cannot change in place ({from} -> {to})")
            }
            ReconfigureError::Family { from, to } => write!(
                f,
                "the address family cannot change in place ({from:?} -> {to:?})"
            ),
            ReconfigureError::Version { from, to } => write!(
                f,
                "the VRRP version cannot change in place ({from:?} -> {to:?})"
            ),
        }
    }
}

impl std::error::Error for ReconfigureError {}

/// Gratuitous ARP / unsolicited NA timing. Defaults are keepalived's
/// (`vrrp_garp_master_delay 5`, `vrrp_garp_master_repeat 5`,
/// `vrrp_garp_interval 0`, `vrrp_garp_master_refresh 0` = off,
/// `vrrp_garp_master_refresh_repeat 1`; `vrrp_garp_lower_prio_repeat` and
/// `_delay` default to the master values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// Delay of the second burst after becoming Active; zero: no second burst.
    pub delay: Duration,
    /// Messages per burst (at least 1 is sent).
    pub repeat: u32,
    /// Gap between the messages of a burst.
    pub interval: Duration,
    /// Period of refresh bursts while Active; `None` (or zero): off.
    pub refresh: Option<Duration>,
    /// Messages per refresh burst.
    pub refresh_repeat: u32,
    /// Messages per burst when the Active router hears a lower-priority
    /// advert: hosts may have learnt the other router's MAC (partition
    /// healed); 0: none.
    pub lower_prio_repeat: u32,
    /// Delay of the second such burst; zero: no second burst.
    pub lower_prio_delay: Duration,
}

impl Default for AnnounceConfig {
    fn default() -> Self {
        AnnounceConfig {
            delay: Duration::from_secs(5),
            repeat: 5,
            interval: Duration::ZERO,
            refresh: None,
            refresh_repeat: 1,
            lower_prio_repeat: 5,
            lower_prio_delay: Duration::from_secs(5),
        }
    }
}

/// The configuration of one virtual router, already validated by `config`.
/// The core never panics on odd values: priority 0 is read as 1 and an
/// interval of 0 as 1 cs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterConfig {
    pub vrid: u8,
    pub version: Version,
    pub family: Family,
    /// Base priority, 1..=255; 255 = address owner.
    pub priority: u8,
    /// Advertisement_Interval in centiseconds (v2: a multiple of 100).
    pub advert_interval_cs: u16,
    /// The virtual addresses, all of `family`.
    pub addresses: Vec<IpAddr>,
    /// Our source address; compared for the equal-priority tie-break.
    pub primary_address: IpAddr,
    pub preempt: bool,
    /// How long a Backup that could preempt keeps accepting a lower-priority
    /// Active before it preempts (docs/protocol.md); zero = RFC behaviour.
    pub preempt_delay: Duration,
    /// RFC 9568 6.1 Accept_Mode; read by the shell via
    /// [`VirtualRouter::accepts_vip_traffic`].
    pub accept_mode: bool,
    /// Empty: multicast. Otherwise adverts go to, and are only accepted
    /// from, these addresses.
    pub unicast_peers: Vec<IpAddr>,
    pub announce: AnnounceConfig,
    /// An owner (priority 255) keeps 255 whatever its tracked objects say.
    pub owner_keeps_255: bool,
    /// v2 only (RFC 3768 5.3.6): must match the received Auth Type (and
    /// password for type 1). Ignored for v3.
    pub auth: Auth,
    /// RFC 9568 7.1 address list check (docs/protocol.md).
    pub address_list_check: AddressListCheck,
    /// Make-before-break: an Active router that gives the VIP up while its
    /// node still serves keeps the addresses until the new Active router
    /// has been heard and has had one Advertisement_Interval to announce
    /// itself, at most Master_Down_Interval (docs/protocol.md).
    pub make_before_break: bool,
}

impl RouterConfig {
    /// A v3 router with the defaults of DESIGN.md: priority 100, 1 s,
    /// preempt, no preempt delay, accept mode, multicast.
    pub fn new(vrid: u8, primary_address: IpAddr, addresses: Vec<IpAddr>) -> Self {
        RouterConfig {
            vrid,
            version: Version::V3,
            family: Family::of(&primary_address),
            priority: 100,
            advert_interval_cs: 100,
            addresses,
            primary_address,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: true,
            unicast_peers: Vec::new(),
            announce: AnnounceConfig::default(),
            owner_keeps_255: true,
            auth: Auth::None,
            address_list_check: AddressListCheck::Strict,
            make_before_break: true,
        }
    }
}

/// RFC 9568 6.4 states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Active,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Initialize => "Initialize",
            State::Backup => "Backup",
            State::Active => "Active",
        })
    }
}

/// Why a state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Startup event, priority below 255: Initialize -> Backup (6.4.1).
    Startup,
    /// Startup event as the address owner: Initialize -> Active (6.4.1).
    OwnerStartup,
    /// Master_Down_Timer fired with no Active heard (6.4.2).
    MasterDownTimerExpired,
    /// Master_Down_Timer fired after the Active sent priority 0 (6.4.2).
    PriorityZeroReceived,
    /// Master_Down_Timer fired while lower-priority adverts were being
    /// discarded because of preemption (6.4.2).
    Preempted,
    /// An advert with a higher priority reached the Active router (6.4.3).
    HigherPriorityAdvert,
    /// An advert with our priority from a larger primary address (6.4.3).
    EqualPriorityHigherAddress,
    /// Shutdown event (6.4.2, 6.4.3).
    Shutdown,
    /// The interface went down.
    InterfaceDown,
    /// A requested handover: priority 0 sent, staying in the election.
    Handover,
    /// The Active router could not advertise for a whole
    /// Master_Down_Interval (a frozen process or VM): it gave its addresses
    /// up (self-fencing).
    Stalled,
    /// The operator drained the router (`ha-vip drain`): it handed over
    /// and stays a last resort (soft) or out of the election (hard).
    Drained,
    /// The operator resumed a drained router (`ha-vip resume`).
    Resumed,
}

impl Reason {
    /// Every reason, for reading back a reason's text.
    pub const ALL: [Reason; 13] = [
        Reason::Startup,
        Reason::OwnerStartup,
        Reason::MasterDownTimerExpired,
        Reason::PriorityZeroReceived,
        Reason::Preempted,
        Reason::HigherPriorityAdvert,
        Reason::EqualPriorityHigherAddress,
        Reason::Shutdown,
        Reason::InterfaceDown,
        Reason::Handover,
        Reason::Stalled,
        Reason::Drained,
        Reason::Resumed,
    ];

    /// A short, stable label value (the metrics' `reason` label).
    pub fn class(self) -> &'static str {
        match self {
            Reason::Startup => "startup",
            Reason::OwnerStartup => "owner_startup",
            Reason::MasterDownTimerExpired => "master_down",
            Reason::PriorityZeroReceived => "priority_zero",
            Reason::Preempted => "preempted",
            Reason::HigherPriorityAdvert => "higher_priority",
            Reason::EqualPriorityHigherAddress => "higher_address",
            Reason::Shutdown => "shutdown",
            Reason::InterfaceDown => "interface_down",
            Reason::Handover => "handover",
            Reason::Stalled => "stalled",
            Reason::Drained => "drained",
            Reason::Resumed => "resumed",
        }
    }

    /// RFC 6527 `vrrpv3StatisticsNewMasterReason` of a transition to Active
    /// for this reason; `notMaster` otherwise.
    pub fn new_master_reason(self) -> &'static str {
        match self {
            Reason::OwnerStartup => "priority",
            Reason::Preempted => "preempted",
            Reason::MasterDownTimerExpired | Reason::PriorityZeroReceived => "masterNoResponse",
            _ => "notMaster",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Startup => "startup",
            Reason::OwnerStartup => "startup as address owner",
            Reason::MasterDownTimerExpired => "Master_Down_Timer expired",
            Reason::PriorityZeroReceived => "Active router sent priority 0",
            Reason::Preempted => "preempted a lower-priority Active router",
            Reason::HigherPriorityAdvert => "advertisement with a higher priority",
            Reason::EqualPriorityHigherAddress => {
                "advertisement with equal priority from a higher address"
            }
            Reason::Shutdown => "shutdown",
            Reason::InterfaceDown => "interface down",
            Reason::Handover => "handover requested",
            Reason::Stalled => "stalled past Master_Down_Interval: addresses given up",
            Reason::Drained => "drained by the operator",
            Reason::Resumed => "resumed by the operator",
        })
    }
}

/// Planned maintenance (`ha-vip drain`): how far a router is out of
/// service. Kept by the endpoint across restarts of the router, and by the
/// daemon across its own restarts (in `runtime_dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Drain {
    /// In service.
    #[default]
    Off,
    /// A last resort: it advertises priority [`DRAINED_PRIORITY`] (below
    /// every router in service), never preempts, and takes the addresses
    /// only when no other router is heard for a Master_Down_Interval.
    Soft,
    /// Out of the election: Initialize until resumed; never holds the
    /// addresses, even when no other router is left.
    Hard,
}

impl Drain {
    /// The word `status`, the state file and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Drain::Off => "off",
            Drain::Soft => "soft",
            Drain::Hard => "hard",
        }
    }

    /// Read back [`Self::as_str`].
    pub fn from_word(word: &str) -> Option<Drain> {
        [Drain::Off, Drain::Soft, Drain::Hard]
            .into_iter()
            .find(|d| d.as_str() == word)
    }
}

/// The priority a soft-drained router advertises: the lowest a router in
/// the election can have (RFC 9568 5.2.4: 1-254 for a Backup).
pub const DRAINED_PRIORITY: u8 = 1;

/// What the shell must do, drained with [`VirtualRouter::poll_action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send one advertisement with the configured addresses
    /// ([`VirtualRouter::advert`] builds it).
    SendAdvert {
        priority: u8,
        max_advert_interval_cs: u16,
    },
    /// Add the configured addresses to the interface.
    AddAddresses,
    /// Remove the configured addresses from the interface.
    RemoveAddresses,
    /// Add one address (an address-list change applied in place by
    /// [`VirtualRouter::reconfigure`] while the addresses are held). Every
    /// `RemoveAddress` of a change comes before its `AddAddress`es.
    AddAddress(IpAddr),
    /// Remove one address that the new address list no longer has.
    RemoveAddress(IpAddr),
    /// Send one gratuitous ARP (IPv4) / unsolicited NA (IPv6) for every
    /// configured address, now. The core times repeats and bursts.
    Announce,
    /// A split brain: another router has been Active for our VRID, while we
    /// are, for longer than the rules allow (more than one
    /// Advertisement_Interval). Not emitted for an ordinary preemption,
    /// whose first advert reaching us is the protocol working. At most one
    /// per [`SPLIT_BRAIN_REPORT_PERIOD`] per router; `yielded` is false (we
    /// yield at once to a router that wins, so that is never a split brain).
    /// For the log; the shell does nothing else with it.
    PeerActive {
        peer: IpAddr,
        peer_priority: u8,
        our_priority: u8,
        yielded: bool,
    },
    StateChanged {
        from: State,
        to: State,
        reason: Reason,
    },
}

/// The last state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: Reason,
    pub at: Instant,
}

/// The Active router as last heard (or ourselves when Active).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRouter {
    pub address: IpAddr,
    pub priority: u8,
}

#[derive(Debug, Clone)]
struct Tracked {
    name: String,
    weight: i32,
    failed: bool,
}

/// Make-before-break: addresses held after giving the VIP up.
#[derive(Debug, Clone, Copy)]
struct Release {
    /// The bound: Master_Down_Interval after we gave the VIP up.
    cap: Instant,
    /// One Advertisement_Interval after the new Active router was first
    /// heard (never after `cap`); `None` until it is heard.
    at: Option<Instant>,
}

impl Release {
    fn due(&self) -> Instant {
        self.at.unwrap_or(self.cap)
    }
}

/// Another Active router heard while we are Active (see `note_peer_active`).
#[derive(Debug, Clone, Copy)]
struct PeerActiveEpisode {
    since: Instant,
    last: Instant,
    /// Counted as a split brain (once per episode).
    counted: bool,
}

/// Announce timing while Active.
#[derive(Debug, Clone, Default)]
struct AnnounceTimers {
    /// Messages left in the current burst, the next one due at `burst_at`.
    burst_left: u32,
    burst_at: Option<Instant>,
    second_burst_at: Option<Instant>,
    /// Messages in the second burst.
    second_burst_repeat: u32,
    refresh_at: Option<Instant>,
    /// One more burst an Advertisement_Interval after another router was
    /// Active beside us: its own announcements may reach hosts after ours
    /// (it sends them after its addresses are added, a netlink round trip
    /// after the advert we answered), and hosts must end on our MAC.
    catch_up_at: Option<Instant>,
    /// When the last catch-up was scheduled: at most one per
    /// `lower_prio_delay`, so a flood of lower-priority adverts (answered
    /// once per interval) does not double the announcements.
    catch_up_last: Option<Instant>,
}

/// One virtual router (interface, VRID, family). See the module docs.
#[derive(Debug, Clone)]
pub struct VirtualRouter {
    cfg: RouterConfig,
    /// The configured addresses split by family, for [`Self::advert`].
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
    state: State,
    tracked: Vec<Tracked>,
    effective_priority: u8,
    /// Master_Adver_Interval (RFC 9568 6.1), centiseconds.
    master_adver_interval_cs: u16,
    /// Adver_Timer deadline (Active).
    adver_at: Option<Instant>,
    /// Master_Down_Timer deadline (Backup) and the reason it will give.
    master_down_at: Option<Instant>,
    master_down_reason: Reason,
    /// Preempt_Delay: until when lower-priority adverts are still accepted.
    preempt_hold_until: Option<Instant>,
    announce: AnnounceTimers,
    active_router: Option<ActiveRouter>,
    last_transition: Option<Transition>,
    /// When an address list mismatch was last logged: at most once per
    /// `ADDRESS_LIST_LOG_PERIOD`.
    address_list_warned_at: Option<Instant>,
    /// When, as a Backup about to preempt, we last heard a lower-priority
    /// router advertise as Active (for the catch-up announcement).
    lower_active_at: Option<Instant>,
    /// When the Active router last answered a lower-priority advert.
    lower_prio_answered_at: Option<Instant>,
    /// When a split brain was last reported (Action::PeerActive).
    split_brain_reported_at: Option<Instant>,
    /// The current run of adverts from another Active router, if any.
    peer_active: Option<PeerActiveEpisode>,
    /// When "two address owners" was last logged.
    owner_conflict_warned_at: Option<Instant>,
    /// Whether the shell holds the addresses: after `AddAddresses`, until
    /// `RemoveAddresses`.
    holding: bool,
    /// Make-before-break: when the held addresses are released.
    release: Option<Release>,
    /// Planned maintenance ([`Self::set_drain`]).
    drain: Drain,
    counters: Counters,
    actions: VecDeque<Action>,
}

impl VirtualRouter {
    /// A router in Initialize. Nothing happens until [`Self::startup`].
    pub fn new(mut cfg: RouterConfig) -> Self {
        cfg.priority = cfg.priority.max(1);
        cfg.advert_interval_cs = cfg.advert_interval_cs.max(1);
        let (v4, v6) = crate::wire::split_families(&cfg.addresses);
        VirtualRouter {
            effective_priority: cfg.priority,
            master_adver_interval_cs: cfg.advert_interval_cs,
            cfg,
            v4,
            v6,
            state: State::Initialize,
            tracked: Vec::new(),
            adver_at: None,
            master_down_at: None,
            master_down_reason: Reason::MasterDownTimerExpired,
            preempt_hold_until: None,
            announce: AnnounceTimers::default(),
            active_router: None,
            last_transition: None,
            address_list_warned_at: None,
            lower_prio_answered_at: None,
            lower_active_at: None,
            split_brain_reported_at: None,
            peer_active: None,
            owner_conflict_warned_at: None,
            holding: false,
            release: None,
            drain: Drain::Off,
            counters: Counters::default(),
            actions: VecDeque::with_capacity(16),
        }
    }

    // ----- accessors -------------------------------------------------------

    pub fn config(&self) -> &RouterConfig {
        &self.cfg
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Base priority plus the weights of failed tracked objects
    /// ([`DRAINED_PRIORITY`] while soft-drained).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// Planned maintenance in force.
    pub fn drain(&self) -> Drain {
        self.drain
    }

    /// Master_Adver_Interval in centiseconds: learned from the Active router
    /// in v3, our own Advertisement_Interval otherwise.
    pub fn master_adver_interval_cs(&self) -> u16 {
        self.master_adver_interval_cs
    }

    /// Skew_Time at the current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        timers::skew_time(
            self.cfg.version,
            self.effective_priority,
            self.master_adver_interval_cs,
        )
    }

    /// Master_Down_Interval at the current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        let interval = match self.cfg.version {
            Version::V3 => self.master_adver_interval_cs,
            // RFC 3768 has no learned interval: all routers share one.
            Version::V2 => self.cfg.advert_interval_cs,
        };
        timers::master_down_interval(self.cfg.version, self.effective_priority, interval)
    }

    /// Tracked objects: (name, weight, failed), for `status`.
    pub fn tracked(&self) -> impl Iterator<Item = (&str, i32, bool)> {
        self.tracked
            .iter()
            .map(|t| (t.name.as_str(), t.weight, t.failed))
    }

    /// The Active router as last heard; ourselves when Active.
    pub fn active_router(&self) -> Option<ActiveRouter> {
        self.active_router
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn last_transition(&self) -> Option<Transition> {
        self.last_transition
    }

    /// Whether the shell holds the addresses now: Active, or a Backup still
    /// holding them for make-before-break.
    pub fn holds_addresses(&self) -> bool {
        self.holding
    }

    /// When a make-before-break hold ends (the `RemoveAddresses` due then),
    /// if one is running.
    pub fn release_due(&self) -> Option<Instant> {
        self.release.map(|r| r.due())
    }

    /// Whether one of this router's own tracked objects is failing: then it
    /// does not preempt (docs/protocol.md, "All unhealthy").
    pub fn any_tracked_failing(&self) -> bool {
        self.tracked.iter().any(|t| t.failed)
    }

    /// Whether the address owner rules apply (RFC 9568 6.1: priority 255).
    pub fn is_owner(&self) -> bool {
        self.cfg.priority == 255
    }

    /// RFC 9568 6.4.3: the Active router accepts packets to the virtual
    /// addresses only with Accept_Mode or as their owner.
    pub fn accepts_vip_traffic(&self) -> bool {
        self.state == State::Active && (self.cfg.accept_mode || self.is_owner())
    }

    /// The configured addresses as the wire layer emits them.
    pub fn advert_addresses(&self) -> Addresses<'_> {
        match self.cfg.family {
            Family::Ipv4 => Addresses::V4(&self.v4),
            Family::Ipv6 => Addresses::V6(&self.v6),
        }
    }

    /// The advertisement to emit for an [`Action::SendAdvert`].
    pub fn advert(&self, priority: u8, max_advert_interval_cs: u16) -> AdvertRepr<'_> {
        AdvertRepr {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            max_advert_interval_cs,
            auth: match self.cfg.version {
                Version::V2 => self.cfg.auth,
                Version::V3 => Auth::None,
            },
            addresses: self.advert_addresses(),
        }
    }

    // ----- the sans-I/O interface -----------------------------------------

    /// The next action for the shell, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Self::handle_timeout`] is next due, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.earliest_with(self.adver_at)
    }

    /// The earliest instant at which [`Self::handle_timeout`] has work: the
    /// same as [`Self::poll_timeout`] except that an Adver_Timer may be
    /// served up to 1/[`ADVER_EARLY_DIVISOR`] of the interval early. A shell
    /// that wakes for one router serves every router whose window has
    /// opened. The Master_Down_Timer and announcements are never early.
    pub fn poll_timeout_early(&self) -> Option<Instant> {
        self.earliest_with(self.adver_opens())
    }

    /// The earliest of the timers, with `adver` for the Adver_Timer.
    fn earliest_with(&self, adver: Option<Instant>) -> Option<Instant> {
        let burst = if self.announce.burst_left > 0 {
            self.announce.burst_at
        } else {
            None
        };
        [
            adver,
            self.master_down_at,
            burst,
            self.announce.second_burst_at,
            self.announce.refresh_at,
            self.announce.catch_up_at,
            self.release.map(|r| r.due()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Startup event (RFC 9568 6.4.1). Ignored unless in Initialize.
    pub fn startup(&mut self, now: Instant) {
        if self.state != State::Initialize || self.drain == Drain::Hard {
            return;
        }
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        self.preempt_hold_until = None;
        if self.effective_priority == 255 {
            self.become_active(now, Reason::OwnerStartup);
        } else {
            self.change_state(now, State::Backup, Reason::Startup);
            self.arm_master_down(
                now,
                self.master_down_interval(),
                Reason::MasterDownTimerExpired,
            );
        }
    }

    /// Shutdown event (RFC 9568 6.4.2 / 6.4.3): an Active router sends
    /// priority 0 and releases its addresses; then Initialize.
    pub fn shutdown(&mut self, now: Instant) {
        match self.state {
            State::Initialize => {}
            State::Backup => {
                self.change_state(now, State::Initialize, Reason::Shutdown);
                self.stop_timers();
                // A make-before-break hold ends with ha-vip: at once.
                self.release_now();
            }
            State::Active => {
                self.change_state(now, State::Initialize, Reason::Shutdown);
                self.stop_timers();
                self.send_advert(0);
                self.release_now();
                self.active_router = None;
            }
        }
    }

    /// The interface went down: no advert can go out; release the addresses
    /// and wait in Initialize for [`Self::interface_up`].
    pub fn interface_down(&mut self, now: Instant) {
        match self.state {
            State::Initialize => {}
            State::Backup => {
                self.change_state(now, State::Initialize, Reason::InterfaceDown);
                self.stop_timers();
                self.release_now();
            }
            State::Active => {
                self.change_state(now, State::Initialize, Reason::InterfaceDown);
                self.stop_timers();
                self.release_now();
            }
        }
        self.active_router = None;
    }

    /// The interface came back: a Startup event.
    pub fn interface_up(&mut self, now: Instant) {
        self.startup(now);
    }

    /// The interface's MAC address changed (NIC replaced, bond failover).
    /// An Active router announces again at once, so hosts learn the new
    /// binding now rather than when their cache expires (RFC 9568 6.4.3
    /// wants hosts to reach the Active router's MAC).
    pub fn link_address_changed(&mut self, now: Instant) {
        if self.state == State::Active {
            let repeat = self.cfg.announce.repeat;
            self.start_burst(now, repeat);
        }
    }

    /// Hand the addresses over while staying in the election: if Active,
    /// send one advert with priority 0 (the Backups wait only Skew_Time)
    /// and become Backup at the current effective priority. The addresses
    /// go at once, or with make-before-break once the new Active router has
    /// been heard and had one Advertisement_Interval (at most
    /// Master_Down_Interval). A Backup with preemption and the highest
    /// priority takes the addresses back after Master_Down_Interval: lower
    /// the priority first to stay out.
    pub fn handover(&mut self, now: Instant) {
        self.handover_for(now, Reason::Handover);
    }

    fn handover_for(&mut self, now: Instant, reason: Reason) {
        if self.state != State::Active {
            return;
        }
        self.change_state(now, State::Backup, reason);
        self.stop_timers();
        self.send_advert(0);
        self.active_router = None;
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        self.arm_master_down(
            now,
            self.master_down_interval(),
            Reason::MasterDownTimerExpired,
        );
        self.give_up_addresses(now, None);
    }

    /// Timers: Master_Down_Timer, Adver_Timer, announce bursts.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Initialize => {
                // A hard drain hands over make-before-break too.
                if self.release.is_some_and(|r| r.due() <= now) {
                    self.release_now();
                }
            }
            State::Backup => {
                if self.master_down_at.is_some_and(|t| t <= now) {
                    // RFC 9568 6.4.2: Master_Down_Timer fires. Addresses
                    // still held (make-before-break) are kept.
                    let reason = self.master_down_reason;
                    self.become_active(now, reason);
                } else if self.release.is_some_and(|r| r.due() <= now) {
                    self.release_now();
                }
            }
            State::Active => {
                if self.fence_if_stalled(now) {
                    return;
                }
                if let Some(due) = self
                    .adver_at
                    .filter(|_| self.adver_opens().is_some_and(|open| open <= now))
                {
                    // RFC 9568 6.4.3: Adver_Timer fires. Served late, the
                    // next one is due an interval after this one was *due*,
                    // not after the wake-up: lateness must not add up into a
                    // longer interval; a wake-up later than a whole interval
                    // restarts from now rather than bursting. Served early
                    // (within the window, see ADVER_EARLY_DIVISOR), the
                    // interval restarts now: the router keeps step with the
                    // wake-up that served it.
                    self.send_advert(self.effective_priority);
                    let next = later(due.min(now), self.advert_interval());
                    self.adver_at = Some(if next > now {
                        next
                    } else {
                        later(now, self.advert_interval())
                    });
                }
                self.run_announce(now);
            }
        }
    }

    /// Self-fencing. An Active router whose advert due at `adver_at` could
    /// not go out for a whole Master_Down_Interval (the process or the VM
    /// was frozen, the loop stalled) has not been heard by the Backups, and
    /// one of them may hold the addresses now: it gives them up at once and
    /// listens as a Backup (it preempts again by the usual rules) instead of
    /// asserting a VIP it did not defend. Checked before any input is
    /// acted on: an advert read after the stall must not re-arm the timer
    /// first. The owner keeps its own address. Returns whether it fenced.
    fn fence_if_stalled(&mut self, now: Instant) -> bool {
        let bound = self.master_down_interval().max(FENCE_MIN_STALL);
        let stalled = self.state == State::Active
            && !self.is_owner()
            && self.adver_at.is_some_and(|due| now >= later(due, bound));
        if !stalled {
            return false;
        }
        self.change_state(now, State::Backup, Reason::Stalled);
        self.stop_timers();
        self.release_now();
        self.active_router = None;
        self.master_adver_interval_cs = self.cfg.advert_interval_cs;
        self.arm_master_down(
            now,
            self.master_down_interval(),
            Reason::MasterDownTimerExpired,
        );
        true
    }

    /// Planned maintenance. `Soft`: an Active router hands over as
    /// [`Self::handover`] does (priority 0, make-before-break if
    /// configured) and every router then runs at [`DRAINED_PRIORITY`], a
    /// last resort. `Hard`: the router leaves the election for Initialize
    /// (an Active one sends priority 0 first and releases as for a soft
    /// drain) and a Startup event is ignored until resumed. `Off`
    /// (resume): the configured priority again; a hard-drained router is
    /// then started by the caller ([`Self::startup`]) if its link is up.
    /// The address owner cannot hand its own address over: the endpoint
    /// refuses to drain it.
    pub fn set_drain(&mut self, now: Instant, drain: Drain) {
        if drain == self.drain {
            return;
        }
        self.drain = drain;
        match drain {
            Drain::Soft => self.handover_for(now, Reason::Drained),
            Drain::Hard => match self.state {
                State::Initialize => {}
                State::Backup => {
                    self.change_state(now, State::Initialize, Reason::Drained);
                    self.stop_timers();
                    self.active_router = None;
                }
                State::Active => {
                    self.change_state(now, State::Initialize, Reason::Drained);
                    self.stop_timers();
                    self.send_advert(0);
                    self.active_router = None;
                    self.give_up_addresses(now, None);
                }
            },
            Drain::Off => {}
        }
        self.recompute_priority(now);
    }

    /// Set (or add) a tracked object: while `failed`, `weight` is added to
    /// the base priority. A change of the effective priority takes effect at
    /// once: an Active router advertises it without waiting for its timer.
    pub fn set_tracked(&mut self, now: Instant, name: &str, weight: i32, failed: bool) {
        match self.tracked.iter_mut().find(|t| t.name == name) {
            Some(t) => {
                t.weight = weight;
                t.failed = failed;
            }
            None => self.tracked.push(Tracked {
                name: name.to_owned(),
                weight,
                failed,
            }),
        }
        self.recompute_priority(now);
        // A Backup discarding a lower-priority Active router's adverts in
        // order to preempt it stops doing so while one of its own checks
        // fails (docs/protocol.md, "All unhealthy"): it follows that router
        // again from now, as if it had just heard it.
        if self.state == State::Backup
            && self.master_down_reason == Reason::Preempted
            && self.active_router.is_some()
            && self.health_holds_preemption()
        {
            self.arm_master_down(
                now,
                self.master_down_interval(),
                Reason::MasterDownTimerExpired,
            );
        }
    }

    /// Forget a tracked object.
    pub fn remove_tracked(&mut self, now: Instant, name: &str) {
        self.tracked.retain(|t| t.name != name);
        self.recompute_priority(now);
    }

    /// Apply a changed config in place, as RFC 9568 allows, without leaving
    /// the election (docs/configuration.md lists what changes how):
    ///
    /// - priority: an Active router advertises the new one at once; one
    ///   that is now below a Backup hands over only when that Backup
    ///   preempts it (with make-before-break if configured).
    /// - advert interval: the next advert is due at the earlier of the
    ///   running timer and one new interval from now.
    /// - preempt, preempt_delay, accept_mode, announce, unicast peers,
    ///   address-list check, make-before-break, auth: from the next event.
    /// - addresses: while the shell holds them, `RemoveAddress` for each
    ///   address that is gone, then `AddAddress` for each new one; an
    ///   Active router then advertises the new list at once and announces.
    ///
    /// VRID, family and version cannot change in place: the error says
    /// which, and nothing is changed.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        mut new: RouterConfig,
    ) -> Result<(), ReconfigureError> {
        if new.vrid != self.cfg.vrid {
            return Err(ReconfigureError::Vrid {
                from: self.cfg.vrid,
                to: new.vrid,
            });
        }
        if new.family != self.cfg.family {
            return Err(ReconfigureError::Family {
                from: self.cfg.family,
                to: new.family,
            });
        }
        if new.version != self.cfg.version {
            return Err(ReconfigureError::Version {
                from: self.cfg.version,
                to: new.version,
            });
        }
        new.priority = new.priority.max(1);
        new.advert_interval_cs = new.advert_interval_cs.max(1);
        let old = std::mem::replace(&mut self.cfg, new);

        if old.addresses != self.cfg.addresses {
            (self.v4, self.v6) = crate::wire::split_families(&self.cfg.addresses);
            if self.holding {
                for a in old
                    .addresses
                    .iter()
                    .filter(|a| !self.cfg.addresses.contains(a))
                {
                    self.actions.push_back(Action::RemoveAddress(*a));
                }
                for a in self
                    .cfg
                    .addresses
                    .iter()
                    .filter(|a| !old.addresses.contains(a))
                {
                    self.actions.push_back(Action::AddAddress(*a));
                }
            }
            if self.state == State::Active {
                // Peers check the list (RFC 9568 7.1): tell them now, then
                // announce the new addresses.
                self.send_advert(self.effective_priority);
                self.adver_at = Some(later(now, self.advert_interval()));
                let repeat = self.cfg.announce.repeat;
                self.start_burst(now, repeat);
                self.run_announce(now);
            }
        }
        if old.advert_interval_cs != self.cfg.advert_interval_cs {
            if self.state == State::Active {
                let next = later(now, self.advert_interval());
                self.adver_at = Some(self.adver_at.map_or(next, |t| t.min(next)));
            }
            if self.cfg.version == Version::V2 || self.state != State::Backup {
                self.master_adver_interval_cs = self.cfg.advert_interval_cs;
            }
        }
        if old.preempt_delay != self.cfg.preempt_delay || old.preempt != self.cfg.preempt {
            self.preempt_hold_until = None;
        }
        if old.announce.refresh != self.cfg.announce.refresh && self.state == State::Active {
            self.announce.refresh_at = self
                .cfg
                .announce
                .refresh
                .filter(|r| !r.is_zero())
                .map(|r| later(now, r));
        }
        if !self.cfg.make_before_break && self.release.is_some() {
            self.release_now();
        }
        // Last: may advertise the new priority at once.
        self.recompute_priority(now);
        Ok(())
    }

    /// A received advertisement that the wire layer accepted. `src` is the
    /// IP source address. Router-level checks may drop it; the drop is
    /// counted and returned.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &AdvertRepr<'_>,
    ) -> Result<(), DropReason> {
        self.fence_if_stalled(now);
        let checked = if self.state == State::Initialize {
            // A hard drain holds the addresses make-before-break: the new
            // Active router's first advert starts its interval.
            if self.release.is_some() && self.validate(src, advert).is_ok() {
                self.release_heard(now, advert);
            }
            Err(DropReason::NotRunning)
        } else {
            self.validate(src, advert)
                .and_then(|()| self.check_owner(now, src, advert))
                .and_then(|()| self.check_address_list(now, src, advert))
        };
        if let Err(reason) = checked {
            self.counters.count_drop(reason);
            return Err(reason);
        }
        self.counters.rcvd_advertisements += 1;
        if advert.priority == 0 {
            self.counters.rcvd_pri_zero_packets += 1;
        }
        match self.state {
            State::Initialize => Err(DropReason::NotRunning),
            State::Backup => {
                self.backup_receive(now, src, advert);
                Ok(())
            }
            State::Active => {
                self.active_receive(now, src, advert);
                Ok(())
            }
        }
    }

    // ----- receive ----------------------------------------------------------

    /// RFC 9568 7.1 / RFC 3768 7.1 checks that need the router's config.
    fn validate(&self, src: IpAddr, advert: &AdvertRepr<'_>) -> Result<(), DropReason> {
        if advert.version != self.cfg.version {
            return Err(DropReason::VersionMismatch);
        }
        if advert.vrid != self.cfg.vrid {
            return Err(DropReason::VridMismatch);
        }
        if Family::of(&src) != self.cfg.family || advert.addresses.family() != self.cfg.family {
            return Err(DropReason::FamilyMismatch);
        }
        if src == self.cfg.primary_address {
            return Err(DropReason::OwnAdvert);
        }
        if !self.cfg.unicast_peers.is_empty() && !self.cfg.unicast_peers.contains(&src) {
            return Err(DropReason::UnicastPeerMismatch);
        }
        match self.cfg.version {
            Version::V2 => {
                match (self.cfg.auth, advert.auth) {
                    (Auth::None, Auth::None) | (Auth::Ah, Auth::Ah) => {}
                    (Auth::SimpleText(ours), Auth::SimpleText(theirs)) => {
                        if ours != theirs {
                            return Err(DropReason::AuthFailure);
                        }
                    }
                    _ => return Err(DropReason::AuthTypeMismatch),
                }
                // RFC 3768 7.1: the interval MUST match, else discard.
                if advert.max_advert_interval_cs != self.cfg.advert_interval_cs {
                    return Err(DropReason::IntervalMismatch);
                }
            }
            Version::V3 => {
                // Any interval is accepted and learned (RFC 9568 6.4.2),
                // except zero, which would make Master_Down_Interval zero.
                if advert.max_advert_interval_cs == 0 {
                    return Err(DropReason::InvalidInterval);
                }
            }
        }
        Ok(())
    }

    /// RFC 9568 7.1 (the check in RFC 3768 7.1 and RFC 5798 7.1 alike):
    /// the address owner discards adverts. A priority-255 advert from
    /// another owner is still processed, with a warning: two owners that
    /// discarded each other would both stay Active for ever (RFC 9568
    /// erratum 8298); processed, the tie-break of 6.4.3 leaves one.
    fn check_owner(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &AdvertRepr<'_>,
    ) -> Result<(), DropReason> {
        if self.effective_priority != 255 {
            return Ok(());
        }
        if advert.priority != 255 {
            return Err(DropReason::AddressOwner);
        }
        let due = self
            .owner_conflict_warned_at
            .is_none_or(|t| now >= later(t, OWNER_CONFLICT_LOG_PERIOD));
        if due {
            self.owner_conflict_warned_at = Some(now);
            tracing::warn!(
                vrid = self.cfg.vrid,
                %src,
                "another router claims to own the addresses (priority 255): a misconfiguration; the larger address stays Active"
            );
        }
        Ok(())
    }

    /// RFC 9568 7.1: a differing address list is counted and logged, and
    /// the advert dropped unless its priority is 255 (the owner's) or the
    /// check is relaxed (`AddressListCheck`). The log is rate limited by
    /// time, not re-armed by a matching advert: adverts alternating between
    /// two lists (anyone on the link can send them) would otherwise log a
    /// line for every other packet.
    fn check_address_list(
        &mut self,
        now: Instant,
        src: IpAddr,
        advert: &AdvertRepr<'_>,
    ) -> Result<(), DropReason> {
        let matches = advert.addresses.len() == self.cfg.addresses.len()
            && advert
                .addresses
                .iter()
                .all(|a| self.cfg.addresses.contains(&a));
        if matches {
            return Ok(());
        }
        let known_active =
            self.state == State::Backup && self.active_router.is_some_and(|a| a.address == src);
        if self.cfg.address_list_check == AddressListCheck::SkipKnownActive && known_active {
            return Ok(());
        }
        self.counters.address_list_errors += 1;
        let processed =
            advert.priority == 255 || self.cfg.address_list_check == AddressListCheck::Off;
        let due = self
            .address_list_warned_at
            .is_none_or(|t| now >= later(t, ADDRESS_LIST_LOG_PERIOD));
        if due {
            self.address_list_warned_at = Some(now);
            tracing::warn!(
                vrid = self.cfg.vrid,
                %src,
                priority = advert.priority,
                received = advert.addresses.len(),
                configured = self.cfg.addresses.len(),
                "advertisement from {src}: address list differs from ours ({}; at most one line a minute): another cluster on VRID {}?",
                if processed { "still processed" } else { "dropped" },
                self.cfg.vrid
            );
        }
        if processed {
            Ok(())
        } else {
            Err(DropReason::AddressListMismatch)
        }
    }

    /// RFC 9568 6.4.2, "If an ADVERTISEMENT is received".
    fn backup_receive(&mut self, now: Instant, src: IpAddr, advert: &AdvertRepr<'_>) {
        self.release_heard(now, advert);
        if advert.priority == 0 {
            // The Active router is leaving: wait only Skew_Time.
            self.active_router = None;
            self.arm_master_down(now, self.skew_time(), Reason::PriorityZeroReceived);
            return;
        }
        let lower = advert.priority < self.effective_priority;
        if lower && self.preempts() && !self.health_holds_preemption() && !self.preempt_held(now) {
            // Preempt: discard, so Master_Down_Timer runs out.
            self.master_down_reason = Reason::Preempted;
            self.lower_active_at = Some(now);
            return;
        }
        if !lower {
            // A legitimate Active: a later lower-priority one starts a new
            // Preempt_Delay.
            self.preempt_hold_until = None;
        }
        self.follow(now, src, advert);
    }

    /// Accept `src` as the Active router (RFC 9568 6.4.2): remember it,
    /// learn its Max Advertise Interval as Master_Adver_Interval (v3; v2
    /// intervals must match), and restart the Master_Down_Timer.
    fn follow(&mut self, now: Instant, src: IpAddr, advert: &AdvertRepr<'_>) {
        self.active_router = Some(ActiveRouter {
            address: src,
            priority: advert.priority,
        });
        if self.cfg.version == Version::V3 {
            self.master_adver_interval_cs = advert.max_advert_interval_cs;
        }
        self.arm_master_down(
            now,
            self.master_down_interval(),
            Reason::MasterDownTimerExpired,
        );
    }

    /// RFC 9568 6.4.3, "If an ADVERTISEMENT is received".
    fn active_receive(&mut self, now: Instant, src: IpAddr, advert: &AdvertRepr<'_>) {
        if advert.priority == 0 {
            // Another router gave up: assert ourselves at once.
            self.send_advert(self.effective_priority);
            self.adver_at = Some(later(now, self.advert_interval()));
            return;
        }
        let ours = self.effective_priority;
        let reason = if advert.priority > ours {
            Some(Reason::HigherPriorityAdvert)
        } else if advert.priority == ours && src > self.cfg.primary_address {
            // Unsigned comparison in network byte order: `Ord` of
            // Ipv4Addr/Ipv6Addr compares the octets in order.
            Some(Reason::EqualPriorityHigherAddress)
        } else {
            None
        };
        match reason {
            Some(reason) => {
                // A router that wins: the ordinary end of a preemption (or
                // of a healed partition), not a split brain.
                self.change_state(now, State::Backup, reason);
                self.stop_timers();
                self.follow(now, src, advert);
                let heard = advert.max_advert_interval_cs.max(1);
                self.give_up_addresses(now, Some(heard));
            }
            None => {
                self.note_peer_active(now, src, advert);
                // At most one answer per Advertisement_Interval: answering
                // every such advert made each received packet cost an
                // advert and a burst of broadcast ARPs, a 1:6 reflector for
                // anyone on the link (integration/hostile.rs). RFC 9568
                // 6.4.3 itself only discards; the regular advert follows
                // within one interval anyway.
                if self
                    .lower_prio_answered_at
                    .is_some_and(|t| now < later(t, self.advert_interval()))
                {
                    return;
                }
                self.lower_prio_answered_at = Some(now);
                // A lower-priority router believes it is Active: answer at
                // once so it yields (RFC 9568 6.4.3, keepalived), and
                // re-announce: hosts may have learnt its MAC meanwhile.
                self.send_advert(ours);
                self.adver_at = Some(later(now, self.advert_interval()));
                let a = &self.cfg.announce;
                if a.lower_prio_repeat > 0 {
                    let (repeat, delay) = (a.lower_prio_repeat, a.lower_prio_delay);
                    self.start_burst(now, repeat);
                    if !delay.is_zero() {
                        self.announce.second_burst_at = Some(later(now, delay));
                        self.announce.second_burst_repeat = repeat;
                    }
                    let quiet = delay.max(self.advert_interval());
                    if self.announce.catch_up_at.is_none()
                        && self
                            .announce
                            .catch_up_last
                            .is_none_or(|t| now >= later(t, quiet))
                    {
                        self.announce.catch_up_at = Some(later(now, self.advert_interval()));
                        self.announce.catch_up_last = Some(now);
                    }
                    self.run_announce(now);
                }
            }
        }
    }

    // ----- helpers ----------------------------------------------------------

    /// Another Active router that does not win was heard while we are
    /// Active. Its first advert, and one more within an
    /// Advertisement_Interval, are the protocol working (it took over
    /// while it did not hear us; our answer makes it yield). Heard for
    /// longer than one Advertisement_Interval (ours or its, the larger) in
    /// one run, it is a split brain: counted once per run, reported at most
    /// once per [`SPLIT_BRAIN_REPORT_PERIOD`] per router, whatever the
    /// sources. A run ends after three such intervals without such adverts
    /// (a Master_Down_Interval, without the skew).
    fn note_peer_active(&mut self, now: Instant, src: IpAddr, advert: &AdvertRepr<'_>) {
        let allowed = self
            .advert_interval()
            .max(timers::cs_to_duration(advert.max_advert_interval_cs));
        let quiet = allowed * 3;
        let episode = match self.peer_active {
            Some(e) if now <= later(e.last, quiet) => PeerActiveEpisode { last: now, ..e },
            _ => PeerActiveEpisode {
                since: now,
                last: now,
                counted: false,
            },
        };
        self.peer_active = Some(episode);
        if now.saturating_duration_since(episode.since) <= allowed {
            return;
        }
        if !episode.counted {
            self.counters.split_brain_events += 1;
            self.peer_active = Some(PeerActiveEpisode {
                counted: true,
                ..episode
            });
        }
        let due = self
            .split_brain_reported_at
            .is_none_or(|t| now >= later(t, SPLIT_BRAIN_REPORT_PERIOD));
        if due {
            self.split_brain_reported_at = Some(now);
            self.actions.push_back(Action::PeerActive {
                peer: src,
                peer_priority: advert.priority,
                our_priority: self.effective_priority,
                yielded: false,
            });
        }
    }

    /// While one of its own tracked objects fails, a router below 255 does
    /// not preempt (docs/protocol.md, "All unhealthy").
    fn health_holds_preemption(&self) -> bool {
        self.effective_priority < 255 && self.any_tracked_failing()
    }

    /// Leaving Active while the node still serves: remove the addresses at
    /// once, or (make-before-break) hold them until the new Active router
    /// has been heard plus one Advertisement_Interval, at most
    /// Master_Down_Interval from now. `heard`: the interval of the new
    /// Active router when its advert is what made us leave.
    fn give_up_addresses(&mut self, now: Instant, heard: Option<u16>) {
        if !self.holding {
            return;
        }
        if !self.cfg.make_before_break {
            self.release_now();
            return;
        }
        let cap = later(now, self.master_down_interval());
        let at = heard.map(|cs| later(now, timers::cs_to_duration(cs)).min(cap));
        self.release = Some(Release { cap, at });
        self.counters.held_releases += 1;
    }

    /// Make-before-break: a new Active router is heard (whether we follow
    /// it or discard it to preempt it); it has one Advertisement_Interval
    /// (its own) to announce itself.
    fn release_heard(&mut self, now: Instant, advert: &AdvertRepr<'_>) {
        if advert.priority != 0
            && let Some(r) = self.release.as_mut()
            && r.at.is_none()
        {
            let interval = timers::cs_to_duration(advert.max_advert_interval_cs.max(1));
            r.at = Some(later(now, interval).min(r.cap));
        }
    }

    /// Remove the addresses now if the shell holds them.
    fn release_now(&mut self) {
        self.release = None;
        if self.holding {
            self.holding = false;
            self.actions.push_back(Action::RemoveAddresses);
        }
    }

    fn advert_interval(&self) -> Duration {
        timers::cs_to_duration(self.cfg.advert_interval_cs)
    }

    /// When the Adver_Timer's early window opens: 1/ADVER_EARLY_DIVISOR
    /// of the interval before it is due. The one rule both
    /// [`Self::poll_timeout_early`] and [`Self::handle_timeout`] read.
    fn adver_opens(&self) -> Option<Instant> {
        let early = self.advert_interval() / ADVER_EARLY_DIVISOR;
        self.adver_at.map(|t| t.checked_sub(early).unwrap_or(t))
    }

    /// The owner always preempts (RFC 9568 6.1, Preempt_Mode).
    fn preempts(&self) -> bool {
        self.cfg.preempt || self.effective_priority == 255
    }

    /// Whether Preempt_Delay still holds preemption back at `now`; the first
    /// lower-priority advert starts the delay.
    fn preempt_held(&mut self, now: Instant) -> bool {
        if self.cfg.preempt_delay.is_zero() || self.effective_priority == 255 {
            return false;
        }
        let until = *self
            .preempt_hold_until
            .get_or_insert(later(now, self.cfg.preempt_delay));
        now < until
    }

    fn arm_master_down(&mut self, now: Instant, after: Duration, reason: Reason) {
        self.master_down_at = Some(later(now, after));
        self.master_down_reason = reason;
    }

    fn stop_timers(&mut self) {
        self.adver_at = None;
        self.master_down_at = None;
        self.announce = AnnounceTimers::default();
    }

    fn change_state(&mut self, now: Instant, to: State, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.peer_active = None;
        if to == State::Active {
            self.counters.master_transitions += 1;
        }
        if from == State::Active {
            self.counters.active_releases += 1;
        }
        self.last_transition = Some(Transition {
            from,
            to,
            reason,
            at: now,
        });
        // Logged once, by the daemon, with the router's name (Action below).
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }

    fn send_advert(&mut self, priority: u8) {
        self.counters.sent_advertisements += 1;
        if priority == 0 {
            self.counters.sent_pri_zero_packets += 1;
        }
        self.actions.push_back(Action::SendAdvert {
            priority,
            max_advert_interval_cs: self.cfg.advert_interval_cs,
        });
    }

    /// RFC 9568 6.4.1 / 6.4.2: addresses, then the advert, then ARP / NA.
    fn become_active(&mut self, now: Instant, reason: Reason) {
        self.change_state(now, State::Active, reason);
        self.stop_timers();
        self.preempt_hold_until = None;
        // RFC 9568 6.4.1/6.4.2: the advert goes out first, so peers learn
        // of the new Active router without waiting for the kernel to add
        // the addresses (a netlink round trip); the gratuitous ARPs / NAs
        // come after the addresses, so the replies they invite are answered.
        // keepalived orders it the same way.
        self.send_advert(self.effective_priority);
        // Still held from a make-before-break hand-over: kept, not re-added.
        self.release = None;
        if !self.holding {
            self.holding = true;
            self.actions.push_back(Action::AddAddresses);
        }
        self.adver_at = Some(later(now, self.advert_interval()));
        self.active_router = Some(ActiveRouter {
            address: self.cfg.primary_address,
            priority: self.effective_priority,
        });
        // A lower-priority router was Active just before us (heard while we
        // waited to preempt it, or two Backups whose timers ran out moments
        // apart): its announcements may reach hosts after ours.
        let beside = self
            .lower_active_at
            .take()
            .is_some_and(|t| now <= later(t, self.master_down_interval()));
        let interval = self.advert_interval();
        let a = &self.cfg.announce;
        self.announce = AnnounceTimers {
            burst_left: a.repeat.max(1),
            burst_at: Some(now),
            second_burst_at: (!a.delay.is_zero()).then(|| later(now, a.delay)),
            second_burst_repeat: a.repeat,
            refresh_at: a.refresh.filter(|r| !r.is_zero()).map(|r| later(now, r)),
            catch_up_at: beside.then(|| later(now, interval)),
            catch_up_last: beside.then_some(now),
        };
        self.run_announce(now);
    }

    /// Emit the announce messages due at `now` and schedule the next ones.
    fn run_announce(&mut self, now: Instant) {
        if self.announce.catch_up_at.is_some_and(|t| t <= now) {
            self.announce.catch_up_at = None;
            self.start_burst(now, self.cfg.announce.repeat);
        }
        if self.announce.second_burst_at.is_some_and(|t| t <= now) {
            self.announce.second_burst_at = None;
            self.start_burst(now, self.announce.second_burst_repeat);
        }
        if self.announce.refresh_at.is_some_and(|t| t <= now) {
            let period = self.cfg.announce.refresh.unwrap_or(Duration::ZERO);
            self.announce.refresh_at = (!period.is_zero()).then(|| later(now, period));
            self.start_burst(now, self.cfg.announce.refresh_repeat);
        }
        while self.announce.burst_left > 0 {
            let Some(at) = self.announce.burst_at.filter(|t| *t <= now) else {
                break;
            };
            self.actions.push_back(Action::Announce);
            self.counters.announcements += 1;
            self.announce.burst_left -= 1;
            self.announce.burst_at = Some(later(at, self.cfg.announce.interval));
        }
        if self.announce.burst_left == 0 {
            self.announce.burst_at = None;
        }
    }

    fn start_burst(&mut self, now: Instant, repeat: u32) {
        self.announce.burst_left = repeat.max(1);
        self.announce.burst_at = Some(now);
    }

    fn recompute_priority(&mut self, now: Instant) {
        let base = self.cfg.priority;
        let delta: i64 = self
            .tracked
            .iter()
            .filter(|t| t.failed)
            .map(|t| i64::from(t.weight))
            .sum();
        let new = if base == 255 && self.cfg.owner_keeps_255 {
            255
        } else if self.drain == Drain::Soft {
            DRAINED_PRIORITY
        } else if delta == 0 {
            base
        } else {
            // Clamp to 1..=254: only the configured owner may claim 255.
            let p = (i64::from(base) + delta).clamp(1, 254);
            u8::try_from(p).unwrap_or(254)
        };
        if new == self.effective_priority {
            return;
        }
        tracing::info!(
            vrid = self.cfg.vrid,
            from = self.effective_priority,
            to = new,
            "effective priority changed"
        );
        self.effective_priority = new;
        if self.state == State::Active {
            // Advertise the new priority now, not at the next Adver_Timer.
            self.send_advert(new);
            self.adver_at = Some(later(now, self.advert_interval()));
            self.active_router = Some(ActiveRouter {
                address: self.cfg.primary_address,
                priority: new,
            });
        }
    }
}
