//! Configuration directory: `ha-vip.toml` and `routers/*.toml`.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ha-vip check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration directory.
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
}

pub fn check_main(_args: CheckArgs) -> ExitCode {
    eprintln!("ha-vip check: not implemented yet");
    ExitCode::FAILURE
}
