//! ha-vip under a service manager (issue 14, item 1), tested without
//! systemd: the test binds the NOTIFY_SOCKET datagram socket itself and
//! reads what the daemon says, in order; and a frozen Active router fences
//! itself when it runs again.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::lab::*;
use crate::{SETTLE, VIP4, assert_sole_holder};

/// Messages on `sock` until `until`, or until `stop` says so.
fn collect(
    sock: &UnixDatagram,
    msgs: &mut Vec<(Instant, String)>,
    until: Duration,
    stop: impl Fn(&str) -> bool,
) {
    let end = Instant::now() + until;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf) {
            let m = String::from_utf8_lossy(&buf[..n]).to_string();
            let done = stop(&m);
            msgs.push((Instant::now(), m));
            if done {
                return;
            }
        }
    }
}

/// READY=1 with a STATUS= line once the router runs; WATCHDOG=1 about
/// every half of WATCHDOG_USEC, from the loop; RELOADING=1 (with
/// MONOTONIC_USEC) then READY=1 around a SIGHUP; STOPPING=1 on SIGTERM;
/// in that order.
#[test]
fn the_service_manager_hears_ready_reloading_stopping_and_the_watchdog() {
    let mut lab = Lab::new("notify");
    let a = lab.add_node("a", 11);
    let dir = lab.dir.path().to_path_buf();
    let cfg = dir.join("notify-cfg");
    std::fs::create_dir_all(cfg.join("routers")).expect("mkdir");
    std::fs::write(
        cfg.join("ha-vip.toml"),
        format!(
            "[control]\nsocket = \"{}\"\n",
            dir.join("ctl-notify.sock").display()
        ),
    )
    .expect("write");
    std::fs::write(
        cfg.join("routers/vip.toml"),
        ha_router(66, 200, "192.0.2.100/24", "100ms", ""),
    )
    .expect("write");
    let path = dir.join("notify.sock");
    let sock = UnixDatagram::bind(&path).expect("bind NOTIFY_SOCKET");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let log = std::fs::File::create(dir.join("notify.log")).expect("log");
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.ns(a), HA_VIP, "run", "--config"])
        .arg(&cfg)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "1000000")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup"))
        .stderr(log)
        .spawn()
        .expect("spawn");
    let pid = Pid::from_raw(child.id() as i32);
    let mut msgs = Vec::new();
    collect(&sock, &mut msgs, SETTLE, |m| m.contains("READY=1"));
    // Two seconds of watchdog pings (every 0.5 s).
    collect(&sock, &mut msgs, Duration::from_secs(2), |_| false);
    kill(pid, Signal::SIGHUP).expect("SIGHUP");
    collect(&sock, &mut msgs, SETTLE, |m| m.contains("READY=1"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    collect(&sock, &mut msgs, SETTLE, |m| m.contains("STOPPING=1"));
    let status = child.wait().expect("wait");
    let text: Vec<&str> = msgs.iter().map(|(_, m)| m.as_str()).collect();
    let all = text.join("|");
    assert!(status.success(), "exit {status:?}: {all}");
    let pos = |pat: &str, from: usize| {
        text.iter()
            .skip(from)
            .position(|m| m.contains(pat))
            .map(|p| p + from)
    };
    let ready = pos("READY=1", 0).unwrap_or_else(|| panic!("no READY=1: {all}"));
    assert!(
        text[ready].contains("STATUS=1 routers: "),
        "READY=1 without a status line: {all}"
    );
    let reloading =
        pos("RELOADING=1", ready).unwrap_or_else(|| panic!("no RELOADING=1 after READY: {all}"));
    assert!(
        text[reloading].contains("MONOTONIC_USEC="),
        "RELOADING=1 without MONOTONIC_USEC: {all}"
    );
    let ready2 = pos("READY=1", reloading + 1)
        .unwrap_or_else(|| panic!("no READY=1 after the reload: {all}"));
    let stopping = pos("STOPPING=1", ready2).unwrap_or_else(|| panic!("no STOPPING=1: {all}"));
    assert_eq!(
        stopping,
        text.len() - 1,
        "STOPPING=1 is the last message: {all}"
    );
    let pings: Vec<Instant> = msgs
        .iter()
        .take(reloading)
        .filter(|(_, m)| m.contains("WATCHDOG=1"))
        .map(|(t, _)| *t)
        .collect();
    assert!(pings.len() >= 3, "too few watchdog pings in 2 s: {all}");
    for w in pings.windows(2) {
        assert!(
            w[1] - w[0] < Duration::from_millis(1000),
            "a ping came late: {:?}",
            w[1] - w[0]
        );
    }
    // Once Active, the status line said so.
    assert!(
        all.contains("1 Active"),
        "the status never showed the router Active: {all}"
    );
}

/// A frozen Active daemon (SIGSTOP, as a paused VM): the Backup takes over
/// after Master_Down_Interval; let run again (SIGCONT), the daemon finds
/// its advert a whole Master_Down_Interval late, says so, and gives the
/// addresses up rather than hold the VIP beside the new Active router;
/// then it preempts back by the usual rules, and one node holds the VIP.
#[test]
fn a_frozen_active_router_fences_itself_when_it_runs_again() {
    let mut lab = Lab::new("freeze");
    let a = lab.add_node("a", 11);
    let b = lab.add_node("b", 12);
    let pa = lab.start_ha_vip(
        a,
        &[("vip", ha_router(67, 200, "192.0.2.100/24", "100ms", ""))],
        None,
    );
    lab.start_ha_vip(
        b,
        &[("vip", ha_router(67, 100, "192.0.2.100/24", "100ms", ""))],
        None,
    );
    assert_sole_holder(&lab, &[a, b], VIP4, a);
    let pid = Pid::from_raw(lab.procs[pa].child.id() as i32);
    kill(pid, Signal::SIGSTOP).expect("SIGSTOP");
    let took = wait_until(SETTLE, || lab.has_addr(b, VIP4));
    // Frozen a still has the VIP in the kernel.
    assert!(
        took && lab.has_addr(a, VIP4),
        "b did not take over\n{}",
        lab.logs()
    );
    // Frozen past the fence's 1 s floor (and Master_Down_Interval).
    std::thread::sleep(Duration::from_millis(1500));
    kill(pid, Signal::SIGCONT).expect("SIGCONT");
    let fenced = wait_until(SETTLE, || {
        lab.log(pa).contains("stalled past Master_Down_Interval")
    });
    assert!(fenced, "no self-fence after SIGCONT\n{}", lab.logs());
    assert_sole_holder(&lab, &[a, b], VIP4, a);
}
