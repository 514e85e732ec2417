//! The reader and the converter never panic, whatever the text: arbitrary
//! strings, strings made of keepalived's own tokens, and the fixtures with
//! bytes cut out or repeated. (A cargo-fuzz target on `parse` + `convert`
//! can reuse the same entry points.)

use std::fs;
use std::path::Path;

use ha_vip::import::{convert, parse, report};
use proptest::prelude::*;

fn run(text: &str) {
    if let Ok(ast) = parse(text) {
        let conv = convert(&ast);
        let _ = report(&conv, Path::new("out"), "would write");
        // Every produced router name is one the loader accepts.
        for r in &conv.routers {
            assert!(!r.name.is_empty() && r.name.len() <= 64 && !r.name.starts_with('.'));
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            );
        }
    }
}

fn fixture_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import");
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path().join("keepalived.conf");
        if let Ok(t) = fs::read_to_string(p) {
            out.push(t);
        }
    }
    out.sort();
    out
}

const TOKENS: &[&str] = &[
    "vrrp_instance",
    "vrrp_script",
    "global_defs",
    "vrrp_sync_group",
    "include",
    "{",
    "}",
    "\n",
    " ",
    "\"",
    "'",
    "\\",
    "#",
    "!",
    "@a ",
    "@^a ",
    "$A=",
    "$A",
    "${A}",
    "${",
    "interface",
    "eth0",
    "virtual_router_id",
    "255",
    "0",
    "priority",
    "advert_int",
    "0.001",
    "99999999999",
    "virtual_ipaddress",
    "192.0.2.1/24",
    "2001:db8::1",
    "/0",
    "dev",
    "track_script",
    "weight",
    "-254",
    "script",
    "version",
    "2",
    "3",
    "unicast_peer",
    "use_vmac",
    "authentication",
    "auth_type",
    "PASS",
    "notify",
    "~SEQ(",
    "$B=${A}${A}${A}${A}",
    "$A=${B}${B}",
    "\\\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,400}") {
        run(&text);
    }

    #[test]
    fn keepalived_tokens(parts in proptest::collection::vec(proptest::sample::select(TOKENS), 0..120)) {
        run(&parts.concat());
    }

    #[test]
    fn mutated_fixtures(which in 0usize..16, cut in 0usize..2000, len in 0usize..40, repeat in 0usize..3) {
        let texts = fixture_texts();
        let t = &texts[which % texts.len()];
        let b = t.as_bytes();
        let start = cut.min(b.len());
        let end = (start + len).min(b.len());
        let mut m = b[..start].to_vec();
        for _ in 0..repeat {
            m.extend_from_slice(&b[start..end]);
        }
        m.extend_from_slice(&b[end..]);
        run(&String::from_utf8_lossy(&m));
    }
}

#[test]
fn exponential_parameters_are_bounded() {
    // Each level doubles the text: without the bounds this is 2^40 bytes.
    let mut text = String::from("$A0=x\n");
    for i in 1..40 {
        text.push_str(&format!("$A{i}=${{A{}}}${{A{}}}\n", i - 1, i - 1));
    }
    text.push_str("priority ${A39}\n");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, 41);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = "a {\n".repeat(10_000);
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
}
