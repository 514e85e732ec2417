//! The tokio wiring of sockets, timers, health checks and signals.
