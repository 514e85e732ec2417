//! The receive path: a packet from a socket is parsed by `wire` and handed
//! to the endpoint; every drop is counted there, logged at debug, and noted
//! in captures; adverts for no router of ours are logged as the endpoint's
//! bounded bookkeeping says.

use std::collections::BTreeMap;
use std::net::IpAddr;

use tracing::{debug, warn};

use super::host::Read;
use super::records::Record;
use super::tap::Capture;
use crate::capture::{self, IFACE_IP, Note};
use crate::core::{self, Dropped, Endpoint, PacketDrop, RouterId, UnknownVrid};
use crate::net::socket::Rx;
use crate::wire;

/// One packet from a socket: parsed by `wire`, handed to the endpoint,
/// every drop counted (and noted in captures, logged at debug).
pub fn on_packet(
    endpoint: &mut Endpoint,
    cap: &mut Capture,
    records: &BTreeMap<RouterId, Record>,
    read: Read<'_>,
) {
    let rx = match read.rx {
        Ok(rx) => rx,
        Err((drop, datagram)) => {
            endpoint.count_drop(drop);
            debug!(reason = drop.counter(), "dropped packet: {drop}");
            if let Some(datagram) = datagram
                && cap.active()
            {
                let note = format!("{}: {drop}", drop.counter());
                cap.record(IFACE_IP, datagram, &Note::Dropped(&note));
            }
            return;
        }
    };
    let opts = wire::ParseOptions::default();
    // The advert's arrival, from the kernel's receive timestamp: the
    // Master_Down_Timer runs from there (RFC 9568 6.4.2).
    let now = read.read_at.checked_sub(rx.age()).unwrap_or(read.read_at);
    // For captures: the whole datagram (IPv6 headers are rebuilt from what
    // the kernel reported).
    let rebuilt;
    let (parsed, datagram): (_, &[u8]) = match rx {
        Rx::V4 { datagram, .. } => (wire::parse_ipv4(datagram, &opts), datagram),
        Rx::V6 {
            src,
            dst,
            hop_limit,
            payload,
            ..
        } => {
            rebuilt = if cap.active() {
                capture::ip_datagram(IpAddr::V6(src), IpAddr::V6(dst), hop_limit, payload)
            } else {
                None
            };
            (
                wire::parse_ipv6(src, dst, hop_limit, payload, &opts),
                rebuilt.as_deref().unwrap_or(&[]),
            )
        }
    };
    let received = match parsed {
        Ok(r) => r,
        Err(e) => {
            endpoint.count_parse_error(&e);
            debug!(reason = e.counter(), "dropped packet: {e}");
            if cap.active() {
                let note = format!("{}: {e}", e.counter());
                cap.record(IFACE_IP, datagram, &Note::Dropped(&note));
            }
            return;
        }
    };
    let result = endpoint.handle(now, read.ifindex, &received);
    let name = |id: RouterId| records.get(&id).map_or("?", |r| r.cfg.name.as_str());
    match &result {
        Ok(id) => debug!(router = %name(*id), src = %received.src,
            priority = received.advert.priority, interval_cs = received.advert.max_advert_interval_cs,
            "advert received"),
        Err(Dropped::UnknownVrid {
            src,
            vrid,
            priority,
            log,
        }) => match log {
            UnknownVrid::New => warn!(
                "advert for VRID {vrid} from {src} (priority {priority}) matches no router of ours on this interface"
            ),
            UnknownVrid::LimitReached => warn!(
                "adverts for VRIDs of no router of ours from {} (source, VRID) pairs: not logging further ones (spoofed sources?); they are still counted as {}",
                core::endpoint::UNKNOWN_VRID_LOG_LIMIT,
                PacketDrop::VridUnknown.counter()
            ),
            UnknownVrid::Seen => {}
        },
        Err(d) => {
            let router = d.router().map_or("?", name);
            debug!(router = %router, reason = d.counter(), "advert from {} dropped", received.src);
        }
    }
    if cap.active() {
        let note;
        let note = match &result {
            Ok(_) => Note::Received,
            Err(d) => {
                note = d.to_string();
                Note::Dropped(&note)
            }
        };
        cap.record(IFACE_IP, datagram, &note);
    }
}
