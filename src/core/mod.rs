//! The RFC 9568 protocol core: pure, deterministic, no I/O and no clock.
//!
//! Invariant (quinn-proto style): nothing in this module reads a clock,
//! touches a socket or sleeps. Time comes in as an `Instant` argument,
//! deadlines come out of [`Endpoint::poll_timeout`], and what the shell must
//! do comes out of [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`]. Every protocol rule is
//! therefore tested in virtual time with [`sim`], several routers on a
//! simulated LAN. docs/protocol.md maps each rule of RFC 9568 section 6 to the
//! test that proves it.
//!
//! - [`endpoint`]: [`Endpoint`], every router of the process behind a
//!   [`RouterId`]: demux, checksum verdicts, source selection, destinations,
//!   the timer sweep; adverts out as bytes with where they go.
//! - [`router`]: [`VirtualRouter`], its config, states, reasons and actions.
//! - [`timers`]: Skew_Time and Master_Down_Interval, and their rounding.
//! - [`counters`]: per-router counters (RFC 6527 names) and drop reasons.
//! - [`sim`]: the simulated LAN used by the tests.

pub mod counters;
pub mod endpoint;
pub mod router;
pub mod sim;
pub mod timers;

pub use counters::{Counters, DropReason, PacketDrop};
pub use endpoint::{
    DrainError, Dropped, Endpoint, Event, EventKind, HostAddress, Link, NoSource, Output, RouterId,
    RouterSpec, StartError, Transmit, UnknownVrid,
};
pub use router::{
    ADVER_EARLY_DIVISOR, Action, ActiveRouter, AddressListCheck, AnnounceConfig, DRAINED_PRIORITY,
    Drain, Reason, ReconfigureError, RouterConfig, SPLIT_BRAIN_REPORT_PERIOD, State, Transition,
    VirtualRouter,
};
