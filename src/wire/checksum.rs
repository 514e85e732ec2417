//! The Internet checksum (RFC 1071) and the IPv4 / IPv6 pseudo-headers.
//!
//! Every function returns the *folded one's-complement sum* (not yet
//! complemented), so sums of several pieces can be [`combine`]d. The value
//! written into a checksum field is `!combine(&[..])`; a received message
//! verifies when `combine(&[pseudo, data(message)]) == 0xffff`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Fold a wide one's-complement accumulator into 16 bits.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves at most 0xffff.
    sum as u16
}

/// One's-complement sum of `data` read as big-endian 16-bit words; an odd
/// trailing byte is padded with a zero byte on the right (RFC 1071 4.1).
pub fn data(data: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    fold(sum)
}

/// One's-complement sum of several partial sums.
pub fn combine(sums: &[u16]) -> u16 {
    fold(sums.iter().map(|&s| u64::from(s)).sum())
}

/// The checksum field value for partial sums: the complement of their sum.
pub fn finish(sums: &[u16]) -> u16 {
    !combine(sums)
}

/// Sum of the IPv4 pseudo-header (RFC 768 / RFC 793 3.1): source,
/// destination, zero, protocol, upper-layer length.
pub fn pseudo_header_v4(src: &Ipv4Addr, dst: &Ipv4Addr, protocol: u8, length: u16) -> u16 {
    let mut ph = [0u8; 12];
    ph[0..4].copy_from_slice(&src.octets());
    ph[4..8].copy_from_slice(&dst.octets());
    ph[9] = protocol;
    ph[10..12].copy_from_slice(&length.to_be_bytes());
    data(&ph)
}

/// Sum of the IPv6 pseudo-header (RFC 8200 section 8.1): source,
/// destination, 32-bit upper-layer length, three zero bytes, next header.
pub fn pseudo_header_v6(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, length: u32) -> u16 {
    let mut ph = [0u8; 40];
    ph[0..16].copy_from_slice(&src.octets());
    ph[16..32].copy_from_slice(&dst.octets());
    ph[32..36].copy_from_slice(&length.to_be_bytes());
    ph[39] = next_header;
    data(&ph)
}

/// The pseudo-header of the family of `src` and `dst`; `None` when the two
/// are of different families or an IPv4 length does not fit 16 bits.
pub fn pseudo_header(src: &IpAddr, dst: &IpAddr, protocol: u8, length: usize) -> Option<u16> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Some(pseudo_header_v4(
            s,
            d,
            protocol,
            u16::try_from(length).ok()?,
        )),
        (IpAddr::V6(s), IpAddr::V6(d)) => Some(pseudo_header_v6(
            s,
            d,
            protocol,
            u32::try_from(length).ok()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 section 3 worked example: the bytes 00 01 f2 03 f4 f5 f6 f7
    /// sum to 0xddf2.
    #[test]
    fn rfc1071_example() {
        assert_eq!(
            data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0xddf2
        );
    }

    #[test]
    fn odd_length_pads_right() {
        assert_eq!(data(&[0x12]), 0x1200);
        assert_eq!(data(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn carries_wrap_around() {
        assert_eq!(data(&[0xff, 0xff, 0x00, 0x01]), 0x0001);
        assert_eq!(combine(&[0xffff, 0x0002]), 0x0002);
        assert_eq!(data(&[]), 0);
    }

    #[test]
    fn splitting_at_even_offset_is_additive() {
        let bytes: Vec<u8> = (0u8..=200).collect();
        let whole = data(&bytes);
        assert_eq!(combine(&[data(&bytes[..64]), data(&bytes[64..])]), whole);
    }

    /// The IPv4 header of keepalived's VRRPv3 advert (captured, see vrrp.rs)
    /// carries header checksum 0x1895: the header must sum to 0xffff.
    #[test]
    fn ipv4_header_of_captured_packet_verifies() {
        let hdr = [
            0x45, 0xc0, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0x18, 0x95, 0xc0, 0x00,
            0x02, 0x01, 0xe0, 0x00, 0x00, 0x12,
        ];
        assert_eq!(data(&hdr), 0xffff);
    }

    #[test]
    fn pseudo_header_families() {
        let s4: IpAddr = "192.0.2.1".parse().unwrap();
        let d4: IpAddr = "224.0.0.18".parse().unwrap();
        let s6: IpAddr = "fe80::1".parse().unwrap();
        // 192.0 + 2.1 + 224.0 + 0.18 + 112 + 16, folded.
        let expect = combine(&[0xc000, 0x0201, 0xe000, 0x0012, 112, 16]);
        assert_eq!(pseudo_header(&s4, &d4, 112, 16), Some(expect));
        assert_eq!(pseudo_header(&s4, &s6, 112, 16), None);
        assert_eq!(pseudo_header(&s4, &d4, 112, 70_000), None);
        let d6: IpAddr = "ff02::12".parse().unwrap();
        let expect6 = combine(&[0xfe80, 0x0001, 0xff02, 0x0012, 40, 112]);
        assert_eq!(pseudo_header(&s6, &d6, 112, 40), Some(expect6));
    }
}
