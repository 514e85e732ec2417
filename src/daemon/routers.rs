//! The configured routers and what happens to them: start (find the
//! interface, choose the source through the endpoint, open the sockets),
//! stop, reload, and the reactions to netlink events, received packets,
//! timers and check results. Each input goes to `core::Endpoint`; what the
//! endpoint then asks for is carried out by [`Routers::carry_out`]: its
//! adverts first (one sendmmsg per socket), then its events in order.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use tracing::{debug, info, warn};

use super::checks::Checks;
use super::control::ControlMsg;
use super::host::{Host, Read, SockKey};
use super::receive;
use super::records::Record;
use super::snapshot::snapshot;
use super::spec::spec_of;
use super::tap::Capture;
use crate::config::{self, Config};
use crate::core::{Endpoint, Event, EventKind, HostAddress, Link, NoSource, RouterId, State};
use crate::health::CheckUpdate;
use crate::net::netlink::Event as NetlinkEvent;
use crate::wire::MacAddr;

pub struct Routers {
    pub(super) dir: PathBuf,
    pub(super) endpoint: Endpoint,
    pub(super) records: BTreeMap<RouterId, Record>,
    pub host: Host,
    pub(super) checks: Checks,
    pub cap: Capture,
    started: Instant,
    pub(super) daemon_cfg: config::DaemonConfig,
    /// State changes carried out so far (the loop refreshes the service
    /// manager's status line when it moves).
    pub state_changes: u64,
}

impl Routers {
    pub fn new(
        dir: PathBuf,
        host: Host,
        checks: Checks,
        cap: Capture,
        daemon_cfg: config::DaemonConfig,
    ) -> Routers {
        Routers {
            dir,
            endpoint: Endpoint::new(),
            records: BTreeMap::new(),
            host,
            checks,
            cap,
            started: Instant::now(),
            daemon_cfg,
            state_changes: 0,
        }
    }

    /// One line for the service manager: how many routers, in which state.
    pub fn summary(&self) -> String {
        let (mut active, mut backup, mut other) = (0, 0, 0);
        for id in self.endpoint.ids() {
            match self.endpoint.router(id).map(|vr| vr.state()) {
                Some(State::Active) => active += 1,
                Some(State::Backup) => backup += 1,
                _ => other += 1,
            }
        }
        format!(
            "{} routers: {active} Active, {backup} Backup, {other} waiting or in Initialize",
            self.records.len()
        )
    }

    /// The earliest deadline: the endpoint's, or a capture tap's end.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.endpoint.poll_timeout(), self.cap.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- lifecycle --------------------------------------------------------

    /// Start every router of a freshly loaded configuration.
    pub async fn apply(&mut self, config: Config) {
        for cfg in config.routers {
            let id = self.insert(cfg);
            self.start(id).await;
        }
    }

    pub(super) fn insert(&mut self, cfg: config::Router) -> RouterId {
        let id = self.endpoint.insert(spec_of(&cfg));
        self.records.insert(id, Record::new(cfg));
        id
    }

    /// Bring a router up: find its interface, clear stale VIPs, choose its
    /// source, open or share the socket, and start the core. When it cannot
    /// run yet (interface missing, no source address) the reason is logged
    /// and shown in `status`; the netlink monitor retries when things
    /// change.
    pub(super) async fn start(&mut self, id: RouterId) {
        let result = self.try_start(id).await;
        if let Some(rec) = self.records.get_mut(&id) {
            match result {
                Ok(()) => rec.waiting = None,
                Err(why) => rec.wait(why),
            }
        }
        self.carry_out().await;
    }

