//! `ha-vip decode`: read a pcap/pcapng file and print every VRRP packet with
//! the verdict the daemon would reach, plus the ARP and Neighbor
//! Advertisements that go with a failover.
//!
//! The verdicts come from [`crate::wire`] itself (`parse_ipv4`,
//! `parse_ipv6`, the ARP and NA parsers), so what this prints is exactly
//! what the daemon would count: a bad packet shows the counter it would
//! increment and the reason. Link layers: Ethernet II (VLAN tags skipped),
//! Linux cooked capture v1 (SLL) and v2 (SLL2), raw IPv4/IPv6.
//!
//! Nothing here panics on a corrupt file: pcap errors end the decode with a
//! [`DecodeError`], a frame that is too short or not understood becomes an
//! `other` line with the reason.

use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::Block;
use pcap_file::pcapng::PcapNgReader;
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use serde::Serialize;

use crate::wire::ethernet::{self, EtherType, Sll2Repr, SllRepr};
use crate::wire::{
    self, ArpOperation, ArpRepr, Auth, ChecksumForm, ChecksumPolicy, ParseError, ParseOptions,
    Version,
};

/// Arguments of `ha-vip decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// A pcap or pcapng file; `-` reads standard input
    /// (`tcpdump -w - vrrp | ha-vip decode -`).
    pub file: PathBuf,
    /// One JSON object per packet instead of one line.
    #[arg(long)]
    pub json: bool,
    /// Refuse adverts of the other version, as a router configured for this
    /// one does (counter `unexpected_version`).
    #[arg(long, value_name = "2|3", value_parser = clap::value_parser!(u8).range(2..=3))]
    pub expect_version: Option<u8>,
    /// Which VRRPv3-over-IPv4 checksum form to accept.
    #[arg(long, value_enum, default_value_t = ChecksumArg::Either)]
    pub checksum: ChecksumArg,
}

/// `--checksum`: the [`ChecksumPolicy`] on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChecksumArg {
    /// Either form (pseudo-header tried first), as the daemon by default.
    Either,
    /// Only with the IPv4 pseudo-header (keepalived, FRR's default).
    PseudoHeader,
    /// Only without it (RFC 9568 section 5.2.8 as written, Cisco, Juniper).
    NoPseudoHeader,
}

impl DecodeArgs {
    /// The parse options these arguments ask for.
    pub fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            checksum: match self.checksum {
                ChecksumArg::Either => ChecksumPolicy::Either,
                ChecksumArg::PseudoHeader => ChecksumPolicy::Only(ChecksumForm::PseudoHeader),
                ChecksumArg::NoPseudoHeader => ChecksumPolicy::Only(ChecksumForm::NoPseudoHeader),
            },
            expect_version: match self.expect_version {
                Some(2) => Some(Version::V2),
                Some(3) => Some(Version::V3),
                _ => None,
            },
        }
    }
}

/// `ha-vip decode`: print each packet as it is read; exit non-zero if the
/// file cannot be read to its end (bad packets are findings, not failures).
pub fn decode_main(args: DecodeArgs) -> ExitCode {
    use std::io::Write;
    let opts = args.parse_options();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_failed = false;
    let print = |d: Decoded| {
        let line = if args.json {
            // Serializing these plain types cannot fail; if it ever did, the
            // line still says so in JSON.
            serde_json::to_string(&d)
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
        } else {
            d.to_string()
        };
        // A closed pipe (`| head`) ends the output quietly.
        if !write_failed && writeln!(out, "{line}").is_err() {
            write_failed = true;
        }
    };
    let result = if args.file.as_os_str() == "-" {
        decode_reader(std::io::stdin().lock(), Path::new("<stdin>"), &opts, print)
    } else {
        decode_path(&args.file, &opts, print)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ha-vip decode: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a file could not be decoded (to the end).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a pcap or pcapng file (magic {magic:02x?})", path.display())]
    NotPcap { path: PathBuf, magic: Vec<u8> },
    /// The file's structure is broken; `frame` is the number the next
    /// packet would have had.
    #[error("{}: corrupt capture at frame {frame}: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        frame: u64,
        message: String,
    },
}

