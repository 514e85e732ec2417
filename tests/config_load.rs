//! Loading configuration directories: what is accepted, what is refused,
//! and that every refusal points at the right file, line and key.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ha_vip::config::{
    Announce, ChecksumAccept, ChecksumForm, Config, ConfigErrors, Diagnostic, LogFormat, load_dir,
};
use ha_vip::wire::{Family, Version};
use tempfile::TempDir;

/// A configuration directory with `routers/` and the given files.
fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("routers")).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn load_ok(dir: &TempDir) -> Config {
    match load_dir(dir.path()) {
        Ok(c) => c,
        Err(e) => panic!("expected the configuration to load, got:\n{e}"),
    }
}

fn load_err(dir: &TempDir) -> ConfigErrors {
    match load_dir(dir.path()) {
        Ok(c) => panic!("expected errors, got {c:#?}"),
        Err(e) => e,
    }
}

/// The one diagnostic of `file` about `key`; fails with the full list
/// when there is none or more than one.
fn find<'a>(diags: &'a [Diagnostic], file: &str, key: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.path.ends_with(file) && d.key.as_deref() == Some(key))
        .collect();
    match found.as_slice() {
        [one] => one,
        _ => panic!(
            "expected one diagnostic for {file} / {key}, got {}:\n{}",
            found.len(),
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Asserts the error about `key` in `file` is at `line:column` and its
/// text reads `FILE:LINE:COLUMN: KEY: ...` and contains `words`.
fn assert_error(e: &ConfigErrors, file: &str, key: &str, line: usize, column: usize, words: &str) {
    let d = find(&e.errors, file, key);
    let loc = d.location.expect("a location");
    assert_eq!((loc.line, loc.column), (line, column), "location of {d}");
    let text = d.to_string();
    let prefix = format!("{file}:{line}:{column}: {key}: ");
    assert!(text.contains(&prefix), "{text:?} should contain {prefix:?}");
    assert!(text.contains(words), "{text:?} should contain {words:?}");
}

const MINIMAL: &str = "interface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

#[test]
fn every_example_directory_loads() {
    let mut seen = Vec::new();
    for entry in fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() {
            continue;
        }
        let config =
            load_dir(&path).unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display()));
        assert!(!config.routers.is_empty(), "{}", path.display());
        assert!(
            config.warnings.is_empty(),
            "{} has warnings: {:?}",
            path.display(),
            config.warnings
        );
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "dual-stack",
            "ipv4",
            "ipv6",
            "kubernetes",
            "unicast",
            "virtual-mac",
            "vrrpv2"
        ]
    );
}

#[test]
fn examples_mean_what_their_comments_say() {
    let ex = |name: &str| load_dir(&examples_dir().join(name)).unwrap();

    let dual = ex("dual-stack");
    let families: Vec<(u8, Family)> = dual.routers.iter().map(|r| (r.vrid, r.family)).collect();
    assert_eq!(families, [(60, Family::Ipv4), (60, Family::Ipv6)]);

    let v2 = ex("vrrpv2");
    let r = &v2.routers[0];
    assert_eq!((r.version, r.advert_interval_cs), (Version::V2, 200));
    assert_eq!(r.preempt_delay, Duration::from_secs(30));

    let uni = ex("unicast");
    let r = &uni.routers[0];
    assert!(r.is_unicast());
    assert_eq!(
        r.unicast_peers,
        [
            "198.51.100.2".parse::<IpAddr>().unwrap(),
            "198.51.100.3".parse().unwrap()
        ]
    );
    assert_eq!(r.source_address, Some("198.51.100.1".parse().unwrap()));

    let k8s = ex("kubernetes");
    assert!(k8s.daemon.k8s.enabled);
    assert!(!k8s.daemon.k8s.in_cluster);
    assert_eq!(k8s.daemon.k8s.api_server, "https://127.0.0.1:6443");
    assert_eq!(k8s.daemon.log.format, LogFormat::Json);

    let v6 = ex("ipv6");
    let r = &v6.routers[0];
    assert_eq!(r.advert_interval_cs, 50);
    assert_eq!(r.announce.refresh, Some(Duration::from_secs(60)));
    assert_eq!(
        (r.announce.repeat, r.announce.delay),
        (3, Duration::from_secs(2))
    );

    assert!(ex("virtual-mac").routers[0].virtual_mac);
}

