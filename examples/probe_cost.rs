//! The CPU and memory one health check costs, measured the same way before
//! and after a change (docs/kubernetes.md and docs/performance.md quote it).
//!
//! ```text
//! cargo run --release --example probe_cost -- readyz URL CA_FILE COUNT INTERVAL_MS
//! cargo run --release --example probe_cost -- connect URL CA_FILE SECONDS
//! cargo run --release --example probe_cost -- check URL CA_FILE SECONDS
//! ```
//!
//! `readyz` runs COUNT API-server probes (TCP, TLS, `GET /readyz`) against
//! URL, one every INTERVAL_MS; `connect` runs the API-server check with only
//! its fast TCP-connect probe (every 100 ms; the full probe once, at the
//! start) for SECONDS; `check` runs the whole check at its defaults. All
//! print the process's user+system CPU time (getrusage), the
//! share of one core over the wall time, and the peak and current RSS. The
//! server runs in another process (e.g. `openssl s_server -www`), so its
//! cost is not counted.

use std::time::{Duration, Instant};

use ha_vip::health::{CheckSpec, K8sParams, K8sProber, spawn_check};

fn cpu_and_rss() -> (Duration, u64) {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    (tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss as u64)
}

/// Time on a CPU, to the nanosecond, from the scheduler (/proc/self/schedstat,
/// summed over threads). getrusage's user/system split is sampled at the
/// timer tick, which overcharges a process that wakes on timers.
fn on_cpu() -> Duration {
    let mut total = Duration::ZERO;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Some(ns) = std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| {
                    s.split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                })
            {
                total += Duration::from_nanos(ns);
            }
        }
    }
    total
}

fn vm_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn report(what: &str, n: u64, wall: Duration, cpu0: Duration, sched0: Duration) {
    let (cpu1, maxrss) = cpu_and_rss();
    let cpu = cpu1.saturating_sub(cpu0);
    let sched = on_cpu().saturating_sub(sched0);
    println!(
        "{what}: {n} probes in {:.1} s wall: getrusage {:.3} s ({:.1} us/probe, {:.4} % of one core), \
         schedstat {:.4} s ({:.1} us/probe, {:.4} % of one core), peak RSS {} KiB, RSS now {} KiB",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        sched.as_secs_f64(),
        sched.as_secs_f64() * 1e6 / n.max(1) as f64,
        100.0 * sched.as_secs_f64() / wall.as_secs_f64(),
        maxrss,
        vm_rss_kib()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.get(1).map(String::as_str) {
        Some("readyz") if args.len() == 6 => {
            let count: u64 = args[4].parse().expect("COUNT");
            let every = Duration::from_millis(args[5].parse().expect("INTERVAL_MS"));
            let params = K8sParams {
                api_server: args[2].clone(),
                ca_cert: Some(args[3].clone().into()),
                ..K8sParams::default()
            };
            rt.block_on(async {
                let mut prober = K8sProber::new("k8s", params);
                let (cpu0, _) = cpu_and_rss();
                let sched0 = on_cpu();
                let start = Instant::now();
                let mut failed = 0;
                for i in 0..count {
                    let r = prober.probe(Duration::from_secs(2)).await;
                    if !r.healthy() {
                        failed += 1;
                        if failed == 1 {
                            eprintln!("probe {i}: {}", r.reason());
                        }
                    }
                    tokio::time::sleep_until((start + every * (i as u32 + 1)).into()).await;
                }
                report("readyz", count, start.elapsed(), cpu0, sched0);
                println!("failed probes: {failed}");
            });
        }
        Some(mode @ ("connect" | "check")) if args.len() == 5 => {
            let seconds: u64 = args[4].parse().expect("SECONDS");
            let params = K8sParams {
                api_server: args[2].clone(),
                ca_cert: Some(args[3].clone().into()),
                ..K8sParams::default()
            };
            let mut spec = CheckSpec::k8s(params);
            if mode == "connect" {
                spec.interval = Duration::from_secs(24 * 3600);
            }
            rt.block_on(async {
                let (tx, mut rx) = tokio::sync::mpsc::channel(16);
                let handle = spawn_check(spec, tx);
                let first = rx.recv().await.expect("first result");
                assert!(first.healthy, "{}", first.reason);
                let (cpu0, _) = cpu_and_rss();
                let sched0 = on_cpu();
                let start = Instant::now();
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                let st = handle.status.borrow().clone();
                let connects = st.connect.as_ref().map_or(0, |c| c.probes);
                report(
                    &format!("{mode} ({connects} connect probes, {} full)", st.probes),
                    connects + st.probes,
                    start.elapsed(),
                    cpu0,
                    sched0,
                );
                println!(
                    "failed: {} connect, {} full",
                    st.connect.as_ref().map_or(0, |c| c.failures),
                    st.failures
                );
            });
        }
        Some("idle") if args.len() == 4 => {
            // The floor: a task that only wakes every INTERVAL_MS.
            let seconds: u64 = args[2].parse().expect("SECONDS");
            let every = Duration::from_millis(args[3].parse().expect("INTERVAL_MS"));
            rt.block_on(async {
                let (cpu0, _) = cpu_and_rss();
                let sched0 = on_cpu();
                let start = Instant::now();
                let mut n = 0;
                while start.elapsed() < Duration::from_secs(seconds) {
                    tokio::time::sleep(every).await;
                    n += 1;
                }
                report("idle wake-ups", n, start.elapsed(), cpu0, sched0);
            });
        }
        Some("diag") if args.len() == 4 => {
            // The sock_diag question alone, back to back.
            let addr: std::net::SocketAddr = args[2].parse().expect("HOST:PORT");
            let count: u64 = args[3].parse().expect("COUNT");
            let mut w = ha_vip::health::listen::ListenWatch::new().expect("sock_diag");
            let (cpu0, _) = cpu_and_rss();
            let sched0 = on_cpu();
            let start = Instant::now();
            for _ in 0..count {
                assert!(w.serves(addr).expect("sock_diag"));
            }
            report("sock_diag", count, start.elapsed(), cpu0, sched0);
        }
        _ => {
            eprintln!(
                "usage: probe_cost readyz URL CA_FILE COUNT INTERVAL_MS | connect URL CA_FILE SECONDS | check URL CA_FILE SECONDS"
            );
            std::process::exit(2);
        }
    }
}