/// Decode every packet of a pcap or pcapng file.
pub fn decode_file(path: &Path, opts: &ParseOptions) -> Result<Vec<Decoded>, DecodeError> {
    let mut all = Vec::new();
    decode_path(path, opts, |d| all.push(d))?;
    Ok(all)
}

/// Decode `path`, handing each packet to `sink` as soon as it is read, so
/// that the packets before a corruption are still shown.
pub fn decode_path(
    path: &Path,
    opts: &ParseOptions,
    sink: impl FnMut(Decoded),
) -> Result<(), DecodeError> {
    let file = File::open(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode_reader(BufReader::new(file), path, opts, sink)
}

/// Decode a pcap or pcapng stream (chosen by its magic number); `path`
/// only names it in errors.
pub fn decode_reader<R: Read>(
    mut reader: R,
    path: &Path,
    opts: &ParseOptions,
    mut sink: impl FnMut(Decoded),
) -> Result<(), DecodeError> {
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut reader, &mut magic).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The readers want the magic again: put it back in front.
    let magic_bytes = magic.get(..n).unwrap_or_default();
    let stream = magic_bytes.chain(reader);
    let corrupt = |frame: u64, e: pcap_file::PcapError| DecodeError::Corrupt {
        path: path.to_path_buf(),
        frame,
        message: e.to_string(),
    };
    let mut frame: u64 = 0;
    match magic {
        // pcap: micro- and nanosecond magics, either byte order.
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d] => {
            let mut reader = PcapReader::new(stream).map_err(|e| corrupt(1, e))?;
            let link = reader.header().datalink;
            while let Some(packet) = reader.next_packet() {
                frame += 1;
                let packet = packet.map_err(|e| corrupt(frame, e))?;
                sink(decode_frame(
                    frame,
                    packet.timestamp.as_nanos(),
                    link,
                    &packet.data,
                    opts,
                ));
            }
        }
        // pcapng: the Section Header Block type is a palindrome.
        [0x0a, 0x0d, 0x0d, 0x0a] => {
            let mut reader = PcapNgReader::new(stream).map_err(|e| corrupt(1, e))?;
            // Per section: each interface's link type and timestamp unit.
            let mut interfaces: Vec<(DataLink, TsUnit)> = Vec::new();
            while let Some(block) = reader.next_block() {
                let block = block.map_err(|e| corrupt(frame + 1, e))?;
                let mut comment = None;
                let (interface_id, raw_ts, data) = match &block {
                    Block::SectionHeader(_) => {
                        interfaces.clear();
                        continue;
                    }
                    Block::InterfaceDescription(idb) => {
                        let unit = idb
                            .options
                            .iter()
                            .find_map(|o| match o {
                                InterfaceDescriptionOption::IfTsResol(r) => Some(TsUnit(*r)),
                                _ => None,
                            })
                            .unwrap_or(TsUnit::MICROSECONDS);
                        interfaces.push((idb.linktype, unit));
                        continue;
                    }
                    // pcap-file stores the raw timestamp units as if they
                    // were nanoseconds; `TsUnit` converts them below.
                    Block::EnhancedPacket(epb) => {
                        comment = epb.options.iter().find_map(|o| match o {
                            EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                            _ => None,
                        });
                        (epb.interface_id, Some(epb.timestamp.as_nanos()), &epb.data)
                    }
                    // The obsolete Packet Block (pcapng appendix A); pcap-file
                    // reads its two timestamp words as one u64, right for
                    // big-endian sections only.
                    Block::Packet(pb) => (
                        u32::from(pb.interface_id),
                        Some(u128::from(pb.timestamp)),
                        &pb.data,
                    ),
                    // No timestamp in a Simple Packet Block (pcapng 4.4).
                    Block::SimplePacket(spb) => (0, None, &spb.data),
                    _ => continue,
                };
                frame += 1;
                let Some(&(link, unit)) = usize::try_from(interface_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                else {
                    return Err(DecodeError::Corrupt {
                        path: path.to_path_buf(),
                        frame,
                        message: format!("packet of undeclared interface {interface_id}"),
                    });
                };
                let ts_nanos = raw_ts.map(|t| unit.to_nanos(t)).unwrap_or(0);
                let mut d = decode_frame(frame, ts_nanos, link, data, opts);
                d.comment = comment;
                sink(d);
            }
        }
        _ => {
            return Err(DecodeError::NotPcap {
                path: path.to_path_buf(),
                magic: magic.get(..n).unwrap_or_default().to_vec(),
            });
        }
    }
    Ok(())
}

