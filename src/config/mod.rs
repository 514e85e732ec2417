//! The configuration directory, validated into typed values.
//!
//! ```text
//! DIR/ha-vip.toml        daemon-wide settings (optional)
//! DIR/routers/NAME.toml  one virtual router per file; NAME is its name
//! ```
//!
//! [`load_dir`] reads everything, reports every problem (not only the
//! first) as `PATH:LINE:COLUMN: KEY: MESSAGE`, and returns a [`Config`]
//! whose routers compare by value, so that a reload can keep the state of
//! the routers that did not change ([`Config::changes`]). `ha-vip check`
//! ([`check_main`]) prints the same errors, or what would run. The keys,
//! defaults and ranges are documented in `docs/configuration.md`.

mod check;
mod daemon;
mod diag;
mod reader;
mod router;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use toml::de::DeTable;

use crate::wire::Family;

pub use check::{CheckArgs, check_main, host_warnings, router_line, summary};
pub use daemon::{
    CaptureConfig, ControlConfig, DaemonConfig, K8sConfig, LogConfig, LogFormat, MetricsConfig,
};
pub use diag::{ConfigErrors, Diagnostic, Location};
pub use router::{
    AddressListCheck, Announce, Checksum, ChecksumAccept, ChecksumForm, OWNER_PRIORITY, Router,
    Track, VirtualAddress, valid_interface_name,
};

use diag::FileDiags;
use reader::Table;
use router::Parsed;

/// The daemon-wide file, relative to the configuration directory.
pub const DAEMON_FILE: &str = "ha-vip.toml";
/// The directory of router files, relative to the configuration directory.
pub const ROUTERS_DIR: &str = "routers";

/// A whole configuration directory, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub daemon: DaemonConfig,
    /// Sorted by name.
    pub routers: Vec<Router>,
    /// Problems that do not stop the daemon (ignored files, settings that
    /// have no effect). Host-dependent warnings are in [`host_warnings`].
    pub warnings: Vec<Diagnostic>,
}

/// How the routers of a new configuration relate to the running one,
/// matched by name (the file stem).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RouterChanges<'a> {
    /// Only in the new configuration: start them.
    pub added: Vec<&'a Router>,
    /// Only in the old configuration: stop them (before starting the added
    /// ones: a renamed file frees its (interface, VRID, family) first).
    pub removed: Vec<&'a Router>,
    /// In both, with a different value: (old, new); restart them.
    pub changed: Vec<(&'a Router, &'a Router)>,
    /// In both and equal: they keep their state.
    pub unchanged: Vec<&'a Router>,
}

impl Config {
    pub fn router(&self, name: &str) -> Option<&Router> {
        self.routers.iter().find(|r| r.name == name)
    }

    /// Compares the routers of `self` (running) with those of `new`.
    pub fn changes<'a>(&'a self, new: &'a Config) -> RouterChanges<'a> {
        let mut out = RouterChanges::default();
        for old in &self.routers {
            match new.router(&old.name) {
                None => out.removed.push(old),
                Some(n) if n == old => out.unchanged.push(n),
                Some(n) => out.changed.push((old, n)),
            }
        }
        for n in &new.routers {
            if self.router(&n.name).is_none() {
                out.added.push(n);
            }
        }
        out
    }
}

/// Whether the network interface `name` exists on this host now.
pub fn interface_exists(name: &str) -> bool {
    // The name check keeps "../" and friends out of the path.
    valid_interface_name(name) && Path::new("/sys/class/net").join(name).exists()
}

/// Router names end up in logs, the control socket and `status` output:
/// keep them to characters that need no quoting there.
fn valid_router_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Parses `text` as TOML and hands the document to `read`, collecting
/// syntax errors (then `read` is not called) and what `read` reports.
fn read_file<T>(
    path: &Path,
    text: &str,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
    read: impl FnOnce(&mut FileDiags<'_>, Table<'_>) -> Option<T>,
) -> Option<T> {
    let mut d = FileDiags::new(path, text);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let out = if syntax.is_empty() {
        read(&mut d, Table::root(doc))
    } else {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            // "duplicate key" and friends point at a key: name it.
            let key = text
                .get(span.clone())
                .filter(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
                .unwrap_or("");
            d.error(
                &span,
                key,
                format!("TOML syntax: {}", e.message().trim_end()),
            );
        }
        None
    };
    d.sort();
    errors.append(&mut d.errors);
    warnings.append(&mut d.warnings);
    out
}

