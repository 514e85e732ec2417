//! `virtual_mac = true` over IPv6, and where the sysctls it needs cannot be
//! written (issue 16, item 9).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::lab::*;
use crate::{SETTLE, VIP6};

const VMAC6: &str = "00:00:5e:00:02:40"; // VRID 64, IPv6

/// Whether `addr` is on any interface of `node` (with a virtual MAC the
/// VIPs live on the macvlan).
fn holds(lab: &Lab, node: usize, addr: &str) -> bool {
    sh(&format!("ip -n {} -o addr show", lab.ns(node)))
        .split_whitespace()
        .any(|w| w.split('/').next() == Some(addr))
}

fn state(sock: &Path) -> String {
    std::panic::catch_unwind(|| status_json(sock)).map_or(String::new(), |v| {
        v["routers"][0]["state"].as_str().unwrap_or("").to_string()
    })
}

/// Two ha-vip nodes, an IPv6 VIP with a virtual MAC: one holds it, the
/// client reaches it at 00:00:5e:00:02:VRID, no advert is refused by the
/// kernel (they leave from the macvlan's own link-local; from the parent's
/// they failed with EINVAL and both nodes held the VIP), and a clean stop
/// hands it to the other node.
#[test]
fn ipv6_with_a_virtual_mac_elects_one_holder() {
    let mut lab = Lab::new("vmac6");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let client = lab.add_node("cl", 50);
    let vip = format!("{VIP6}/64");
    let (ta, sa) = control_toml(&lab, "vmac6a");
    let (tb, sb) = control_toml(&lab, "vmac6b");
    let pa = lab.start_ha_vip(
        a,
        &[(
            "vip",
            ha_router(64, 200, &vip, "100ms", "virtual_mac = true"),
        )],
        Some(&ta),
    );
    let pb = lab.start_ha_vip(
        b,
        &[(
            "vip",
            ha_router(64, 100, &vip, "100ms", "virtual_mac = true"),
        )],
        Some(&tb),
    );
    let settled = wait_until(SETTLE, || {
        state(&sa) == "Active"
            && state(&sb) == "Backup"
            && holds(&lab, a, VIP6)
            && !holds(&lab, b, VIP6)
    });
    assert!(
        settled,
        "a {} / b {}\n{}",
        state(&sa),
        state(&sb),
        lab.logs()
    );
    // Stays that way: b keeps hearing a.
    let broke = wait_until(std::time::Duration::from_secs(2), || holds(&lab, b, VIP6));
    assert!(!broke, "b took the VIP too\n{}", lab.logs());
    sh(&format!(
        "ip netns exec {} ping -6 -c1 -W1 {VIP6} || true",
        lab.ns(client)
    ));
    assert!(
        wait_until(SETTLE, || lab.neighbour_mac(client, VIP6).as_deref()
            == Some(VMAC6)),
        "client sees {:?}\n{}",
        lab.neighbour_mac(client, VIP6),
        lab.logs()
    );
    lab.signal(pa, nix::sys::signal::Signal::SIGTERM);
    assert!(
        wait_until(SETTLE, || state(&sb) == "Active" && holds(&lab, b, VIP6)),
        "b did not take over\n{}",
        lab.logs()
    );
    for p in [pa, pb] {
        let log = lab.log(p);
        assert!(
            !log.contains("Invalid argument"),
            "a refused advert:\n{log}"
        );
    }
}

/// A virtual MAC needs arp_ignore / arp_announce on the parent; where
/// /proc/sys is read-only (systemd's ProtectKernelTunables, a pod) and they
/// are not set, the router refuses to start and says which sysctl and how
/// to fix it, instead of running with the parent answering ARP for the VIP
/// with its own MAC. Set beforehand, the same router starts.
#[test]
fn a_virtual_mac_without_its_sysctls_is_refused_clearly() {
    let mut lab = Lab::new("vmacro");
    let a = lab.add_node("a", 11);
    let ns = lab.ns(a).to_string();
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv4.conf.eth0.arp_ignore=0 net.ipv4.conf.eth0.arp_announce=0"
    ));
    let cfg = lab.dir.path().join("ro");
    std::fs::create_dir_all(cfg.join("routers")).expect("mkdir");
    let sock = lab.dir.path().join("ctl-ro.sock");
    std::fs::write(
        cfg.join("ha-vip.toml"),
        format!("[control]\nsocket = \"{}\"\n", sock.display()),
    )
    .expect("write");
    std::fs::write(
        cfg.join("routers/vip.toml"),
        ha_router(65, 200, "192.0.2.100/24", "100ms", "virtual_mac = true"),
    )
    .expect("write");
    let run = |cfg: &Path| {
        let log = lab.dir.path().join("ro.log");
        let f = std::fs::File::create(&log).expect("log");
        // A private mount namespace with /proc/sys read-only, as under
        // ProtectKernelTunables=yes.
        let child = Command::new("ip")
            .args(["netns", "exec", &ns, "unshare", "-m", "sh", "-c"])
            .arg(format!(
                "mount --bind -o ro /proc/sys /proc/sys && exec {HA_VIP} run --config {}",
                cfg.display()
            ))
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .expect("spawn");
        (child, log)
    };
    let (mut child, log) = run(&cfg);
    let refused = wait_until(SETTLE, || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("arp_ignore") && l.contains("not running"))
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    assert!(refused, "no clear refusal:\n{text}");
    assert!(
        text.contains("net.ipv4.conf.eth0.arp_ignore=1"),
        "the fix is not named:\n{text}"
    );
    assert!(!holds(&lab, a, "192.0.2.100"), "the router ran anyway");
    // Set beforehand (sysctl.d): the same router starts, /proc/sys still
    // read-only.
    sh(&format!(
        "ip netns exec {ns} sysctl -qw net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2"
    ));
    let (mut child, _) = run(&cfg);
    let ok = wait_until(SETTLE, || holds(&lab, a, "192.0.2.100"));
    let text = std::fs::read_to_string(lab.dir.path().join("ro.log")).unwrap_or_default();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    assert!(ok, "did not start with the sysctls set:\n{text}");
}