#[test]
fn a_minimal_router_takes_every_default() {
    let dir = dir_with(&[("routers/vip.toml", MINIMAL)]);
    let config = load_ok(&dir);
    assert_eq!(config.routers.len(), 1);
    let r = &config.routers[0];
    assert_eq!(r.name, "vip");
    assert_eq!(r.path, dir.path().join("routers/vip.toml"));
    assert_eq!(r.interface, "eth0");
    assert_eq!(r.vrid, 51);
    assert_eq!(r.priority, 100);
    assert_eq!(r.version, Version::V3);
    assert_eq!(r.family, Family::Ipv4);
    assert_eq!(r.advert_interval_cs, 100);
    assert_eq!(r.advert_interval(), Duration::from_secs(1));
    assert_eq!(r.addresses.len(), 1);
    assert_eq!(r.addresses[0].to_string(), "192.0.2.100/24");
    assert!(r.preempt);
    assert_eq!(r.preempt_delay, Duration::ZERO);
    assert!(r.accept_mode);
    assert!(r.unicast_peers.is_empty());
    assert_eq!(r.source_address, None);
    assert!(!r.virtual_mac);
    assert_eq!(
        r.announce,
        Announce {
            delay: Duration::from_secs(5),
            repeat: 5,
            interval: Duration::ZERO,
            refresh: None,
            refresh_repeat: 1,
        }
    );
    assert_eq!(r.checksum.send, ChecksumForm::PseudoHeader);
    assert_eq!(r.checksum.accept, ChecksumAccept::Either);

    // No ha-vip.toml: the daemon defaults of DESIGN.md.
    let d = &config.daemon;
    assert_eq!(d.control.socket, Path::new("/run/ha-vip/ha-vip.sock"));
    assert_eq!(d.runtime_dir, Path::new("/run/ha-vip"));
    assert_eq!(
        (d.log.format, d.log.level.as_str()),
        (LogFormat::Text, "info")
    );
    assert!(!d.k8s.enabled && !d.k8s.in_cluster);
    assert_eq!(d.k8s.api_server, "https://127.0.0.1:6443");
    assert_eq!(d.k8s.token, "");
    assert_eq!(
        d.k8s.ca_cert.as_deref(),
        Some(Path::new("/etc/kubernetes/pki/ca.crt"))
    );
}

#[test]
fn plain_addresses_are_host_routes() {
    let dir = dir_with(&[
        (
            "routers/a.toml",
            "interface = \"eth0\"\nvrid = 1\naddresses = [\"192.0.2.1\"]\n",
        ),
        (
            "routers/b.toml",
            "interface = \"eth0\"\nvrid = 2\naddresses = [\"2001:db8::1\"]\n",
        ),
    ]);
    let config = load_ok(&dir);
    assert_eq!(config.routers[0].addresses[0].to_string(), "192.0.2.1/32");
    assert_eq!(
        config.routers[1].addresses[0].to_string(),
        "2001:db8::1/128"
    );
    assert_eq!(config.routers[1].family, Family::Ipv6);
}

