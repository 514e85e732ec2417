//! SIGHUP: the configuration directory loaded again and applied to the
//! running routers, in place where RFC 9568 allows it.

use std::collections::HashSet;
use std::time::Instant;

use tracing::{error, info, warn};

use super::records::Record;
use super::routers::Routers;
use super::spec::{restart_reason, spec_of};
use crate::config;
use crate::core::RouterId;

impl Routers {
    /// SIGHUP: load the directory again. Unchanged routers keep their state
    /// and addresses. A changed router is reconfigured in place when what
    /// changed can change in place (priority, interval, preemption,
    /// announcements, peers, addresses, tracked checks, hooks, checksum
    /// forms: RFC 9568 lets a router change those while it runs); a change
    /// of interface, VRID, family, version, virtual MAC or source address
    /// restarts it. Removed routers stop cleanly; new ones start. A
    /// configuration that fails validation is refused and the running one
    /// kept.
    pub async fn reload(&mut self) {
        let new = match config::load_dir(&self.dir) {
            Ok(c) => c,
            Err(errors) => {
                error!("reload refused, the running configuration is kept:\n{errors}");
                return;
            }
        };
        if new.daemon.checks != self.daemon_cfg.checks || new.daemon.k8s != self.daemon_cfg.k8s {
            info!("reload: health checks changed; unchanged ones keep their last result");
            self.checks.restart(&new.daemon);
        } else if new.daemon != self.daemon_cfg {
            warn!(
                "reload: changes to ha-vip.toml other than checks ([control], [log], [metrics], [capture]) take effect at restart"
            );
        }
        self.daemon_cfg = new.daemon.clone();
        let now = Instant::now();
        let mut keep: HashSet<RouterId> = HashSet::new();
        let mut to_start = Vec::new();
        let (mut in_place, mut restarted) = (0, 0);
        for cfg in new.routers {
            let same = |r: &Record| {
                (&r.cfg.interface, r.cfg.vrid, r.cfg.family)
                    == (&cfg.interface, cfg.vrid, cfg.family)
            };
            let Some(id) = self
                .records
                .iter()
                .find(|(id, r)| same(r) && !keep.contains(*id))
                .map(|(id, _)| *id)
            else {
                to_start.push(cfg);
                continue;
            };
            let Some(rec) = self.records.get_mut(&id) else {
                continue;
            };
            if rec.cfg == cfg {
                keep.insert(id);
                continue;
            }
            let why = restart_reason(&rec.cfg, &cfg);
            let result = match why {
                None => self
                    .endpoint
                    .reconfigure(now, id, spec_of(&cfg))
                    .map_err(|e| e.to_string()),
                Some(why) => Err(why.to_string()),
            };
            match result {
                Ok(()) => {
                    info!(router = %cfg.name, "reload: router changed; applied in place");
                    rec.reconfigure(cfg);
                    keep.insert(id);
                    in_place += 1;
                }
                Err(why) => {
                    info!(router = %cfg.name, "reload: {why}: restarting the router");
                    restarted += 1;
                    to_start.push(cfg);
                }
            }
        }
        let gone: Vec<RouterId> = self
            .records
            .keys()
            .filter(|id| !keep.contains(id))
            .copied()
            .collect();
        let (stopped, kept, started) = (
            gone.len() - restarted,
            keep.len() - in_place,
            to_start.len() - restarted,
        );
        for id in gone {
            if let Some(rec) = self.records.get(&id) {
                info!(router = %rec.cfg.name, "reload: router removed or changed; stopping it");
            }
            self.stop(id, true).await;
            self.endpoint.remove(id);
            self.records.remove(&id);
        }
        self.close_unused_sockets();
        // Tracked checks follow the (new) configuration and the checks'
        // current results.
        self.sync_tracked(now);
        self.carry_out().await;
        for cfg in to_start {
            let id = self.insert(cfg);
            self.start(id).await;
        }
        info!(
            kept,
            in_place, restarted, stopped, started, "configuration reloaded"
        );
    }

    /// Give every running router the tracked checks its configuration names,
    /// each with its check's current state (one without a result yet counts
    /// as failed), and forget the ones it no longer tracks.
    fn sync_tracked(&mut self, now: Instant) {
        for (&id, rec) in &self.records {
            let tracks = self.checks.tracked_state(&rec.cfg);
            self.endpoint.input(id, |vr| {
                let old: Vec<String> = vr.tracked().map(|(n, _, _)| n.to_string()).collect();
                for name in old {
                    if !tracks.iter().any(|(n, _, _)| *n == name) {
                        vr.remove_tracked(now, &name);
                    }
                }
                for (name, weight, failed) in &tracks {
                    vr.set_tracked(now, name, *weight, *failed);
                }
            });
        }
    }
}
