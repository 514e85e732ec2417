//! The `ha-vip` command line. Each subcommand's arguments live with the
//! module that implements it; this file only dispatches.

use clap::{CommandFactory as _, Parser, Subcommand};
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
    /// Write the shell completions, man pages and systemd unit of the
    /// Debian package into a directory (scripts/build-deb.sh runs it).
    #[command(hide = true)]
    PackageFiles(ha_vip::package::PackageFilesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => ha_vip::daemon::run_main(args),
        Command::Check(args) => ha_vip::config::check_main(args),
        Command::Decode(args) => ha_vip::decode::decode_main(args),
        Command::Status(args) => ha_vip::status::status_main(args),
        Command::Capture(args) => ha_vip::status::capture_main(args),
        Command::ImportKeepalived(args) => ha_vip::import::import_main(args),
        Command::Manifest(args) => ha_vip::manifest::manifest_main(args),
        Command::PackageFiles(args) => ha_vip::package::package_files_main(args, Cli::command()),
    }
}
