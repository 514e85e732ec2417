//! What this binary was built from: the crate version and the git commit
//! (`build.rs` says how the commit is found, and when it is `unknown`).

/// The crate version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git commit the binary was built from, `-dirty` appended when
/// tracked files differed from it; `unknown` for a build without git (a
/// source tarball, `cargo package`) unless `HA_VIP_GIT_COMMIT` was set.
pub const GIT_COMMIT: &str = env!("HA_VIP_GIT_COMMIT");

/// `ha-vip --version`: `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HA_VIP_GIT_COMMIT"),
    ")"
);
