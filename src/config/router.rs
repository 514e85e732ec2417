//! One virtual router: `routers/NAME.toml`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::core::AddressListCheck;
use crate::wire::{Family, Version};

use super::diag::{FileDiags, Location};
use super::reader::{Got, Table};

/// RFC 9568 section 5.2.4: priority 255 is the router that owns the
/// addresses; 0 is only ever sent by an Active router that stops.
pub const OWNER_PRIORITY: u8 = 255;

/// Upper bound of `preempt_delay` and `announce.delay`: a longer wait is
/// far more likely a typo ("1h" for "1s") than a wish.
const MAX_DELAY: Duration = Duration::from_secs(3600);

/// A virtual router as validated from its file. Compared by value: on
/// reload the daemon keeps the state of every router whose `Router` is
/// equal to the one already running. Nothing here depends on where a key
/// sits in the file, so a comment or a reordering changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    /// The file stem: `routers/vip.toml` is router `vip`.
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    pub interface: String,
    /// Virtual Router Identifier, 1..=255.
    pub vrid: u8,
    pub version: Version,
    /// The family of every address, peer and source address of the router.
    pub family: Family,
    /// 1..=255; 255 is the address owner (`is_owner`).
    pub priority: u8,
    /// Advertisement_Interval in centiseconds (v3: 1..=4095; v2: a whole
    /// number of seconds, 100..=25500).
    pub advert_interval_cs: u16,
    /// Non-empty, no duplicates, all of `family`, in file order (the order
    /// of the advertisement's address list).
    pub addresses: Vec<VirtualAddress>,
    /// Preempt_Mode (RFC 9568 section 6.1).
    pub preempt: bool,
    /// How long a Backup that may preempt waits before it does (not in the
    /// RFC; keepalived's `preempt_delay`). Zero: at once.
    pub preempt_delay: Duration,
    /// Accept_Mode (RFC 9568 section 6.1): the Active router accepts
    /// packets sent to the virtual addresses.
    pub accept_mode: bool,
    /// Empty: adverts go to the multicast group (224.0.0.18 / ff02::12).
    /// Otherwise each advert is sent to every peer in turn.
    pub unicast_peers: Vec<IpAddr>,
    /// The source address of adverts; `None`: the interface's primary
    /// address (IPv4) or link-local address (IPv6), chosen by the daemon.
    pub source_address: Option<IpAddr>,
    /// Use the virtual router MAC (`wire::MacAddr::vrrp_virtual`, RFC 9568
    /// 7.3) through a macvlan interface.
    pub virtual_mac: bool,
    pub announce: Announce,
    pub checksum: Checksum,
    /// Programs run on every state change, in order, as
    /// `PROGRAM ROUTER STATE PRIORITY` (keepalived's notify scripts).
    pub notify: Vec<PathBuf>,
    /// How long one notify program may run before it is killed.
    pub notify_timeout: Duration,
    /// Checks of `[checks.NAME]` this router tracks, with their weights.
    pub track: Vec<Track>,
    /// Track the `[k8s]` API-server check when it is enabled.
    pub track_k8s: bool,
    /// VRRPv2 simple-text password (RFC 3768 auth type 1), 1 to 8 bytes.
    /// For old peers only: it is sent in clear and protects nothing.
    pub auth_pass: Option<String>,
    /// What to do with an advert listing other addresses than ours (RFC
    /// 9568 7.1): `strict` drops it (the default).
    pub address_list_check: AddressListCheck,
    /// Keep the addresses, when giving the VIP up while this node still
    /// serves, until the new Active router has been heard plus one
    /// Advertisement_Interval (at most Master_Down_Interval).
    pub make_before_break: bool,
}

impl Router {
    /// Priority 255: this router owns the virtual addresses.
    pub fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// The advertisement interval as a `Duration`.
    pub fn advert_interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.advert_interval_cs) * 10)
    }

    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }
}