    async fn try_start(&mut self, id: RouterId) -> Result<(), String> {
        let Some(cfg) = self.records.get(&id).map(|r| r.cfg.clone()) else {
            return Ok(());
        };
        let link = match self.host.nl.link_by_name(&cfg.interface).await {
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
        // A crashed run may have left our VIPs behind: remove them before the
        // router starts, so the LAN never sees two holders.
        let addrs = self
            .host
            .remove_leftovers(&cfg.name, &cfg.interface, link.index, &cfg.addresses)
            .await;
        let host_addrs: Vec<HostAddress> = addrs
            .iter()
            .map(|a| HostAddress {
                addr: a.addr,
                ours: a.ours,
                tentative: a.tentative,
            })
            .collect();
        let source = self
            .endpoint
            .select_source(id, &host_addrs)
            .map_err(|missing| match missing {
                NoSource::Ipv6LinkLocalTentative => format!(
                    "the IPv6 link-local address of {} is still tentative (duplicate address detection); waiting for it",
                    cfg.interface
                ),
                _ => format!(
                    "interface {} has no {missing} address to send adverts from (set source_address)",
                    cfg.interface
                ),
            })?;
        let key: SockKey = (link.index, cfg.family);
        self.host
            .open_socket(&cfg.interface, key)
            .map_err(|e| format!("cannot open the VRRP socket on {}: {e}", cfg.interface))?;
        if cfg.virtual_mac {
            self.host
                .open_vmac(
                    id,
                    &cfg.name,
                    (&cfg.interface, link.index),
                    cfg.family,
                    cfg.vrid,
                    &cfg.addresses,
                )
                .await?;
        }
        let now = Instant::now();
        let tracked = self.checks.tracked_state(&cfg);
        let link = Link {
            ifindex: link.index,
            mac: MacAddr(mac),
            up: link.up,
            // Read when the router starts (and restarts, e.g. at reload).
            ipv6_forwarding: cfg.family == crate::wire::Family::Ipv6
                && crate::net::sysctl::ipv6_forwarding(&cfg.interface),
        };
        if let Err(e) = self.endpoint.start(now, id, link, source, &tracked) {
            return Err(format!("cannot start: {e:?}"));
        }
        if !link.up {
            warn!(router = %cfg.name, "interface {} is down; staying in Initialize", cfg.interface);
        }
        info!(router = %cfg.name, interface = %cfg.interface, vrid = cfg.vrid,
            source = %source, "virtual router configured");
        Ok(())
    }

    /// Stop one router. `clean`: hand over with priority 0 (shutdown);
    /// otherwise (interface gone) just release the addresses. Its macvlan
    /// goes with it; the router then waits.
    pub(super) async fn stop(&mut self, id: RouterId, clean: bool) {
        self.endpoint.stop(Instant::now(), id, clean);
        self.carry_out().await;
        if let Some(rec) = self.records.get(&id) {
            self.host.close_vmac(id, &rec.cfg.name).await;
        }
        self.endpoint.detach(id);
    }

    pub async fn shutdown_all(&mut self) {
        let ids: Vec<RouterId> = self.endpoint.ids().collect();
        for id in ids {
            self.stop(id, true).await;
        }
    }

    /// Close the sockets no running router uses.
    pub(super) fn close_unused_sockets(&mut self) {
        let used: HashSet<SockKey> = self
            .endpoint
            .ids()
            .filter_map(|id| {
                Some((
                    self.endpoint.link(id)?.ifindex,
                    self.endpoint.spec(id)?.router.family,
                ))
            })
            .collect();
        self.host.close_unused_sockets(&used);
    }

    // ----- inputs -----------------------------------------------------------

    /// Read one socket (`Some`) or all of them, handing each packet to the
    /// endpoint: packets read, and whether the sockets were left empty. The
    /// caller carries out what they caused ([`Self::carry_out`]).
    pub fn read(&mut self, key: Option<SockKey>) -> (usize, bool) {
        let (endpoint, cap, records) = (&mut self.endpoint, &mut self.cap, &self.records);
        let mut sink = |read: Read<'_>| receive::on_packet(endpoint, cap, records, read);
        match key {
            Some(key) => self.host.read(key, &mut sink),
            None => self.host.read_all(&mut sink),
        }
    }

    /// Serve every router whose timer is due (the endpoint's sweep).
    pub async fn on_timer(&mut self) {
        let now = Instant::now();
        self.cap.expire(now);
        self.endpoint.handle_timeout(now);
        self.carry_out().await;
    }

    pub async fn on_netlink(&mut self, ev: NetlinkEvent) {
        let now = Instant::now();
        match ev {
            NetlinkEvent::LinkChanged(link) => {
                let ids: Vec<RouterId> = self
                    .records
                    .iter()
                    .filter(|(_, r)| r.cfg.interface == link.name)
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    let name = self.name(id);
                    let Some(was) = self.endpoint.link(id) else {
                        // Waiting for this interface: try now.
                        self.start(id).await;
                        continue;
                    };
                    if was.ifindex != link.index {
                        // Deleted and created again: everything is new.
                        warn!(router = %name, "interface {} was recreated; restarting", link.name);
                        self.stop(id, false).await;
                        self.start(id).await;
                        continue;
                    }
                    let mac = link.mac.map_or(was.mac, MacAddr);
                    if mac != was.mac {
                        // A new MAC (NIC replaced, bond failover): later
                        // announcements carry it.
                        info!(router = %name, "interface {} has a new MAC address", link.name);
                    }
                    if was.up != link.up {
                        if link.up {
                            info!(router = %name, "interface {} up", link.name);
                        } else {
                            warn!(router = %name, "interface {} down", link.name);
                        }
                    }
                    self.endpoint.link_changed(now, id, link.up, mac);
                    self.carry_out().await;
                }
            }
            NetlinkEvent::LinkRemoved { index, name } => {
                // Every router on that interface: running ones stop; one
                // already stopped by its source going first (the kernel
                // removes the addresses before the link) just waits.
                let ids: Vec<RouterId> = self
                    .records
                    .iter()
                    .filter(|(id, r)| {
                        self.endpoint
                            .link(**id)
                            .map_or(r.cfg.interface == name, |l| l.ifindex == index)
                    })
                    .map(|(id, _)| *id)
                    .collect();
                for id in ids {
                    warn!(router = %self.name(id), "interface {name} removed; waiting for it");
                    if self.endpoint.link(id).is_some() {
                        self.stop(id, false).await;
                    }
                    // Status shows why it is not running, as for an
                    // interface missing at start.
                    if let Some(rec) = self.records.get_mut(&id) {
                        rec.waiting = Some(format!("waiting for interface {name} to appear"));
                    }
                }
                self.close_unused_sockets();
            }
            NetlinkEvent::AddressRemoved(a) => {
                // A router whose source went (DHCP renumbering, an
                // operator's `ip addr del`, an IPv6 link-local gone with
                // the link) cannot send: it restarts, choosing a new source
                // or waiting for one, visibly.
                for id in self.routers_sending_from(a.index, a.addr) {
                    warn!(router = %self.name(id), "source address {} was removed from the interface; choosing another", a.addr);
                    self.stop(id, false).await;
                    self.start(id).await;
                }
                for (&id, rec) in &self.records {
                    let Some(link) = self.endpoint.link(id) else {
                        continue;
                    };
                    let active = self
                        .endpoint
                        .router(id)
                        .is_some_and(|vr| vr.state() == State::Active);
                    // With a virtual MAC the VIPs live on the macvlan.
                    let on = self
                        .host
                        .address_link(id, link.ifindex, rec.cfg.virtual_mac);
                    if on != a.index || !active {
                        continue;
                    }
                    if let Some(v) = rec.cfg.addresses.iter().find(|v| v.addr == a.addr) {
                        warn!(router = %rec.cfg.name,
                            "{}/{} was removed from {} while Active: putting it back", v.addr, v.prefix_len, rec.cfg.interface);
                        self.host.add_address(&rec.cfg.name, on, v).await;
                    }
                }
            }
            NetlinkEvent::AddressAdded(a) => {
                // A macvlan's link-local, usable now: the router's IPv6
                // adverts leave from it from now on.
                if let Some(id) = self.host.vmac_router(a.index)
                    && matches!(a.addr, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local())
                    && !a.tentative
                {
                    self.endpoint.virtual_mac_source(id, Some(a.addr));
                }
                // A source that turned tentative (DAD runs again after the
                // link came back) cannot send until DAD ends: wait for it.
                if a.tentative {
                    for id in self.routers_sending_from(a.index, a.addr) {
                        warn!(router = %self.name(id), "source address {} is tentative again (duplicate address detection); waiting for it", a.addr);
                        self.stop(id, false).await;
                        self.start(id).await;
                    }
                }
                // A router waiting for a source address may start now.
                let waiting: Vec<RouterId> = self
                    .endpoint
                    .ids()
                    .filter(|&id| self.endpoint.link(id).is_none())
                    .collect();
                if !waiting.is_empty() {
                    debug!("address {} appeared; retrying waiting routers", a.addr);
                }
                for id in waiting {
                    self.start(id).await;
                }
            }
        }
    }

