//! Batched datagram I/O: `recvmmsg(2)` and `sendmmsg(2)` with the control
//! messages the VRRP socket needs, and no allocation per call.
//!
//! A Backup of 255 routers at 10 ms receives 25,500 adverts a second and
//! an Active router sends as many; one system call per packet was the
//! largest cost left after pacing (docs/performance.md). Here one call
//! moves up to [`BATCH`] packets.
//!
//! Why not nix's `recvmmsg`/`sendmmsg`: nix 0.32 keeps its `mmsghdr`s
//! between calls but never resets `msg_controllen`, which the kernel
//! overwrites with the length it used, so one packet with a shorter control
//! block would truncate the control messages (the receive timestamp, the
//! IPv6 destination and hop limit) of every later call; and its headers
//! hold raw pointers for their whole life. Here the headers are built on
//! the stack for each call, pointing into storage this module owns.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;
use std::time::Duration;

/// Packets moved per system call at most.
pub const BATCH: usize = 32;

/// Receive buffer per packet: the largest advert is an IPv6 one with 255
/// addresses (8 + 255 * 16 = 4088 bytes of payload; the kernel gives IPv6
/// raw sockets the payload only) or an IPv4 one with a 60-byte header and
/// 255 addresses plus v2 authentication. Anything longer is not an advert
/// and arrives flagged truncated.
pub const SLOT: usize = 4096 + 128;

/// Control space per received packet: SCM_TIMESTAMPNS (16 bytes),
/// IPV6_PKTINFO (20) and IPV6_HOPLIMIT (4), each with its 16-byte header
/// and padding, is 96 bytes on 64-bit Linux; room to spare for anything
/// else the kernel adds.
const CMSG_BYTES: usize = 256;

#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct CmsgBuf([u8; CMSG_BYTES]);

/// What the kernel reported about one received packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecvMeta {
    /// Bytes received (at most [`SLOT`]).
    pub len: usize,
    /// The datagram was longer than [`SLOT`] (MSG_TRUNC).
    pub truncated: bool,
    /// SCM_TIMESTAMPNS: CLOCK_REALTIME when the kernel received it.
    pub timestamp: Option<Duration>,
    /// The source address (IPv6 sockets; IPv4 has it in the header).
    pub src: Option<Ipv6Addr>,
    /// IPV6_PKTINFO: the destination address.
    pub dst: Option<Ipv6Addr>,
    /// IPV6_HOPLIMIT.
    pub hop_limit: Option<u8>,
}

/// Storage for one `recvmmsg` call: [`BATCH`] buffers of [`SLOT`] bytes,
/// their source addresses and control blocks. Allocated once.
pub struct RecvBatch {
    bufs: Box<[u8]>,
    names: Box<[libc::sockaddr_in6]>,
    cmsgs: Box<[CmsgBuf]>,
    meta: [RecvMeta; BATCH],
    len: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![0; BATCH * SLOT].into_boxed_slice(),
            // SAFETY: sockaddr_in6 is plain old data; all-zero is valid.
            names: vec![unsafe { zeroed::<libc::sockaddr_in6>() }; BATCH].into_boxed_slice(),
            cmsgs: vec![CmsgBuf([0; CMSG_BYTES]); BATCH].into_boxed_slice(),
            meta: [RecvMeta::default(); BATCH],
            len: 0,
        }
    }
}

impl RecvBatch {
    /// Packets from the last [`Self::recv`].
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Packet `i` of the last [`Self::recv`]: its bytes and what the kernel
    /// said about it.
    pub fn get(&self, i: usize) -> Option<(&[u8], &RecvMeta)> {
        if i >= self.len {
            return None;
        }
        let meta = self.meta.get(i)?;
        let start = i * SLOT;
        let data = self.bufs.get(start..start + meta.len.min(SLOT))?;
        Some((data, meta))
    }

    /// Receive up to [`BATCH`] packets without blocking. `Ok(0)` never
    /// happens: an empty queue is `Err(WouldBlock)`.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.len = 0;
        // SAFETY: iovec and mmsghdr are plain old data; all-zero is valid
        // (null pointers, zero lengths) and every field used is set below.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, ((iov, hdr), (name, cmsg))) in iovs
            .iter_mut()
            .zip(hdrs.iter_mut())
            .zip(self.names.iter_mut().zip(self.cmsgs.iter_mut()))
            .enumerate()
        {
            let buf = &mut self.bufs[i * SLOT..(i + 1) * SLOT];
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = SLOT;
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            hdr.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            hdr.msg_hdr.msg_control = cmsg.0.as_mut_ptr().cast();
            hdr.msg_hdr.msg_controllen = CMSG_BYTES as _;
        }
        // SAFETY: every header points into `iovs`, `self.bufs`,
        // `self.names` and `self.cmsgs`, which outlive the call, with the
        // lengths of those areas; the kernel writes within them only.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for (hdr, meta) in hdrs.iter().zip(self.meta.iter_mut()).take(n) {
            // SAFETY: the kernel filled the header for a received message:
            // its control block lies within our buffer, msg_controllen says
            // how much of it is valid, and the name is a sockaddr_in6 area.
            *meta = unsafe { read_meta(hdr) };
        }
        self.len = n;
        Ok(n)
    }
}