/// Fill `buf` as far as the stream allows.
fn read_up_to(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let Some(rest) = buf.get_mut(n..) else { break };
        match file.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// pcapng `if_tsresol` (section 4.2): high bit clear, 10^-v seconds; set,
/// 2^-v seconds. Default 6 (microseconds).
#[derive(Debug, Clone, Copy)]
struct TsUnit(u8);

impl TsUnit {
    const MICROSECONDS: TsUnit = TsUnit(6);

    fn to_nanos(self, ticks: u128) -> u128 {
        let v = u32::from(self.0 & 0x7f);
        if self.0 & 0x80 == 0 {
            match v {
                0..=9 => ticks.saturating_mul(10u128.pow(9 - v)),
                _ => ticks / 10u128.saturating_pow(v - 9),
            }
        } else {
            // ticks / 2^v seconds; done in two steps so it cannot overflow
            // for any 64-bit tick count.
            let secs = ticks.checked_shr(v).unwrap_or(0);
            let frac = ticks & ((1u128 << v.min(127)) - 1);
            secs.saturating_mul(1_000_000_000).saturating_add(
                frac.saturating_mul(1_000_000_000)
                    .checked_shr(v)
                    .unwrap_or(0),
            )
        }
    }
}

/// The link layer a frame was captured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    Ethernet,
    LinuxSll,
    LinuxSll2,
    Raw,
    /// A link type decode does not read; the frame shows as `other`.
    Unsupported,
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Link::Ethernet => "ethernet",
            Link::LinuxSll => "linux-sll",
            Link::LinuxSll2 => "linux-sll2",
            Link::Raw => "raw",
            Link::Unsupported => "unsupported-link",
        })
    }
}

/// "ok" or "bad": the verdict on a TTL or a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Bad,
}

impl Verdict {
    fn of(ok: bool) -> Verdict {
        if ok { Verdict::Ok } else { Verdict::Bad }
    }
}

/// One packet of the file, as `--json` prints it. Fields that do not apply
/// to a packet are absent from the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// 1-based, as tshark's `frame.number`.
    pub frame: u64,
    /// Seconds since the epoch with nine decimals, as tshark's
    /// `frame.time_epoch`.
    pub time: String,
    pub link: Link,
    #[serde(flatten)]
    pub packet: Packet,
    /// The pcapng packet comment (`opt_comment`), e.g. `ha-vip capture`'s
    /// "sent", "received" or "dropped: REASON". Absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// What a frame carries, tagged by `proto`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "proto", rename_all = "lowercase")]
pub enum Packet {
    Vrrp(Vrrp),
    Arp {
        /// Sender protocol address.
        src: Ipv4Addr,
        /// Target protocol address.
        dst: Ipv4Addr,
        arp: ArpInfo,
    },
    Na(Na),
    Other {
        #[serde(skip_serializing_if = "Option::is_none")]
        src: Option<IpAddr>,
        #[serde(skip_serializing_if = "Option::is_none")]
        dst: Option<IpAddr>,
        /// What it is, or why it was not understood.
        info: String,
    },
}

/// A VRRP datagram and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Vrrp {
    /// From the IP header; absent when the header itself is unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<IpAddr>,
    /// IPv4 TTL or IPv6 Hop Limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// RFC 9568 section 7.1: it must be 255.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_verdict: Option<Verdict>,
    #[serde(flatten)]
    pub result: VrrpResult,
}

/// An accepted advertisement, or why it was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum VrrpResult {
    Accepted(Advert),
    Refused {
        /// "bad" when the refusal is the checksum's.
        #[serde(skip_serializing_if = "Option::is_none")]
        checksum: Option<Verdict>,
        error: ErrorInfo,
    },
}

