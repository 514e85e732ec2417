//! Addresses that are not ha-vip's are never touched, a router's source
//! address is usable before it sends, and IPv6 announcements say whether
//! the node routes (issue 16, items 3, 5, 6 and 11).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::lab::*;
use crate::{SETTLE, VIP6, assert_sole_holder};

/// Priority 255 with the node's own address as the VIP (the address
/// owner, RFC 9568 6.1): ha-vip must not remove it at start (it did, as a
/// "leftover"), sends from it, is Active, and leaves it on the interface
/// when it stops. keepalived, the Backup, never takes it while the owner
/// runs.
#[test]
fn the_owner_keeps_the_hosts_own_address() {
    let mut lab = Lab::new("owner");
    let a = lab.add_node("a", 11);
    let k = lab.add_node("k", 12);
    let own = "192.0.2.11";
    let (toml, sock) = control_toml(&lab, "owner");
    let pa = lab.start_ha_vip(
        a,
        &[("vip", ha_router(57, 255, &format!("{own}/24"), "100ms", ""))],
        Some(&toml),
    );
    lab.start_keepalived(
        k,
        &keepalived_conf(57, 100, &format!("{own}/24"), "0.1", 3, ""),
    );
    let active = wait_until(SETTLE, || {
        first_router(&sock).is_some_and(|r| r["state"] == "Active" && r["source"] == own)
    });
    assert!(
        active,
        "owner not Active from {own}: {:?}\n{}",
        first_router(&sock),
        lab.logs()
    );
    assert!(
        lab.has_addr(a, own),
        "the node lost its own address\n{}",
        lab.logs()
    );
    // keepalived hears the owner and stays Backup: it never adds the VIP.
    let taken = wait_until(Duration::from_secs(2), || lab.has_addr(k, own));
    assert!(
        !taken,
        "keepalived took the owner's address\n{}",
        lab.logs()
    );
    let status = lab.signal(pa, Signal::SIGTERM);
    assert!(status.success(), "exit {status:?}\n{}", lab.logs());
    assert!(
        lab.has_addr(a, own),
        "the node's own address is gone after ha-vip stopped\n{}",
        lab.logs()
    );
    let log = lab.log(pa);
    assert!(
        !log.contains(&format!("removing {own}")),
        "ha-vip removed the host's address:\n{log}"
    );
    assert!(
        log.contains("not added by ha-vip"),
        "no notice that it was left alone:\n{log}"
    );
}

/// A VIP address an operator put on the interface by hand is left there:
/// ha-vip uses it while Active and does not remove it when it gives the VIP
/// up, while the VIPs it added itself come and go.
#[test]
fn an_address_configured_by_hand_is_never_removed() {
    let mut lab = Lab::new("byhand");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    // 192.0.2.101 by hand, before ha-vip starts; 192.0.2.100 is ha-vip's.
    sh(&format!(
        "ip -n {} addr add 192.0.2.101/24 dev eth0",
        lab.ns(a)
    ));
    let (toml, sock) = control_toml(&lab, "byhand");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(58, 200, "192.0.2.100/24", "100ms", "").replace(
                "addresses = [\"192.0.2.100/24\"]",
                "addresses = [\"192.0.2.100/24\", \"192.0.2.101/24\"]",
            ),
        )],
        Some(&toml),
    );
    lab.start_keepalived(
        b,
        &keepalived_conf(58, 100, "192.0.2.100/24\n    192.0.2.101/24", "0.1", 3, ""),
    );
    assert!(
        wait_until(SETTLE, || first_router(&sock)
            .is_some_and(|r| r["state"] == "Active")),
        "not Active\n{}",
        lab.logs()
    );
    assert!(lab.has_addr(a, "192.0.2.100") && lab.has_addr(a, "192.0.2.101"));
    lab.signal(pa, Signal::SIGTERM);
    assert!(
        !lab.has_addr(a, "192.0.2.100"),
        "ha-vip left its own VIP\n{}",
        lab.logs()
    );
    assert!(
        lab.has_addr(a, "192.0.2.101"),
        "ha-vip removed an address it never added\n{}",
        lab.logs()
    );
}

