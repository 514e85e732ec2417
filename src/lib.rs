//! ha-vip: a VRRP (RFC 9568 v3, RFC 3768 v2) router daemon for Linux.
//!
//! A pure protocol core inside a thin Linux shell (docs/architecture.md):
//!
//! - [`wire`]: bytes in, bytes out. No I/O, no clock, no allocation on the
//!   hot path.
//! - [`core`]: every protocol decision. [`core::Endpoint`] owns each
//!   [`core::VirtualRouter`] (RFC 9568 state machine, one per interface,
//!   family and VRID) and decides demux, sources, destinations and timers.
//!   Deterministic: time is an argument.
//! - [`health`]: the health checks whose results become tracked objects.
//! - [`config`]: the configuration directory, validated into typed values.
//! - [`decode`]: reading pcap/pcapng files for `ha-vip decode`.
//! - [`import`]: `ha-vip import-keepalived`, keepalived.conf to router files.
//! - [`manifest`]: `ha-vip manifest`, deployment files for a configuration.
//! - [`build_info`]: the version and git commit; [`package`]: completions,
//!   man pages and the unit for the Debian package.
//! - [`net`] and [`daemon`]: the Linux shell that obeys the core.

pub mod build_info;
pub mod capture;
pub mod config;
pub mod core;
pub mod daemon;
pub mod decode;
pub mod health;
pub mod import;
pub mod manifest;
pub mod net;
pub mod package;
pub mod status;
pub mod wire;