/// Decode one received message's length, flags, address and control
/// messages.
///
/// # Safety
/// `hdr` must be a header filled by a successful `recvmmsg` whose
/// `msg_control` and `msg_name` point to live buffers.
unsafe fn read_meta(hdr: &libc::mmsghdr) -> RecvMeta {
    let msg = &hdr.msg_hdr;
    let mut meta = RecvMeta {
        len: (hdr.msg_len as usize).min(SLOT),
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        ..RecvMeta::default()
    };
    if !msg.msg_name.is_null() && msg.msg_namelen as usize >= size_of::<libc::sockaddr_in6>() {
        // SAFETY: msg_name points to a sockaddr_in6 of ours (caller).
        let name = unsafe { &*(msg.msg_name as *const libc::sockaddr_in6) };
        if i32::from(name.sin6_family) == libc::AF_INET6 {
            meta.src = Some(Ipv6Addr::from(name.sin6_addr.s6_addr));
        }
    }
    // SAFETY: CMSG_FIRSTHDR / CMSG_NXTHDR stay within msg_controllen of the
    // control block (caller), and return null past its end.
    let mut c = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !c.is_null() {
        // SAFETY: a non-null cmsghdr from the macros above is in bounds.
        let h = unsafe { &*c };
        let data = unsafe { libc::CMSG_DATA(c) };
        let avail = (h.cmsg_len as usize).saturating_sub(data as usize - c as usize);
        match (h.cmsg_level, h.cmsg_type) {
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) if avail >= size_of::<libc::timespec>() => {
                // SAFETY: the kernel wrote a timespec here; read unaligned.
                let ts = unsafe { std::ptr::read_unaligned(data.cast::<libc::timespec>()) };
                if let (Ok(s), Ok(ns)) = (u64::try_from(ts.tv_sec), u32::try_from(ts.tv_nsec)) {
                    meta.timestamp = Some(Duration::new(s, ns));
                }
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if avail >= size_of::<libc::in6_pktinfo>() => {
                // SAFETY: the kernel wrote an in6_pktinfo here.
                let info = unsafe { std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>()) };
                meta.dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
            }
            (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) if avail >= size_of::<libc::c_int>() => {
                // SAFETY: the kernel wrote an int here.
                let h = unsafe { std::ptr::read_unaligned(data.cast::<libc::c_int>()) };
                meta.hop_limit = u8::try_from(h).ok();
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        c = unsafe { libc::CMSG_NXTHDR(msg, c) };
    }
    meta
}

/// One queued datagram of a [`SendBatch`].
#[derive(Debug, Clone, Copy)]
struct Queued {
    start: usize,
    len: usize,
    /// The source address, given to the kernel per message (IP_PKTINFO /
    /// IPV6_PKTINFO): routers sharing a socket send from their own.
    src: IpAddr,
    dst: SocketAddr,
}

/// Datagrams queued for one `sendmmsg`: their bytes in one buffer and their
/// destinations. The capacity is fixed at creation; nothing allocates after.
pub struct SendBatch {
    buf: Vec<u8>,
    queued: Vec<Queued>,
}

/// Bytes a [`SendBatch`] holds: room for [`BATCH`] adverts of 64 bytes, the
/// size of a v3 advert with 13 IPv4 addresses; larger adverts make smaller
/// batches.
const SEND_BYTES: usize = BATCH * 64;

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch {
            buf: Vec::with_capacity(SEND_BYTES.max(crate::wire::vrrp::MAX_ADVERT_LEN)),
            queued: Vec::with_capacity(BATCH),
        }
    }
}

impl SendBatch {
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Whether `bytes` more fit (count and buffer) without growing.
    pub fn fits(&self, bytes: usize) -> bool {
        self.queued.len() < BATCH && self.buf.len() + bytes <= self.buf.capacity()
    }

