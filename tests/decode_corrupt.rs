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

mod frames {
    use ha_vip::decode::{Packet, decode_frame};
    use ha_vip::wire::ParseOptions;
    use pcap_file::DataLink;
    use proptest::prelude::*;

    const LINKS: [DataLink; 6] = [
        DataLink::ETHERNET,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
        DataLink::RAW,
        DataLink::IPV4,
        DataLink::IPV6,
    ];

    proptest! {
        /// Any bytes on any supported link decode to something, never a panic.
        #[test]
        fn any_frame_decodes(link in 0..LINKS.len(), data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let d = decode_frame(1, 0, LINKS[link], &data, &ParseOptions::default());
            prop_assert_eq!(d.frame, 1);
        }

        /// The same behind a valid IPv4 header carrying VRRP, so the fuzzing
        /// reaches the VRRP parser instead of stopping at the IP layer.
        #[test]
        fn any_vrrp_payload_decodes(ttl in any::<u8>(), body in proptest::collection::vec(any::<u8>(), 0..80)) {
            let total = u16::try_from(20 + body.len()).unwrap();
            let mut datagram = vec![0x45, 0xc0];
            datagram.extend_from_slice(&total.to_be_bytes());
            datagram.extend_from_slice(&[0, 0, 0, 0, ttl, 112, 0, 0, 192, 0, 2, 2, 224, 0, 0, 18]);
            datagram.extend_from_slice(&body);
            let d = decode_frame(1, 0, DataLink::RAW, &datagram, &ParseOptions::default());
            prop_assert!(matches!(d.packet, Packet::Vrrp(_)), "{:?}", d.packet);
        }
    }

    #[test]
    fn an_unsupported_link_type_is_named() {
        let d = decode_frame(3, 0, DataLink::USER0, &[1, 2, 3], &ParseOptions::default());
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["proto"], "other");
        assert_eq!(v["link"], "unsupported");
        assert_eq!(v["info"], "link type 147 not supported");
    }
}
