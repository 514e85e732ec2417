//! The RFC 9568 protocol core: pure, deterministic, no I/O and no clock.
//!
//! Invariant (quinn-proto style): nothing in this module reads a clock,
//! touches a socket or sleeps. Time comes in as an `Instant` argument,
//! deadlines come out of [`VirtualRouter::poll_timeout`], and what the shell
//! must do comes out of [`VirtualRouter::poll_action`]. Every protocol rule is
//! therefore tested in virtual time with [`sim`], several routers on a
//! simulated LAN. docs/protocol.md maps each rule of RFC 9568 section 6 to the
//! test that proves it.
//!
//! - [`router`]: [`VirtualRouter`], its config, states, reasons and actions.
//! - [`timers`]: Skew_Time and Master_Down_Interval, and their rounding.
//! - [`counters`]: per-router counters (RFC 6527 names) and drop reasons.
//! - [`sim`]: the simulated LAN used by the tests.

pub mod counters;
pub mod router;
pub mod sim;
pub mod timers;

pub use counters::{Counters, DropReason};
pub use router::{
    ADVER_EARLY_DIVISOR, Action, ActiveRouter, AddressListCheck, AnnounceConfig, Reason,
    ReconfigureError, RouterConfig, SPLIT_BRAIN_REPORT_PERIOD, State, Transition, VirtualRouter,
};
