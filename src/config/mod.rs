//! Configuration directory: `ha-vip.toml` and `routers/*.toml`.
