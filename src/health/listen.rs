//! Is anything listening on the local API server's port? Asked of the
//! kernel with NETLINK_SOCK_DIAG (inet_diag, see sock_diag(7)): one dump of
//! the TCP sockets in LISTEN state on that port, nothing sent to the API
//! server. A killed kube-apiserver's listening socket is gone the moment
//! the process is.
//!
//! When is the question asked? Not on a timer: [`DestroyWatch`] joins the
//! sock_diag groups on which the kernel announces every TCP socket it
//! destroys, with a classic BPF filter attached so that only a socket on
//! the API server's port without a peer (a listener; an accepted connection
//! has a remote port) wakes the daemon. So a closed port is seen within
//! the kernel's work-queue delay (well under a millisecond), and an API
//! server that keeps running costs nothing at all. Where the groups cannot
//! be joined, the dump runs every `connect_interval` instead.
//!
//! Why not a TCP connect every 100 ms: each connect on loopback costs our
//! process the whole handshake in softirq (both ends), about 0.2 ms of CPU,
//! and each one reaches kube-apiserver as a connection that closes before
//! its TLS handshake: a `TLS handshake error ... EOF` (logged at -v=5) and
//! one more in its `apiserver_tls_handshake_errors_total`, ten times a
//! second. docs/kubernetes.md has the figures.
//!
//! It only sees sockets of this network namespace, so it is used only for
//! an address of this host (loopback, or one it can bind); anything else
//! gets the TCP-connect probe.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd as _, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    socket,
};
use tokio::io::unix::AsyncFd;

/// linux/sock_diag.h
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// linux/netlink.h
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// include/net/tcp_states.h
const TCP_LISTEN: u32 = 10;
/// linux/inet_diag.h
const INET_DIAG_SKV6ONLY: u16 = 11;

/// linux/sock_diag.h: enum { SKNLGRP_NONE, SKNLGRP_INET_TCP_DESTROY,
/// SKNLGRP_INET_UDP_DESTROY, SKNLGRP_INET6_TCP_DESTROY, ... }
const SKNLGRP_INET_TCP_DESTROY: u32 = 1;
const SKNLGRP_INET6_TCP_DESTROY: u32 = 3;

const NLMSG_HDR_LEN: usize = 16;
/// struct inet_diag_req_v2
const REQ_LEN: usize = 56;
/// struct inet_diag_msg
const MSG_LEN: usize = 72;

/// A listening socket as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub addr: SocketAddr,
    /// An IPv6 socket that does not take IPv4 (IPV6_V6ONLY).
    pub v6only: bool,
}

impl Listener {
    /// Does a connect to `target` reach this socket?
    pub fn serves(&self, target: SocketAddr) -> bool {
        if self.addr.port() != target.port() {
            return false;
        }
        match (self.addr.ip(), target.ip()) {
            (IpAddr::V4(l), IpAddr::V4(t)) => l.is_unspecified() || l == t,
            (IpAddr::V6(l), IpAddr::V6(t)) => l.is_unspecified() || l == t,
            (IpAddr::V6(l), IpAddr::V4(t)) => {
                !self.v6only && (l.is_unspecified() || l == t.to_ipv6_mapped())
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

/// Is `ip` an address of this host (and network namespace)? Loopback and
/// wildcard are; otherwise: can a socket be bound to it.
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback()
        || ip.is_unspecified()
        || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// A netlink socket kept open for the questions of one check.
#[derive(Debug)]
pub struct ListenWatch {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl ListenWatch {
    pub fn new() -> io::Result<ListenWatch> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        // The dump is answered in microseconds and read in place, on the
        // runtime's thread: bound it anyway, so a kernel that never answers
        // cannot stall the daemon.
        nix::sys::socket::setsockopt(
            &fd,
            nix::sys::socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(0, 100_000),
        )?;
        Ok(ListenWatch {
            fd,
            seq: 0,
            buf: vec![0; 32 * 1024],
        })
    }

    /// Whether a socket listens that a TCP connect to `target` would reach.
    pub fn serves(&mut self, target: SocketAddr) -> io::Result<bool> {
        // An IPv4 target can be served by an IPv6 wildcard socket too.
        let families: &[u8] = match target {
            SocketAddr::V4(_) => &[libc::AF_INET as u8, libc::AF_INET6 as u8],
            SocketAddr::V6(_) => &[libc::AF_INET6 as u8],
        };
        for &family in families {
            if self
                .listeners(family, target.port())?
                .iter()
                .any(|l| l.serves(target))
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The TCP sockets of `family` listening on `port`.
    pub fn listeners(&mut self, family: u8, port: u16) -> io::Result<Vec<Listener>> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(family, port, self.seq);
        sendto(
            self.fd.as_raw_fd(),
            &req,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        let mut out = Vec::new();
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
            match parse(&self.buf[..n], self.seq, port, &mut out)? {
                Parsed::Done => return Ok(out),
                Parsed::More => continue,
            }
        }
    }
}

/// Notices of destroyed TCP sockets on one port that have no peer.
#[derive(Debug)]
pub struct DestroyWatch {
    fd: AsyncFd<OwnedFd>,
    buf: Vec<u8>,
}

/// What a destroy notice says: the socket's local and remote address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Destroyed {
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

impl DestroyWatch {
    /// Joins the TCP-destroy groups of both families, filtered to sockets
    /// whose local port is `port` and remote port 0. Needs a tokio runtime.
    pub fn new(port: u16) -> io::Result<DestroyWatch> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::NetlinkSockDiag,
        )?;
        // The filter goes on before the bind: nothing unfiltered queues.
        attach_filter(&fd, port)?;
        let groups = (1 << (SKNLGRP_INET_TCP_DESTROY - 1)) | (1 << (SKNLGRP_INET6_TCP_DESTROY - 1));
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups))?;
        // SAFETY: the OwnedFd is moved into the AsyncFd, which owns it from
        // here on: the descriptor stays open, and as_raw_fd returns the same
        // number, until the AsyncFd is dropped.
        let fd = unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }?;
        Ok(DestroyWatch {
            fd,
            buf: vec![0; 8 * 1024],
        })
    }