    /// Running routers on interface `ifindex` that send from `addr`.
    fn routers_sending_from(&self, ifindex: u32, addr: std::net::IpAddr) -> Vec<RouterId> {
        self.endpoint
            .ids()
            .filter(|&id| {
                self.endpoint.link(id).is_some_and(|l| l.ifindex == ifindex)
                    && self.endpoint.source(id) == Some(addr)
            })
            .collect()
    }

    /// A check's debounced state changed: every router tracking it gets the
    /// new state at once; a graceful API-server shutdown also hands over.
    pub async fn on_check(&mut self, update: CheckUpdate) {
        let now = Instant::now();
        if update.healthy {
            info!(check = %update.name, latency_ms = update.latency.as_millis() as u64, "check healthy");
        } else {
            warn!(check = %update.name, failed = ?update.failed, shutting_down = update.shutting_down,
                "check failed: {}", update.reason);
        }
        for (&id, rec) in &self.records {
            let tracks = self.checks.tracked_by(&rec.cfg);
            let Some((_, weight)) = tracks.iter().find(|(n, _)| *n == update.name) else {
                continue;
            };
            let handed_over = self.endpoint.tracked_changed(
                now,
                id,
                &update.name,
                *weight,
                !update.healthy,
                update.shutting_down,
            );
            if handed_over {
                warn!(router = %rec.cfg.name,
                    "the API server is shutting down: handing over now (priority 0, then Backup)");
            }
        }
        self.checks.record(update);
        self.carry_out().await;
    }

