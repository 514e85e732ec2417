//! Per-router counters, named after the VRRPv3 MIB (RFC 6527) where it has a
//! name, else after RFC 2787 (the VRRPv2 MIB), else after what they count.

use std::fmt;

/// Why the router layer dropped an advertisement that the wire layer had
/// accepted (RFC 9568 7.1 receiver checks that need the router's config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Version differs from the configured one (RFC 9568 7.1).
    VersionMismatch,
    /// VRID is not ours (the shell demultiplexes by VRID; defence in depth).
    VridMismatch,
    /// Source or address list of another address family.
    FamilyMismatch,
    /// Our own advertisement looped back (multicast loop, or an address
    /// conflict). Processing it would answer ourselves forever.
    OwnAdvert,
    /// Unicast mode and the source is not a configured peer.
    UnicastPeerMismatch,
    /// v2: Auth Type differs from the configured one (RFC 3768 7.1).
    AuthTypeMismatch,
    /// v2: simple text password differs (RFC 3768 7.1).
    AuthFailure,
    /// v2: Adver Int differs from ours (RFC 3768 7.1: MUST discard).
    IntervalMismatch,
    /// v3: Max Advertise Interval of zero, which would make the
    /// Master_Down_Interval zero.
    InvalidInterval,
    /// The router is in Initialize (not started, shut down, interface down).
    NotRunning,
    /// The address list differs from ours and the sender is not the address
    /// owner (RFC 9568 7.1: MUST drop unless the priority is 255).
    AddressListMismatch,
    /// We are the address owner (priority 255) and the advert's priority is
    /// below 255 (RFC 9568 7.1: the owner discards; see docs/protocol.md for
    /// why another owner's priority-255 advert is still processed).
    AddressOwner,
}

impl DropReason {
    /// The counter this drop increments.
    pub fn counter(self) -> &'static str {
        match self {
            DropReason::VersionMismatch => "vrrpv3RouterVersionErrors",
            DropReason::VridMismatch => "vrrpv3RouterVrIdErrors",
            DropReason::FamilyMismatch => "familyErrors",
            DropReason::OwnAdvert => "ownAdvertisements",
            DropReason::UnicastPeerMismatch => "unicastPeerErrors",
            DropReason::AuthTypeMismatch => "vrrpStatsAuthTypeMismatch",
            DropReason::AuthFailure => "vrrpStatsAuthFailures",
            DropReason::IntervalMismatch => "vrrpv3StatisticsAdvIntervalErrors",
            DropReason::InvalidInterval => "invalidIntervalErrors",
            DropReason::NotRunning => "notRunningDrops",
            DropReason::AddressListMismatch => "addressListMismatch",
            DropReason::AddressOwner => "addressOwnerDiscards",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            DropReason::VersionMismatch => "VRRP version differs from ours",
            DropReason::VridMismatch => "VRID is not ours",
            DropReason::FamilyMismatch => "address family differs from ours",
            DropReason::OwnAdvert => "our own advertisement",
            DropReason::UnicastPeerMismatch => "source is not a configured unicast peer",
            DropReason::AuthTypeMismatch => "authentication type differs from ours",
            DropReason::AuthFailure => "authentication password differs",
            DropReason::IntervalMismatch => "advertisement interval differs from ours (v2)",
            DropReason::InvalidInterval => "advertisement interval is zero",
            DropReason::NotRunning => "router is in Initialize",
            DropReason::AddressListMismatch => "address list differs from ours",
            DropReason::AddressOwner => {
                "we are the address owner (priority 255) and the sender is not"
            }
        };
        f.write_str(text)
    }
}

/// Why a received packet was dropped before a router's state machine saw
/// it: by the shell's socket layer, by `wire`, or by the endpoint's demux
/// and checksum verdict. Counted by [`crate::core::Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketDrop {
    /// Longer than any advert (MSG_TRUNC): not parsed.
    DatagramTooLong,
    /// An IPv6 packet without the control data the socket asked for.
    ControlDataMissing,
    /// No router of ours has this (interface, family, VRID).
    VridUnknown,
    /// The router refuses the IPv4 checksum form the advert came with.
    ChecksumFormRefused,
}

impl PacketDrop {
    /// The counter this drop increments.
    pub fn counter(self) -> &'static str {
        match self {
            PacketDrop::DatagramTooLong => "datagram_too_long",
            PacketDrop::ControlDataMissing => "control_data_missing",
            PacketDrop::VridUnknown => "vrid_unknown",
            PacketDrop::ChecksumFormRefused => "checksum_form_refused",
        }
    }
}

impl fmt::Display for PacketDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PacketDrop::DatagramTooLong => "longer than any advert",
            PacketDrop::ControlDataMissing => "missing source, IPV6_PKTINFO or IPV6_HOPLIMIT",
            PacketDrop::VridUnknown => "no router for this VRID",
            PacketDrop::ChecksumFormRefused => "checksum form refused by the router",
        })
    }
}