    /// Waits for the next notice. `Ok(None)`: notices were lost (the
    /// socket's buffer overflowed), so the caller should look for itself.
    pub async fn destroyed(&mut self) -> io::Result<Option<Destroyed>> {
        let DestroyWatch { fd, buf } = self;
        loop {
            let mut ready = fd.readable().await?;
            match ready.try_io(|fd| {
                recv(fd.as_raw_fd(), buf, MsgFlags::MSG_DONTWAIT).map_err(io::Error::from)
            }) {
                Ok(Ok(n)) => {
                    let m = buf.get(NLMSG_HDR_LEN..n).unwrap_or(&[]);
                    if let Some(d) = destroyed(m) {
                        return Ok(Some(d));
                    }
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => return Ok(None),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }
}

/// cBPF on the notice (offsets from the nlmsghdr): accept when
/// inet_diag_msg.id.idiag_sport (16 + 4) is `port` and idiag_dport
/// (16 + 6) is 0. The state cannot be used: a listener is in TCP_CLOSE by
/// the time it is destroyed.
fn attach_filter(fd: &OwnedFd, port: u16) -> io::Result<()> {
    let ld_h = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    let jeq = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    let insn = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let program = [
        insn(ld_h, 0, 0, (NLMSG_HDR_LEN + 4) as u32),
        insn(jeq, 0, 3, u32::from(port)),
        insn(ld_h, 0, 0, (NLMSG_HDR_LEN + 6) as u32),
        insn(jeq, 0, 1, 0),
        insn(ret, 0, 0, 0xffff_ffff),
        insn(ret, 0, 0, 0),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: SO_ATTACH_FILTER copies the program out of `fprog` during the
    // call; both live until it returns, and the size passed is theirs.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The addresses of a destroy notice's inet_diag_msg.
fn destroyed(m: &[u8]) -> Option<Destroyed> {
    if m.len() < MSG_LEN {
        return None;
    }
    let id = &m[4..52];
    let sport = u16::from_be_bytes([id[0], id[1]]);
    let dport = u16::from_be_bytes([id[2], id[3]]);
    let src: [u8; 16] = id[4..20].try_into().ok()?;
    let dst: [u8; 16] = id[20..36].try_into().ok()?;
    let ip = |a: [u8; 16]| match i32::from(m[0]) {
        libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
        libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(a))),
        _ => None,
    };
    Some(Destroyed {
        local: SocketAddr::new(ip(src)?, sport),
        remote: SocketAddr::new(ip(dst)?, dport),
    })
}

/// nlmsghdr + inet_diag_req_v2 asking for every TCP socket of `family` in
/// LISTEN state on source port `port`.
fn request(family: u8, port: u16, seq: u32) -> [u8; NLMSG_HDR_LEN + REQ_LEN] {
    let mut b = [0u8; NLMSG_HDR_LEN + REQ_LEN];
    b[0..4].copy_from_slice(&((NLMSG_HDR_LEN + REQ_LEN) as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // pid 0: the kernel.
    let r = &mut b[NLMSG_HDR_LEN..];
    r[0] = family;
    r[1] = libc::IPPROTO_TCP as u8;
    // idiag_ext 0, pad 0.
    r[4..8].copy_from_slice(&(1u32 << TCP_LISTEN).to_ne_bytes());
    // inet_diag_sockid: idiag_sport (network order) filters the dump.
    r[8..10].copy_from_slice(&port.to_be_bytes());
    b
}

enum Parsed {
    Done,
    More,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag: {why}"))
}

/// Parses one datagram of the dump answer into `out`.
fn parse(mut b: &[u8], seq: u32, port: u16, out: &mut Vec<Listener>) -> io::Result<Parsed> {
    while b.len() >= NLMSG_HDR_LEN {
        let len = u32_at(b, 0).ok_or_else(|| bad("short header"))? as usize;
        let kind = u16_at(b, 4).ok_or_else(|| bad("short header"))?;
        let msg_seq = u32_at(b, 8).ok_or_else(|| bad("short header"))?;
        if len < NLMSG_HDR_LEN || len > b.len() {
            return Err(bad("bad message length"));
        }
        let body = &b[NLMSG_HDR_LEN..len];
        if msg_seq == seq {
            match kind {
                NLMSG_DONE => return Ok(Parsed::Done),
                NLMSG_ERROR => {
                    let errno = u32_at(body, 0).map_or(0, |e| e as i32);
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(l) = listener(body)
                        && l.addr.port() == port
                    {
                        out.push(l);
                    }
                }
                _ => {}
            }
        }
        // Messages are 4-byte aligned.
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
    }
    Ok(Parsed::More)
}

/// inet_diag_msg and its attributes.
fn listener(m: &[u8]) -> Option<Listener> {
    if m.len() < MSG_LEN {
        return None;
    }
    let family = m[0];
    let id = &m[4..52];
    let port = u16::from_be_bytes([id[0], id[1]]);
    let src: [u8; 16] = id[4..20].try_into().ok()?;
    let ip = match i32::from(family) {
        libc::AF_INET => IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        libc::AF_INET6 => IpAddr::V6(Ipv6Addr::from(src)),
        _ => return None,
    };
    let mut v6only = false;
    let mut attrs = &m[MSG_LEN..];
    while attrs.len() >= 4 {
        let len = usize::from(u16_at(attrs, 0)?);
        let kind = u16_at(attrs, 2)?;
        if len < 4 || len > attrs.len() {
            break;
        }
        if kind == INET_DIAG_SKV6ONLY && len >= 5 {
            v6only = attrs[4] != 0;
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    Some(Listener {
        addr: SocketAddr::new(ip, port),
        v6only,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_v4_mapped_serve_as_a_connect_would_reach() {
        let t4: SocketAddr = "127.0.0.1:6443".parse().unwrap();
        let l = |a: &str, v6only| Listener {
            addr: a.parse().unwrap(),
            v6only,
        };
        assert!(l("127.0.0.1:6443", false).serves(t4));
        assert!(l("0.0.0.0:6443", false).serves(t4));
        assert!(l("[::]:6443", false).serves(t4));
        assert!(!l("[::]:6443", true).serves(t4));
        assert!(l("[::ffff:127.0.0.1]:6443", false).serves(t4));
        assert!(!l("192.0.2.1:6443", false).serves(t4));
        assert!(!l("127.0.0.1:6444", false).serves(t4));
        let t6: SocketAddr = "[::1]:6443".parse().unwrap();
        assert!(l("[::]:6443", true).serves(t6));
        assert!(!l("0.0.0.0:6443", false).serves(t6));
    }

    #[test]
    fn the_kernel_sees_a_listener_come_and_go() {
        let mut w = ListenWatch::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(w.serves(addr).unwrap());
        // A connected (not listening) socket on the same port is no
        // listener.
        let _client = std::net::TcpStream::connect(addr).unwrap();
        drop(listener);
        assert!(!w.serves(addr).unwrap());
        // An IPv6 wildcard listener serves IPv4 too.
        let v6 = std::net::TcpListener::bind("[::]:0").unwrap();
        let port = v6.local_addr().unwrap().port();
        assert!(
            w.serves(SocketAddr::new([127, 0, 0, 1].into(), port))
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_closed_listener_is_announced_and_its_connections_are_not() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut events = DestroyWatch::new(addr.port()).unwrap();
        // An accepted connection on the port, closed on both ends first:
        // the filter must let none of its two sockets through.
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (served, _) = listener.accept().unwrap();
        drop(client);
        drop(served);
        drop(listener);
        let first = tokio::time::timeout(std::time::Duration::from_secs(10), events.destroyed())
            .await
            .expect("no notice of the closed listener")
            .unwrap()
            .expect("notices lost");
        assert_eq!(first.local, addr);
        assert_eq!(first.remote.port(), 0);
    }

    #[test]
    fn local_addresses_are_told_from_others() {
        assert!(is_local("127.0.0.1".parse().unwrap()));
        assert!(is_local("::1".parse().unwrap()));
        // Documentation range: never on this host.
        assert!(!is_local("198.51.100.77".parse().unwrap()));
    }
}
