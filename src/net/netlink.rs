//! rtnetlink: the addresses and links the daemon manages and watches.

use std::io;
use std::net::IpAddr;

use futures::TryStreamExt;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressProtocol,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, MacVlanMode};
use rtnetlink::{Handle, LinkMacVlan, LinkUnspec, MulticastGroup};
use tokio::sync::mpsc::UnboundedReceiver;

/// What the daemon needs to know of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: Option<[u8; 6]>,
    /// IFF_UP and IFF_RUNNING: administratively up with carrier.
    pub up: bool,
}

/// IFA_PROTO of every address ha-vip adds (`ip -d addr` shows `proto 72`):
/// the kernel keeps it with the address, so a later run can tell the VIPs a
/// crashed run left behind from addresses someone else configured (Linux
/// 6.3 and later keep it; older kernels ignore it, see docs/operations.md).
pub const ADDRESS_PROTO: u8 = 72;

/// An address on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkAddress {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix_len: u8,
    /// Tagged with [`ADDRESS_PROTO`]: added by ha-vip.
    pub ours: bool,
    /// IPv6 duplicate address detection has not finished (IFA_F_TENTATIVE)
    /// or failed (IFA_F_DADFAILED): the address cannot be a source yet.
    pub tentative: bool,
}

/// What [`Netlink::add_address`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Added now, tagged as ours.
    Added,
    /// It was there already (ours or not: see [`LinkAddress::ours`]).
    Present,
}

/// A link or address change seen on the netlink multicast groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    LinkChanged(Link),
    LinkRemoved { index: u32, name: String },
    AddressAdded(LinkAddress),
    AddressRemoved(LinkAddress),
}

/// A netlink request handle. Its connection runs on the tokio runtime.
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

fn nl_err(what: &str, e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(m) => {
            let ioe = m.to_io();
            io::Error::new(ioe.kind(), format!("{what}: {ioe}"))
        }
        other => io::Error::other(format!("{what}: {other}")),
    }
}

fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

impl Netlink {
    /// Open a request connection and spawn its driver on the current runtime.
    pub fn open() -> io::Result<Netlink> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub async fn link_by_name(&self, name: &str) -> io::Result<Option<Link>> {
        let mut req = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        match req.try_next().await {
            Ok(Some(msg)) => Ok(Some(link_from(&msg))),
            Ok(None) => Ok(None),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err(&format!("get link {name}"), e)),
        }
    }

    /// Every address on the link, both families.
    pub async fn addresses(&self, index: u32) -> io::Result<Vec<LinkAddress>> {
        let mut req = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        let mut out = Vec::new();
        while let Some(msg) = req
            .try_next()
            .await
            .map_err(|e| nl_err("list addresses", e))?
        {
            if let Some(a) = address_from(&msg) {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Add an address, tagged as ours ([`ADDRESS_PROTO`]); present already
    /// is success. IPv6 addresses are added with IFA_F_NODAD: a VIP must
    /// answer at once, and the Backups do not hold it, so duplicate address
    /// detection could only delay it.
    pub async fn add_address(&self, index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<Added> {
        let mut req = self.handle.address().add(index, addr, prefix_len);
        req.message_mut()
            .attributes
            .push(AddressAttribute::Protocol(AddressProtocol::Other(
                ADDRESS_PROTO,
            )));
        if addr.is_ipv6() {
            req.message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        match req.execute().await {
            Ok(()) => Ok(Added::Added),
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => Ok(Added::Present),
            Err(e) => Err(nl_err(&format!("add {addr}/{prefix_len}"), e)),
        }
    }

    /// Remove an address; absent already is success.
    pub async fn del_address(&self, index: u32, addr: IpAddr, prefix_len: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.index = index;
        msg.header.prefix_len = prefix_len;
        msg.header.family = match addr {
            IpAddr::V4(_) => rtnetlink::packet_route::AddressFamily::Inet,
            IpAddr::V6(_) => rtnetlink::packet_route::AddressFamily::Inet6,
        };
        msg.attributes.push(AddressAttribute::Address(addr));
        if addr.is_ipv4() {
            msg.attributes.push(AddressAttribute::Local(addr));
        }
        match self.handle.address().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    errno_of(&e),
                    Some(libc::EADDRNOTAVAIL) | Some(libc::ENOENT) | Some(libc::ENODEV)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(nl_err(&format!("delete {addr}/{prefix_len}"), e)),
        }
    }

    /// Create (or find) a macvlan in bridge mode on `parent` with `mac`. It
    /// is left down: the daemon brings
    /// it up only while the router is Active, so a Backup never sends a
    /// frame from the virtual MAC. Returns its index.
    pub async fn ensure_macvlan(&self, parent: u32, name: &str, mac: [u8; 6]) -> io::Result<u32> {
        if let Some(l) = self.link_by_name(name).await? {
            return Ok(l.index);
        }
        let msg = LinkMacVlan::new(name, parent, MacVlanMode::Bridge)
            .address(mac.to_vec())
            .down()
            .build();
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&format!("create macvlan {name}"), e))?;
        // Its IPv6 settings (net::sysctl::set_virtual_mac_link) are the
        // caller's, before the link first comes up: the kernel refuses
        // IFLA_AF_SPEC on creation.
        match self.link_by_name(name).await? {
            Some(l) => Ok(l.index),
            None => Err(io::Error::other(format!("macvlan {name} vanished"))),
        }
    }

    pub async fn set_link_up(&self, index: u32) -> io::Result<()> {
        let msg = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&format!("set link #{index} up"), e))
    }

    pub async fn set_link_down(&self, index: u32) -> io::Result<()> {
        let msg = LinkUnspec::new_with_index(index).down().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&format!("set link #{index} down"), e))
    }

    pub async fn del_link(&self, index: u32) -> io::Result<()> {
        match self.handle.link().del(index).execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno_of(&e) == Some(libc::ENODEV) => Ok(()),
            Err(e) => Err(nl_err(&format!("delete link #{index}"), e)),
        }
    }
}

