//! ha-vip: a VRRP (RFC 9568 v3, RFC 3768 v2) router daemon for Linux.
//!
//! The crate is split the way `../shared/DESIGN.md` describes:
//!
//! - [`wire`]: bytes in, bytes out. No I/O, no clock, no allocation on the
//!   hot path.
//! - [`core`]: the RFC 9568 state machine, one [`core::VirtualRouter`] per
//!   (interface, VRID, family). Deterministic: time is an argument.
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
