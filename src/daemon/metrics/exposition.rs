//! The exposition: a status snapshot as Prometheus text (format 0.0.4),
//! one metric per counter, with the MIB names in HELP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use tracing::warn;

use super::ServerStats;
use crate::status::{LatencyHistogram, RouterStatus, Status};

/// A router's per-router counter (`RouterStatus::counters`, named as the
/// core names it) as a metric: its name without the `ha_vip_router_`
/// prefix and the `_total` suffix, and its HELP, which keeps the MIB name.
/// Listed here one by one so each has a real description; a counter the
/// core adds later is still exported, named from its camelCase.
pub(super) const ROUTER_COUNTERS: &[(&str, &str, &str)] = &[
    (
        "vrrpv3StatisticsMasterTransitions",
        "master_transitions",
        "Transitions into Active (RFC 6527 vrrpv3StatisticsMasterTransitions, RFC 8347 master-transitions).",
    ),
    (
        "activeReleases",
        "active_releases",
        "Transitions out of Active (keepalived's release_master).",
    ),
    (
        "vrrpv3StatisticsRcvdAdvertisements",
        "received_advertisements",
        "Advertisements received that passed validation (RFC 6527 vrrpv3StatisticsRcvdAdvertisements, RFC 8347 advertisement-rcvd).",
    ),
    (
        "sentAdvertisements",
        "sent_advertisements",
        "Advertisements sent, priority 0 included, one per destination (RFC 8347 advertisement-sent).",
    ),
    (
        "splitBrainEvents",
        "split_brain_events",
        "Advertisements from another Active router heard while Active.",
    ),
    (
        "vrrpv3StatisticsRcvdPriZeroPackets",
        "received_priority_zero",
        "Priority 0 advertisements received (RFC 6527 vrrpv3StatisticsRcvdPriZeroPackets, RFC 8347 priority-zero-pkts-rcvd).",
    ),
    (
        "vrrpv3StatisticsSentPriZeroPackets",
        "sent_priority_zero",
        "Priority 0 advertisements sent (RFC 6527 vrrpv3StatisticsSentPriZeroPackets, RFC 8347 priority-zero-pkts-sent).",
    ),
    (
        "vrrpv3StatisticsAdvIntervalErrors",
        "advertisement_interval_errors",
        "VRRPv2 advertisements dropped for an interval other than ours (RFC 6527 vrrpv3StatisticsAdvIntervalErrors, RFC 8347 interval-errors).",
    ),
    (
        "vrrpv3StatisticsAddressListErrors",
        "address_list_errors",
        "Advertisements whose address list differs from ours (RFC 6527 vrrpv3StatisticsAddressListErrors, RFC 8347 address-list-errors).",
    ),
    (
        "addressListMismatch",
        "address_list_mismatch",
        "Advertisements dropped because their address list differs from ours, priority below 255 (RFC 9568 7.1; address_list_check).",
    ),
    (
        "addressOwnerDiscards",
        "address_owner_discards",
        "Advertisements below priority 255 discarded by the address owner (RFC 9568 7.1).",
    ),
    (
        "heldReleases",
        "held_releases",
        "Hand-overs in which the addresses were kept until the new Active router was heard (make-before-break).",
    ),
    (
        "vrrpv3RouterVersionErrors",
        "version_errors",
        "Advertisements dropped for another VRRP version (RFC 6527 vrrpv3RouterVersionErrors, RFC 8347 version-errors).",
    ),
    (
        "vrrpv3RouterVrIdErrors",
        "vrid_errors",
        "Advertisements dropped for another VRID (RFC 6527 vrrpv3RouterVrIdErrors, RFC 8347 vrid-errors).",
    ),
    (
        "vrrpStatsAuthTypeMismatch",
        "auth_type_mismatch",
        "VRRPv2 advertisements dropped for another authentication type (RFC 2787 vrrpStatsAuthTypeMismatch).",
    ),
    (
        "vrrpStatsAuthFailures",
        "auth_failures",
        "VRRPv2 advertisements dropped for a wrong password (RFC 2787 vrrpStatsAuthFailures).",
    ),
    (
        "familyErrors",
        "family_errors",
        "Advertisements dropped for a source or addresses of the other family.",
    ),
    (
        "ownAdvertisements",
        "own_advertisements",
        "Our own advertisements received back (dropped).",
    ),
    (
        "unicastPeerErrors",
        "unicast_peer_errors",
        "Advertisements dropped in unicast mode from a source that is not a configured peer.",
    ),
    (
        "invalidIntervalErrors",
        "invalid_interval_errors",
        "VRRPv3 advertisements dropped for a Max Advertise Interval of zero.",
    ),
    (
        "notRunningDrops",
        "not_running_drops",
        "Advertisements dropped while the router was in Initialize.",
    ),
    (
        "announcements",
        "announcement_rounds",
        "Gratuitous ARP / unsolicited NA rounds (one per announcement, all addresses).",
    ),
];

