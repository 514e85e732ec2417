//! The RFC 9568 protocol core: pure, deterministic, no I/O and no clock.
