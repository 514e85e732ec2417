//! The daemon: the shell that obeys `core::Endpoint`.
//!
//! It owns no protocol rule: it feeds the endpoint packets, link events,
//! check results and time, and carries out what the endpoint asks for
//! (send adverts, add or remove addresses, announce). Split by the state
//! each part owns:
//!
//! - [`main_loop`]: the loop, its inputs (signals, timerfd, sockets,
//!   netlink, control, checks) and receive pacing ([`pace`], [`timer`]).
//! - [`routers`]: the endpoint and the configured routers' [`records`]:
//!   start, stop and the reactions to every input; [`reload`] applies a
//!   SIGHUP, [`spec`] turns a router file into the core's parameters.
//! - [`host`]: sockets, netlink, virtual-MAC links, send batches;
//!   [`receive`]: a read packet parsed and handed to the endpoint.
//! - [`checks`]: the health-check tasks and their last results.
//! - [`snapshot`]: the status the control socket and metrics serve.
//! - [`supervisor`]: systemd readiness, status and the watchdog, fed by
//!   the loop itself.
//! - [`tap`]: packet captures; [`control`], [`metrics`], [`notify`].

mod checks;
mod control;
mod host;
mod main_loop;
pub mod metrics;
mod notify;
mod pace;
mod receive;
mod records;
mod reload;
mod routers;
mod snapshot;
mod spec;
mod supervisor;
mod tap;
mod timer;

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ha-vip run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The configuration directory.
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
    /// Log as JSON lines (overrides `[log] format`).
    #[arg(long)]
    pub log_json: bool,
}

pub fn run_main(args: RunArgs) -> ExitCode {
    let config = match crate::config::load_dir(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "ha-vip run: configuration in {} refused",
                args.config.display()
            );
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config, args.log_json);

    // One thread: the work is a few packets and timers per interval, and a
    // single thread keeps the order of actions exactly the core's.
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ha-vip run: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(main_loop::run(args.config, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("ha-vip stopped: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &crate::config::Config, force_json: bool) {
    use tracing_subscriber::EnvFilter;
    let level = config.daemon.log.level.clone();
    let filter = EnvFilter::try_from_env("HA_VIP_LOG")
        .or_else(|_| EnvFilter::try_new(&level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = force_json || config.daemon.log.format == crate::config::LogFormat::Json;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}
