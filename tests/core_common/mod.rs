//! Helpers shared by the tests/core_*.rs files.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ha_vip::core::sim::{Event, Sim};
use ha_vip::core::{RouterConfig, State};

pub const VRID: u8 = 51;

/// 192.0.2.`last`: router addresses from the documentation range.
pub fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

/// 2001:db8::`last`.
pub fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// A v3 IPv4 router at 192.0.2.`last` with the VIP 192.0.2.100.
pub fn cfg4(priority: u8, last: u8, interval_cs: u16) -> RouterConfig {
    let mut c = RouterConfig::new(VRID, v4(last), vec![v4(100)]);
    c.priority = priority;
    c.advert_interval_cs = interval_cs;
    c
}

/// A v3 IPv6 router at 2001:db8::`last` with the VIP 2001:db8::100.
pub fn cfg6(priority: u8, last: u16, interval_cs: u16) -> RouterConfig {
    let mut c = RouterConfig::new(VRID, v6(last), vec![v6(0x100)]);
    c.priority = priority;
    c.advert_interval_cs = interval_cs;
    c
}

pub fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// When router `i` last became Active (time since zero).
pub fn became_active(sim: &Sim, i: usize) -> Option<Duration> {
    sim.transitions(i)
        .into_iter()
        .rev()
        .filter(|(_, _, to, _)| *to == State::Active)
        .map(|(t, ..)| t)
        .next()
}

/// When router `to` last processed an advert from `from` (time since zero).
pub fn last_received(sim: &Sim, to: usize, from: usize) -> Option<Duration> {
    sim.events(to)
        .into_iter()
        .rev()
        .filter(|(_, e)| matches!(e, Event::Received { from: f, .. } if *f == from))
        .map(|(t, _)| t)
        .next()
}

/// The first advert router `i` sent at or after `t`.
pub fn first_sent_after(sim: &Sim, i: usize, t: Duration) -> Option<Duration> {
    sim.sent(i)
        .into_iter()
        .map(|(at, _)| at)
        .find(|at| *at >= t)
}