/// The fields of an accepted advertisement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advert {
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// v3 Max Advertise Interval; v2 Adver Int seconds x 100.
    pub interval_cs: u16,
    pub addresses: Vec<IpAddr>,
    /// VRRPv2 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthInfo>,
    pub checksum: Verdict,
    pub checksum_form: Form,
}

/// The checksum form an advert verified with (see [`ChecksumForm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    PseudoHeader,
    NoPseudoHeader,
}

impl From<ChecksumForm> for Form {
    fn from(f: ChecksumForm) -> Form {
        match f {
            ChecksumForm::PseudoHeader => Form::PseudoHeader,
            ChecksumForm::NoPseudoHeader => Form::NoPseudoHeader,
        }
    }
}

/// VRRPv2 authentication (RFC 3768 section 5.3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum AuthInfo {
    None,
    /// The password up to its first NUL, non-UTF-8 bytes replaced.
    SimpleText {
        password: String,
    },
    Ah,
    Unknown {
        value: u8,
    },
}

impl From<Auth> for AuthInfo {
    fn from(a: Auth) -> AuthInfo {
        match a {
            Auth::None => AuthInfo::None,
            Auth::SimpleText(bytes) => {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                let text = bytes.get(..end).unwrap_or_default();
                AuthInfo::SimpleText {
                    password: String::from_utf8_lossy(text).into_owned(),
                }
            }
            Auth::Ah => AuthInfo::Ah,
            Auth::Unknown(value) => AuthInfo::Unknown { value },
        }
    }
}

/// Why a packet was refused: the daemon's counter and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorInfo {
    /// The counter the daemon increments ([`ParseError::counter`]); absent
    /// for ARP/NA, which the daemon does not count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
    pub message: String,
}

impl From<&ParseError> for ErrorInfo {
    fn from(e: &ParseError) -> ErrorInfo {
        ErrorInfo {
            counter: Some(e.counter().to_string()),
            message: e.to_string(),
        }
    }
}

/// An ARP packet (RFC 826); gratuitous when sender and target IP agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArpInfo {
    /// "request", "reply", or the number.
    pub op: String,
    pub sender_mac: String,
    pub sender_ip: Ipv4Addr,
    pub target_mac: String,
    pub target_ip: Ipv4Addr,
    pub gratuitous: bool,
}

