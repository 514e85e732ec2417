//! Packet captures for debugging: pcapng of what the daemon sent and
//! received, readable by Wireshark/tshark and `ha-vip decode`.
//!
//! One section with two interfaces: 0 is raw IP (LINKTYPE_RAW, adverts in
//! both directions), 1 is Ethernet (the ARP/NA frames we send). A received
//! packet that was dropped carries the drop reason in the packet's pcapng
//! comment (`opt_comment`), which tshark shows as `frame.comment`.
//!
//! Formatting is pure (bytes out); the rotating file writer runs on its own
//! thread so file I/O never sits in the protocol loop.

use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use byteorder::BigEndian;
use pcap_file::pcapng::PcapNgBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::{DataLink, Endianness};

use crate::wire::{ipv4::Ipv4Header, ipv6};

/// Interface ids of the section.
pub const IFACE_IP: u32 = 0;
pub const IFACE_ETHERNET: u32 = 1;

/// Direction and verdict, written as the packet comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note<'a> {
    Sent,
    Received,
    Dropped(&'a str),
}

impl Note<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Note::Sent => Cow::Borrowed("sent"),
            Note::Received => Cow::Borrowed("received"),
            Note::Dropped(why) => Cow::Owned(format!("dropped: {why}")),
        }
    }
}

/// The start of a capture: a big-endian section header and the two
/// interfaces, both with nanosecond timestamps (pcap-file writes packet
/// times in nanoseconds, so `if_tsresol` must say 9).
pub fn header() -> Vec<u8> {
    let section = SectionHeaderBlock {
        endianness: Endianness::Big,
        ..Default::default()
    };
    let idb = |linktype| InterfaceDescriptionBlock {
        linktype,
        snaplen: 0,
        options: vec![InterfaceDescriptionOption::IfTsResol(9)],
    };
    let Ok(mut w) = PcapNgWriter::with_section_header(Vec::new(), section) else {
        return Vec::new();
    };
    let ok = w.write_pcapng_block(idb(DataLink::RAW)).is_ok()
        && w.write_pcapng_block(idb(DataLink::ETHERNET)).is_ok();
    if ok { w.into_inner() } else { Vec::new() }
}

/// One packet as a pcapng Enhanced Packet Block, big-endian like the
/// section [`header`] opens.
pub fn packet(iface: u32, at: SystemTime, data: &[u8], note: &Note<'_>) -> Vec<u8> {
    let block = EnhancedPacketBlock {
        interface_id: iface,
        timestamp: at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO),
        original_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
        data: Cow::Borrowed(data),
        options: vec![EnhancedPacketOption::Comment(note.text())],
    };
    let mut out = Vec::with_capacity(data.len() + 64);
    let _ = block.into_block().write_to::<BigEndian, _>(&mut out);
    out
}

/// Rebuild the IP datagram of an advert we only have the payload of: one
/// we sent (the kernel adds the header), or an IPv6 one we received (the
/// kernel strips it). `hop_limit` is 255 for sent packets.
pub fn ip_datagram(src: IpAddr, dst: IpAddr, hop_limit: u8, payload: &[u8]) -> Option<Vec<u8>> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let h = Ipv4Header::new(s, d, 112, hop_limit, payload.len()).ok()?;
            let mut out = vec![0u8; h.header_len + payload.len()];
            let n = h.emit(&mut out).ok()?;
            out.get_mut(n..)?.copy_from_slice(payload);
            Some(out)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let h = ipv6::Ipv6Header {
                traffic_class: 0,
                flow_label: 0,
                payload_len: u16::try_from(payload.len()).ok()?,
                next_header: 112,
                hop_limit,
                src: s,
                dst: d,
            };
            let mut out = vec![0u8; ipv6::HEADER_LEN + payload.len()];
            let n = h.emit(&mut out).ok()?;
            out.get_mut(n..)?.copy_from_slice(payload);
            Some(out)
        }
        _ => None,
    }
}

/// A rotating pcapng file set in `dir`: `ha-vip.pcapng` is being written;
/// `ha-vip.pcapng.1` is the previous one, up to `max_files` in all.
pub struct RotatingFile {
    tx: SyncSender<Vec<u8>>,
    /// Blocks dropped because the writer thread fell behind.
    pub dropped: u64,
}