/// Subscribe to link and address events. The returned receiver yields
/// parsed events; messages of other kinds are skipped.
pub fn watch() -> io::Result<UnboundedReceiver<Event>> {
    let (conn, _handle, mut messages) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])?;
    tokio::spawn(conn);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some((msg, _)) = messages.next().await {
            if let Some(ev) = event_from(msg)
                && tx.send(ev).is_err()
            {
                break;
            }
        }
    });
    Ok(rx)
}

fn event_from(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<Event> {
    let NetlinkPayload::InnerMessage(inner) = msg.payload else {
        return None;
    };
    match inner {
        RouteNetlinkMessage::NewLink(l) => Some(Event::LinkChanged(link_from(&l))),
        RouteNetlinkMessage::DelLink(l) => {
            let link = link_from(&l);
            Some(Event::LinkRemoved {
                index: link.index,
                name: link.name,
            })
        }
        RouteNetlinkMessage::NewAddress(a) => address_from(&a).map(Event::AddressAdded),
        RouteNetlinkMessage::DelAddress(a) => address_from(&a).map(Event::AddressRemoved),
        _ => None,
    }
}

fn link_from(msg: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Address(a) => mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
            _ => {}
        }
    }
    let f = msg.header.flags;
    Link {
        index: msg.header.index,
        name,
        mac,
        up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
    }
}

fn address_from(msg: &AddressMessage) -> Option<LinkAddress> {
    // For IPv4, IFA_LOCAL is the interface's own address (IFA_ADDRESS is the
    // peer on point-to-point links); for IPv6 only IFA_ADDRESS is sent.
    let mut address = None;
    let mut local = None;
    let mut ours = false;
    let unusable = AddressFlags::Tentative | AddressFlags::Dadfailed;
    let mut tentative = false;
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Protocol(p) => ours = u8::from(*p) == ADDRESS_PROTO,
            AddressAttribute::Flags(f) => tentative |= f.intersects(unusable),
            _ => {}
        }
    }
    tentative |= msg
        .header
        .flags
        .intersects(AddressHeaderFlags::Tentative | AddressHeaderFlags::Dadfailed);
    Some(LinkAddress {
        index: msg.header.index,
        addr: local.or(address)?,
        prefix_len: msg.header.prefix_len,
        ours,
        tentative,
    })
}