/// snake_case of a camelCase counter name, without the MIB's prefixes.
pub(super) fn counter_metric_name(counter: &str) -> String {
    let base = ["vrrpv3Statistics", "vrrpv3Router", "vrrpStats"]
        .iter()
        .find_map(|p| counter.strip_prefix(p))
        .unwrap_or(counter);
    let mut out = String::new();
    for ch in base.chars() {
        if ch.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else {
            out.push('_');
        }
    }
    out
}

/// The metric families of one exposition, in the order first used.
#[derive(Default)]
pub(super) struct Exposition {
    families: Vec<MetricFamily>,
}

type Labels<'a> = &'a [(&'a str, &'a str)];

impl Exposition {
    fn push(&mut self, name: &str, help: &str, ty: MetricType, labels: Labels, mut m: Metric) {
        m.set_label(
            labels
                .iter()
                .map(|(k, v)| {
                    let mut l = LabelPair::default();
                    l.set_name((*k).to_string());
                    l.set_value((*v).to_string());
                    l
                })
                .collect(),
        );
        let full = format!("ha_vip_{name}");
        if let Some(f) = self.families.iter_mut().find(|f| f.name() == full) {
            f.mut_metric().push(m);
            return;
        }
        let mut f = MetricFamily::default();
        f.set_name(full);
        f.set_help(help.to_string());
        f.set_field_type(ty);
        f.set_metric(vec![m]);
        self.families.push(f);
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus::TextEncoder::new().encode_utf8(&self.families, &mut out) {
            warn!("metrics encoding: {e}");
            out = format!("# encoding failed: {e}\n");
        }
        out
    }

    fn gauge(&mut self, name: &str, help: &str, labels: Labels, v: f64) {
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::default();
        m.set_gauge(g);
        self.push(name, help, MetricType::GAUGE, labels, m);
    }

    /// `name` without `_total`: it is added here, as the format wants.
    fn counter(&mut self, name: &str, help: &str, labels: Labels, v: u64) {
        let mut c = Counter::default();
        c.set_value(v as f64);
        let mut m = Metric::default();
        m.set_counter(c);
        self.push(
            &format!("{name}_total"),
            help,
            MetricType::COUNTER,
            labels,
            m,
        );
    }

