//! AF_PACKET: send whole Ethernet frames (gratuitous ARP, unsolicited NA).
//!
//! Why not pnet's datalink channel: it opens the socket with ETH_P_ALL, so
//! the kernel would copy every frame of the interface into our receive
//! queue. We only send, so the socket is opened with protocol 0, which
//! receives nothing.

use std::io;
use std::os::fd::AsRawFd;

use socket2::{Domain, Socket, Type};

/// A send-only packet socket bound to one interface.
pub struct FrameSender {
    sock: Socket,
}

impl FrameSender {
    pub fn open(ifindex: u32) -> io::Result<FrameSender> {
        let sock = Socket::new(Domain::PACKET, Type::RAW, None).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("socket(AF_PACKET) (needs CAP_NET_RAW): {e}"),
            )
        })?;
        sock.set_nonblocking(true)?;
        let ifindex_c = i32::try_from(ifindex)
            .map_err(|_| io::Error::other(format!("interface index {ifindex} out of range")))?;
        // SAFETY: sockaddr_ll is plain old data; zeroed is a valid value, and
        // bind reads exactly size_of::<sockaddr_ll>() bytes from it.
        let rc = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = 0; // receive nothing
            sll.sll_ifindex = ifindex_c;
            libc::bind(
                sock.as_raw_fd(),
                &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FrameSender { sock })
    }

    /// Send one complete Ethernet frame.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let n = self.sock.send(frame)?;
        if n != frame.len() {
            return Err(io::Error::other(format!(
                "short frame send: {n} of {}",
                frame.len()
            )));
        }
        Ok(())
    }
}
