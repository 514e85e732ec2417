//! Every capture in packets/ decodes to its NAME.expected.json, and our
//! decode of keepalived's real packets agrees field by field with tshark's.
//!
//! The expected files are written from tshark and by hand (packets/README.md),
//! never from this decoder, so a regression in `wire` or `decode` shows here.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use ha_vip::decode::{DecodeArgs, decode_file};
use serde_json::Value;

fn packets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packets")
}

fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(packets_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap") | Some("pcapng")
            )
        })
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_str().unwrap().to_string()
}

/// `ha-vip decode` as the CLI would parse it, with the vector's NAME.args.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: DecodeArgs,
}

fn args_for(capture: &Path) -> DecodeArgs {
    let args_file = capture.with_file_name(format!("{}.args", stem(capture)));
    let extra = std::fs::read_to_string(&args_file).unwrap_or_default();
    let mut argv = vec!["decode".to_string(), capture.display().to_string()];
    argv.extend(extra.split_whitespace().map(str::to_string));
    Cli::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{}: bad args {argv:?}: {e}", args_file.display()))
        .args
}

fn decoded_json(capture: &Path) -> Vec<Value> {
    let args = args_for(capture);
    let decoded = decode_file(capture, &args.parse_options())
        .unwrap_or_else(|e| panic!("{}: {e}", capture.display()));
    decoded
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect()
}

#[test]
fn there_are_vectors() {
    // A moved or emptied packets/ directory must not pass silently.
    assert!(
        captures().len() >= 20,
        "expected the captured and crafted vectors in {}",
        packets_dir().display()
    );
}