#[test]
fn interval_edges_per_version() {
    let with = |version: u8, interval: &str| {
        let text = format!(
            "interface = \"eth0\"\nvrid = 1\nversion = {version}\nadvert_interval = \"{interval}\"\naddresses = [\"192.0.2.1\"]\n"
        );
        let dir = dir_with(&[("routers/r.toml", &text)]);
        load_dir(dir.path()).map(|c| c.routers[0].advert_interval_cs)
    };
    assert_eq!(with(3, "10ms").unwrap(), 1);
    assert_eq!(with(3, "40.95s").unwrap(), 4095);
    assert_eq!(with(3, "1s 500ms").unwrap(), 150);
    assert_eq!(with(3, "1.5s").unwrap(), 150);
    assert!(with(3, "41s").is_err());
    assert!(with(3, "5ms").is_err());
    assert!(with(3, "15ms").is_err());
    assert_eq!(with(2, "1s").unwrap(), 100);
    assert_eq!(with(2, "255s").unwrap(), 25500);
    assert!(with(2, "256s").is_err());
    assert!(with(2, "500ms").is_err());
}

#[test]
fn vrid_out_of_range_points_at_the_value() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "# a comment\ninterface = \"eth0\"\n\n   vrid = 0\naddresses = [\"192.0.2.100/24\"]\n",
    )]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/vip.toml",
        "vrid",
        4,
        11,
        "must be in 1..=255, got 0",
    );
    assert_eq!(e.errors.len(), 1, "{e}");

    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 256\naddresses = [\"192.0.2.100/24\"]\n",
    )]);
    assert_error(&load_err(&dir), "routers/vip.toml", "vrid", 2, 8, "got 256");
}

#[test]
fn priority_zero_is_refused() {
    let dir = dir_with(&[("routers/vip.toml", &format!("{MINIMAL}priority = 0\n"))]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "priority",
        4,
        12,
        "got 0",
    );
}

/// `accept_mode = false` (RFC 9568 6.1 Accept_Mode) is not implemented:
/// refused at its line rather than parsed and ignored; `true` loads.
#[test]
fn accept_mode_false_is_refused_at_its_line() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{MINIMAL}accept_mode = false\n"),
    )]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "accept_mode",
        4,
        15,
        "not supported",
    );
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{MINIMAL}accept_mode = true\n"),
    )]);
    assert!(load_ok(&dir).routers[0].accept_mode);
}

#[test]
fn mixed_families_point_at_the_odd_address() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 5\naddresses = [\n  \"192.0.2.1/24\",\n  \"2001:db8::1/64\",\n]\n",
    )]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "addresses[1]",
        5,
        3,
        "one address family per router",
    );
}

#[test]
fn vrrpv2_is_ipv4_only() {
    let dir = dir_with(&[(
        "routers/v6.toml",
        "interface = \"eth0\"\nvrid = 5\nversion = 2\naddresses = [\"2001:db8::1/64\"]\n",
    )]);
    assert_error(
        &load_err(&dir),
        "routers/v6.toml",
        "version",
        3,
        11,
        "IPv4 only",
    );
}

#[test]
fn vrrpv2_intervals_are_whole_seconds() {
    let dir = dir_with(&[(
        "routers/old.toml",
        &format!("{MINIMAL}version = 2\nadvert_interval = \"1500ms\"\n"),
    )]);
    assert_error(
        &load_err(&dir),
        "routers/old.toml",
        "advert_interval",
        5,
        19,
        "whole seconds",
    );
}

#[test]
fn vrrpv3_intervals_are_centiseconds_up_to_4095() {
    let dir = dir_with(&[(
        "routers/fast.toml",
        &format!("{MINIMAL}advert_interval = \"15ms\"\n"),
    )]);
    assert_error(
        &load_err(&dir),
        "routers/fast.toml",
        "advert_interval",
        4,
        19,
        "multiple of 10ms",
    );
    let dir = dir_with(&[(
        "routers/slow.toml",
        &format!("{MINIMAL}advert_interval = \"1m\"\n"),
    )]);
    assert_error(
        &load_err(&dir),
        "routers/slow.toml",
        "advert_interval",
        4,
        19,
        "40.95s",
    );
}