/// A Neighbor Advertisement (RFC 4861 section 4.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Na {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// Hop Limit; RFC 4861 section 7.1.2 requires 255.
    pub ttl: u8,
    pub ttl_verdict: Verdict,
    #[serde(flatten)]
    pub result: NaResult,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NaResult {
    Accepted {
        /// The ICMPv6 checksum (the parser verifies it).
        checksum: Verdict,
        na: NaInfo,
    },
    Refused {
        error: ErrorInfo,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NaInfo {
    pub target: Ipv6Addr,
    pub router: bool,
    pub solicited: bool,
    #[serde(rename = "override")]
    pub override_flag: bool,
    /// The Target Link-Layer Address option, if present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_mac: Option<String>,
}

/// IP protocol / IPv6 Next Header numbers decode looks at.
const PROTO_VRRP: u8 = 112;
const PROTO_AH: u8 = 51;
const PROTO_ICMPV6: u8 = 58;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;

fn format_time(nanos: u128) -> String {
    format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000)
}

/// Decode one captured frame. Never fails: what is not understood becomes
/// [`Packet::Other`] with the reason.
pub fn decode_frame(
    frame: u64,
    ts_nanos: u128,
    datalink: DataLink,
    data: &[u8],
    opts: &ParseOptions,
) -> Decoded {
    let (link, packet) = match datalink {
        DataLink::ETHERNET => (Link::Ethernet, ethernet_payload(data)),
        DataLink::LINUX_SLL => (
            Link::LinuxSll,
            SllRepr::parse(data).map(|(h, p)| (h.protocol, p)),
        ),
        DataLink::LINUX_SLL2 => (
            Link::LinuxSll2,
            Sll2Repr::parse(data).map(|(h, p)| (h.protocol, p)),
        ),
        // LINKTYPE_RAW (101) and the per-version IPV4 (228) / IPV6 (229):
        // the version nibble says which.
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => {
            let ethertype = match data.first().map(|b| b >> 4) {
                Some(6) => EtherType::IPV6,
                _ => EtherType::IPV4,
            };
            (Link::Raw, Ok((ethertype, data)))
        }
        other => {
            return Decoded {
                comment: None,
                frame,
                time: format_time(ts_nanos),
                link: Link::Unsupported,
                packet: Packet::Other {
                    src: None,
                    dst: None,
                    info: format!("link type {} not supported", u32::from(other)),
                },
            };
        }
    };
    let packet = match packet {
        Ok((ethertype, payload)) => decode_network(ethertype, payload, opts),
        Err(e) => Packet::Other {
            src: None,
            dst: None,
            info: e.to_string(),
        },
    };
    Decoded {
        frame,
        time: format_time(ts_nanos),
        link,
        packet,
        comment: None,
    }
}

fn ethernet_payload(data: &[u8]) -> Result<(EtherType, &[u8]), wire::FrameError> {
    ethernet::parse_frame(data).map(|(_, ethertype, payload)| (ethertype, payload))
}

fn decode_network(ethertype: EtherType, payload: &[u8], opts: &ParseOptions) -> Packet {
    match ethertype {
        EtherType::IPV4 => decode_ipv4(payload, opts),
        EtherType::IPV6 => decode_ipv6(payload, opts),
        EtherType::ARP => decode_arp(payload),
        EtherType(other) => Packet::Other {
            src: None,
            dst: None,
            info: format!("ethertype 0x{other:04x}"),
        },
    }
}

fn decode_ipv4(datagram: &[u8], opts: &ParseOptions) -> Packet {
    let header = wire::ipv4::Packet::new_checked(datagram)
        .ok()
        .and_then(|p| wire::Ipv4Header::parse(&p).ok());
    // The protocol byte decides whether the daemon's raw socket would see
    // it; read directly so a VRRP datagram with a broken header still gets
    // the daemon's verdict.
    let protocol = datagram.get(9).copied();
    if protocol != Some(PROTO_VRRP) && protocol != Some(PROTO_AH) {
        return match header {
            Some(h) => Packet::Other {
                src: Some(h.src.into()),
                dst: Some(h.dst.into()),
                info: format!("IPv4 protocol {}", h.protocol),
            },
            None => Packet::Other {
                src: None,
                dst: None,
                info: "IPv4 header not readable".to_string(),
            },
        };
    }
    let (src, dst, ttl) = match header {
        Some(h) => (Some(h.src.into()), Some(h.dst.into()), Some(h.ttl)),
        None => (None, None, None),
    };
    match wire::parse_ipv4(datagram, opts) {
        Ok(received) => vrrp_accepted(&received),
        // AH carrying something else: not VRRP after all.
        Err(ParseError::NotVrrp(p)) => Packet::Other {
            src,
            dst,
            info: format!("IPv4 protocol {PROTO_AH} carrying protocol {p}"),
        },
        Err(e) => vrrp_refused(src, dst, ttl, &e),
    }
}

fn decode_ipv6(datagram: &[u8], opts: &ParseOptions) -> Packet {
    let packet = match wire::ipv6::Packet::new_checked(datagram) {
        Ok(p) => p,
        Err(e) => {
            return Packet::Other {
                src: None,
                dst: None,
                info: e.to_string(),
            };
        }
    };
    let header = match wire::Ipv6Header::parse(&packet) {
        Ok(h) => h,
        Err(e) => {
            return Packet::Other {
                src: None,
                dst: None,
                info: e.to_string(),
            };
        }
    };
    let payload = packet.payload();
    match header.next_header {
        PROTO_VRRP => {
            match wire::parse_ipv6(header.src, header.dst, header.hop_limit, payload, opts) {
                Ok(received) => vrrp_accepted(&received),
                Err(e) => vrrp_refused(
                    Some(header.src.into()),
                    Some(header.dst.into()),
                    Some(header.hop_limit),
                    &e,
                ),
            }
        }
        PROTO_ICMPV6 if payload.first() == Some(&ICMPV6_NEIGHBOR_ADVERT) => {
            let result = wire::ndisc::Packet::new_checked(payload)
                .and_then(|p| wire::NeighborAdvertRepr::parse(&p, &header.src, &header.dst));
            Packet::Na(Na {
                src: header.src,
                dst: header.dst,
                ttl: header.hop_limit,
                ttl_verdict: Verdict::of(header.hop_limit == 255),
                result: match result {
                    Ok(na) => NaResult::Accepted {
                        checksum: Verdict::Ok,
                        na: NaInfo {
                            target: na.target,
                            router: na.router_flag,
                            solicited: na.solicited_flag,
                            override_flag: na.override_flag,
                            target_mac: na.target_mac.map(|m| m.to_string()),
                        },
                    },
                    Err(e) => NaResult::Refused {
                        error: ErrorInfo {
                            counter: None,
                            message: e.to_string(),
                        },
                    },
                },
            })
        }
        // Extension headers are not walked: VRRP and NA never carry them.
        next => Packet::Other {
            src: Some(header.src.into()),
            dst: Some(header.dst.into()),
            info: format!("IPv6 next header {next}"),
        },
    }
}

fn decode_arp(payload: &[u8]) -> Packet {
    let parsed = wire::arp::Packet::new_checked(payload).and_then(|p| ArpRepr::parse(&p));
    match parsed {
        Ok(arp) => Packet::Arp {
            src: arp.sender_ip,
            dst: arp.target_ip,
            arp: ArpInfo {
                op: match arp.operation {
                    ArpOperation::Request => "request".to_string(),
                    ArpOperation::Reply => "reply".to_string(),
                    ArpOperation::Unknown(n) => n.to_string(),
                },
                sender_mac: arp.sender_mac.to_string(),
                sender_ip: arp.sender_ip,
                target_mac: arp.target_mac.to_string(),
                target_ip: arp.target_ip,
                gratuitous: arp.is_gratuitous(),
            },
        },
        Err(e) => Packet::Other {
            src: None,
            dst: None,
            info: format!("ARP: {e}"),
        },
    }
}

fn vrrp_accepted(r: &wire::Received<'_>) -> Packet {
    let a = &r.advert;
    Packet::Vrrp(Vrrp {
        src: Some(r.src),
        dst: Some(r.dst),
        ttl: Some(r.ttl),
        ttl_verdict: Some(Verdict::of(r.ttl == 255)),
        result: VrrpResult::Accepted(Advert {
            version: a.version.number(),
            vrid: a.vrid,
            priority: a.priority,
            interval_cs: a.max_advert_interval_cs,
            addresses: a.addresses.iter().collect(),
            auth: (a.version == Version::V2).then(|| a.auth.into()),
            checksum: Verdict::Ok,
            checksum_form: r.checksum_form.into(),
        }),
    })
}

fn vrrp_refused(
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    ttl: Option<u8>,
    e: &ParseError,
) -> Packet {
    Packet::Vrrp(Vrrp {
        src,
        dst,
        ttl,
        ttl_verdict: ttl.map(|t| Verdict::of(t == 255)),
        result: VrrpResult::Refused {
            checksum: matches!(e, ParseError::BadChecksum { .. }).then_some(Verdict::Bad),
            error: e.into(),
        },
    })
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::Bad => "bad",
        })
    }
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Form::PseudoHeader => "pseudo-header",
            Form::NoPseudoHeader => "no-pseudo-header",
        })
    }
}

