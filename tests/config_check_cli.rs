//! `ha-vip check` as a user runs it: exit codes, stdout, stderr.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .arg("check")
        .arg("--config")
        .arg(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn router_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("routers")).unwrap();
    for (name, body) in files {
        fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

#[test]
fn a_valid_directory_prints_what_would_run_and_exits_0() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dual-stack");
    let out = check(&dir);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains(
        "router api-v4: interface eth0, VRID 60, IPv4, VRRPv3, priority 200, advert_interval 1s, addresses 192.0.2.60/24 192.0.2.61/24, multicast 224.0.0.18, preempt, accept_mode"
    ), "{stdout}");
    assert!(
        stdout.contains("router api-v6: interface eth0, VRID 60, IPv6, VRRPv3"),
        "{stdout}"
    );
    assert!(stdout.contains("multicast ff02::12"), "{stdout}");
    assert!(
        stdout.contains("daemon: control socket /run/ha-vip/ha-vip.sock"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: 2 virtual routers"), "{stdout}");
}

#[test]
fn unicast_and_version_2_show_in_the_summary() {
    let dir = router_dir(&[(
        "routers/old.toml",
        "interface = \"lo\"\nvrid = 7\nversion = 2\nadvert_interval = \"3s\"\naddresses = [\"192.0.2.7\"]\nunicast_peers = [\"192.0.2.8\"]\npreempt = false\n",
    )]);
    let out = check(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains("router old: interface lo, VRID 7, IPv4, VRRPv2, priority 100, advert_interval 3s, addresses 192.0.2.7/32, unicast to 192.0.2.8, no preempt"), "{stdout}");
    // "lo" exists on every Linux host: no interface warning.
    assert!(
        !text(&out.stderr).contains("does not exist"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_go_to_stderr_with_file_line_column_key_and_exit_1() {
    let dir = router_dir(&[
        (
            "routers/vip.toml",
            "interface = \"eth0\"\nvrid = 0\naddresses = [\"192.0.2.100/24\"]\nfoo = 1\n",
        ),
        (
            "routers/other.toml",
            "interface = \"eth0\"\nvrid = 9\npriority = 0\naddresses = [\"192.0.2.9/24\"]\n",
        ),
    ]);
    let out = check(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
    let vip = dir.path().join("routers/vip.toml");
    let other = dir.path().join("routers/other.toml");
    for line in [
        format!("{}:2:8: vrid: must be in 1..=255, got 0", vip.display()),
        format!("{}:4:1: foo: unknown key", vip.display()),
        format!(
            "{}:3:12: priority: must be in 1..=255, got 0",
            other.display()
        ),
    ] {
        assert!(stderr.contains(&line), "{line:?} not in:\n{stderr}");
    }
    assert!(stderr.contains("refused: 3 errors"), "{stderr}");
}

#[test]
fn a_missing_interface_is_only_a_warning() {
    let dir = router_dir(&[(
        "routers/vip.toml",
        "interface = \"nosuchif0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n",
    )]);
    let out = check(dir.path());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: ")
            && stderr.contains("interface: nosuchif0 does not exist on this host"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("router vip: interface nosuchif0"));
}

#[test]
fn a_missing_directory_is_named_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("etc-ha-vip");
    let out = check(&gone);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: cannot read the configuration directory",
            gone.display()
        )),
        "{stderr}"
    );
}

/// Several nodes' directories at once: the tracked weight is checked
/// against the other nodes' priorities.
#[test]
fn check_warns_when_a_weight_cannot_move_the_vip() {
    let make = |prio: u8, weight: i32| {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("routers")).unwrap();
        std::fs::write(
            d.path().join("routers/api.toml"),
            format!("interface = \"eth0\"\nvrid = 51\npriority = {prio}\naddresses = [\"192.0.2.100/24\"]\n"),
        )
        .unwrap();
        std::fs::write(
            d.path().join("ha-vip.toml"),
            format!("[k8s]\nenabled = true\nweight = {weight}\n"),
        )
        .unwrap();
        d
    };
    let run = |dirs: &[&tempfile::TempDir]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ha-vip"));
        cmd.arg("check");
        for d in dirs {
            cmd.arg("--config").arg(d.path());
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // 150 - 10 = 140 is not below 140: the VIP would not move.
    let (a, b) = (make(150, -10), make(140, -10));
    let err = run(&[&a, &b]);
    assert!(err.contains("too small to move the VIP"), "{err}");
    // -50 moves it: no such warning.
    let (a, b) = (make(150, -50), make(140, -50));
    let err = run(&[&a, &b]);
    assert!(!err.contains("too small"), "{err}");
    // One directory: a hint to pass the others.
    let err = run(&[&a]);
    assert!(err.contains("pass every node's directory"), "{err}");
}
