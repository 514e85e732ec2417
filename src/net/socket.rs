//! One raw IP socket (protocol 112) per interface and address family.
//!
//! Every virtual router on the interface shares it; the daemon dispatches
//! received adverts by VRID. The socket is bound to the device, joins the
//! VRRP group on that interface only, sends with TTL / hop limit 255
//! (RFC 9568 section 5.1.1.3 / 5.1.2.3) and does not loop its own
//! multicast back.
//!
//! IPv4 raw sockets deliver the IP header with the payload, so TTL and
//! destination come from the datagram itself. IPv6 raw sockets deliver the
//! payload only: the hop limit and destination come from control messages
//! (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO).

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sys::socket::{self as nixsock, sockopt};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::{AsyncFd, AsyncFdRegisterError};

use super::IPPROTO_VRRP;
use super::mmsg::{RecvBatch, RecvMeta, SendBatch};
use crate::wire::Family;
use crate::wire::vrrp::{MULTICAST_V4, MULTICAST_V6, TTL};

/// Receive buffer asked for (the kernel doubles it for its bookkeeping):
/// about 1,300 small adverts.
const RCVBUF: usize = 1 << 20;

/// What one read from the socket gave.
#[derive(Debug)]
pub enum Rx<'b> {
    /// A whole IPv4 datagram, header included.
    V4 { datagram: &'b [u8], age: Duration },
    /// An IPv6 payload with the header fields the kernel reported.
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        payload: &'b [u8],
        age: Duration,
    },
}

impl<'b> Rx<'b> {
    /// One packet of a received batch on a socket of `family`; `now` is
    /// [`realtime_now`] read after the batch was received. An IPv6 packet
    /// without its destination or hop limit (which the socket asked for)
    /// is an error.
    pub fn from_batch(
        family: Family,
        data: &'b [u8],
        meta: &RecvMeta,
        now: Option<Duration>,
    ) -> io::Result<Rx<'b>> {
        let age = age_of(meta.timestamp, now);
        match family {
            Family::Ipv4 => Ok(Rx::V4 {
                datagram: data,
                age,
            }),
            Family::Ipv6 => match (meta.src, meta.dst, meta.hop_limit) {
                (Some(src), Some(dst), Some(hop_limit)) => Ok(Rx::V6 {
                    src,
                    dst,
                    hop_limit,
                    payload: data,
                    age,
                }),
                _ => Err(io::Error::other(
                    "recvmmsg: missing source, IPV6_PKTINFO or IPV6_HOPLIMIT",
                )),
            },
        }
    }

    /// How long ago the kernel received the packet (SO_TIMESTAMPNS): the
    /// Master_Down_Timer runs from the advert's arrival, not from when the
    /// loop got round to reading it.
    pub fn age(&self) -> Duration {
        match self {
            Rx::V4 { age, .. } | Rx::V6 { age, .. } => *age,
        }
    }
}

/// The socket, in or out of the runtime's epoll set.
enum Io {
    /// Registered: readiness wakes the loop.
    Polled(AsyncFd<Socket>),
    /// Not registered: packets queue without waking anyone (receive
    /// pacing, daemon/pace.rs; and send-only sockets).
    Paused(Socket),
}

/// The shared VRRP socket of one (interface, family).
pub struct VrrpSocket {
    io: Option<Io>,
    /// For IP_PKTINFO / IPV6_PKTINFO on every send.
    ifindex: u32,
}

