//! No capture, however broken, makes decode panic: every vector cut at every
//! length and with every byte changed decodes to packets or to an error.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use ha_vip::decode::{DecodeError, decode_reader};
use ha_vip::wire::ParseOptions;

fn vectors() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("packets");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
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
    assert!(!files.is_empty());
    files
}

/// Decode `bytes`; Err(description) if it panicked.
fn decode_bytes(bytes: &[u8]) -> Result<Result<usize, DecodeError>, String> {
    let opts = ParseOptions::default();
    catch_unwind(AssertUnwindSafe(|| {
        let mut n = 0;
        decode_reader(bytes, Path::new("mutant"), &opts, |_| n += 1).map(|()| n)
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn truncated_captures_never_panic() {
    let mut panics = Vec::new();
    let mut errors = 0;
    for path in vectors() {
        let whole = std::fs::read(&path).unwrap();
        for len in 0..whole.len() {
            match decode_bytes(&whole[..len]) {
                Err(msg) => panics.push(format!("{} cut at {len}: {msg}", path.display())),
                Ok(Err(_)) => errors += 1,
                Ok(Ok(_)) => {}
            }
        }
        // The whole file decodes without error.
        assert!(
            matches!(decode_bytes(&whole), Ok(Ok(n)) if n > 0),
            "{}",
            path.display()
        );
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    // Most cuts land inside a packet or a header: they must be reported.
    assert!(errors > 0);
}

#[test]
fn mutated_captures_never_panic() {
    let mut panics = Vec::new();
    for path in vectors() {
        let whole = std::fs::read(&path).unwrap();
        for i in 0..whole.len() {
            for value in [0x00, 0xff, whole[i] ^ 0x80, whole[i].wrapping_add(1)] {
                let mut mutant = whole.clone();
                mutant[i] = value;
                if let Err(msg) = decode_bytes(&mutant) {
                    panics.push(format!("{} byte {i} = {value:#04x}: {msg}", path.display()));
                }
            }
        }
    }
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