    /// Queue a datagram. The caller checks [`Self::fits`] first; one that
    /// does not fit is queued anyway (the buffer grows) rather than lost.
    /// Raw sockets take port 0.
    pub fn push(&mut self, payload: &[u8], src: IpAddr, dst: SocketAddr) {
        let start = self.buf.len();
        self.buf.extend_from_slice(payload);
        self.queued.push(Queued {
            start,
            len: payload.len(),
            src,
            dst,
        });
    }

    /// The destination of the `k`th queued message (unspecified if none).
    pub fn destination(&self, k: usize) -> IpAddr {
        self.queued
            .get(k)
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |q| q.dst.ip())
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.queued.clear();
    }

    /// Send everything queued on interface `ifindex`, each message from its
    /// own source (IP_PKTINFO / IPV6_PKTINFO), in order, then clear.
    /// A message the kernel refuses is reported to `on_error` with its
    /// place in the batch and its destination, and skipped; the rest still
    /// go.
    pub fn send(
        &mut self,
        fd: RawFd,
        ifindex: u32,
        mut on_error: impl FnMut(usize, IpAddr, io::Error),
    ) {
        let mut done = 0;
        while done < self.queued.len() {
            match self.send_some(fd, ifindex, done) {
                Ok(0) => {
                    if let Some(q) = self.queued.get(done) {
                        on_error(done, q.dst.ip(), io::Error::other("sendmmsg sent nothing"));
                    }
                    done += 1;
                }
                Ok(n) => done += n,
                Err(e) => {
                    if let Some(q) = self.queued.get(done) {
                        on_error(done, q.dst.ip(), e);
                    }
                    done += 1;
                }
            }
        }
        self.clear();
    }

    /// One `sendmmsg` of the queued messages from `first` on (at most
    /// [`BATCH`]): how many the kernel took.
    fn send_some(&self, fd: RawFd, ifindex: u32, first: usize) -> io::Result<usize> {
        let msgs = self.queued.get(first..).unwrap_or(&[]);
        let mut count = 0;
        // SAFETY: plain old data; all-zero is valid and the fields used are
        // set below.
        let mut iovs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        let mut names: [libc::sockaddr_in6; BATCH] = unsafe { zeroed() };
        let mut cmsgs: [CmsgBuf; BATCH] = [const { CmsgBuf([0; CMSG_BYTES]) }; BATCH];
        for ((((q, iov), hdr), name), cmsg) in msgs
            .iter()
            .zip(iovs.iter_mut())
            .zip(hdrs.iter_mut())
            .zip(names.iter_mut())
            .zip(cmsgs.iter_mut())
        {
            let payload = self
                .buf
                .get(q.start..q.start + q.len)
                .ok_or_else(|| io::Error::other("send batch: message outside its buffer"))?;
            iov.iov_base = payload.as_ptr() as *mut libc::c_void;
            iov.iov_len = payload.len();
            let encoded = encode_dst(name, q.dst, ifindex, q.src)
                .and_then(|namelen| Ok((namelen, encode_pktinfo(cmsg, q.src, ifindex)?)));
            let (namelen, control_len) = match encoded {
                Ok(n) => n,
                // The first message is the one at fault; otherwise send
                // those before it, and it comes first in the next call.
                Err(e) if count == 0 => return Err(e),
                Err(_) => break,
            };
            hdr.msg_hdr.msg_iov = iov;
            hdr.msg_hdr.msg_iovlen = 1;
            hdr.msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            hdr.msg_hdr.msg_namelen = namelen;
            hdr.msg_hdr.msg_control = cmsg.0.as_mut_ptr().cast();
            hdr.msg_hdr.msg_controllen = control_len as _;
            count += 1;
        }
        // SAFETY: the first `count` headers point into `iovs`, `names`,
        // `cmsgs` and `self.buf`, all alive for the call, with their lengths.
        let n = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), count as libc::c_uint, 0) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        // A short write of a datagram is not possible on a raw socket; a
        // message the kernel took is sent whole.
        Ok(n)
    }
}

/// The destination address of one message, in the sockaddr_in6-sized
/// area: its length.
fn encode_dst(
    name: &mut libc::sockaddr_in6,
    dst: SocketAddr,
    ifindex: u32,
    source: IpAddr,
) -> io::Result<libc::socklen_t> {
    let port = dst.port().to_be();
    match (dst.ip(), source) {
        (IpAddr::V4(d), IpAddr::V4(_)) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(d.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a sockaddr_in fits in a sockaddr_in6 (16 <= 28 bytes)
            // and both are plain old data.
            unsafe {
                std::ptr::write_unaligned(
                    (name as *mut libc::sockaddr_in6).cast::<libc::sockaddr_in>(),
                    sin,
                );
            }
            Ok(size_of::<libc::sockaddr_in>() as libc::socklen_t)
        }
        (IpAddr::V6(d), IpAddr::V6(_)) => {
            let scoped = (d.segments()[0] & 0xffc0) == 0xfe80 || d.is_multicast();
            *name = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: port,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: d.octets(),
                },
                sin6_scope_id: if scoped { ifindex } else { 0 },
            };
            Ok(size_of::<libc::sockaddr_in6>() as libc::socklen_t)
        }
        _ => Err(io::Error::other(format!(
            "destination {} is not of the socket's family",
            dst.ip()
        ))),
    }
}