#[test]
fn the_same_vrid_on_the_same_link_and_family_names_both_files() {
    let dir = dir_with(&[
        ("routers/a.toml", MINIMAL),
        (
            "routers/b.toml",
            "interface = \"eth0\"\n\nvrid = 51\naddresses = [\"192.0.2.200/24\"]\n",
        ),
    ]);
    let e = load_err(&dir);
    assert_error(&e, "routers/b.toml", "vrid", 3, 8, "routers/a.toml:2:8");
    assert!(
        find(&e.errors, "routers/b.toml", "vrid")
            .message
            .contains("router a")
    );

    // Another family or another interface: a different virtual router.
    let dir = dir_with(&[
        ("routers/a.toml", MINIMAL),
        (
            "routers/b.toml",
            "interface = \"eth0\"\nvrid = 51\naddresses = [\"2001:db8::1/64\"]\n",
        ),
        (
            "routers/c.toml",
            "interface = \"eth1\"\nvrid = 51\naddresses = [\"192.0.2.200/24\"]\n",
        ),
    ]);
    assert_eq!(load_ok(&dir).routers.len(), 3);
}

#[test]
fn duplicate_addresses_are_refused_within_and_across_routers() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 5\naddresses = [\"192.0.2.1/24\", \"192.0.2.1/32\"]\n",
    )]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "addresses[1]",
        3,
        30,
        "listed twice",
    );

    let dir = dir_with(&[
        ("routers/a.toml", MINIMAL),
        (
            "routers/b.toml",
            "interface = \"eth1\"\nvrid = 9\naddresses = [\"192.0.2.100/24\"]\n",
        ),
    ]);
    assert_error(
        &load_err(&dir),
        "routers/b.toml",
        "addresses[0]",
        3,
        14,
        "also a virtual address of router a",
    );
}

#[test]
fn empty_or_missing_addresses_are_refused() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 5\naddresses = []\n",
    )]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "addresses",
        3,
        13,
        "at least one",
    );

    let dir = dir_with(&[("routers/vip.toml", "interface = \"eth0\"\nvrid = 5\n")]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "addresses",
        1,
        1,
        "required",
    );
}

#[test]
fn missing_required_keys_are_each_reported() {
    let dir = dir_with(&[("routers/vip.toml", "priority = 10\n")]);
    let e = load_err(&dir);
    for key in ["interface", "vrid", "addresses"] {
        assert_error(&e, "routers/vip.toml", key, 1, 1, "required key is missing");
    }
    assert_eq!(e.errors.len(), 3, "{e}");
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{MINIMAL}prempt = false\n\n[announce]\nrepeat = 2\ncolour = \"blue\"\n"),
    )]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/vip.toml",
        "prempt",
        4,
        1,
        "did you mean `preempt`",
    );
    assert_error(
        &e,
        "routers/vip.toml",
        "announce.colour",
        8,
        1,
        "unknown key",
    );
    assert_eq!(e.errors.len(), 2, "{e}");

    let dir = dir_with(&[
        ("routers/vip.toml", MINIMAL),
        (
            "ha-vip.toml",
            "[control]\nsocket = \"/run/x.sock\"\nmode = 1\n",
        ),
    ]);
    assert_error(
        &load_err(&dir),
        "ha-vip.toml",
        "control.mode",
        3,
        1,
        "unknown key",
    );
}

#[test]
fn bad_durations_are_refused() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!(
            "{MINIMAL}advert_interval = 1\npreempt_delay = \"soon\"\n[announce]\ndelay = \"2h\"\n"
        ),
    )]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/vip.toml",
        "advert_interval",
        4,
        19,
        "duration string",
    );
    assert_error(
        &e,
        "routers/vip.toml",
        "preempt_delay",
        5,
        17,
        "not a duration",
    );
    assert_error(&e, "routers/vip.toml", "announce.delay", 7, 9, "at most 1h");
}

