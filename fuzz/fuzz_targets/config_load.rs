//! Fuzz the configuration loader: any text, as a router file and as
//! ha-vip.toml, must give a value or errors with positions, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = ha_vip::config::parse_router_text("fuzz", &text) {
        // Every error must render (file:line:col: key: message).
        let _ = e.to_string();
    }
    if let Err(e) = ha_vip::config::parse_daemon_text(&text) {
        let _ = e.to_string();
    }
});
