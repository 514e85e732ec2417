//! `ha-vip check`: validate a configuration directory, print what would run.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::wire::{Family, Version};

use super::{
    AddressListCheck, ChecksumAccept, ChecksumForm, Config, Diagnostic, LogFormat, Router,
    interface_exists, load_dir,
};

/// Arguments of `ha-vip check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The configuration directory. Give it once per node (`--config
    /// node1 --config node2 ...`) to also check the tracked-check weights
    /// against the other nodes' priorities.
    #[arg(long = "config", default_value = "/etc/ha-vip")]
    pub configs: Vec<PathBuf>,
}

/// Exit 0 when every directory is valid (warnings or not), 1 when one is
/// not; errors and warnings go to stderr, the summary to stdout.
pub fn check_main(args: CheckArgs) -> ExitCode {
    let mut loaded = Vec::new();
    let mut failed = false;
    for dir in &args.configs {
        if args.configs.len() > 1 {
            println!("== {}", dir.display());
        }
        match load_dir(dir) {
            Err(e) => {
                for w in &e.warnings {
                    eprintln!("warning: {w}");
                }
                for error in &e.errors {
                    eprintln!("{error}");
                }
                eprintln!(
                    "ha-vip check: {} refused: {} error{}",
                    dir.display(),
                    e.errors.len(),
                    if e.errors.len() == 1 { "" } else { "s" }
                );
                failed = true;
            }
            Ok(config) => {
                print!("{}", summary(&config));
                for w in config.warnings.iter().chain(&host_warnings(&config)) {
                    eprintln!("warning: {w}");
                }
                loaded.push(config);
            }
        }
    }
    for w in weight_warnings(&loaded) {
        eprintln!("warning: {w}");
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The checks a router tracks, with their weights: `[k8s]` (when enabled
/// and not opted out) and its `track` list.
fn tracked(config: &Config, r: &Router) -> Vec<(String, i32)> {
    let mut out = Vec::new();
    if config.daemon.k8s.enabled && r.track_k8s {
        out.push(("k8s".to_string(), config.daemon.k8s.weight));
    }
    out.extend(r.track.iter().map(|t| (t.check.clone(), t.weight)));
    out
}

/// Tracked-check weights against the priorities of the same virtual router
/// (VRID and family) on every node given: a weight too small to move the
/// VIP, or one that collapses the order when every node fails, is warned
/// about. With one directory only the node's own problems can be seen.
pub fn weight_warnings(configs: &[Config]) -> Vec<String> {
    let mut out = Vec::new();
    let mut groups: std::collections::BTreeMap<(u8, u8), Vec<(&Config, &Router)>> =
        std::collections::BTreeMap::new();
    for c in configs {
        for r in &c.routers {
            let fam = match r.family {
                crate::wire::Family::Ipv4 => 4,
                crate::wire::Family::Ipv6 => 6,
            };
            groups.entry((r.vrid, fam)).or_default().push((c, r));
        }
    }
    for ((vrid, fam), members) in groups {
        for (c, r) in &members {
            if r.priority == super::OWNER_PRIORITY && !tracked(c, r).is_empty() {
                out.push(format!(
                    "{}: priority 255 (address owner) stays 255: its tracked checks never move the VIP",
                    r.path.display()
                ));
            }
        }
        if members.len() < 2 {
            if configs.len() == 1 && members.iter().any(|(c, r)| !tracked(c, r).is_empty()) {
                out.push(format!(
                    "VRID {vrid} (IPv{fam}): pass every node's directory (--config A --config B ...) to check the tracked weights against the other nodes' priorities"
                ));
            }
            continue;
        }
        let priorities: Vec<u8> = members.iter().map(|(_, r)| r.priority).collect();
        // The weight that matters is the one of the node that holds the
        // VIP: the highest priority.
        let Some((top_c, top_r)) = members.iter().max_by_key(|(_, r)| r.priority) else {
            continue;
        };
        for (check, weight) in tracked(top_c, top_r) {
            if let Some(w) = crate::health::weight_warning(&priorities, weight) {
                out.push(format!(
                    "VRID {vrid} (IPv{fam}), check {check:?} in {}: {w}",
                    top_r.path.display()
                ));
            }
        }
    }
    out
}

/// Warnings that depend on the host the check runs on. Only warnings:
/// configurations are often checked away from the machine they are for.
pub fn host_warnings(config: &Config) -> Vec<Diagnostic> {
    config
        .routers
        .iter()
        .filter(|r| !interface_exists(&r.interface))
        .map(|r| Diagnostic {
            path: r.path.clone(),
            location: None,
            key: Some("interface".into()),
            message: format!(
                "{} does not exist on this host (no /sys/class/net/{}); fine if this configuration is for another machine",
                r.interface, r.interface
            ),
        })
        .collect()
}

/// What would run: one line for the daemon, one per router.
pub fn summary(config: &Config) -> String {
    let d = &config.daemon;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "daemon: control socket {}, runtime_dir {}, log {} {}, k8s check {}",
        d.control.socket.display(),
        d.runtime_dir.display(),
        match d.log.format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        },
        d.log.level,
        if d.k8s.enabled {
            if d.k8s.in_cluster {
                "on (in-cluster)".to_string()
            } else {
                format!("on ({})", d.k8s.api_server)
            }
        } else {
            "off".to_string()
        }
    );
    for r in &config.routers {
        let _ = writeln!(out, "router {}", router_line(r));
    }
    let n = config.routers.len();
    let _ = writeln!(
        out,
        "ok: {n} virtual router{}",
        if n == 1 { "" } else { "s" }
    );
    out
}

/// One router in one line, the fields in the order of a router file.
pub fn router_line(r: &Router) -> String {
    let mut s = format!(
        "{}: interface {}, VRID {}, {}, VRRPv{}, priority {}{}, advert_interval {}",
        r.name,
        r.interface,
        r.vrid,
        match r.family {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        },
        r.version.number(),
        r.priority,
        if r.is_owner() { " (owner)" } else { "" },
        humantime::format_duration(r.advert_interval()),
    );
    let addresses: Vec<String> = r.addresses.iter().map(|a| a.to_string()).collect();
    let _ = write!(s, ", addresses {}", addresses.join(" "));
    if r.is_unicast() {
        let peers: Vec<String> = r.unicast_peers.iter().map(|a| a.to_string()).collect();
        let _ = write!(s, ", unicast to {}", peers.join(" "));
    } else {
        let group = match r.family {
            Family::Ipv4 => "224.0.0.18",
            Family::Ipv6 => "ff02::12",
        };
        let _ = write!(s, ", multicast {group}");
    }
    if let Some(src) = r.source_address {
        let _ = write!(s, ", source {src}");
    }
    if r.preempt {
        s.push_str(", preempt");
        if !r.preempt_delay.is_zero() {
            let _ = write!(s, " after {}", humantime::format_duration(r.preempt_delay));
        }
    } else {
        s.push_str(", no preempt");
    }
    s.push_str(if r.accept_mode {
        ", accept_mode"
    } else {
        ", no accept_mode"
    });
    if r.address_list_check != AddressListCheck::Strict {
        let _ = write!(s, ", address_list_check {}", r.address_list_check.as_str());
    }
    if !r.make_before_break {
        s.push_str(", no make_before_break");
    }
    if r.virtual_mac {
        let _ = write!(
            s,
            ", virtual MAC {}",
            crate::wire::MacAddr::vrrp_virtual(r.family, r.vrid)
        );
    }
    if r.version == Version::V3
        && r.family == Family::Ipv4
        && (r.checksum.send != ChecksumForm::PseudoHeader
            || r.checksum.accept != ChecksumAccept::Either)
    {
        let _ = write!(
            s,
            ", checksum send {} accept {}",
            r.checksum.send.as_str(),
            r.checksum.accept.as_str()
        );
    }
    s
}