#[test]
fn bad_addresses_are_refused() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 5\naddresses = [\"192.0.2.300/24\", \"192.0.2.1/33\", \"224.0.0.18\", 7]\n",
    )]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/vip.toml",
        "addresses[0]",
        3,
        14,
        "not an IP address",
    );
    assert_error(&e, "routers/vip.toml", "addresses[1]", 3, 32, "1..=32");
    assert_error(&e, "routers/vip.toml", "addresses[2]", 3, 48, "multicast");
    assert_error(
        &e,
        "routers/vip.toml",
        "addresses[3]",
        3,
        62,
        "expected a string",
    );
}

#[test]
fn peers_and_source_must_be_of_the_routers_family() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!(
            "{MINIMAL}unicast_peers = [\"192.0.2.2\", \"2001:db8::2\", \"192.0.2.2\"]\nsource_address = \"2001:db8::1\"\n"
        ),
    )]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/vip.toml",
        "unicast_peers[1]",
        4,
        31,
        "router's family",
    );
    assert_error(
        &e,
        "routers/vip.toml",
        "unicast_peers[2]",
        4,
        46,
        "listed twice",
    );
    assert_error(&e, "routers/vip.toml", "source_address", 5, 18, "IPv6");
}

#[test]
fn checksum_forms_are_vrrpv3_ipv4_only() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{MINIMAL}[checksum]\nsend = \"no-pseudo-header\"\naccept = \"pseudo-header\"\n"),
    )]);
    let r = load_ok(&dir).routers.remove(0);
    assert_eq!(r.checksum.send, ChecksumForm::NoPseudoHeader);
    assert_eq!(r.checksum.accept, ChecksumAccept::PseudoHeader);

    let dir = dir_with(&[(
        "routers/v6.toml",
        "interface = \"eth0\"\nvrid = 5\naddresses = [\"2001:db8::1\"]\n\n[checksum]\nsend = \"pseudo-header\"\n",
    )]);
    assert_error(
        &load_err(&dir),
        "routers/v6.toml",
        "checksum",
        5,
        1,
        "only to VRRPv3 over IPv4",
    );

    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{MINIMAL}checksum.send = \"rfc\"\n"),
    )]);
    assert_error(
        &load_err(&dir),
        "routers/vip.toml",
        "checksum.send",
        4,
        17,
        "got \"rfc\"",
    );
}

#[test]
fn all_errors_of_all_files_are_collected() {
    let dir = dir_with(&[
        (
            "routers/a.toml",
            "interface = \"eth0:1\"\nvrid = 0\npriority = 300\naddresses = [\"nope\"]\nbogus = 1\n",
        ),
        ("routers/b.toml", "vrid = [\n"),
        ("ha-vip.toml", "[log]\nformat = \"xml\"\n"),
    ]);
    let e = load_err(&dir);
    assert_error(
        &e,
        "routers/a.toml",
        "interface",
        1,
        13,
        "not a Linux interface name",
    );
    assert_error(&e, "routers/a.toml", "vrid", 2, 8, "1..=255");
    assert_error(&e, "routers/a.toml", "priority", 3, 12, "got 300");
    assert_error(
        &e,
        "routers/a.toml",
        "addresses[0]",
        4,
        14,
        "not an IP address",
    );
    assert_error(&e, "routers/a.toml", "bogus", 5, 1, "unknown key");
    assert_error(
        &e,
        "ha-vip.toml",
        "log.format",
        2,
        10,
        "\"text\" or \"json\"",
    );
    let syntax: Vec<&Diagnostic> = e
        .errors
        .iter()
        .filter(|d| d.path.ends_with("routers/b.toml"))
        .collect();
    assert!(!syntax.is_empty(), "{e}");
    assert!(
        syntax.iter().all(|d| d.message.starts_with("TOML syntax")),
        "{e}"
    );
    assert_eq!(syntax[0].location.unwrap().line, 1, "{e}");
    // Within a file the errors read top to bottom.
    let a_lines: Vec<usize> = e
        .errors
        .iter()
        .filter(|d| d.path.ends_with("routers/a.toml"))
        .map(|d| d.location.unwrap().line)
        .collect();
    assert_eq!(a_lines, [1, 2, 3, 4, 5]);
}

