//! `ha-vip decode` as a user runs it: the binary, its output and exit code.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn packet(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packets")
        .join(name)
}

fn decode(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .arg("decode")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn expected(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(packet(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn json_prints_one_object_per_packet_equal_to_the_expected_file() {
    let file = packet("v3-ipv4-multi.pcap");
    let out = decode(&[file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, expected("v3-ipv4-multi.expected.json"));
}

#[test]
fn text_prints_one_line_per_packet_with_the_vrrp_fields() {
    let file = packet("v2-auth-simple.pcap");
    let out = decode(&[file.to_str().unwrap()]);
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected("v2-auth-simple.expected.json").len());
    let advert = lines
        .iter()
        .find(|l| l.contains("VRRPv2"))
        .expect("a VRRPv2 line");
    for part in [
        "192.0.2.1 > 224.0.0.18",
        "vrid 51",
        "prio 100",
        "intvl 100cs",
        "[192.0.2.100]",
        "auth simple-text \"hvvpass\"",
        "checksum ok (no-pseudo-header)",
        "ttl 255 ok",
    ] {
        assert!(advert.contains(part), "{part:?} not in {advert:?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ARP request") && l.ends_with("gratuitous")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("other (IPv4 protocol 2)")),
        "{text}"
    );
}

#[test]
fn a_bad_packet_shows_counter_and_reason_and_still_exits_zero() {
    let file = packet("neg-ttl254.pcap");
    let out = decode(&[file.to_str().unwrap()]);
    // A bad packet is a finding, not a failure of the tool.
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("VRRP BAD [ttl_not_255] TTL/hop limit 254, must be 255"),
        "{text}"
    );
    assert!(text.contains("ttl 254 bad"), "{text}");
}

#[test]
fn expect_version_and_checksum_options_reach_the_parser() {
    let file = packet("neg-v2-where-v3-expected.pcap");
    let plain = stdout(&decode(&[file.to_str().unwrap()]));
    assert!(plain.contains("VRRPv2 vrid 51"), "{plain}");
    let v3 = stdout(&decode(&[file.to_str().unwrap(), "--expect-version", "3"]));
    assert!(v3.contains("[unexpected_version]"), "{v3}");
    let v2 = stdout(&decode(&[file.to_str().unwrap(), "--expect-version", "2"]));
    assert!(v2.contains("VRRPv2 vrid 51"), "{v2}");

    let rfc = packet("v3-ipv4-rfc-checksum.pcap");
    let either = stdout(&decode(&[rfc.to_str().unwrap()]));
    assert_eq!(
        either.matches("checksum ok (no-pseudo-header)").count(),
        2,
        "{either}"
    );
    let pseudo = stdout(&decode(&[
        rfc.to_str().unwrap(),
        "--checksum",
        "pseudo-header",
    ]));
    assert_eq!(pseudo.matches("[bad_checksum]").count(), 2, "{pseudo}");
    let none = stdout(&decode(&[
        rfc.to_str().unwrap(),
        "--checksum",
        "no-pseudo-header",
    ]));
    assert_eq!(
        none.matches("checksum ok (no-pseudo-header)").count(),
        2,
        "{none}"
    );
}

#[test]
fn bad_option_values_are_refused() {
    let file = packet("v3-ipv4-single.pcap");
    for args in [
        ["--expect-version", "4"],
        ["--expect-version", "x"],
        ["--checksum", "sometimes"],
    ] {
        let out = decode(&[file.to_str().unwrap(), args[0], args[1]]);
        assert!(!out.status.success(), "{args:?} accepted");
    }
}

#[test]
fn a_missing_or_corrupt_file_exits_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();

    let missing = dir.path().join("missing.pcap");
    let out = decode(&[missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pcap"));

    let text = dir.path().join("notes.pcap");
    std::fs::write(&text, "not a capture at all\n").unwrap();
    let out = decode(&[text.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a pcap or pcapng file"), "{err}");

    // The first packets of a capture cut in the middle of a later one are
    // still printed, then the error.
    let whole = std::fs::read(packet("v3-ipv4-single.pcap")).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &whole[..whole.len() - 10]).unwrap();
    let out = decode(&[cut.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt capture at frame 8"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(stdout(&out).lines().count(), 7);
}

#[test]
fn dash_reads_the_capture_from_standard_input() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .args(["decode", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(packet("raw-ip.pcapng")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, expected("raw-ip.expected.json"));
}