/// The router's source address is removed by hand (DHCP renumbering, an
/// operator's `ip addr del`): the router chooses the interface's other
/// address and goes on, without a restart of the daemon; with none left it
/// waits, visibly, and recovers when one appears.
#[test]
fn a_removed_source_is_replaced_without_a_restart() {
    let mut lab = Lab::new("srcgone");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    sh(&format!(
        "ip -n {} addr add 198.51.100.11/24 dev eth0",
        lab.ns(a)
    ));
    let (toml, sock) = control_toml(&lab, "srcgone");
    lab.start_ha_vip(
        a,
        &[("vip", ha_router(59, 200, "192.0.2.100/24", "100ms", ""))],
        Some(&toml),
    );
    lab.start_keepalived(b, &keepalived_conf(59, 100, "192.0.2.100/24", "0.1", 3, ""));
    assert_sole_holder(&lab, &[a, b], "192.0.2.100", a);
    assert_eq!(
        first_router(&sock).map(|r| r["source"].clone()),
        Some(Value::from("192.0.2.11"))
    );
    sh(&format!(
        "ip -n {} addr del 192.0.2.11/24 dev eth0",
        lab.ns(a)
    ));
    let moved = wait_until(SETTLE, || {
        first_router(&sock)
            .is_some_and(|r| r["source"] == "198.51.100.11" && r["state"] == "Active")
    });
    assert!(
        moved,
        "source not replaced: {:?}\n{}",
        first_router(&sock),
        lab.logs()
    );
    assert_sole_holder(&lab, &[a, b], "192.0.2.100", a);
    // Nothing left to send from: it waits and says why; keepalived holds.
    sh(&format!(
        "ip -n {} addr del 198.51.100.11/24 dev eth0",
        lab.ns(a)
    ));
    let waits = wait_until(SETTLE, || {
        first_router(&sock).is_some_and(|r| {
            r["state"] == "Waiting" && r["waiting"].as_str().is_some_and(|w| w.contains("IPv4"))
        })
    });
    assert!(
        waits,
        "no visible wait: {:?}\n{}",
        first_router(&sock),
        lab.logs()
    );
    assert_sole_holder(&lab, &[a, b], "192.0.2.100", b);
    sh(&format!(
        "ip -n {} addr add 192.0.2.11/24 dev eth0",
        lab.ns(a)
    ));
    assert_sole_holder(&lab, &[a, b], "192.0.2.100", a);
}

/// Turn DAD on for `eth0` of `node`, three probes a second apart: a
/// link-local made from now on is tentative for about three seconds.
fn slow_dad(lab: &Lab, node: usize) {
    sh(&format!(
        "ip netns exec {} sysctl -qw net.ipv6.conf.eth0.accept_dad=1 net.ipv6.conf.eth0.dad_transmits=3",
        lab.ns(node)
    ));
}

/// The router on `sock` shows, in `status`, that it waits for DAD.
fn assert_waits_for_dad(lab: &Lab, sock: &std::path::Path) {
    let waited = wait_until(SETTLE, || {
        first_router(sock).is_some_and(|r| {
            r["waiting"]
                .as_str()
                .is_some_and(|w| w.contains("tentative"))
        })
    });
    assert!(
        waited,
        "no visible wait for DAD: {:?}\n{}",
        first_router(sock),
        lab.logs()
    );
}

/// Holders of `vip` sampled every 20 ms until `until`: the longest time two
/// nodes held it at once.
fn longest_overlap(lab: &Lab, nodes: &[usize], vip: &str, until: Duration) -> Duration {
    let end = Instant::now() + until;
    let (mut worst, mut since) = (Duration::ZERO, None::<Instant>);
    while Instant::now() < end {
        let two = lab.holders(nodes, vip).len() > 1;
        match (two, since) {
            (true, None) => since = Some(Instant::now()),
            (false, Some(t)) => {
                worst = worst.max(t.elapsed());
                since = None;
            }
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(t) = since {
        worst = worst.max(t.elapsed());
    }
    worst
}

/// After a link flap the IPv6 link-local is tentative while DAD runs (3 s
/// here). The router waits for it (status says why) instead of sending
/// adverts that the kernel refuses (EINVAL) and going Active unheard: the
/// other node keeps the IPv6 VIP alone until the preempting node can be
/// heard, then hands over, with no lasting overlap.
#[test]
fn ipv6_waits_for_dad_after_a_link_flap() {
    let mut lab = Lab::new("dad");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    slow_dad(&lab, a);
    let (toml, sock) = control_toml(&lab, "dad");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(60, 200, &format!("{VIP6}/64"), "100ms", ""),
        )],
        Some(&toml),
    );
    lab.start_keepalived(
        b,
        &keepalived_conf(60, 100, &format!("{VIP6}/64"), "0.1", 3, ""),
    );
    assert_sole_holder(&lab, &[a, b], VIP6, a);
    lab.link(a, false);
    assert!(
        wait_until(SETTLE, || lab.holders(&[a, b], VIP6) == vec![b]),
        "{}",
        lab.logs()
    );
    lab.link(a, true);
    assert_waits_for_dad(&lab, &sock);
    let overlap = longest_overlap(&lab, &[a, b], VIP6, Duration::from_secs(6));
    assert!(
        overlap < Duration::from_millis(500),
        "two holders for {overlap:?}\n{}",
        lab.logs()
    );
    assert_sole_holder(&lab, &[a, b], VIP6, a);
    let log = lab.log(pa);
    assert!(
        !log.contains("Invalid argument"),
        "adverts were sent from a tentative source:\n{log}"
    );
}