    pub fn on_control(&mut self, msg: ControlMsg) {
        match msg {
            ControlMsg::Status(reply) => {
                let _ = reply.send(snapshot(
                    &self.endpoint,
                    &self.records,
                    self.checks.status(Instant::now()),
                    self.started,
                ));
            }
            ControlMsg::Capture { duration, out } => {
                info!("capture requested for {duration:?}");
                self.cap.tap(Instant::now() + duration, out);
            }
        }
    }

    // ----- outputs ----------------------------------------------------------

    fn name(&self, id: RouterId) -> String {
        self.records
            .get(&id)
            .map_or_else(|| id.to_string(), |r| r.cfg.name.clone())
    }

    /// Carry out everything the endpoint asked for: the adverts first (the
    /// peers are waiting for them; one sendmmsg per socket), then the
    /// events in the order the routers produced them.
    pub async fn carry_out(&mut self) {
        let records = &self.records;
        let name = |id: RouterId| {
            records
                .get(&id)
                .map_or_else(|| id.to_string(), |r| r.cfg.name.clone())
        };
        self.host
            .send_transmits(&mut self.endpoint, &mut self.cap, &name);
        while let Some(event) = self.endpoint.poll_event() {
            self.act(event).await;
        }
    }

    async fn act(&mut self, Event { router: id, kind }: Event) {
        let Some(rec) = self.records.get_mut(&id) else {
            return;
        };
        let link = self.endpoint.link(id);
        match kind {
            EventKind::StateChanged { from, to, reason } => {
                let priority = self
                    .endpoint
                    .router(id)
                    .map_or(rec.cfg.priority, |vr| vr.effective_priority());
                rec.state_changed(from, to, reason, priority);
                self.state_changes += 1;
            }
            EventKind::AddAddresses { on_virtual_mac }
            | EventKind::RemoveAddresses { on_virtual_mac } => {
                let Some(link) = link else {
                    return;
                };
                let add = matches!(kind, EventKind::AddAddresses { .. });
                let target = self.host.address_link(id, link.ifindex, on_virtual_mac);
                self.host
                    .set_addresses(id, &rec.cfg.name, target, &rec.cfg.addresses, add)
                    .await;
                // The macvlan is up now: IPv6 adverts from the virtual MAC
                // leave from its own link-local (or from the interface
                // until it has one: netlink tells when).
                if add && on_virtual_mac && rec.cfg.family == crate::wire::Family::Ipv6 {
                    let ll = self.host.vmac_link_local(id).await;
                    self.endpoint.virtual_mac_source(id, ll);
                }
            }
            EventKind::AddAddress {
                addr,
                on_virtual_mac,
            }
            | EventKind::RemoveAddress {
                addr,
                on_virtual_mac,
            } => {
                let Some(link) = link else {
                    return;
                };
                let add = matches!(kind, EventKind::AddAddress { .. });
                let target = self.host.address_link(id, link.ifindex, on_virtual_mac);
                // The prefix of the configured address, else a host prefix
                // (an address that left the configuration).
                let v = rec
                    .cfg
                    .addresses
                    .iter()
                    .find(|v| v.addr == addr)
                    .copied()
                    .unwrap_or(config::VirtualAddress {
                        addr,
                        prefix_len: if addr.is_ipv4() { 32 } else { 128 },
                    });
                if add {
                    self.host.add_address(&rec.cfg.name, target, &v).await;
                } else {
                    self.host.remove_address(&rec.cfg.name, target, &v).await;
                }
            }
            EventKind::Announce {
                mac,
                on_virtual_mac,
                router_flag,
            } => {
                let Some(link) = link else {
                    return;
                };
                rec.announcements_sent += self.host.announce(
                    id,
                    &rec.cfg.name,
                    (link.ifindex, rec.cfg.family),
                    mac,
                    on_virtual_mac,
                    router_flag,
                    &rec.cfg.addresses,
                    &mut self.cap,
                );
            }
            EventKind::PeerActive {
                peer,
                peer_priority,
                our_priority,
                ..
            } => {
                let ours = self.endpoint.source(id).unwrap_or(peer);
                rec.peer_active(ours, peer, peer_priority, our_priority);
            }
        }
    }
}