/// A virtual address and the prefix length it is added to the interface
/// with (`/32` or `/128` when the file gives a plain address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VirtualAddress {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// Gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) after
/// becoming Active (RFC 9568 section 6.4.2), keepalived's `garp_master_*`
/// model: a burst at once, a second burst after `delay`, and optionally a
/// periodic refresh while Active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announce {
    /// Wait after becoming Active before the second burst; zero: no second
    /// burst. (keepalived `garp_master_delay`, 5s.)
    pub delay: Duration,
    /// Announcements per address in each burst, 1..=255.
    /// (keepalived `garp_master_repeat`, 5.)
    pub repeat: u8,
    /// Gap between two announcements of a burst; zero: back to back.
    /// (keepalived `garp_interval` / `gna_interval`, 0.)
    pub interval: Duration,
    /// While Active, re-announce every `refresh`; `None`: never.
    /// (keepalived `garp_master_refresh`, 0 = off.)
    pub refresh: Option<Duration>,
    /// Announcements per address at each refresh, 1..=255.
    /// (keepalived `garp_master_refresh_repeat`, 1.)
    pub refresh_repeat: u8,
}

impl Default for Announce {
    fn default() -> Announce {
        Announce {
            delay: Duration::from_secs(5),
            repeat: 5,
            interval: Duration::ZERO,
            refresh: None,
            refresh_repeat: 1,
        }
    }
}

/// Which IPv4 checksum a VRRPv3 advert carries: the wire's own type (see
/// `wire::ChecksumForm` and docs/wire.md for who sends which).
pub use crate::wire::ChecksumForm;

/// Which received VRRPv3-over-IPv4 checksums are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAccept {
    PseudoHeader,
    NoPseudoHeader,
    /// Either form verifies: the packet is accepted if one of the two sums
    /// is right, so mixed old and new peers interoperate.
    Either,
}

/// The checksum policy of a VRRPv3 IPv4 router. VRRPv2 and IPv6 have a
/// single form (RFC 3768 section 5.3.8; RFC 9568 section 5.2.8 with the
/// IPv6 pseudo-header) and always keep the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub send: ChecksumForm,
    pub accept: ChecksumAccept,
}

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum {
            send: ChecksumForm::PseudoHeader,
            accept: ChecksumAccept::Either,
        }
    }
}

impl ChecksumAccept {
    /// The receive policy the wire parser takes.
    pub fn policy(self) -> crate::wire::ChecksumPolicy {
        use crate::wire::ChecksumPolicy;
        match self {
            ChecksumAccept::PseudoHeader => ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
            ChecksumAccept::NoPseudoHeader => ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
            ChecksumAccept::Either => ChecksumPolicy::Either,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAccept::PseudoHeader => "pseudo-header",
            ChecksumAccept::NoPseudoHeader => "no-pseudo-header",
            ChecksumAccept::Either => "either",
        }
    }
}

/// A router and where its identifying keys are, for the checks across
/// files (duplicate VRID, duplicate address).
pub(crate) struct Parsed {
    pub router: Router,
    pub vrid_at: Location,
    pub address_at: Vec<Location>,
    /// Where each `track` entry's `check` is.
    pub track_at: Vec<Location>,
}

/// A tracked check: while it fails, `weight` (negative) is added to the
/// router's priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub check: String,
    pub weight: i32,
}