impl VrrpSocket {
    /// Open, configure and bind the socket. `join_group` is false in unicast
    /// mode, where no multicast membership is wanted.
    pub fn open(
        ifname: &str,
        ifindex: u32,
        family: Family,
        join_group: bool,
    ) -> io::Result<VrrpSocket> {
        let domain = match family {
            Family::Ipv4 => Domain::IPV4,
            Family::Ipv6 => Domain::IPV6,
        };
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(IPPROTO_VRRP)))
            .map_err(|e| with_context(e, "socket(SOCK_RAW, 112) (needs CAP_NET_RAW)"))?;
        sock.set_nonblocking(true)?;
        // Room for bursts: an Active peer with many routers sends their
        // adverts back to back (255 at once is normal: routers that start
        // together stay in step), and a paced read comes a millisecond
        // later. The default (212,992 bytes, about 270 small adverts as
        // the kernel counts them) filled to 82% in the 255 x 10 ms
        // benchmark. FORCE needs CAP_NET_ADMIN, which the daemon has; the
        // plain option, capped by net.core.rmem_max, is the fallback.
        if nixsock::setsockopt(&sock, sockopt::RcvBufForce, &RCVBUF).is_err() {
            let _ = sock.set_recv_buffer_size(RCVBUF);
        }
        // Kernel receive timestamps, for the age of each advert.
        nixsock::setsockopt(&sock, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(|e| with_context(e, &format!("SO_BINDTODEVICE {ifname}")))?;
        // Not bound to an address: a raw socket bound to one only receives
        // datagrams sent *to* it, and adverts go to the group. The source
        // is set per message (IP_PKTINFO / IPV6_PKTINFO).
        match family {
            Family::Ipv4 => {
                sock.set_ttl_v4(u32::from(TTL))?;
                sock.set_multicast_ttl_v4(u32::from(TTL))?;
                sock.set_multicast_loop_v4(false)?;
                // Only the groups joined on this socket, not every group of the host.
                sock.set_multicast_all_v4(false)?;
                if join_group {
                    sock.join_multicast_v4_n(
                        &MULTICAST_V4,
                        &socket2::InterfaceIndexOrAddress::Index(ifindex),
                    )
                    .map_err(|e| with_context(e, "join 224.0.0.18"))?;
                }
            }
            Family::Ipv6 => {
                sock.set_unicast_hops_v6(u32::from(TTL))?;
                sock.set_multicast_hops_v6(u32::from(TTL))?;
                sock.set_multicast_loop_v6(false)?;
                sock.set_multicast_all_v6(false)?;
                sock.set_multicast_if_v6(ifindex)?;
                sock.set_recv_hoplimit_v6(true)?;
                nixsock::setsockopt(&sock, sockopt::Ipv6RecvPacketInfo, &true)
                    .map_err(io::Error::from)?;
                if join_group {
                    sock.join_multicast_v6(&MULTICAST_V6, ifindex)
                        .map_err(|e| with_context(e, "join ff02::12"))?;
                }
            }
        }
        let fd = register(sock).map_err(io::Error::from)?;
        Ok(VrrpSocket {
            io: Some(Io::Polled(fd)),
            ifindex,
        })
    }

    fn socket(&self) -> io::Result<&Socket> {
        match &self.io {
            Some(Io::Polled(fd)) => Ok(fd.get_ref()),
            Some(Io::Paused(sock)) => Ok(sock),
            // set_polled always puts it back.
            None => Err(io::Error::other("socket missing")),
        }
    }

    /// Whether readiness of this socket wakes the loop. Paused, packets
    /// queue in the socket without a wake-up each: under a steady stream
    /// the loop reads them in batches (daemon/pace.rs). Switching costs one
    /// epoll_ctl; a socket resumed with packets queued is ready at once.
    pub fn set_polled(&mut self, polled: bool) -> io::Result<()> {
        let (io, result) = match (self.io.take(), polled) {
            (Some(Io::Polled(fd)), false) => (Some(Io::Paused(fd.into_inner())), Ok(())),
            (Some(Io::Paused(sock)), true) => match register(sock) {
                Ok(fd) => (Some(Io::Polled(fd)), Ok(())),
                // Still usable, only not woken for: the paced reads and
                // the next attempt still reach it.
                Err(e) => {
                    let (sock, cause) = e.into_parts();
                    (Some(Io::Paused(sock)), Err(cause))
                }
            },
            (io, _) => (io, Ok(())),
        };
        self.io = io;
        result
    }

    /// Readiness for the daemon's poll loop (no allocation, no future). A
    /// paused socket is never ready.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(Io::Polled(fd)) = &self.io else {
            return Poll::Pending;
        };
        match fd.poll_read_ready(cx) {
            Poll::Ready(Ok(mut guard)) => {
                // Readiness is re-armed by `try_recv` hitting WouldBlock.
                guard.retain_ready();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Read up to a batch of packets (recvmmsg): how many. `Ok(0)` when
    /// the queue is empty, and readiness is then cleared so the next poll
    /// waits.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        match batch.recv(self.socket()?.as_raw_fd()) {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.clear_ready();
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Forget the socket's readiness: the queue is empty (a read returned
    /// WouldBlock, or fewer packets than a batch). Safe on the daemon's
    /// single thread: a packet arriving since is reported by the next
    /// epoll_wait, which has not run yet.
    pub fn clear_ready(&self) {
        let Some(Io::Polled(fd)) = &self.io else {
            return;
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        if let Poll::Ready(Ok(mut guard)) = fd.poll_read_ready(&mut cx) {
            guard.clear_ready();
        }
    }

    /// Send the queued VRRP messages (the kernel adds the IP headers) on
    /// our interface, each from the source it was queued with, and clear
    /// the batch. The source must be the one the checksum was computed
    /// with, so it is given to the kernel explicitly (IP_PKTINFO /
    /// IPV6_PKTINFO) rather than left to routing. Each refused message
    /// goes to `on_error`.
    pub fn send_batch(
        &self,
        batch: &mut SendBatch,
        mut on_error: impl FnMut(usize, IpAddr, io::Error),
    ) {
        match self.socket() {
            Ok(sock) => batch.send(sock.as_raw_fd(), self.ifindex, on_error),
            Err(e) => {
                for k in 0..batch.len() {
                    on_error(
                        k,
                        batch.destination(k),
                        io::Error::new(e.kind(), e.to_string()),
                    );
                }
                batch.clear();
            }
        }
    }
}

/// Add the socket to the runtime's epoll set, for readability.
fn register(sock: Socket) -> Result<AsyncFd<Socket>, AsyncFdRegisterError<Socket>> {
    // SAFETY: the Socket owns its descriptor and moves into the AsyncFd,
    // which keeps it open and unchanged until the AsyncFd is dropped or
    // gives the Socket back (`into_inner`, which deregisters it first).
    unsafe { AsyncFd::register_with_interest(sock, tokio::io::Interest::READABLE) }
}

/// CLOCK_REALTIME now, to age a batch of received packets by (see
/// [`Rx::from_batch`]); read once per batch.
pub fn realtime_now() -> Option<Duration> {
    SystemTime::now().duration_since(UNIX_EPOCH).ok()
}

/// The age of a packet from its kernel timestamp. Both clocks are
/// CLOCK_REALTIME read moments apart; anything negative or implausible (a
/// clock step between the two readings) counts as just received, so a
/// realtime jump can never move a protocol timer.
fn age_of(stamp: Option<Duration>, now: Option<Duration>) -> Duration {
    let (Some(stamp), Some(now)) = (stamp, now) else {
        return Duration::ZERO;
    };
    now.checked_sub(stamp)
        .filter(|age| *age < Duration::from_millis(100))
        .unwrap_or(Duration::ZERO)
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