#[test]
fn every_capture_matches_its_expected_decode() {
    let mut failures = Vec::new();
    for capture in captures() {
        let expected_path = capture.with_file_name(format!("{}.expected.json", stem(&capture)));
        let Ok(text) = std::fs::read_to_string(&expected_path) else {
            failures.push(format!("{}: missing", expected_path.display()));
            continue;
        };
        let expected: Vec<Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let got = decoded_json(&capture);
        if got.len() != expected.len() {
            failures.push(format!(
                "{}: {} packets decoded, {} expected",
                capture.display(),
                got.len(),
                expected.len()
            ));
        }
        for (g, e) in got.iter().zip(&expected) {
            if g != e {
                failures.push(format!(
                    "{} frame {}:\n  got      {g}\n  expected {e}",
                    capture.display(),
                    e["frame"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_expected_file_has_its_capture() {
    for entry in std::fs::read_dir(packets_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let Some(base) = name.strip_suffix(".expected.json") else {
            continue;
        };
        let dir = packets_dir();
        assert!(
            dir.join(format!("{base}.pcap")).exists()
                || dir.join(format!("{base}.pcapng")).exists(),
            "{name} has no capture"
        );
    }
}

/// The captures keepalived made (scripts/capture-vectors.sh).
const KEEPALIVED_CAPTURES: &[&str] = &[
    "v3-ipv4-single.pcap",
    "v3-ipv4-multi.pcap",
    "v3-ipv6.pcap",
    "v2-noauth.pcap",
    "v2-auth-simple.pcap",
    "priority0-shutdown.pcap",
    "garp.pcap",
    "na.pcap",
    "v3-ipv4-sll.pcap",
    "v2-sll2.pcap",
    "failover-v3-ipv4.pcap",
    "v3-ipv4-unicast.pcap",
];

/// The tshark fields compared (`tshark -G fields | grep vrrp`).
const TSHARK_FIELDS: &[&str] = &[
    "frame.number",
    "vrrp.version",
    "vrrp.virt_rtr_id",
    "vrrp.prio",
    "vrrp.addr_count",
    "vrrp.short_adver_int",
    "vrrp.adver_int",
    "vrrp.ip_addr",
    "vrrp.ipv6_addr",
    "vrrp.auth_type",
    "vrrp.auth_string",
    "vrrp.checksum.status",
    "ip.src",
    "ip.dst",
    "ip.ttl",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.hlim",
];

fn tshark(capture: &Path) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"])
        .arg(capture)
        .args(["-Y", "vrrp", "-T", "fields", "-E", "separator=\t"])
        .args(["-E", "aggregator=,", "-E", "occurrence=a"]);
    for f in TSHARK_FIELDS {
        cmd.args(["-e", f]);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "tshark could not be run ({e}). This test needs it to cross-check the decoder: \
             install it with `apt-get install tshark` (Debian/Ubuntu) or `dnf install wireshark-cli`."
        ),
    };
    assert!(
        out.status.success(),
        "tshark failed on {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn tshark_agrees_with_decode_on_keepalived_captures() {
    let mut compared = 0;
    let mut failures = Vec::new();
    for name in KEEPALIVED_CAPTURES {
        let capture = packets_dir().join(name);
        assert!(capture.exists(), "{} is missing", capture.display());
        let ours = decoded_json(&capture);
        for row in tshark(&capture) {
            let field = |name: &str| -> &str {
                let i = TSHARK_FIELDS.iter().position(|f| *f == name).unwrap();
                row.get(i).map(String::as_str).unwrap_or("")
            };
            let frame: u64 = field("frame.number").parse().unwrap();
            let Some(d) = ours.iter().find(|d| d["frame"] == frame) else {
                failures.push(format!("{name} frame {frame}: not decoded"));
                continue;
            };
            let version: u64 = field("vrrp.version").parse().unwrap();
            let interval_cs: u64 = if version == 3 {
                field("vrrp.short_adver_int").parse().unwrap()
            } else {
                field("vrrp.adver_int").parse::<u64>().unwrap() * 100
            };
            let addrs: Vec<String> = [field("vrrp.ip_addr"), field("vrrp.ipv6_addr")]
                .iter()
                .flat_map(|s| s.split(','))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let ttl: u64 = format!("{}{}", field("ip.ttl"), field("ipv6.hlim"))
                .parse()
                .unwrap();
            let src = format!("{}{}", field("ip.src"), field("ipv6.src"));
            let dst = format!("{}{}", field("ip.dst"), field("ipv6.dst"));
            // tshark's checksum status 1 = good (it checks v3/IPv4 with the
            // pseudo-header by default, keepalived's form).
            let checksum = if field("vrrp.checksum.status") == "1" {
                "ok"
            } else {
                "bad"
            };
            let mut want = serde_json::json!({
                "proto": "vrrp",
                "version": version,
                "vrid": field("vrrp.virt_rtr_id").parse::<u64>().unwrap(),
                "priority": field("vrrp.prio").parse::<u64>().unwrap(),
                "interval_cs": interval_cs,
                "addresses": addrs,
                "ttl": ttl,
                "src": src,
                "dst": dst,
                "checksum": checksum,
            });
            assert_eq!(
                addrs.len(),
                field("vrrp.addr_count").parse::<usize>().unwrap(),
                "{name} frame {frame}: tshark's own count"
            );
            if version == 2 {
                want["auth"] = match field("vrrp.auth_type") {
                    "0" => serde_json::json!({"type": "none"}),
                    "1" => {
                        serde_json::json!({"type": "simple-text", "password": field("vrrp.auth_string")})
                    }
                    other => panic!("{name} frame {frame}: auth type {other} not in the vectors"),
                };
            }
            for (key, value) in want.as_object().unwrap() {
                if &d[key] != value {
                    failures.push(format!(
                        "{name} frame {frame} {key}: decode {} tshark {value}",
                        d[key]
                    ));
                }
            }
            compared += 1;
        }
        // And every packet decode calls VRRP is one tshark calls VRRP.
        let tshark_frames = tshark(&capture).len();
        let our_frames = ours.iter().filter(|d| d["proto"] == "vrrp").count();
        if tshark_frames != our_frames {
            failures.push(format!(
                "{name}: tshark sees {tshark_frames} VRRP packets, decode {our_frames}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The captures hold adverts of every kind; a filter gone wrong must fail.
    assert!(compared >= 20, "only {compared} VRRP packets compared");
}
