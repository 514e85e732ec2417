//! The tokio wiring of sockets, timers, health checks and signals.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ha-vip run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration directory.
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
}

pub fn run_main(_args: RunArgs) -> ExitCode {
    eprintln!("ha-vip run: not implemented yet");
    ExitCode::FAILURE
}