fn fmt_addr(a: Option<IpAddr>) -> String {
    a.map_or_else(|| "?".to_string(), |a| a.to_string())
}

/// One line per packet, tcpdump-like: time, link, source > destination,
/// then what it is and the verdicts.
impl std::fmt::Display for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fmt_packet(f)?;
        match &self.comment {
            Some(c) => write!(f, " # {c}"),
            None => Ok(()),
        }
    }
}

impl Decoded {
    fn fmt_packet(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}: ", self.frame, self.time, self.link)?;
        match &self.packet {
            Packet::Vrrp(v) => {
                write!(f, "{} > {}: ", fmt_addr(v.src), fmt_addr(v.dst))?;
                match &v.result {
                    VrrpResult::Accepted(a) => {
                        write!(
                            f,
                            "VRRPv{} vrid {} prio {} intvl {}cs addrs [",
                            a.version, a.vrid, a.priority, a.interval_cs
                        )?;
                        for (i, addr) in a.addresses.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write!(f, "{addr}")?;
                        }
                        f.write_str("]")?;
                        match &a.auth {
                            Some(AuthInfo::None) => f.write_str(" auth none")?,
                            Some(AuthInfo::SimpleText { password }) => {
                                write!(f, " auth simple-text {password:?}")?
                            }
                            Some(AuthInfo::Ah) => f.write_str(" auth ah")?,
                            Some(AuthInfo::Unknown { value }) => write!(f, " auth type {value}")?,
                            None => {}
                        }
                        write!(f, " checksum {} ({})", a.checksum, a.checksum_form)?;
                    }
                    VrrpResult::Refused { error, .. } => {
                        write!(f, "VRRP BAD")?;
                        if let Some(c) = &error.counter {
                            write!(f, " [{c}]")?;
                        }
                        write!(f, " {}", error.message)?;
                    }
                }
                if let (Some(ttl), Some(verdict)) = (v.ttl, v.ttl_verdict) {
                    write!(f, " ttl {ttl} {verdict}")?;
                }
                Ok(())
            }
            Packet::Arp { arp, .. } => {
                match arp.op.as_str() {
                    "request" => write!(
                        f,
                        "ARP request who-has {} ({}) tell {} ({})",
                        arp.target_ip, arp.target_mac, arp.sender_ip, arp.sender_mac
                    )?,
                    "reply" => write!(
                        f,
                        "ARP reply {} is-at {} to {} ({})",
                        arp.sender_ip, arp.sender_mac, arp.target_ip, arp.target_mac
                    )?,
                    op => write!(
                        f,
                        "ARP op {op} {} ({}) > {} ({})",
                        arp.sender_ip, arp.sender_mac, arp.target_ip, arp.target_mac
                    )?,
                }
                if arp.gratuitous {
                    f.write_str(" gratuitous")?;
                }
                Ok(())
            }
            Packet::Na(na) => {
                write!(f, "{} > {}: ", na.src, na.dst)?;
                match &na.result {
                    NaResult::Accepted { checksum, na: info } => {
                        write!(f, "NA target {}", info.target)?;
                        if let Some(mac) = &info.target_mac {
                            write!(f, " lladdr {mac}")?;
                        }
                        let flags: String = [
                            (info.router, 'R'),
                            (info.solicited, 'S'),
                            (info.override_flag, 'O'),
                        ]
                        .iter()
                        .filter(|(set, _)| *set)
                        .map(|(_, c)| *c)
                        .collect();
                        write!(f, " flags [{flags}] checksum {checksum}")?;
                    }
                    NaResult::Refused { error } => write!(f, "NA BAD {}", error.message)?,
                }
                write!(f, " ttl {} {}", na.ttl, na.ttl_verdict)
            }
            Packet::Other { src, dst, info } => {
                if let (Some(s), Some(d)) = (src, dst) {
                    write!(f, "{s} > {d}: ")?;
                }
                write!(f, "other ({info})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TsUnit;

    #[test]
    fn timestamp_units_convert_to_nanoseconds() {
        assert_eq!(TsUnit::MICROSECONDS.to_nanos(1_500_000), 1_500_000_000);
        assert_eq!(TsUnit(9).to_nanos(7), 7);
        assert_eq!(TsUnit(0).to_nanos(2), 2_000_000_000);
        // 10^-12 s: picoseconds round down to nanoseconds.
        assert_eq!(TsUnit(12).to_nanos(1_999), 1);
        // 2^-10 s: 1.5 s is 1536 ticks.
        assert_eq!(TsUnit(0x8a).to_nanos(1536), 1_500_000_000);
    }

    #[test]
    fn extreme_timestamp_units_do_not_overflow() {
        for unit in [0x00, 0x09, 0x7f, 0x80, 0xbf, 0xff] {
            // Any 64-bit tick count, any unit: a value, not a panic.
            let _ = TsUnit(unit).to_nanos(u128::from(u64::MAX));
        }
        assert_eq!(TsUnit(0x7f).to_nanos(u128::from(u64::MAX)), 0);
    }
}