/// The Linux rule for interface names (`dev_valid_name`): 1..=15 bytes,
/// not "." or "..", no '/', ':' or whitespace.
pub fn valid_interface_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// Reads and validates one router file. `None` when it has errors (all of
/// them recorded in `d`).
pub(crate) fn parse_router(
    d: &mut FileDiags<'_>,
    name: String,
    path: PathBuf,
    mut t: Table<'_>,
) -> Option<Parsed> {
    let errors_before = d.errors.len();

    let interface = match t.string(d, "interface") {
        Got::Absent => {
            t.missing(d, "interface");
            None
        }
        Got::Invalid => None,
        Got::Set(s, span) => {
            if valid_interface_name(&s) {
                Some(s)
            } else {
                d.error(
                    &span,
                    "interface",
                    format!(
                        "{s:?} is not a Linux interface name (1 to 15 bytes, no '/', ':' or spaces)"
                    ),
                );
                None
            }
        }
    };

    let vrid_got = t.int(d, "vrid", 1..=255);
    let vrid_span = vrid_got.span();
    let vrid = match vrid_got {
        Got::Absent => {
            t.missing(d, "vrid");
            None
        }
        other => other.or(0).and_then(|v| u8::try_from(v).ok()),
    };

    let priority = match t.int(d, "priority", 0..=255) {
        Got::Set(0, span) => {
            d.error(
                &span,
                "priority",
                "must be in 1..=255, got 0 (priority 0 is only sent by an Active router that stops, RFC 9568 section 5.2.4)",
            );
            None
        }
        other => other.or(100).and_then(|v| u8::try_from(v).ok()),
    };

    let version_got = t.int(d, "version", 2..=3);
    let version_span = version_got.span();
    let version = version_got
        .or(3)
        .map(|v| if v == 2 { Version::V2 } else { Version::V3 });

    let interval = t.duration(d, "advert_interval");
    let interval_span = interval.span();
    let interval = interval.or(Duration::from_secs(1));

    let addresses = read_addresses(d, &mut t);
    let family = addresses
        .as_ref()
        .and_then(|a| a.first())
        .map(|(a, _)| Family::of(&a.addr));

    let preempt_got = t.bool(d, "preempt");
    let preempt_span = preempt_got.span();
    let preempt = preempt_got.or(true);
    let preempt_delay_got = t.duration(d, "preempt_delay");
    let preempt_delay_span = preempt_delay_got.span();
    let preempt_delay = match preempt_delay_got {
        Got::Set(delay, span) if delay > MAX_DELAY => {
            d.error(
                &span,
                "preempt_delay",
                format!(
                    "must be at most 1h, got {}",
                    humantime::format_duration(delay)
                ),
            );
            None
        }
        other => other.or(Duration::ZERO),
    };
    // RFC 9568 6.1 Accept_Mode false would need the Active router to drop
    // traffic to a VIP it does not own (keepalived installs a firewall
    // rule): not implemented, so refused rather than silently ignored.
    let accept_mode = match t.bool(d, "accept_mode") {
        Got::Set(false, span) => {
            d.error(
                &span,
                "accept_mode",
                "false is not supported: ha-vip does not yet stop the Active router from accepting traffic to a VIP it does not own; remove the key (the VIP use case needs accept_mode = true)",
            );
            None
        }
        other => other.or(true),
    };
    let virtual_mac = t.bool(d, "virtual_mac").or(false);

    let peers = read_peers(d, &mut t, family, addresses.as_deref());
    let source_address = read_source(d, &mut t, family);

    let announce = read_announce(d, &mut t);
    let checksum = read_checksum(d, &mut t, family, version);
    let notify = read_notify(d, &mut t);
    let track = read_track(d, &mut t);
    let track_k8s = t.bool(d, "track_k8s").or(true);
    let auth_pass = match t.string(d, "auth_pass") {
        Got::Set(p, span) => {
            if p.is_empty() || p.len() > 8 {
                d.error(
                    &span,
                    "auth_pass",
                    "must be 1 to 8 bytes (RFC 3768 section 5.3.10)",
                );
                None
            } else if version != Some(Version::V2) {
                d.error(
                    &span,
                    "auth_pass",
                    "is VRRPv2 only (RFC 9568 removed authentication); set version = 2 or remove it",
                );
                None
            } else {
                Some(Some(p))
            }
        }
        Got::Absent => Some(None),
        Got::Invalid => None,
    };
    let address_list_check = match t.string(d, "address_list_check") {
        Got::Set(s, span) => match s.as_str() {
            "strict" => Some(AddressListCheck::Strict),
            "skip-known-active" => Some(AddressListCheck::SkipKnownActive),
            "off" => Some(AddressListCheck::Off),
            _ => {
                d.error(
                    &span,
                    "address_list_check",
                    format!(
                        "must be \"strict\", \"skip-known-active\" or \"off\", got {s:?} (RFC 9568 section 7.1; docs/configuration.md)"
                    ),
                );
                None
            }
        },
        Got::Absent => Some(AddressListCheck::Strict),
        Got::Invalid => None,
    };
    let make_before_break = t.bool(d, "make_before_break").or(true);
    let notify_timeout = match t.duration(d, "notify_timeout") {
        Got::Set(v, span) if v.is_zero() || v > Duration::from_secs(600) => {
            d.error(&span, "notify_timeout", "must be in 1ms..=10m");
            None
        }
        other => other.or(Duration::from_secs(10)),
    };

    t.finish(d);

    // Checks across keys, only where the keys they need are valid.
    let advert_interval_cs = match (version, interval) {
        (Some(version), Some(interval)) => {
            let span = interval_span.clone().unwrap_or(0..0);
            let cs = advert_interval_cs(version, interval);
            match cs {
                Ok(cs) => Some(cs),
                Err(message) => {
                    d.error(&span, "advert_interval", message);
                    None
                }
            }
        }
        _ => None,
    };

    if let (Some(Version::V2), Some(Family::Ipv6)) = (version, family) {
        d.error(
            &version_span.clone().unwrap_or(0..0),
            "version",
            "VRRPv2 is IPv4 only (RFC 3768); IPv6 addresses need version = 3",
        );
    }

    if let (Some(OWNER_PRIORITY), Some(false), Some(span)) = (priority, preempt, &preempt_span) {
        d.warn(
            span,
            "preempt",
            "has no effect at priority 255: the address owner always becomes Active (RFC 9568 section 6.4.1)",
        );
    }
    if let (Some(false), Some(delay), Some(span)) = (preempt, preempt_delay, &preempt_delay_span)
        && !delay.is_zero()
    {
        d.warn(span, "preempt_delay", "has no effect with preempt = false");
    }

    if d.errors.len() > errors_before {
        return None;
    }
    let (addresses, address_at): (Vec<_>, Vec<_>) = addresses?.into_iter().unzip();
    Some(Parsed {
        router: Router {
            name,
            path,
            interface: interface?,
            vrid: vrid?,
            version: version?,
            family: family?,
            priority: priority?,
            advert_interval_cs: advert_interval_cs?,
            addresses,
            preempt: preempt?,
            preempt_delay: preempt_delay?,
            accept_mode: accept_mode?,
            unicast_peers: peers?,
            source_address: source_address?,
            virtual_mac: virtual_mac?,
            announce: announce?,
            checksum: checksum?,
            notify: notify?,
            notify_timeout: notify_timeout?,
            track: track.as_ref()?.iter().map(|(t, _)| t.clone()).collect(),
            track_k8s: track_k8s?,
            auth_pass: auth_pass?,
            address_list_check: address_list_check?,
            make_before_break: make_before_break?,
        },
        vrid_at: d.location(&vrid_span?),
        address_at,
        track_at: track?.into_iter().map(|(_, at)| at).collect(),
    })
}