/// Counters of one virtual router. All only ever increase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// vrrpv3StatisticsMasterTransitions: transitions into Active.
    pub master_transitions: u64,
    /// Transitions out of Active (keepalived's `release_master`).
    pub active_releases: u64,
    /// vrrpv3StatisticsRcvdAdvertisements: adverts that passed validation.
    pub rcvd_advertisements: u64,
    /// Adverts sent, priority 0 included.
    pub sent_advertisements: u64,
    /// vrrpv3StatisticsRcvdPriZeroPackets.
    pub rcvd_pri_zero_packets: u64,
    /// vrrpv3StatisticsSentPriZeroPackets.
    pub sent_pri_zero_packets: u64,
    /// vrrpv3StatisticsAdvIntervalErrors (v2 interval mismatch, dropped).
    pub adv_interval_errors: u64,
    /// vrrpv3StatisticsAddressListErrors: every advert whose address list
    /// differs from ours, dropped (`address_list_drops`) or not (priority
    /// 255, or `AddressListCheck` relaxed).
    pub address_list_errors: u64,
    /// Of those, the ones dropped (`DropReason::AddressListMismatch`).
    pub address_list_drops: u64,
    /// Adverts below priority 255 discarded by the address owner.
    pub owner_discards: u64,
    /// vrrpv3RouterVersionErrors.
    pub version_errors: u64,
    /// vrrpv3RouterVrIdErrors.
    pub vrid_errors: u64,
    /// vrrpStatsAuthTypeMismatch (RFC 2787).
    pub auth_type_mismatch: u64,
    /// vrrpStatsAuthFailures (RFC 2787).
    pub auth_failures: u64,
    pub family_errors: u64,
    pub own_advertisements: u64,
    pub unicast_peer_errors: u64,
    pub invalid_interval_errors: u64,
    pub not_running_drops: u64,
    /// Gratuitous ARP / unsolicited NA rounds requested (one per `Announce`).
    pub announcements: u64,
    /// Split brains: another Active router heard for longer than the rules
    /// allow while we are Active (one per episode, see `VirtualRouter`).
    pub split_brain_events: u64,
    /// Hand-overs whose address removal was held back (make-before-break).
    pub held_releases: u64,
}

impl Counters {
    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::VersionMismatch => &mut self.version_errors,
            DropReason::VridMismatch => &mut self.vrid_errors,
            DropReason::FamilyMismatch => &mut self.family_errors,
            DropReason::OwnAdvert => &mut self.own_advertisements,
            DropReason::UnicastPeerMismatch => &mut self.unicast_peer_errors,
            DropReason::AuthTypeMismatch => &mut self.auth_type_mismatch,
            DropReason::AuthFailure => &mut self.auth_failures,
            DropReason::IntervalMismatch => &mut self.adv_interval_errors,
            DropReason::InvalidInterval => &mut self.invalid_interval_errors,
            DropReason::NotRunning => &mut self.not_running_drops,
            DropReason::AddressListMismatch => &mut self.address_list_drops,
            DropReason::AddressOwner => &mut self.owner_discards,
        };
        *c += 1;
    }

    /// Every counter with its exported name, for metrics and `status`.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("vrrpv3StatisticsMasterTransitions", self.master_transitions),
            ("activeReleases", self.active_releases),
            (
                "vrrpv3StatisticsRcvdAdvertisements",
                self.rcvd_advertisements,
            ),
            ("sentAdvertisements", self.sent_advertisements),
            ("splitBrainEvents", self.split_brain_events),
            (
                "vrrpv3StatisticsRcvdPriZeroPackets",
                self.rcvd_pri_zero_packets,
            ),
            (
                "vrrpv3StatisticsSentPriZeroPackets",
                self.sent_pri_zero_packets,
            ),
            (
                DropReason::IntervalMismatch.counter(),
                self.adv_interval_errors,
            ),
            (
                "vrrpv3StatisticsAddressListErrors",
                self.address_list_errors,
            ),
            (DropReason::VersionMismatch.counter(), self.version_errors),
            (DropReason::VridMismatch.counter(), self.vrid_errors),
            (
                DropReason::AuthTypeMismatch.counter(),
                self.auth_type_mismatch,
            ),
            (DropReason::AuthFailure.counter(), self.auth_failures),
            (DropReason::FamilyMismatch.counter(), self.family_errors),
            (DropReason::OwnAdvert.counter(), self.own_advertisements),
            (
                DropReason::UnicastPeerMismatch.counter(),
                self.unicast_peer_errors,
            ),
            (
                DropReason::InvalidInterval.counter(),
                self.invalid_interval_errors,
            ),
            (DropReason::NotRunning.counter(), self.not_running_drops),
            (
                DropReason::AddressListMismatch.counter(),
                self.address_list_drops,
            ),
            (DropReason::AddressOwner.counter(), self.owner_discards),
            ("announcements", self.announcements),
            ("heldReleases", self.held_releases),
        ]
        .into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DropReason; 12] = [
        DropReason::VersionMismatch,
        DropReason::VridMismatch,
        DropReason::FamilyMismatch,
        DropReason::OwnAdvert,
        DropReason::UnicastPeerMismatch,
        DropReason::AuthTypeMismatch,
        DropReason::AuthFailure,
        DropReason::IntervalMismatch,
        DropReason::InvalidInterval,
        DropReason::NotRunning,
        DropReason::AddressListMismatch,
        DropReason::AddressOwner,
    ];

    #[test]
    fn every_drop_counts_under_its_own_exported_name() {
        for reason in ALL {
            let mut c = Counters::default();
            c.count_drop(reason);
            let hits: Vec<_> = c.iter().filter(|(_, v)| *v == 1).collect();
            assert_eq!(hits, vec![(reason.counter(), 1)], "{reason:?}");
        }
    }

    #[test]
    fn counter_names_are_distinct() {
        let c = Counters::default();
        let mut names: Vec<_> = c.iter().map(|(n, _)| n).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
