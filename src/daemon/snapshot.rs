//! The status snapshot: everything `ha-vip status` and the metrics show,
//! read from the endpoint, the routers' records and the checks.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::records::Record;
use crate::core::{Endpoint, Reason, RouterId, State};
use crate::status::{
    ActiveStatus, CheckStatus, RouterStatus, Status, TrackedStatus, TransitionCount,
    TransitionStatus,
};
use crate::wire::Family;

pub fn snapshot(
    endpoint: &Endpoint,
    records: &BTreeMap<RouterId, Record>,
    checks: Vec<CheckStatus>,
    started: Instant,
) -> Status {
    let now = Instant::now();
    let unix = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    let routers = records
        .iter()
        .map(|(&id, rec)| {
            let c = &rec.cfg;
            let vr = endpoint.router(id);
            let last = vr.and_then(|v| v.last_transition());
            RouterStatus {
                name: c.name.clone(),
                interface: c.interface.clone(),
                vrid: c.vrid,
                family: match c.family {
                    Family::Ipv4 => "ipv4".into(),
                    Family::Ipv6 => "ipv6".into(),
                },
                version: c.version.number(),
                state: vr.map_or_else(|| "Waiting".to_string(), |v| v.state().to_string()),
                waiting: rec.waiting.clone(),
                base_priority: c.priority,
                effective_priority: vr.map_or(c.priority, |v| v.effective_priority()),
                addresses: c
                    .addresses
                    .iter()
                    .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                    .collect(),
                source: endpoint.source(id).map(|s| s.to_string()),
                advert_interval_cs: c.advert_interval_cs,
                learned_interval_cs: vr
                    .map_or(c.advert_interval_cs, |v| v.master_adver_interval_cs()),
                master_down_interval_ms: vr
                    .map_or(0.0, |v| v.master_down_interval().as_secs_f64() * 1000.0),
                active_router: vr.and_then(|v| {
                    let a = v.active_router()?;
                    Some(ActiveStatus {
                        address: a.address.to_string(),
                        priority: a.priority,
                        is_self: v.state() == State::Active,
                    })
                }),
                tracked: vr
                    .map(|v| {
                        v.tracked()
                            .map(|(name, weight, failed)| TrackedStatus {
                                check: name.to_string(),
                                weight,
                                failed,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                time_in_state_s: last.map(|t| now.saturating_duration_since(t.at).as_secs_f64()),
                last_transition: last.map(|t| TransitionStatus {
                    from: t.from.to_string(),
                    to: t.to.to_string(),
                    reason: t.reason.to_string(),
                    ago_s: now.saturating_duration_since(t.at).as_secs_f64(),
                }),
                counters: vr
                    .map(|v| {
                        v.counters()
                            .iter()
                            .map(|(k, n)| (k.to_string(), n))
                            .collect()
                    })
                    .unwrap_or_default(),
                transitions: rec.transitions.clone(),
                transitions_by_class: by_class(&rec.transitions),
                announcements_sent: rec.announcements_sent,
                last_takeover_unix_s: rec.last_takeover.map(unix),
            }
        })
        .collect();
    Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        uptime_s: now.saturating_duration_since(started).as_secs_f64(),
        routers,
        drops: endpoint.drops().map(|(k, n)| (k.to_string(), n)).collect(),
        checks,
    }
}

/// The records' transitions ("to: reason text" -> n) by new state and
/// reason class. A reason this table does not know yet counts as `other`.
fn by_class(transitions: &BTreeMap<String, u64>) -> Vec<TransitionCount> {
    let mut out: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    for (key, &n) in transitions {
        let (to, text) = key.split_once(": ").unwrap_or((key.as_str(), ""));
        let class = Reason::ALL
            .iter()
            .find(|r| r.to_string() == text)
            .map_or("other", |r| r.class());
        *out.entry((to.to_string(), class)).or_default() += n;
    }
    out.into_iter()
        .map(|((to, reason), count)| TransitionCount {
            to,
            reason: reason.to_string(),
            count,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_split_into_state_and_reason_class() {
        let t = BTreeMap::from([
            (format!("Active: {}", Reason::MasterDownTimerExpired), 2),
            (format!("Active: {}", Reason::PriorityZeroReceived), 1),
            (format!("Backup: {}", Reason::HigherPriorityAdvert), 3),
            ("Backup: a reason from a newer core".to_string(), 1),
        ]);
        let got: Vec<(String, String, u64)> = by_class(&t)
            .into_iter()
            .map(|c| (c.to, c.reason, c.count))
            .collect();
        let want = [
            ("Active", "master_down", 2),
            ("Active", "priority_zero", 1),
            ("Backup", "higher_priority", 3),
            ("Backup", "other", 1),
        ]
        .map(|(a, b, n)| (a.to_string(), b.to_string(), n));
        assert_eq!(got, want);
    }

    #[test]
    fn reason_classes_are_distinct_label_values() {
        let mut v: Vec<&str> = Reason::ALL.iter().map(|r| r.class()).collect();
        for c in &v {
            assert!(
                c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{c}"
            );
        }
        v.sort_unstable();
        v.dedup();
        assert_eq!(v.len(), Reason::ALL.len());
        // And their texts, which the records' keys are made of.
        let mut t: Vec<String> = Reason::ALL.iter().map(|r| r.to_string()).collect();
        t.sort_unstable();
        t.dedup();
        assert_eq!(t.len(), Reason::ALL.len());
    }
}