/// The interval on the wire: v3 counts centiseconds in 12 bits (RFC 9568
/// section 5.2.7), v2 counts whole seconds in 8 bits (RFC 3768 section
/// 5.3.7).
fn advert_interval_cs(version: Version, interval: Duration) -> Result<u16, String> {
    let shown = humantime::format_duration(interval);
    match version {
        Version::V3 => {
            let exact = interval.subsec_nanos().is_multiple_of(10_000_000);
            let cs = interval.as_millis() / 10;
            match u16::try_from(cs) {
                Ok(cs) if exact && (1..=4095).contains(&cs) => Ok(cs),
                _ => Err(format!(
                    "VRRPv3 counts centiseconds (RFC 9568 section 5.2.7): must be a multiple of 10ms in 10ms..=40.95s, got {shown}"
                )),
            }
        }
        Version::V2 => {
            let secs = interval.as_secs();
            if interval.subsec_nanos() == 0 && (1..=255).contains(&secs) {
                // At most 25500: fits.
                u16::try_from(secs * 100).map_err(|_| String::new())
            } else {
                Err(format!(
                    "VRRPv2 counts whole seconds (RFC 3768 section 5.3.7): must be 1s..=255s, got {shown}"
                ))
            }
        }
    }
}

/// Parses `ADDR/PREFIX` or a plain `ADDR` (then /32 or /128).
fn parse_cidr(s: &str) -> Result<VirtualAddress, String> {
    let (addr_s, prefix_s) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr_s.trim().parse().map_err(|_| {
        format!("{s:?} is not an IP address (write \"192.0.2.100/24\" or \"2001:db8::100/64\")")
    })?;
    let max = match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix_len = match prefix_s {
        None => max,
        Some(p) => match p.trim().parse::<u8>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(format!("{s:?}: the prefix length must be in 1..={max}")),
        },
    };
    Ok(VirtualAddress { addr, prefix_len })
}