#[test]
fn duplicate_keys_are_syntax_errors_that_name_the_key() {
    let dir = dir_with(&[("routers/vip.toml", &format!("{MINIMAL}vrid = 52\n"))]);
    let e = load_err(&dir);
    let d = find(&e.errors, "routers/vip.toml", "vrid");
    assert_eq!(d.location.unwrap().line, 4);
    assert!(d.message.contains("duplicate"), "{d}");
}

#[test]
fn daemon_file_values_are_checked() {
    let dir = dir_with(&[
        ("routers/vip.toml", MINIMAL),
        (
            "ha-vip.toml",
            "runtime_dir = \"run\"\n[control]\nsocket = \"ha-vip.sock\"\n[log]\nlevel = \"verbose\"\n[k8s]\napi_server = \"127.0.0.1:6443\"\nenabled = 1\n",
        ),
    ]);
    let e = load_err(&dir);
    assert_error(&e, "ha-vip.toml", "runtime_dir", 1, 15, "absolute path");
    assert_error(&e, "ha-vip.toml", "control.socket", 3, 10, "absolute path");
    assert_error(&e, "ha-vip.toml", "log.level", 5, 9, "got \"verbose\"");
    assert_error(&e, "ha-vip.toml", "k8s.api_server", 7, 14, "https://");
    assert_error(&e, "ha-vip.toml", "k8s.enabled", 8, 11, "true or false");
}

#[test]
fn daemon_file_values_are_kept_and_the_token_is_not_printed() {
    let dir = dir_with(&[
        ("routers/vip.toml", MINIMAL),
        (
            "ha-vip.toml",
            "runtime_dir = \"/tmp/t/run\"\n[control]\nsocket = \"/tmp/t/s.sock\"\n[log]\nformat = \"json\"\nlevel = \"info,ha_vip=debug\"\n[k8s]\nenabled = true\nin_cluster = true\napi_server = \"https://10.0.0.1:443\"\ntoken = \"s3cret-token\"\nca_cert = \"/tmp/ca.crt\"\n",
        ),
    ]);
    let d = load_ok(&dir).daemon;
    assert_eq!(d.runtime_dir, Path::new("/tmp/t/run"));
    assert_eq!(d.control.socket, Path::new("/tmp/t/s.sock"));
    assert_eq!(d.log.format, LogFormat::Json);
    assert_eq!(d.log.level, "info,ha_vip=debug");
    assert!(d.k8s.enabled && d.k8s.in_cluster);
    assert_eq!(d.k8s.api_server, "https://10.0.0.1:443");
    assert_eq!(d.k8s.token, "s3cret-token");
    assert_eq!(d.k8s.ca_cert.as_deref(), Some(Path::new("/tmp/ca.crt")));
    let shown = format!("{d:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn other_entries_of_routers_are_skipped() {
    let dir = dir_with(&[
        ("routers/vip.toml", MINIMAL),
        ("routers/README", "not a router"),
        ("routers/vip.toml.bak", "vrid = 0"),
        ("routers/.vip.toml.swp", "garbage"),
        ("routers/..data/x.toml", "garbage"),
        ("routers/old/x.toml", "garbage"),
    ]);
    let config = load_ok(&dir);
    assert_eq!(config.routers.len(), 1);
    let mut warned: Vec<String> = config
        .warnings
        .iter()
        .map(|w| w.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    warned.sort();
    assert_eq!(warned, ["README", "old", "vip.toml.bak"]);
}

#[test]
fn bad_router_names_are_refused() {
    let dir = dir_with(&[("routers/my vip.toml", MINIMAL)]);
    let e = load_err(&dir);
    assert_eq!(e.errors.len(), 1);
    assert!(e.errors[0].path.ends_with("routers/my vip.toml"));
    assert!(e.errors[0].message.contains("router name"), "{e}");
}

#[test]
fn missing_directories_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("nowhere");
    let e = load_dir(&gone).unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].path, gone);
    assert!(
        e.to_string()
            .contains("nowhere: cannot read the configuration directory"),
        "{e}"
    );

    // A directory without routers/: named too.
    let e = load_dir(dir.path()).unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].path, dir.path().join("routers"));

    // An empty routers/ is valid, with a warning.
    fs::create_dir(dir.path().join("routers")).unwrap();
    let config = load_dir(dir.path()).unwrap();
    assert!(config.routers.is_empty());
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].message.contains("no router files"));
}

