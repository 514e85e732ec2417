//! What an `exec` check's program (and a notify hook, which shares
//! `health::spawn`) gets: a cleared environment with the documented
//! variables only, no ambient capabilities, and no relative path.

use std::time::Duration;

use ha_vip::health::{CheckKind, ExecParams, Failure, Prober};

async fn run_exec(name: &str, program: &str, args: &[&str]) -> Result<(), Failure> {
    let kind = CheckKind::Exec(ExecParams {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    });
    Prober::new(name, &kind)
        .probe(Duration::from_secs(5))
        .await
        .outcome
}

#[tokio::test]
async fn the_environment_is_cleared_but_for_the_documented_variables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env");
    // SAFETY (test): set before any program is started by this test; no
    // other thread of this binary reads the environment meanwhile.
    unsafe { std::env::set_var("HA_VIP_TEST_SECRET", "leaked") };
    let script = format!("env > {}", out.display());
    run_exec("envcheck", "/bin/sh", &["-c", &script])
        .await
        .unwrap();
    let env = std::fs::read_to_string(&out).unwrap();
    let mut keys: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        // sh itself sets these three.
        .filter(|k| !matches!(*k, "PWD" | "SHLVL" | "_"))
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["HA_VIP_CHECK", "PATH"], "{env}");
    assert!(env.contains("HA_VIP_CHECK=envcheck"), "{env}");
    assert!(env.contains(&format!("PATH={}", ha_vip::health::spawn::PROGRAM_PATH)));
    assert!(!env.contains("leaked"));
}

#[tokio::test]
async fn a_relative_program_is_refused() {
    let r = run_exec("rel", "sh", &["-c", "true"]).await;
    assert!(
        matches!(&r, Err(Failure::Config(m)) if m.contains("absolute path")),
        "{r:?}"
    );
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// linux/capability.h
const CAP_NET_RAW: u32 = 13;

/// The ambient set of a process, from /proc/PID/status (hex).
fn cap_amb(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapAmb:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap()
}

/// Raises CAP_NET_RAW into this thread's ambient set (it must be in the
/// permitted set: run as root), so a child would inherit it. `false` when
/// this process cannot.
fn raise_ambient_net_raw() -> bool {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget/capset with a v3 header and two data elements, as
    // capget(2) documents; both only touch the memory passed.
    unsafe {
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return false;
        }
        let bit = 1u32 << CAP_NET_RAW;
        if data[0].permitted & bit == 0 {
            return false;
        }
        data[0].inheritable |= bit;
        if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
            return false;
        }
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            CAP_NET_RAW as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        ) == 0
    }
}

/// Ambient capabilities are per thread and inherited through fork: on a
/// current-thread runtime the program is forked from this very thread.
#[tokio::test(flavor = "current_thread")]
async fn ambient_capabilities_are_cleared() {
    assert!(
        raise_ambient_net_raw(),
        "this test needs root (CAP_NET_RAW permitted) to raise an ambient capability"
    );
    let own = std::fs::read_to_string("/proc/thread-self/status").unwrap();
    assert_ne!(cap_amb(&own), 0, "the ambient set was not raised");
    let dir = tempfile::tempdir().unwrap();
    // Control: a plain child of this thread inherits it.
    let plain = dir.path().join("plain");
    let status = std::process::Command::new("/bin/sh")
        .args([
            "-c",
            &format!("cat /proc/self/status > {}", plain.display()),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    assert_ne!(cap_amb(&std::fs::read_to_string(&plain).unwrap()), 0);
    // Through health::spawn: cleared.
    let ours = dir.path().join("ours");
    let script = format!("cat /proc/self/status > {}", ours.display());
    run_exec("caps", "/bin/sh", &["-c", &script]).await.unwrap();
    let status = std::fs::read_to_string(&ours).unwrap();
    assert_eq!(cap_amb(&status), 0, "{status}");
}