/// Why `addr` cannot be a virtual address, a peer or a source address.
fn unusable(addr: &IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("the unspecified address")
    } else if addr.is_multicast() {
        Some("a multicast address")
    } else if addr.is_loopback() {
        Some("a loopback address")
    } else if *addr == IpAddr::V4(Ipv4Addr::BROADCAST) {
        Some("the broadcast address")
    } else {
        None
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4 => "IPv4",
        Family::Ipv6 => "IPv6",
    }
}

/// `addresses`: required, non-empty, one family, no duplicates. Returns
/// each usable address with its location.
fn read_addresses(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
) -> Option<Vec<(VirtualAddress, Location)>> {
    let (items, span) = match t.strings(d, "addresses") {
        Got::Absent => {
            t.missing(d, "addresses");
            return None;
        }
        Got::Invalid => return None,
        Got::Set(items, span) => (items, span),
    };
    if items.len == 0 {
        d.error(&span, "addresses", "must list at least one address");
        return None;
    }
    let mut out: Vec<(VirtualAddress, Location)> = Vec::with_capacity(items.len);
    let mut first_family: Option<(Family, String)> = None;
    for (i, s, item_span) in &items.items {
        let key = format!("addresses[{i}]");
        let va = match parse_cidr(s) {
            Ok(va) => va,
            Err(message) => {
                d.error(item_span, &key, message);
                continue;
            }
        };
        if let Some(why) = unusable(&va.addr) {
            d.error(item_span, &key, format!("{} is {why}", va.addr));
            continue;
        }
        let family = Family::of(&va.addr);
        match &first_family {
            None => first_family = Some((family, s.clone())),
            Some((f, first)) if *f != family => {
                d.error(
                    item_span,
                    &key,
                    format!(
                        "{} is {} but {first} is {}: one address family per router; put the other family in a second router file",
                        va.addr,
                        family_name(family),
                        family_name(*f)
                    ),
                );
                continue;
            }
            Some(_) => {}
        }
        if let Some((_, at)) = out.iter().find(|(o, _)| o.addr == va.addr) {
            d.error(
                item_span,
                &key,
                format!("{} is listed twice (first at {at})", va.addr),
            );
            continue;
        }
        out.push((va, d.location(item_span)));
    }
    // Partial when some were wrong: the errors are recorded, and the
    // family of the good ones still serves the checks of other keys.
    Some(out)
}

/// `track = [{ check = "NAME", weight = -N }]`.
fn read_track(d: &mut FileDiags<'_>, t: &mut Table<'_>) -> Option<Vec<(Track, Location)>> {
    let items = match t.table_array(d, "track") {
        Got::Absent => return Some(Vec::new()),
        Got::Invalid => return None,
        Got::Set(items, _) => items,
    };
    let errors_before = d.errors.len();
    let mut out: Vec<(Track, Location)> = Vec::new();
    for (_, mut e) in items {
        let check = match e.string(d, "check") {
            Got::Set(c, span) => Some((c, d.location(&span), span)),
            Got::Absent => {
                e.missing(d, "check");
                None
            }
            Got::Invalid => None,
        };
        let weight = match e.int(d, "weight", -254..=254) {
            Got::Set(0, span) => {
                d.error(
                    &span,
                    &e.name("weight"),
                    "must not be 0 (a tracked check with no weight does nothing)",
                );
                None
            }
            Got::Set(w, _) => i32::try_from(w).ok(),
            Got::Absent => {
                e.missing(d, "weight");
                None
            }
            Got::Invalid => None,
        };
        e.finish(d);
        if let (Some((check, at, span)), Some(weight)) = (check, weight) {
            if out.iter().any(|(t, _)| t.check == check) {
                d.error(&span, "track", format!("check {check:?} is tracked twice"));
            } else {
                out.push((Track { check, weight }, at));
            }
        }
    }
    (d.errors.len() == errors_before).then_some(out)
}