/// A router on an interface created after the daemon started, with DAD on:
/// it waits for the interface, then for its link-local to finish DAD, and
/// only then runs (no refused sends).
#[test]
fn ipv6_on_a_fresh_interface_starts_after_dad() {
    let mut lab = Lab::new("dadnew");
    let a = lab.add_node("a", 11);
    let (toml, sock) = control_toml(&lab, "dadnew");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(61, 200, &format!("{VIP6}/64"), "100ms", "").replace("\"eth0\"", "\"eth1\""),
        )],
        Some(&toml),
    );
    assert!(
        wait_until(SETTLE, || first_router(&sock)
            .is_some_and(|r| r["state"] == "Waiting")),
        "{}",
        lab.logs()
    );
    let ns = lab.ns(a).to_string();
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=1 net.ipv6.conf.default.dad_transmits=3"
    ));
    sh(&format!(
        "ip -n {ns} link add eth1 type veth peer name eth1p"
    ));
    sh(&format!(
        "ip -n {ns} link set eth1p up && ip -n {ns} link set eth1 up"
    ));
    assert_waits_for_dad(&lab, &sock);
    let active = wait_until(SETTLE, || {
        first_router(&sock).is_some_and(|r| r["state"] == "Active")
    });
    assert!(active, "{:?}\n{}", first_router(&sock), lab.logs());
    let log = lab.log(pa);
    assert!(
        !log.contains("Invalid argument"),
        "adverts were sent from a tentative source:\n{log}"
    );
}

/// The client's neighbour entry for `vip`: (MAC, marked as a router).
fn neighbour(lab: &Lab, client: usize, vip: &str) -> Option<(String, bool)> {
    let out = sh(&format!(
        "ip -n {} -6 neigh show {vip} dev eth0",
        lab.ns(client)
    ));
    let line = out.lines().next()?;
    let mut words = line.split_whitespace();
    let mac = words
        .by_ref()
        .skip_while(|w| *w != "lladdr")
        .nth(1)?
        .to_string();
    Some((mac, line.split_whitespace().any(|w| w == "router")))
}

/// Nodes that forward IPv6 send their unsolicited NAs with the Router flag
/// (RFC 9568 6.4.1 / 6.4.2): after a takeover the client's neighbour entry
/// for the IPv6 VIP points at the new Active router and is still marked as
/// a router (an NA with R = 0 would clear it, RFC 4861 7.2.5, and a host
/// using the VIP as its gateway would drop it from its router list).
#[test]
fn ipv6_announcements_keep_a_routing_vip_a_router() {
    let mut lab = Lab::new("rflag");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let client = lab.add_node("cl", 50);
    for n in [a, b] {
        sh(&format!(
            "ip netns exec {} sysctl -qw net.ipv6.conf.all.forwarding=1",
            lab.ns(n)
        ));
    }
    let (ta, sa) = control_toml(&lab, "rflag-a");
    let (tb, _) = control_toml(&lab, "rflag-b");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(62, 200, &format!("{VIP6}/64"), "100ms", ""),
        )],
        Some(&ta),
    );
    lab.start_ha_vip(
        b,
        &[(
            "vip",
            ha_router(62, 100, &format!("{VIP6}/64"), "100ms", ""),
        )],
        Some(&tb),
    );
    assert_sole_holder(&lab, &[a, b], VIP6, a);
    assert!(wait_until(SETTLE, || first_router(&sa)
        .is_some_and(|r| r["state"] == "Active")));
    // The client learns the VIP (the kernel's solicited NA from a router).
    sh(&format!(
        "ip netns exec {} ping -6 -c1 -W1 {VIP6} || true",
        lab.ns(client)
    ));
    let first = neighbour(&lab, client, VIP6);
    assert!(
        first
            .as_ref()
            .is_some_and(|(mac, r)| *mac == lab.nodes[a].mac && *r),
        "client's entry before the takeover: {first:?}"
    );
    lab.signal(pa, Signal::SIGTERM);
    let moved = wait_until(SETTLE, || {
        neighbour(&lab, client, VIP6).is_some_and(|(mac, _)| mac == lab.nodes[b].mac)
    });
    assert!(
        moved,
        "client not moved to b: {:?}\n{}",
        neighbour(&lab, client, VIP6),
        lab.logs()
    );
    let after = neighbour(&lab, client, VIP6);
    assert!(
        after.as_ref().is_some_and(|(_, r)| *r),
        "the new Active router's NA cleared the router flag: {after:?}\n{}",
        lab.logs()
    );
}
