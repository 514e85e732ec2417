//! The CPU and memory one health check costs, measured the same way before
//! and after a change (docs/kubernetes.md and docs/performance.md quote it).
//!
//! ```text
//! cargo run --release --example probe_cost -- readyz URL CA_FILE COUNT INTERVAL_MS
//! cargo run --release --example probe_cost -- connect HOST:PORT SECONDS INTERVAL_MS
//! ```
//!
//! `readyz` runs COUNT API-server probes (TCP, TLS, `GET /readyz`) against
//! URL, one every INTERVAL_MS; `connect` runs the fast TCP-connect probe for
//! SECONDS. Both print the process's user+system CPU time (getrusage), the
//! share of one core over the wall time, and the peak and current RSS. The
//! server runs in another process (e.g. `openssl s_server -www`), so its
//! cost is not counted.

use std::time::{Duration, Instant};

use ha_vip::health::{K8sParams, K8sProber};

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

fn report(what: &str, n: u64, wall: Duration, cpu0: Duration) {
    let (cpu1, maxrss) = cpu_and_rss();
    let cpu = cpu1.saturating_sub(cpu0);
    println!(
        "{what}: {n} probes in {:.1} s wall: cpu {:.3} s ({:.1} us/probe, {:.4} % of one core), \
         peak RSS {} KiB, RSS now {} KiB",
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
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
                report("readyz", count, start.elapsed(), cpu0);
                println!("failed probes: {failed}");
            });
        }
        _ => {
            eprintln!(
                "usage: probe_cost readyz URL CA_FILE COUNT INTERVAL_MS | connect HOST:PORT SECONDS INTERVAL_MS"
            );
            std::process::exit(2);
        }
    }
}