/// `notify`: absolute paths of programs (run directly, never by a shell).
fn read_notify(d: &mut FileDiags<'_>, t: &mut Table<'_>) -> Option<Vec<PathBuf>> {
    let items = match t.strings(d, "notify") {
        Got::Absent => return Some(Vec::new()),
        Got::Invalid => return None,
        Got::Set(items, _) => items,
    };
    let mut out = Vec::with_capacity(items.len);
    let mut ok = true;
    for (i, s, span) in &items.items {
        if Path::new(s).is_absolute() {
            out.push(PathBuf::from(s));
        } else {
            d.error(
                span,
                &format!("notify[{i}]"),
                format!("must be an absolute path to a program, got {s:?}"),
            );
            ok = false;
        }
    }
    ok.then_some(out)
}

/// `unicast_peers`: plain addresses of the router's family, no duplicates,
/// none of them a virtual address.
fn read_peers(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    family: Option<Family>,
    addresses: Option<&[(VirtualAddress, Location)]>,
) -> Option<Vec<IpAddr>> {
    let items = match t.strings(d, "unicast_peers") {
        Got::Absent => return Some(Vec::new()),
        Got::Invalid => return None,
        Got::Set(items, _) => items,
    };
    let mut peers: Vec<IpAddr> = Vec::with_capacity(items.len);
    for (i, s, span) in &items.items {
        let key = format!("unicast_peers[{i}]");
        let Ok(addr) = s.trim().parse::<IpAddr>() else {
            d.error(
                span,
                &key,
                format!("{s:?} is not an IP address (a peer is a plain address, no prefix length)"),
            );
            continue;
        };
        let problem = if let Some(why) = unusable(&addr) {
            Some(format!("{addr} is {why}"))
        } else if family.is_some_and(|f| f != Family::of(&addr)) {
            Some(format!(
                "{addr} is {} but the router's addresses are {}: peers must be of the router's family",
                family_name(Family::of(&addr)),
                family.map_or("", family_name)
            ))
        } else if peers.contains(&addr) {
            Some(format!("{addr} is listed twice"))
        } else if addresses.is_some_and(|a| a.iter().any(|(va, _)| va.addr == addr)) {
            Some(format!(
                "{addr} is one of the router's virtual addresses, not a peer"
            ))
        } else {
            None
        };
        match problem {
            Some(message) => {
                d.error(span, &key, message);
            }
            None => peers.push(addr),
        }
    }
    Some(peers)
}

/// `source_address`: optional, a plain unicast address of the family.
/// `Some(None)` when absent.
fn read_source(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    family: Option<Family>,
) -> Option<Option<IpAddr>> {
    let (s, span) = match t.string(d, "source_address") {
        Got::Absent => return Some(None),
        Got::Invalid => return None,
        Got::Set(s, span) => (s, span),
    };
    let Ok(addr) = s.trim().parse::<IpAddr>() else {
        d.error(
            &span,
            "source_address",
            format!("{s:?} is not an IP address (a plain address, no prefix length)"),
        );
        return None;
    };
    if let Some(why) = unusable(&addr) {
        d.error(&span, "source_address", format!("{addr} is {why}"));
        return None;
    }
    if let Some(f) = family
        && f != Family::of(&addr)
    {
        d.error(
            &span,
            "source_address",
            format!(
                "{addr} is {} but the router's addresses are {}",
                family_name(Family::of(&addr)),
                family_name(f)
            ),
        );
        return None;
    }
    if let IpAddr::V6(v6) = addr
        && !v6.is_unicast_link_local()
    {
        d.error(
            &span,
            "source_address",
            format!(
                "{addr} is not a link-local address: IPv6 adverts are sent from the interface's link-local address (fe80::/10, RFC 9568 section 5.1.2.1); remove the key to use the interface's own"
            ),
        );
        return None;
    }
    Some(Some(addr))
}

/// A duration key bounded to `max`; `Some(default)` when absent.
fn bounded_duration(
    d: &mut FileDiags<'_>,
    t: &mut Table<'_>,
    key: &'static str,
    default: Duration,
    max: Duration,
) -> Option<Duration> {
    match t.duration(d, key) {
        Got::Set(v, span) if v > max => {
            d.error(
                &span,
                &t.name(key),
                format!(
                    "must be at most {}, got {}",
                    humantime::format_duration(max),
                    humantime::format_duration(v)
                ),
            );
            None
        }
        other => other.or(default),
    }
}

