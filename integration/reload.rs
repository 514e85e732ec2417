//! A reload changes a router in place where RFC 9568 allows it (issue 16,
//! item 10): a new priority goes out in the next advert and moves the VIP
//! only if it must.

use std::fs;

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::lab::*;
use crate::{SETTLE, VIP4, assert_sole_holder};

/// SIGHUP, then wait for the reload's log line (one more than before).
fn reload(lab: &mut Lab, p: usize) {
    let before = lab.log(p).matches("configuration reloaded").count();
    let pid = lab.procs[p].child.id();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGHUP).expect("kill");
    let ok = wait_until(SETTLE, || {
        lab.log(p).matches("configuration reloaded").count() > before
    });
    assert!(ok, "reload not handled\n{}", lab.logs());
}

fn effective(sock: &std::path::Path) -> Option<u64> {
    status_json(sock)["routers"][0]["effective_priority"].as_u64()
}

/// Three nodes 150/140/130 at 100 ms. Raising the Active node's priority
/// to 200 by reload moves nothing (it used to restart the router: priority
/// 0, the VIP to the second node, and back 0.35 s later); the new priority
/// is what it advertises. Lowering it below the second node hands the VIP
/// over once.
#[test]
fn a_priority_change_by_reload_applies_in_place() {
    let mut lab = Lab::new("rld");
    let nodes: Vec<usize> = (0..3)
        .map(|i| lab.add_node(&format!("n{i}"), 11 + i as u8))
        .collect();
    let mut procs = Vec::new();
    let mut socks = Vec::new();
    for (i, &n) in nodes.iter().enumerate() {
        let (toml, sock) = control_toml(&lab, &format!("rld{i}"));
        let prio = 150 - 10 * i as u8;
        procs.push(lab.start_ha_vip(
            n,
            &[("vip", ha_router(63, prio, "192.0.2.100/24", "100ms", ""))],
            Some(&toml),
        ));
        socks.push(sock);
    }
    assert_sole_holder(&lab, &nodes, VIP4, nodes[0]);
    let file = lab.config_dir(procs[0]).join("routers/vip.toml");
    fs::write(&file, ha_router(63, 200, "192.0.2.100/24", "100ms", "")).expect("write");
    reload(&mut lab, procs[0]);
    assert!(
        lab.log(procs[0]).contains("applied in place"),
        "not applied in place\n{}",
        lab.logs()
    );
    // The second node never takes the VIP: sampled for two seconds.
    let moved = wait_until(Duration::from_secs(2), || lab.has_addr(nodes[1], VIP4));
    assert!(!moved, "the VIP moved on a priority raise\n{}", lab.logs());
    assert_eq!(effective(&socks[0]), Some(200));
    let heard = status_json(&socks[1])["routers"][0]["active_router"]["priority"].as_u64();
    assert_eq!(heard, Some(200), "the Backup did not hear the new priority");
    // Lowered below the second node: one hand-over, to it.
    fs::write(&file, ha_router(63, 120, "192.0.2.100/24", "100ms", "")).expect("write");
    reload(&mut lab, procs[0]);
    assert_sole_holder(&lab, &nodes, VIP4, nodes[1]);
    let log = lab.log(procs[0]);
    assert!(
        !log.contains("stopping the router") && !log.contains("restarting the router"),
        "the router was restarted:\n{log}"
    );
}
