//! The Linux side: raw sockets, netlink, AF_PACKET.