fn read_announce(d: &mut FileDiags<'_>, parent: &mut Table<'_>) -> Option<Announce> {
    let (mut t, _) = parent.table(d, "announce");
    let def = Announce::default();
    let delay = bounded_duration(d, &mut t, "delay", def.delay, MAX_DELAY);
    let repeat = t.int(d, "repeat", 1..=255).or(i64::from(def.repeat));
    let interval = bounded_duration(d, &mut t, "interval", def.interval, Duration::from_secs(10));
    let refresh = match t.duration(d, "refresh") {
        Got::Set(v, _) if v.is_zero() => Some(None),
        Got::Set(v, span) if v < Duration::from_secs(1) || v > Duration::from_secs(86400) => {
            d.error(
                &span,
                &t.name("refresh"),
                format!(
                    "must be \"0s\" (off) or in 1s..=24h, got {}",
                    humantime::format_duration(v)
                ),
            );
            None
        }
        Got::Set(v, _) => Some(Some(v)),
        Got::Absent => Some(None),
        Got::Invalid => None,
    };
    let refresh_repeat_got = t.int(d, "refresh_repeat", 1..=255);
    if let (Some(None), Some(span)) = (&refresh, refresh_repeat_got.span()) {
        d.warn(
            &span,
            &t.name("refresh_repeat"),
            "has no effect while announce.refresh is off",
        );
    }
    let refresh_repeat = refresh_repeat_got.or(i64::from(def.refresh_repeat));
    t.finish(d);
    Some(Announce {
        delay: delay?,
        repeat: u8::try_from(repeat?).ok()?,
        interval: interval?,
        refresh: refresh?,
        refresh_repeat: u8::try_from(refresh_repeat?).ok()?,
    })
}

