//! Fuzz the keepalived importer: parse then convert any text; no input may
//! panic or hang.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(ast) = ha_vip::import::parse(&text) {
        let conv = ha_vip::import::convert(&ast);
        let _ = ha_vip::import::report(&conv, std::path::Path::new("out"), "would write");
    }
});
