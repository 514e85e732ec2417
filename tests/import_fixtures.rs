//! `import-keepalived` on real-world style keepalived configurations.
//!
//! Each `tests/import/NAME/` holds a `keepalived.conf` (and what it
//! includes), the router files expected from it in `expected/` (written by
//! hand from reading the input, never saved from the tool's output), and
//! `not_converted.txt`: the `FILE:LINE: KEYWORD` of every NOT CONVERTED
//! entry, in report order. The produced files are compared with the
//! expected ones file by file, and then loaded with `config::load_dir` to
//! prove that ha-vip accepts them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ha_vip::import::{
    Conversion, FsSource, ParseOptions, convert, output_files, parse_with, report, write_files,
};

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/import")
        .join(name)
}

fn import(name: &str, options: &ParseOptions) -> Conversion {
    let dir = fixture_dir(name);
    let text = fs::read_to_string(dir.join("keepalived.conf")).unwrap();
    let ast = parse_with(
        &text,
        "keepalived.conf",
        Some(&dir),
        options,
        Some(&mut FsSource),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    convert(&ast)
}

/// Every file under `dir`, by path relative to it.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

fn check_fixture(name: &str) {
    let dir = fixture_dir(name);
    let conv = import(name, &ParseOptions::default());
    assert!(
        conv.ok(),
        "{name}: errors:\n{}",
        report(&conv, Path::new("out"), "would write")
    );

    // File by file against the hand-written expectation.
    let produced: BTreeMap<String, String> = output_files(&conv)
        .into_iter()
        .map(|(p, t)| (p.display().to_string(), t.to_string()))
        .collect();
    let expected = read_tree(&dir.join("expected"));
    assert_eq!(
        produced.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{name}: the set of files"
    );
    for (path, want) in &expected {
        assert_eq!(&produced[path], want, "{name}: {path}");
    }

    // The NOT CONVERTED entries, by place and keyword.
    let prefix = format!("{}/", dir.display());
    let got: Vec<String> = conv
        .not_converted
        .iter()
        .map(|n| {
            format!(
                "{}:{}: {}",
                n.file.strip_prefix(&prefix).unwrap_or(&n.file),
                n.line,
                n.keyword
            )
        })
        .collect();
    let want: Vec<String> = fs::read_to_string(dir.join("not_converted.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert_eq!(got, want, "{name}: NOT CONVERTED");

    // ha-vip accepts what was written, as it is: checks, tracks and notify
    // programs included.
    let out = tempfile::tempdir().unwrap();
    write_files(&conv, out.path(), false).unwrap();
    let config = ha_vip::config::load_dir(out.path())
        .unwrap_or_else(|e| panic!("{name}: ha-vip refuses the import:\n{e}"));
    assert_eq!(config.routers.len(), conv.routers.len(), "{name}");
    let tracked: usize = config.routers.iter().map(|r| r.track.len()).sum();
    let expected_tracks: usize = expected
        .values()
        .map(|t| t.lines().filter(|l| l.starts_with("track = ")).count())
        .sum();
    assert!(tracked >= expected_tracks, "{name}: tracks lost on load");
}

#[test]
fn kubeadm_ha_guide() {
    check_fixture("kubeadm");
    // The password is a secret: it appears nowhere in the report.
    let conv = import("kubeadm", &ParseOptions::default());
    let r = report(&conv, Path::new("out"), "wrote");
    // The VRRPv2 password is carried over (keepalived peers check it), with
    // a note that it protects nothing; the report never prints it.
    assert!(!r.contains("NOT CONVERTED"), "{r}");
    assert!(
        r.contains("authentication: auth_pass kept for VRRPv2 peers"),
        "{r}"
    );
    assert!(!r.contains("\"42\""), "{r}");
    // The state hint is explained, not silently dropped.
    assert!(
        conv.notes
            .iter()
            .any(|n| n.keyword == "state" && n.line == 24 && n.message.starts_with("MASTER"))
    );
}

#[test]
fn dual_stack_two_instances() {
    check_fixture("dual-stack");
}

#[test]
fn unicast() {
    check_fixture("unicast");
}

#[test]
fn vrrpv2_with_pass_authentication() {
    check_fixture("v2-auth");
    let conv = import("v2-auth", &ParseOptions::default());
    let r = report(&conv, Path::new("out"), "wrote");
    assert!(!r.contains("s3cr3tpw"), "{r}");
    // keepalived rounds 2.4s to 2s for VRRPv2: said, not hidden.
    assert!(
        conv.notes
            .iter()
            .any(|n| n.keyword == "advert_int" && n.line == 15 && n.message.contains("2s written"))
    );
}

#[test]
fn includes_and_sync_group() {
    check_fixture("includes");
}

#[test]
fn virtual_mac() {
    check_fixture("vmac");
}

#[test]
fn unknown_keywords_conditionals_and_odd_names() {
    check_fixture("odds");
    let conv = import("odds", &ParseOptions::default());
    let skipped: Vec<u32> = conv
        .notes
        .iter()
        .filter(|n| n.keyword.starts_with("@node"))
        .map(|n| n.line)
        .collect();
    assert_eq!(skipped, vec![4, 5, 16]);
}

#[test]
fn config_id_selects_the_conditional_lines() {
    let conv = import(
        "odds",
        &ParseOptions {
            config_id: Some("node1".into()),
        },
    );
    // @node1 priority 150, raised by the positive weight 10.
    let text = &conv.routers[0].text;
    assert!(text.contains("\npriority = 160\n"), "{text}");
    assert!(!conv.notes.iter().any(|n| n.keyword.starts_with('@')));
}