fn read_checksum(
    d: &mut FileDiags<'_>,
    parent: &mut Table<'_>,
    family: Option<Family>,
    version: Option<Version>,
) -> Option<Checksum> {
    let (mut t, present) = parent.table(d, "checksum");
    let def = Checksum::default();
    let send = match t.string(d, "send") {
        Got::Set(s, span) => match s.as_str() {
            "pseudo-header" => Some(ChecksumForm::PseudoHeader),
            "no-pseudo-header" => Some(ChecksumForm::NoPseudoHeader),
            _ => {
                d.error(
                    &span,
                    &t.name("send"),
                    format!("must be \"pseudo-header\" or \"no-pseudo-header\", got {s:?}"),
                );
                None
            }
        },
        other => other.or(String::new()).map(|_| def.send),
    };
    let accept = match t.string(d, "accept") {
        Got::Set(s, span) => match s.as_str() {
            "either" => Some(ChecksumAccept::Either),
            "pseudo-header" => Some(ChecksumAccept::PseudoHeader),
            "no-pseudo-header" => Some(ChecksumAccept::NoPseudoHeader),
            _ => {
                d.error(
                    &span,
                    &t.name("accept"),
                    format!(
                        "must be \"either\", \"pseudo-header\" or \"no-pseudo-header\", got {s:?}"
                    ),
                );
                None
            }
        },
        other => other.or(String::new()).map(|_| def.accept),
    };
    t.finish(d);
    // The two forms exist only for VRRPv3 over IPv4: refuse the table
    // elsewhere rather than silently ignore it.
    if let Got::Set((), span) = &present {
        let applies = family != Some(Family::Ipv6) && version != Some(Version::V2);
        if !applies {
            d.error(
                span,
                "checksum",
                "applies only to VRRPv3 over IPv4 (VRRPv2 and IPv6 have a single checksum form)",
            );
            return None;
        }
    }
    Some(Checksum {
        send: send?,
        accept: accept?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_units_per_version() {
        let ms = Duration::from_millis;
        assert_eq!(advert_interval_cs(Version::V3, ms(10)), Ok(1));
        assert_eq!(advert_interval_cs(Version::V3, ms(1000)), Ok(100));
        assert_eq!(advert_interval_cs(Version::V3, ms(40_950)), Ok(4095));
        assert!(advert_interval_cs(Version::V3, ms(40_960)).is_err());
        assert!(advert_interval_cs(Version::V3, ms(15)).is_err());
        assert!(advert_interval_cs(Version::V3, ms(0)).is_err());
        assert_eq!(advert_interval_cs(Version::V2, ms(1000)), Ok(100));
        assert_eq!(advert_interval_cs(Version::V2, ms(255_000)), Ok(25_500));
        assert!(advert_interval_cs(Version::V2, ms(1500)).is_err());
        assert!(advert_interval_cs(Version::V2, ms(256_000)).is_err());
    }

    #[test]
    fn cidr_forms() {
        let v = parse_cidr("192.0.2.100/24").unwrap();
        assert_eq!(v.to_string(), "192.0.2.100/24");
        assert_eq!(parse_cidr("192.0.2.100").unwrap().prefix_len, 32);
        assert_eq!(parse_cidr("2001:db8::1").unwrap().prefix_len, 128);
        assert_eq!(parse_cidr("2001:db8::1/64").unwrap().prefix_len, 64);
        assert!(parse_cidr("192.0.2.100/33").is_err());
        assert!(parse_cidr("192.0.2.100/0").is_err());
        assert!(parse_cidr("192.0.2.300").is_err());
        assert!(parse_cidr("eth0").is_err());
    }

    #[test]
    fn interface_names_follow_linux() {
        assert!(valid_interface_name("eth0"));
        assert!(valid_interface_name("enp0s31f6.100"));
        assert!(!valid_interface_name(""));
        assert!(!valid_interface_name("a-very-long-name"));
        assert!(!valid_interface_name("eth0:1"));
        assert!(!valid_interface_name("../etc"));
        assert!(!valid_interface_name(".."));
        assert!(!valid_interface_name("eth 0"));
    }

    /// A directory with one router file `routers/vip.toml`.
    fn load(text: &str) -> Result<crate::config::Config, crate::config::ConfigErrors> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("routers")).unwrap();
        std::fs::write(dir.path().join("routers/vip.toml"), text).unwrap();
        crate::config::load_dir(dir.path())
    }

    const V6: &str = "interface = \"eth0\"\nvrid = 51\naddresses = [\"2001:db8::100/64\"]\n";
    const V4: &str = "interface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";

    #[test]
    fn ipv6_source_address_must_be_link_local() {
        let e = load(&format!("{V6}source_address = \"2001:db8::1\"\n")).unwrap_err();
        let d = e
            .errors
            .iter()
            .find(|d| d.key.as_deref() == Some("source_address"))
            .unwrap();
        let loc = d.location.unwrap();
        assert_eq!((loc.line, loc.column), (4, 18));
        let text = d.to_string();
        assert!(
            text.contains("routers/vip.toml:4:18: source_address: "),
            "{text}"
        );
        assert!(text.contains("not a link-local address"), "{text}");
        assert!(text.contains("5.1.2.1"), "{text}");
        let c = load(&format!("{V6}source_address = \"fe80::1\"\n")).unwrap();
        assert_eq!(
            c.routers[0].source_address,
            Some("fe80::1".parse().unwrap())
        );
        // IPv4 sources are not affected.
        load(&format!("{V4}source_address = \"198.51.100.1\"\n")).unwrap();
    }

    #[test]
    fn address_list_check_and_make_before_break_keys() {
        let c = load(V4).unwrap();
        assert_eq!(c.routers[0].address_list_check, AddressListCheck::Strict);
        assert!(c.routers[0].make_before_break);
        for (v, want) in [
            ("strict", AddressListCheck::Strict),
            ("skip-known-active", AddressListCheck::SkipKnownActive),
            ("off", AddressListCheck::Off),
        ] {
            let c = load(&format!(
                "{V4}address_list_check = \"{v}\"\nmake_before_break = false\n"
            ))
            .unwrap();
            assert_eq!(c.routers[0].address_list_check, want);
            assert_eq!(want.as_str(), v);
            assert!(!c.routers[0].make_before_break);
        }
        let e = load(&format!("{V4}address_list_check = \"loose\"\n")).unwrap_err();
        let d = e
            .errors
            .iter()
            .find(|d| d.key.as_deref() == Some("address_list_check"))
            .unwrap();
        let text = d.to_string();
        assert!(text.contains("routers/vip.toml:4:"), "{text}");
        assert!(
            text.contains("\"strict\", \"skip-known-active\" or \"off\""),
            "{text}"
        );
    }
}
