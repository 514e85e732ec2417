//! Interval arithmetic of RFC 9568 section 6.1 and RFC 3768 section 6.1.
//!
//! Rounding (see docs/protocol.md): Skew_Time is computed exactly in
//! integers and truncated to whole microseconds, as keepalived does
//! (`VRRP_TIMER_SKEW`: `(256 - prio) * interval_cs * 625 / 16` us). FRR
//! truncates to whole centiseconds instead, so an FRR Backup may fire up to
//! 10 ms earlier than ours at the same priority; both are within the RFC.

use std::time::Duration;

use crate::wire::Version;

/// One centisecond, the wire unit of the v3 Max Advertise Interval.
pub const CENTISECOND: Duration = Duration::from_millis(10);

/// Microseconds in one centisecond.
const MICROS_PER_CS: u64 = 10_000;

/// A wire interval in centiseconds as a `Duration`.
pub fn cs_to_duration(interval_cs: u16) -> Duration {
    CENTISECOND * u32::from(interval_cs)
}

/// Skew_Time for a router of `priority`.
///
/// - v3 (RFC 9568 6.1): `((256 - Priority) * Master_Adver_Interval) / 256`
///   with Master_Adver_Interval in centiseconds.
/// - v2 (RFC 3768 6.1): `(256 - Priority) / 256` seconds; the interval plays
///   no part.
///
/// Priority 0 is never a local priority; it is treated as 1 so the result
/// stays below one interval.
pub fn skew_time(version: Version, priority: u8, master_adver_interval_cs: u16) -> Duration {
    let weight = 256 - u64::from(priority.max(1));
    let micros = match version {
        Version::V3 => weight * u64::from(master_adver_interval_cs) * MICROS_PER_CS / 256,
        Version::V2 => weight * 1_000_000 / 256,
    };
    Duration::from_micros(micros)
}

/// Master_Down_Interval: `3 * Master_Adver_Interval + Skew_Time`
/// (RFC 9568 6.1; RFC 3768 6.1 with its fixed Advertisement_Interval).
pub fn master_down_interval(
    version: Version,
    priority: u8,
    master_adver_interval_cs: u16,
) -> Duration {
    cs_to_duration(master_adver_interval_cs) * 3
        + skew_time(version, priority, master_adver_interval_cs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3_skew_is_truncated_to_microseconds() {
        // (256 - 100) * 100 cs / 256 = 60.9375 cs = 609_375 us exactly.
        assert_eq!(
            skew_time(Version::V3, 100, 100),
            Duration::from_micros(609_375)
        );
        // (256 - 150) * 100 / 256 = 41.40625 cs = 414_062.5 us -> 414_062.
        assert_eq!(
            skew_time(Version::V3, 150, 100),
            Duration::from_micros(414_062)
        );
        // 10 ms interval: (256 - 100) * 1 / 256 cs = 6_093.75 us -> 6_093.
        assert_eq!(skew_time(Version::V3, 100, 1), Duration::from_micros(6_093));
        // The owner skews by 1/256 of an interval.
        assert_eq!(
            skew_time(Version::V3, 255, 100),
            Duration::from_micros(3_906)
        );
    }

    #[test]
    fn v2_skew_ignores_the_interval() {
        assert_eq!(
            skew_time(Version::V2, 100, 300),
            skew_time(Version::V2, 100, 100)
        );
        // (256 - 100) / 256 s = 0.609375 s.
        assert_eq!(
            skew_time(Version::V2, 100, 300),
            Duration::from_micros(609_375)
        );
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew() {
        assert_eq!(
            master_down_interval(Version::V3, 100, 100),
            Duration::from_micros(3_609_375)
        );
        assert_eq!(
            master_down_interval(Version::V3, 100, 1),
            Duration::from_micros(36_093)
        );
        // v2 at 3 s: 9 s + 0.609375 s.
        assert_eq!(
            master_down_interval(Version::V2, 100, 300),
            Duration::from_micros(9_609_375)
        );
        // Largest wire interval does not overflow: 4095 cs.
        assert_eq!(
            master_down_interval(Version::V3, 1, 4095),
            Duration::from_micros(122_850_000 + 255 * 4095 * 10_000 / 256)
        );
    }

    #[test]
    fn priority_zero_is_not_a_local_priority() {
        assert_eq!(
            skew_time(Version::V3, 0, 100),
            skew_time(Version::V3, 1, 100)
        );
    }
}