/// IP_PKTINFO / IPV6_PKTINFO naming the source address and interface:
/// the bytes of the control block used.
fn encode_pktinfo(cmsg: &mut CmsgBuf, source: IpAddr, ifindex: u32) -> io::Result<usize> {
    let (level, kind, len) = match source {
        IpAddr::V4(_) => (
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            size_of::<libc::in_pktinfo>(),
        ),
        IpAddr::V6(_) => (
            libc::IPPROTO_IPV6,
            libc::IPV6_PKTINFO,
            size_of::<libc::in6_pktinfo>(),
        ),
    };
    // SAFETY: CMSG_SPACE / CMSG_LEN are arithmetic.
    let space = unsafe { libc::CMSG_SPACE(len as u32) } as usize;
    if space > CMSG_BYTES {
        return Err(io::Error::other("control block too small"));
    }
    // SAFETY: a msghdr whose control block is our buffer of `space` bytes;
    // CMSG_FIRSTHDR returns its start (8-aligned, see CmsgBuf), and the
    // header and data written lie within `space`.
    unsafe {
        let mut msg: libc::msghdr = zeroed();
        msg.msg_control = cmsg.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() {
            return Err(io::Error::other("control block too small"));
        }
        (*c).cmsg_level = level;
        (*c).cmsg_type = kind;
        (*c).cmsg_len = libc::CMSG_LEN(len as u32) as _;
        let data = libc::CMSG_DATA(c);
        let ifindex_i32 = i32::try_from(ifindex).unwrap_or(0);
        match source {
            IpAddr::V4(src) => std::ptr::write_unaligned(
                data.cast::<libc::in_pktinfo>(),
                libc::in_pktinfo {
                    ipi_ifindex: ifindex_i32,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(src.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                },
            ),
            IpAddr::V6(src) => std::ptr::write_unaligned(
                data.cast::<libc::in6_pktinfo>(),
                libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: ifindex,
                },
            ),
        }
    }
    Ok(space)
}