fn read_text(path: &Path, errors: &mut Vec<Diagnostic>) -> Option<String> {
    match fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => {
                errors.push(Diagnostic::file(path, "not valid UTF-8"));
                None
            }
        },
        Err(e) => {
            errors.push(Diagnostic::file(path, format!("cannot read: {e}")));
            None
        }
    }
}

/// Loads and validates the configuration directory `dir`.
///
/// Every error is collected: syntax errors, unknown keys, bad values, and
/// the checks across files (one router per (interface, VRID, family), no
/// virtual address in two routers). In `routers/`, hidden entries (a
/// leading '.', as editors' swap files and the `..data` links of a
/// Kubernetes ConfigMap volume) are skipped silently; other files not
/// ending in `.toml`, and directories, are skipped with a warning.
pub fn load_dir(dir: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let fail = |errors, warnings| Err(ConfigErrors { errors, warnings });

    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            errors.push(Diagnostic::file(
                dir,
                "not a directory (--config names the configuration directory)",
            ));
            return fail(errors, warnings);
        }
        Err(e) => {
            errors.push(Diagnostic::file(
                dir,
                format!("cannot read the configuration directory: {e}"),
            ));
            return fail(errors, warnings);
        }
    }

    let daemon = read_daemon_file(dir, &mut errors, &mut warnings);

    let routers_dir = dir.join(ROUTERS_DIR);
    let mut parsed: Vec<Parsed> = Vec::new();
    match fs::read_dir(&routers_dir) {
        Err(e) => errors.push(Diagnostic::file(
            &routers_dir,
            format!(
                "cannot read the router directory (it holds one NAME.toml per virtual router): {e}"
            ),
        )),
        Ok(entries) => {
            let mut names: Vec<_> = Vec::new();
            for entry in entries {
                match entry {
                    Ok(entry) => names.push(entry.file_name()),
                    Err(e) => {
                        errors.push(Diagnostic::file(&routers_dir, format!("cannot list: {e}")))
                    }
                }
            }
            names.sort();
            for file_name in names {
                let path = routers_dir.join(&file_name);
                if let Some(p) = read_router_entry(&path, &mut errors, &mut warnings) {
                    parsed.push(p);
                }
            }
            if parsed.is_empty() && errors.is_empty() {
                warnings.push(Diagnostic::file(
                    &routers_dir,
                    "no router files (NAME.toml): no virtual router will run",
                ));
            }
        }
    }

    check_across_files(&parsed, &mut errors);
    if let Some(d) = &daemon {
        check_tracks(d, &parsed, &mut errors);
    }

    match daemon {
        Some(daemon) if errors.is_empty() => {
            let mut routers: Vec<Router> = parsed.into_iter().map(|p| p.router).collect();
            routers.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(Config {
                daemon,
                routers,
                warnings,
            })
        }
        _ => fail(errors, warnings),
    }
}