impl RotatingFile {
    /// Start the writer thread. Fails if `dir` cannot be created.
    pub fn start(dir: &Path, max_file_bytes: u64, max_files: u32) -> std::io::Result<RotatingFile> {
        fs::create_dir_all(dir)?;
        let (tx, rx) = sync_channel::<Vec<u8>>(4096);
        let dir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("ha-vip-capture".into())
            .spawn(move || writer_thread(dir, max_file_bytes, max_files, rx))?;
        Ok(RotatingFile { tx, dropped: 0 })
    }

    /// Queue one packet; the thread writes a header at the start of
    /// each file. Never blocks: when the thread falls behind, the packet is
    /// counted in `dropped`.
    pub fn packet(&mut self, iface: u32, at: SystemTime, data: &[u8], note: &Note<'_>) {
        match self.tx.try_send(packet(iface, at, data, note)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => self.dropped += 1,
        }
    }
}

pub fn file_path(dir: &Path, n: u32) -> PathBuf {
    if n == 0 {
        dir.join("ha-vip.pcapng")
    } else {
        dir.join(format!("ha-vip.pcapng.{n}"))
    }
}

fn writer_thread(dir: PathBuf, max_bytes: u64, max_files: u32, rx: Receiver<Vec<u8>>) {
    let mut file: Option<(fs::File, u64)> = None;
    while let Ok(block) = rx.recv() {
        if file
            .as_ref()
            .is_some_and(|(_, n)| *n + block.len() as u64 > max_bytes)
        {
            file = None;
            rotate(&dir, max_files);
        }
        if file.is_none() {
            let header = header();
            match fs::File::create(file_path(&dir, 0)) {
                Ok(mut f) => {
                    if f.write_all(&header).is_ok() {
                        file = Some((f, header.len() as u64));
                    }
                }
                Err(e) => {
                    tracing::warn!("capture file in {}: {e}", dir.display());
                    continue;
                }
            }
        }
        if let Some((f, n)) = file.as_mut()
            && f.write_all(&block).is_ok()
        {
            *n += block.len() as u64;
        }
    }
}

fn rotate(dir: &Path, max_files: u32) {
    if max_files <= 1 {
        let _ = fs::remove_file(file_path(dir, 0));
        return;
    }
    let _ = fs::remove_file(file_path(dir, max_files - 1));
    for n in (0..max_files - 1).rev() {
        let _ = fs::rename(file_path(dir, n), file_path(dir, n + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};
    use std::net::Ipv4Addr;

    #[test]
    fn stream_is_a_readable_pcapng_with_comments() {
        let mut bytes = header();
        let advert = [
            0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0x00, 0x00, 192, 0, 2, 100,
        ];
        let dg = ip_datagram(
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)),
            IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            255,
            &advert,
        )
        .unwrap();
        assert_eq!(dg.len(), 32);
        assert_eq!(dg[8], 255, "TTL");
        assert_eq!(dg[9], 112, "protocol");
        bytes.extend(packet(
            IFACE_IP,
            UNIX_EPOCH + Duration::from_secs(5),
            &dg,
            &Note::Sent,
        ));
        bytes.extend(packet(
            IFACE_IP,
            UNIX_EPOCH,
            &dg,
            &Note::Dropped("ttl_not_255: TTL 254"),
        ));
        let mut r = PcapNgReader::new(&bytes[..]).unwrap();
        let mut comments = Vec::new();
        let mut idbs = 0;
        while let Some(b) = r.next_block() {
            match b.unwrap() {
                Block::InterfaceDescription(_) => idbs += 1,
                Block::EnhancedPacket(p) => {
                    assert_eq!(&p.data[..], &dg[..]);
                    for o in p.options {
                        if let EnhancedPacketOption::Comment(c) = o {
                            comments.push(c.into_owned());
                        }
                    }
                }
                _ => {}
            }
        }
        assert_eq!(idbs, 2);
        assert_eq!(comments, ["sent", "dropped: ttl_not_255: TTL 254"]);
    }

    #[test]
    fn rotation_keeps_at_most_max_files() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..3 {
            fs::write(file_path(dir.path(), n), format!("{n}")).unwrap();
        }
        rotate(dir.path(), 3);
        assert!(!file_path(dir.path(), 0).exists());
        assert_eq!(fs::read_to_string(file_path(dir.path(), 1)).unwrap(), "0");
        assert_eq!(fs::read_to_string(file_path(dir.path(), 2)).unwrap(), "1");
        assert!(!file_path(dir.path(), 3).exists());
    }
}
