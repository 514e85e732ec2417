//! The `ha-vip` command line. Each subcommand's arguments live with the
//! module that implements it; this file only dispatches.

use clap::{Args as _, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ha-vip",
    version = ha_vip::build_info::LONG_VERSION,
    about = "VRRP (RFC 9568 / RFC 3768) virtual IP daemon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Run(ha_vip::daemon::RunArgs),
    /// Validate a configuration directory and print what would run.
    Check(ha_vip::config::CheckArgs),
    /// Print every VRRP, ARP and NA packet of a pcap/pcapng file with its verdict.
    Decode(ha_vip::decode::DecodeArgs),
    /// Show the running daemon's routers, checks and counters.
    Status(ha_vip::status::StatusArgs),
    /// Record a pcapng of what the running daemon sends and receives.
    Capture(ha_vip::status::CaptureArgs),
    /// Turn the vrrp_instance blocks of a keepalived.conf into router files.
    ImportKeepalived(ha_vip::import::ImportArgs),
    /// Print a static pod, DaemonSet, RBAC or systemd unit for a configuration.
    Manifest(ha_vip::manifest::ManifestArgs),
}

/// Hidden, and not part of [`Cli`]: the man pages and completions it
/// writes are [`Cli`]'s, and they should not offer it.
const PACKAGE_FILES: &str = "package-files";

fn main() -> ExitCode {
    let cmd = Cli::command().subcommand(
        ha_vip::package::PackageFilesArgs::augment_args(clap::Command::new(PACKAGE_FILES))
            .about("Write the completions, man pages and unit of the Debian package")
            .hide(true),
    );
    let matches = cmd.get_matches();
    if let Some(sub) = matches.subcommand_matches(PACKAGE_FILES) {
        return match ha_vip::package::PackageFilesArgs::from_arg_matches(sub) {
            Ok(args) => ha_vip::package::package_files_main(args, Cli::command()),
            Err(e) => e.exit(),
        };
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    dispatch(cli)
}

fn dispatch(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run(args) => ha_vip::daemon::run_main(args),
        Command::Check(args) => ha_vip::config::check_main(args),
        Command::Decode(args) => ha_vip::decode::decode_main(args),
        Command::Status(args) => ha_vip::status::status_main(args),
        Command::Capture(args) => ha_vip::status::capture_main(args),
        Command::ImportKeepalived(args) => ha_vip::import::import_main(args),
        Command::Manifest(args) => ha_vip::manifest::manifest_main(args),
    }
}
