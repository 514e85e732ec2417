//! `ha-vip import-keepalived` as a user runs it: exit codes, the report,
//! `--force`, `--dry-run`, and errors that name the file and line.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import")
}

fn ha_vip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .arg("import-keepalived")
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn writes_the_files_and_reports_them() {
    let conf = fixtures().join("kubeadm/keepalived.conf");
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("ha-vip");
    let out = ha_vip(&[conf.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let router = out_dir.join("routers/VI_1.toml");
    assert_eq!(
        fs::read_to_string(&router).unwrap(),
        fs::read_to_string(fixtures().join("kubeadm/expected/routers/VI_1.toml")).unwrap()
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("ha-vip.toml")).unwrap(),
        fs::read_to_string(fixtures().join("kubeadm/expected/ha-vip.toml")).unwrap()
    );
    let first = stdout.lines().next().unwrap();
    assert_eq!(
        first,
        format!("wrote {} (vrrp_instance VI_1)", router.display())
    );
    // Everything converted: no NOT CONVERTED section; the password's note
    // names the place, never the password.
    assert!(!stdout.contains("NOT CONVERTED"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{}:28: authentication: auth_pass kept",
            conf.display()
        )),
        "{stdout}"
    );
}

#[test]
fn refuses_to_overwrite_without_force() {
    let conf = fixtures().join("unicast/keepalived.conf");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    assert_eq!(
        ha_vip(&[conf.to_str().unwrap(), "-o", dir]).status.code(),
        Some(0)
    );
    let router = tmp.path().join("routers/VI_UNICAST.toml");
    fs::write(&router, "# edited by hand\n").unwrap();

    let again = ha_vip(&[conf.to_str().unwrap(), "-o", dir]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(stderr.contains("refusing to overwrite"), "{stderr}");
    assert!(stderr.contains(&router.display().to_string()), "{stderr}");
    assert_eq!(fs::read_to_string(&router).unwrap(), "# edited by hand\n");

    let forced = ha_vip(&[conf.to_str().unwrap(), "-o", dir, "--force"]);
    assert_eq!(forced.status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(&router).unwrap(),
        fs::read_to_string(fixtures().join("unicast/expected/routers/VI_UNICAST.toml")).unwrap()
    );
}

#[test]
fn dry_run_prints_and_writes_nothing() {
    let conf = fixtures().join("vmac/keepalived.conf");
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("never");
    let out = ha_vip(&[
        conf.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let expected =
        fs::read_to_string(fixtures().join("vmac/expected/routers/VI_VMAC.toml")).unwrap();
    assert_eq!(
        text(&out.stdout),
        format!(
            "==> {} <==\n{expected}\n",
            out_dir.join("routers/VI_VMAC.toml").display()
        )
    );
    assert!(text(&out.stderr).contains("NOT CONVERTED"));
    assert!(!out_dir.exists());
}

/// A refused input: exit 1, the first stderr line, nothing written.
fn refused(file: &str) -> String {
    let conf = fixtures().join("errors").join(file);
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let out = ha_vip(&[conf.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{file}");
    assert!(!out_dir.exists(), "{file}: something was written");
    assert!(out.stdout.is_empty(), "{file}");
    text(&out.stderr).replace(&format!("{}/", fixtures().join("errors").display()), "")
}

#[test]
fn unbalanced_braces_are_file_line_errors() {
    let e = refused("unbalanced-open.conf");
    assert!(
        e.starts_with("unbalanced-open.conf:1: unbalanced braces: this `{` is never closed\n"),
        "{e}"
    );
    let e = refused("unbalanced-close.conf");
    assert!(
        e.starts_with("unbalanced-close.conf:8: unbalanced braces: `}` without a matching `{`\n"),
        "{e}"
    );
    let e = refused("unterminated-quote.conf");
    assert!(
        e.starts_with("unterminated-quote.conf:2: unterminated quote"),
        "{e}"
    );
}

#[test]
fn a_missing_include_is_an_error() {
    let e = refused("missing-include.conf");
    assert!(
        e.starts_with("missing-include.conf:4: include: cannot read conf.d/does-not-exist.conf: "),
        "{e}"
    );
}

#[test]
fn an_instance_that_cannot_be_converted_writes_nothing() {
    let e = refused("no-vrid.conf");
    assert!(
        e.contains("\nERRORS\nno-vrid.conf:1: virtual_router_id: VI_1: no virtual_router_id\n"),
        "{e}"
    );
    assert!(
        e.ends_with("1 instance not converted, nothing written\n"),
        "{e}"
    );
}

#[test]
fn an_unreadable_file_is_an_error() {
    let out = ha_vip(&["/nonexistent/keepalived.conf", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("/nonexistent/keepalived.conf: cannot read: "));
}

#[test]
fn output_directory_is_required_unless_dry_run() {
    let conf = fixtures().join("kubeadm/keepalived.conf");
    let out = ha_vip(&[conf.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--output"));
}

#[test]
fn the_guide_with_its_placeholders_unfilled_names_each_line() {
    // The kubeadm HA guide's file as printed, `${...}` placeholders and all.
    let e = refused("kubeadm-placeholders.conf");
    // "kubeadm-placeholders.conf:16: interface: ..." -> "16 interface"
    let errors: Vec<String> = e
        .split("\nERRORS\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("ha-vip import-keepalived:"))
        .map(|l| {
            let mut parts = l.splitn(3, ": ");
            let place = parts.next().unwrap();
            let kw = parts.next().unwrap();
            format!("{} {kw}", place.rsplit(':').next().unwrap())
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            "14 virtual_ipaddress",
            "16 interface",
            "17 virtual_router_id",
            "18 priority",
            "24 virtual_ipaddress"
        ]
    );
    assert!(e.contains(
        "\"${PRIORITY}\" is not a priority in 1..=255 (an undefined keepalived parameter?"
    ));
}
