//! Configuration as the core takes it: the one place a router file turns
//! into a `core::RouterSpec`, and what a reload cannot change in place.

use crate::config;
use crate::core::{self, RouterSpec};
use crate::wire;

/// Why a changed router cannot be reconfigured in place, if it cannot:
/// what the core cannot change (VRID, family, version: the endpoint says
/// so), and what the shell set up at start (interface, virtual MAC,
/// source).
pub(super) fn restart_reason(old: &config::Router, new: &config::Router) -> Option<&'static str> {
    if old.interface != new.interface {
        Some("the interface changed")
    } else if old.version != new.version {
        Some("the VRRP version changed")
    } else if old.virtual_mac != new.virtual_mac {
        Some("virtual_mac changed")
    } else if old.source_address != new.source_address {
        Some("source_address changed")
    } else {
        None
    }
}

/// The one place configuration turns into the core's parameters.
pub(super) fn spec_of(cfg: &config::Router) -> RouterSpec {
    let mut c = core::RouterConfig::new(
        cfg.vrid,
        core::endpoint::UNSPECIFIED_V4,
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
    RouterSpec {
        router: c,
        source: cfg.source_address,
        checksum_send: cfg.checksum.send,
        checksum_accept: cfg.checksum.accept.policy(),
        virtual_mac: cfg.virtual_mac,
    }
}