#[cfg(test)]
mod tests {
    //! Over UDP on the loopback interface, which needs no privileges and
    //! carries the same control messages as the raw VRRP socket.
    use super::*;
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddr};
    use std::os::fd::AsRawFd;

    fn udp(domain: Domain, bind: SocketAddr) -> Socket {
        let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.bind(&bind.into()).unwrap();
        nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
            .unwrap();
        s
    }

    fn port(s: &Socket) -> u16 {
        s.local_addr().unwrap().as_socket().unwrap().port()
    }

    #[test]
    fn a_batch_goes_out_in_order_and_comes_back_with_timestamps() {
        let lo = Ipv4Addr::LOCALHOST;
        let rx = udp(Domain::IPV4, SocketAddr::from((lo, 0)));
        let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        let to = SocketAddr::from((lo, port(&rx)));
        let mut batch = SendBatch::default();
        for i in 0..40u8 {
            // 40 datagrams: more than one sendmmsg.
            batch.push(&vec![i; usize::from(i) + 1], IpAddr::V4(lo), to);
        }
        assert_eq!(batch.len(), 40);
        let mut errors = Vec::new();
        batch.send(tx.as_raw_fd(), 1, |_, dst, e| {
            errors.push((dst, e.to_string()))
        });
        assert!(errors.is_empty(), "{errors:?}");
        assert!(batch.is_empty());
        let mut got = Vec::new();
        let mut r = RecvBatch::default();
        loop {
            match r.recv(rx.as_raw_fd()) {
                Ok(n) => {
                    assert!(n <= BATCH);
                    for i in 0..n {
                        let (data, meta) = r.get(i).unwrap();
                        assert!(meta.timestamp.is_some(), "no SCM_TIMESTAMPNS");
                        assert!(!meta.truncated);
                        got.push(data.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("recvmmsg: {e}"),
            }
        }
        assert_eq!(got.len(), 40);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d.len(), i + 1);
            assert!(d.iter().all(|b| usize::from(*b) == i));
        }
        assert!(r.get(r.len()).is_none());
    }

    #[test]
    fn an_oversized_datagram_is_flagged_truncated() {
        let lo = Ipv4Addr::LOCALHOST;
        let rx = udp(Domain::IPV4, SocketAddr::from((lo, 0)));
        let tx = std::net::UdpSocket::bind((lo, 0)).unwrap();
        tx.send_to(&vec![7u8; SLOT + 100], (lo, port(&rx))).unwrap();
        tx.send_to(&[1, 2, 3], (lo, port(&rx))).unwrap();
        let mut r = RecvBatch::default();
        let n = r.recv(rx.as_raw_fd()).unwrap();
        assert_eq!(n, 2);
        let (data, meta) = r.get(0).unwrap();
        assert!(meta.truncated);
        assert_eq!(data.len(), SLOT);
        let (data, meta) = r.get(1).unwrap();
        assert!(!meta.truncated);
        assert_eq!(data, &[1, 2, 3]);
    }

    #[test]
    fn ipv6_reports_source_destination_and_hop_limit() {
        let lo = Ipv6Addr::LOCALHOST;
        let Ok(rx) = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)) else {
            panic!("no IPv6 UDP socket");
        };
        rx.bind(&SocketAddr::from((lo, 0)).into())
            .expect("bind [::1] (is IPv6 disabled on lo?)");
        rx.set_recv_hoplimit_v6(true).unwrap();
        nix::sys::socket::setsockopt(&rx, nix::sys::socket::sockopt::Ipv6RecvPacketInfo, &true)
            .unwrap();
        let tx = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        tx.bind(&SocketAddr::from((lo, 0)).into()).unwrap();
        tx.set_unicast_hops_v6(255).unwrap();
        let mut batch = SendBatch::default();
        batch.push(b"hello", IpAddr::V6(lo), SocketAddr::from((lo, port(&rx))));
        let mut errors = Vec::new();
        batch.send(tx.as_raw_fd(), 1, |_, dst, e| {
            errors.push((dst, e.to_string()))
        });
        assert!(errors.is_empty(), "{errors:?}");
        let mut r = RecvBatch::default();
        assert_eq!(r.recv(rx.as_raw_fd()).unwrap(), 1);
        let (data, meta) = r.get(0).unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(meta.src, Some(lo));
        assert_eq!(meta.dst, Some(lo));
        assert_eq!(meta.hop_limit, Some(255));
    }

    #[test]
    fn a_refused_message_is_reported_and_the_rest_still_go() {
        let lo = Ipv4Addr::LOCALHOST;
        let rx = udp(Domain::IPV4, SocketAddr::from((lo, 0)));
        let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        let to = SocketAddr::from((lo, port(&rx)));
        let mut batch = SendBatch::default();
        batch.push(b"one", IpAddr::V4(lo), to);
        // The wrong family for this socket: refused before any syscall.
        batch.push(
            b"two",
            IpAddr::V4(lo),
            SocketAddr::from((Ipv6Addr::LOCALHOST, 9)),
        );
        batch.push(b"three", IpAddr::V4(lo), to);
        let mut errors = Vec::new();
        batch.send(tx.as_raw_fd(), 1, |_, dst, e| {
            errors.push((dst, e.to_string()))
        });
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let mut r = RecvBatch::default();
        let n = r.recv(rx.as_raw_fd()).unwrap();
        let got: Vec<&[u8]> = (0..n).map(|i| r.get(i).unwrap().0).collect();
        assert_eq!(got, vec![&b"one"[..], &b"three"[..]]);
    }

    /// Messages of one batch leave from their own sources: routers that
    /// share a socket each send from the address their checksum covers.
    #[test]
    fn each_message_leaves_from_its_own_source() {
        let lo = Ipv4Addr::LOCALHOST;
        let rx = std::net::UdpSocket::bind((lo, 0)).unwrap();
        rx.set_nonblocking(true).unwrap();
        let to = rx.local_addr().unwrap();
        let tx = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        let mut batch = SendBatch::default();
        let (a, b) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));
        batch.push(b"a", IpAddr::V4(a), to);
        batch.push(b"b", IpAddr::V4(b), to);
        let mut errors = Vec::new();
        batch.send(tx.as_raw_fd(), 1, |_, dst, e| {
            errors.push((dst, e.to_string()))
        });
        assert!(errors.is_empty(), "{errors:?}");
        let mut buf = [0u8; 8];
        let mut got = Vec::new();
        while let Ok((n, from)) = rx.recv_from(&mut buf) {
            got.push((buf[..n].to_vec(), from.ip()));
        }
        assert_eq!(
            got,
            vec![
                (b"a".to_vec(), IpAddr::V4(a)),
                (b"b".to_vec(), IpAddr::V4(b))
            ]
        );
    }
}