    fn histogram(&mut self, name: &str, help: &str, labels: Labels, h: &LatencyHistogram) {
        let mut hist = Histogram::default();
        hist.set_sample_count(h.count);
        hist.set_sample_sum(h.sum_s());
        hist.set_bucket(
            h.cumulative()
                .map(|(bound, n)| {
                    let mut b = Bucket::default();
                    b.set_upper_bound(bound);
                    b.set_cumulative_count(n);
                    b
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_histogram(hist);
        self.push(name, help, MetricType::HISTOGRAM, labels, m);
    }
}

/// The states `ha_vip_router_state` always has a series for.
pub(super) const STATES: [&str; 4] = ["Initialize", "Backup", "Active", "Waiting"];

pub(super) fn router_metrics(x: &mut Exposition, r: &RouterStatus) {
    let vrid = r.vrid.to_string();
    let id: [(&str, &str); 4] = [
        ("router", &r.name),
        ("interface", &r.interface),
        ("vrid", &vrid),
        ("family", &r.family),
    ];
    let mut states: Vec<&str> = STATES.to_vec();
    if !states.contains(&r.state.as_str()) {
        states.push(&r.state);
    }
    for s in states {
        let mut l = id.to_vec();
        l.push(("state", s));
        x.gauge(
            "router_state",
            "1 for the router's current state (RFC 9568 Initialize, Backup, Active; Waiting: cannot run yet, see status), 0 for the others.",
            &l,
            f64::from(u8::from(r.state == s)),
        );
    }
    x.gauge(
        "router_effective_priority",
        "Priority advertised: the configured one plus the weights of failed tracked checks.",
        &id,
        f64::from(r.effective_priority),
    );
    x.gauge(
        "router_base_priority",
        "Configured priority (255: address owner).",
        &id,
        f64::from(r.base_priority),
    );
    x.gauge(
        "router_advert_interval_seconds",
        "Configured Advertisement_Interval.",
        &id,
        f64::from(r.advert_interval_cs) / 100.0,
    );
    x.gauge(
        "router_master_down_interval_seconds",
        "Master_Down_Interval (RFC 9568 6.1), from the interval learned from the Active router.",
        &id,
        r.master_down_interval_ms / 1000.0,
    );
    if let Some(t) = r.last_takeover_unix_s {
        x.gauge(
            "router_last_takeover_timestamp_seconds",
            "Unix time at which the router last became Active.",
            &id,
            t,
        );
    }
    for t in &r.tracked {
        let mut l = id.to_vec();
        l.push(("check", &t.check));
        x.gauge(
            "router_tracked_check_failed",
            "1 while a check the router tracks is failed (its weight is applied to the priority).",
            &l,
            f64::from(u8::from(t.failed)),
        );
    }
    for c in &r.transitions_by_class {
        let mut l = id.to_vec();
        l.push(("to", &c.to));
        l.push(("reason", &c.reason));
        x.counter(
            "router_transitions",
            "State changes, by new state (to) and reason class (reason).",
            &l,
            c.count,
        );
    }
    x.counter(
        "router_announcements",
        "Gratuitous ARP / unsolicited NA messages sent (one per address per message).",
        &id,
        r.announcements_sent,
    );
    for (counter, &n) in &r.counters {
        match ROUTER_COUNTERS.iter().find(|(c, _, _)| c == counter) {
            Some((_, name, help)) => x.counter(&format!("router_{name}"), help, &id, n),
            None => x.counter(
                &format!("router_{}", counter_metric_name(counter)),
                &format!("Counter {counter} of the router."),
                &id,
                n,
            ),
        }
    }
}

/// Encode a snapshot as Prometheus text (0.0.4), with the endpoint's own
/// counters at zero.
pub fn render(st: &Status) -> String {
    render_status(st) + &render_server(&ServerStats::default())
}

/// The snapshot's series.
pub(super) fn render_status(st: &Status) -> String {
    let mut x = Exposition::default();
    x.gauge(
        "build_info",
        "Always 1; the labels say which ha-vip runs.",
        &[("version", &st.version)],
        1.0,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    x.gauge(
        "start_time_seconds",
        "Unix time at which the daemon started.",
        &[],
        (now - st.uptime_s).max(0.0),
    );
    for r in &st.routers {
        router_metrics(&mut x, r);
    }
    for (reason, &n) in &st.drops {
        x.counter(
            "packets_dropped",
            "Received packets dropped before reaching a router, by reason (the wire or the endpoint; bad_checksum is RFC 6527 vrrpv3RouterChecksumErrors and RFC 8347 checksum-errors, ttl_not_255 RFC 8347 ip-ttl-errors, bad_type invalid-type-pkts-rcvd, truncated_* packet-length-errors).",
            &[("reason", reason)],
            n,
        );
    }
    for c in &st.checks {
        let l = [("check", c.name.as_str())];
        x.gauge(
            "check_healthy",
            "1 when the check passes (debounced: the state the routers use).",
            &l,
            f64::from(u8::from(c.healthy)),
        );
        x.counter("check_probes", "Probes run.", &l, c.probes);
        x.counter(
            "check_probe_failures",
            "Probes that failed (before debouncing).",
            &l,
            c.failures,
        );
        x.histogram(
            "check_probe_duration_seconds",
            "Duration of every probe of the check.",
            &l,
            &c.latency,
        );
    }
    x.encode()
}

/// The endpoint's own series.
pub(super) fn render_server(server: &ServerStats) -> String {
    let mut x = Exposition::default();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    x.counter(
        "metrics_connections_rejected",
        "Connections to this endpoint closed at accept: too many were open.",
        &[],
        load(&server.rejected),
    );
    x.counter(
        "metrics_connections_timed_out",
        "Connections to this endpoint closed for a slow or silent client.",
        &[],
        load(&server.timed_out),
    );
    x.counter(
        "metrics_snapshots",
        "Status snapshots this endpoint asked of the protocol loop.",
        &[],
        load(&server.snapshots),
    );
    x.encode()
}