/// One entry of `routers/`: a router, nothing (skipped), or errors.
fn read_router_entry(
    path: &Path,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<Parsed> {
    let file_name = path.file_name()?;
    if file_name.as_encoded_bytes().starts_with(b".") {
        return None;
    }
    // metadata follows symbolic links, as ConfigMap volumes use them.
    match fs::metadata(path) {
        Err(e) => {
            errors.push(Diagnostic::file(path, format!("cannot read: {e}")));
            return None;
        }
        Ok(m) if m.is_dir() => {
            warnings.push(Diagnostic::file(
                path,
                "a directory, ignored (router files are routers/NAME.toml)",
            ));
            return None;
        }
        Ok(_) => {}
    }
    let Some(file_name) = file_name.to_str() else {
        errors.push(Diagnostic::file(path, "the file name is not UTF-8"));
        return None;
    };
    let Some(name) = file_name.strip_suffix(".toml") else {
        warnings.push(Diagnostic::file(
            path,
            "not a .toml file, ignored (router files are routers/NAME.toml)",
        ));
        return None;
    };
    if !valid_router_name(name) {
        errors.push(Diagnostic::file(
            path,
            format!(
                "{name:?} is not a valid router name (the file stem): use 1 to 64 letters, digits, '-', '_' or '.'"
            ),
        ));
        return None;
    }
    let text = read_text(path, errors)?;
    read_file(path, &text, errors, warnings, |d, t| {
        router::parse_router(d, name.to_string(), path.to_path_buf(), t)
    })
}

/// Checks that need every router: each (interface, VRID, family) is one
/// virtual router (two would share one virtual MAC and fight over the
/// same adverts), and a virtual address belongs to one router only.
/// Every tracked check must be defined in ha-vip.toml.
fn check_tracks(daemon: &DaemonConfig, parsed: &[Parsed], errors: &mut Vec<Diagnostic>) {
    for p in parsed {
        for (t, at) in p.router.track.iter().zip(&p.track_at) {
            if t.check == "k8s" {
                errors.push(Diagnostic {
                    path: p.router.path.clone(),
                    location: Some(*at),
                    key: Some("track".into()),
                    message: "the [k8s] check is tracked with track_k8s (its weight is [k8s] weight), not in track".into(),
                });
            } else if !daemon.checks.iter().any(|c| c.name == t.check) {
                let known: Vec<&str> = daemon.checks.iter().map(|c| c.name.as_str()).collect();
                errors.push(Diagnostic {
                    path: p.router.path.clone(),
                    location: Some(*at),
                    key: Some("track".into()),
                    message: format!(
                        "no check {:?} in {DAEMON_FILE} (defined: {})",
                        t.check,
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            }
        }
    }
}

fn check_across_files(parsed: &[Parsed], errors: &mut Vec<Diagnostic>) {
    let mut by_id: HashMap<(&str, u8, Family), &Parsed> = HashMap::new();
    let mut by_addr: HashMap<IpAddr, (&Parsed, Location)> = HashMap::new();
    for p in parsed {
        let r = &p.router;
        let id = (r.interface.as_str(), r.vrid, r.family);
        if let Some(first) = by_id.get(&id) {
            errors.push(Diagnostic {
                path: r.path.clone(),
                location: Some(p.vrid_at),
                key: Some("vrid".into()),
                message: format!(
                    "VRID {} on {} ({}) is also used by router {} ({}:{}); one virtual router per interface, VRID and family",
                    r.vrid,
                    r.interface,
                    match r.family {
                        Family::Ipv4 => "IPv4",
                        Family::Ipv6 => "IPv6",
                    },
                    first.router.name,
                    first.router.path.display(),
                    first.vrid_at,
                ),
            });
        } else {
            by_id.insert(id, p);
        }
        for (i, (va, at)) in r.addresses.iter().zip(&p.address_at).enumerate() {
            if let Some((first, first_at)) = by_addr.get(&va.addr) {
                errors.push(Diagnostic {
                    path: r.path.clone(),
                    location: Some(*at),
                    key: Some(format!("addresses[{i}]")),
                    message: format!(
                        "{} is also a virtual address of router {} ({}:{})",
                        va.addr,
                        first.router.name,
                        first.router.path.display(),
                        first_at
                    ),
                });
            } else {
                by_addr.insert(va.addr, (p, *at));
            }
        }
    }
}

/// `DIR/ha-vip.toml` alone (defaults when absent): what the clients
/// (`status`, `capture`) need to find the control socket, without
/// validating every router file.
pub fn load_daemon_file(dir: &Path) -> Result<DaemonConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    match read_daemon_file(dir, &mut errors, &mut warnings) {
        Some(d) if errors.is_empty() => Ok(d),
        _ => Err(ConfigErrors { errors, warnings }),
    }
}

fn read_daemon_file(
    dir: &Path,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<DaemonConfig> {
    let daemon_path = dir.join(DAEMON_FILE);
    match fs::metadata(&daemon_path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(DaemonConfig::default()),
        _ => read_text(&daemon_path, errors).and_then(|text| {
            read_file(&daemon_path, &text, errors, warnings, daemon::parse_daemon)
        }),
    }
}

/// Validate the text of one router file without touching the filesystem
/// (the fuzz target and tools use it). `name` is the router's name.
pub fn parse_router_text(name: &str, text: &str) -> Result<Router, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let path = std::path::PathBuf::from(format!("{ROUTERS_DIR}/{name}.toml"));
    let parsed = read_file(&path, text, &mut errors, &mut warnings, |d, t| {
        router::parse_router(d, name.to_string(), path.clone(), t)
    });
    match parsed {
        Some(p) if errors.is_empty() => Ok(p.router),
        _ => Err(ConfigErrors { errors, warnings }),
    }
}

/// Validate the text of `ha-vip.toml` without touching the filesystem.
pub fn parse_daemon_text(text: &str) -> Result<DaemonConfig, ConfigErrors> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let path = std::path::PathBuf::from(DAEMON_FILE);
    match read_file(
        &path,
        text,
        &mut errors,
        &mut warnings,
        daemon::parse_daemon,
    ) {
        Some(d) if errors.is_empty() => Ok(d),
        _ => Err(ConfigErrors { errors, warnings }),
    }
}