#[test]
fn settings_without_effect_are_warnings() {
    let dir = dir_with(&[(
        "routers/owner.toml",
        &format!("{MINIMAL}priority = 255\npreempt = false\npreempt_delay = \"3s\"\n"),
    )]);
    let config = load_ok(&dir);
    assert!(config.routers[0].is_owner());
    let w = find(&config.warnings, "routers/owner.toml", "preempt");
    assert_eq!(w.location.unwrap().line, 5);
    let w = find(&config.warnings, "routers/owner.toml", "preempt_delay");
    assert_eq!(w.location.unwrap().line, 6);
}

#[test]
fn reload_compares_routers_by_value() {
    let dir = dir_with(&[
        ("routers/a.toml", MINIMAL),
        (
            "routers/b.toml",
            "interface = \"eth0\"\nvrid = 52\naddresses = [\"192.0.2.52/24\"]\n",
        ),
        (
            "routers/c.toml",
            "interface = \"eth0\"\nvrid = 53\naddresses = [\"192.0.2.53/24\"]\n",
        ),
    ]);
    let old = load_ok(&dir);

    // a: only comments, order and explicit defaults change: unchanged.
    fs::write(
        dir.path().join("routers/a.toml"),
        "# the VIP\naddresses = [\"192.0.2.100/24\"]\nvrid = 51\ninterface = \"eth0\"\npriority = 100\n",
    )
    .unwrap();
    // b: a real change.
    fs::write(
        dir.path().join("routers/b.toml"),
        "interface = \"eth0\"\nvrid = 52\npriority = 110\naddresses = [\"192.0.2.52/24\"]\n",
    )
    .unwrap();
    // c removed, d added.
    fs::remove_file(dir.path().join("routers/c.toml")).unwrap();
    fs::write(
        dir.path().join("routers/d.toml"),
        "interface = \"eth0\"\nvrid = 54\naddresses = [\"192.0.2.54/24\"]\n",
    )
    .unwrap();
    let new = load_ok(&dir);

    let ch = old.changes(&new);
    let names =
        |v: &[&ha_vip::config::Router]| v.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ch.unchanged), ["a"]);
    assert_eq!(names(&ch.removed), ["c"]);
    assert_eq!(names(&ch.added), ["d"]);
    assert_eq!(ch.changed.len(), 1);
    assert_eq!(
        (ch.changed[0].0.priority, ch.changed[0].1.priority),
        (100, 110)
    );
    assert_eq!(old.router("a"), new.router("a"));
}

#[test]
fn unreadable_router_files_are_named() {
    let dir = dir_with(&[("routers/ok.toml", MINIMAL)]);
    let routers = dir.path().join("routers");
    // A dangling link (a ConfigMap being swapped, a deleted target).
    std::os::unix::fs::symlink(dir.path().join("gone.toml"), routers.join("link.toml")).unwrap();
    fs::write(routers.join("latin1.toml"), b"interface = \"\xe9th0\"\n").unwrap();
    let e = load_err(&dir);
    assert_eq!(e.errors.len(), 2, "{e}");
    let link = e
        .errors
        .iter()
        .find(|d| d.path.ends_with("routers/link.toml"))
        .unwrap();
    assert!(link.message.starts_with("cannot read"), "{link}");
    assert_eq!(link.location, None);
    let latin1 = e
        .errors
        .iter()
        .find(|d| d.path.ends_with("routers/latin1.toml"))
        .unwrap();
    assert_eq!(latin1.message, "not valid UTF-8");
}
