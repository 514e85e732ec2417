//! `ha-vip decode`: read pcap/pcapng files and print every VRRP packet.
