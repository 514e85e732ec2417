//! A lab of network namespaces for the integration tests.
//!
//! Each test builds its own: a hub namespace holding a bridge, and one
//! namespace per node with an `eth0` veth plugged into the bridge. Names
//! carry a per-test prefix so tests can run side by side; everything
//! (processes, namespaces) is removed when the `Lab` is dropped, also when
//! the test fails. Addresses come from the documentation ranges only.
//!
//! Prerequisites are checked loudly: a missing `ip`, `keepalived`, FRR or root
//! is a test failure with a message, never a skip.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const HA_VIP: &str = env!("CARGO_BIN_EXE_ha-vip");

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Fail the test with a clear message when a prerequisite is missing.
pub fn require_prerequisites() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "integration tests need root (network namespaces): run `sudo scripts/test.sh`"
    );
    for tool in ["ip", "keepalived", "tcpdump"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            found,
            "prerequisite `{tool}` is missing: run `sudo scripts/install-prereqs.sh`"
        );
    }
}

/// Run a command, panicking with its output when it fails.
pub fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .unwrap_or_else(|e| panic!("spawn `{cmd}`: {e}"));
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a command, ignoring failure (cleanup paths).
pub fn sh_quiet(cmd: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Poll `f` until it is true or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Node {
    pub name: String,
    pub ns: String,
    /// The node's own address (IPv4, /24).
    pub ip: String,
    pub mac: String,
}

pub enum Kind {
    HaVip,
    Keepalived,
    /// FRR's zebra or vrrpd.
    Frr(&'static str),
}

pub struct Proc {
    pub node: usize,
    pub kind: Kind,
    pub child: Child,
    pub log: PathBuf,
    pub config: PathBuf,
}

pub struct Lab {
    pub prefix: String,
    pub hub: String,
    pub nodes: Vec<Node>,
    pub procs: Vec<Proc>,
    pub dir: tempfile::TempDir,
    /// HA_VIP_LOG for daemons started from now on; per-packet detail is at
    /// debug, so a test that counts log lines under load sets "info".
    pub ha_vip_log: String,
}

impl Lab {
    /// A new empty lab: a hub namespace with bridge `br0`.
    pub fn new(test: &str) -> Lab {
        require_prerequisites();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("hvi{}{}", std::process::id() % 10000, seq);
        let hub = format!("{prefix}-hub");
        sh_quiet(&format!("ip netns del {hub}"));
        sh(&format!("ip netns add {hub}"));
        sh(&format!(
            "ip -n {hub} link add br0 type bridge mcast_snooping 0 && ip -n {hub} link set br0 up && ip -n {hub} link set lo up"
        ));
        let dir = tempfile::Builder::new()
            .prefix(&format!("ha-vip-{test}-"))
            .tempdir()
            .expect("tempdir");
        Lab {
            prefix,
            hub,
            nodes: Vec::new(),
            procs: Vec::new(),
            dir,
            ha_vip_log: "info,ha_vip=debug".to_string(),
        }
    }

    /// Add a node `name` with `eth0` on the bridge, IPv4 192.0.2.`host`/24,
    /// IPv6 link-local and 2001:db8::`host`/64, a fixed MAC, no DAD delay.
    pub fn add_node(&mut self, name: &str, host: u8) -> usize {
        let ns = format!("{}-{name}", self.prefix);
        let mac = format!(
            "02:00:00:00:{:02x}:{:02x}",
            self.nodes.len() as u8 + 1,
            host
        );
        let hub = &self.hub;
        let peer = format!("v{}{}", self.prefix.len() % 10, self.nodes.len());
        let peer = format!("{}{}", &peer, host);
        sh_quiet(&format!("ip netns del {ns}"));
        sh(&format!("ip netns add {ns}"));
        // No DAD: the lab's addresses must work at once.
        sh(&format!(
            "ip netns exec {ns} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0"
        ));
        sh(&format!(
            "ip -n {ns} link add eth0 type veth peer name {peer} netns {hub}"
        ));
        sh(&format!("ip -n {hub} link set {peer} master br0 up"));
        sh(&format!(
            "ip -n {ns} link set eth0 address {mac} && ip -n {ns} link set lo up && ip -n {ns} link set eth0 up"
        ));
        sh(&format!(
            "ip -n {ns} addr add 192.0.2.{host}/24 dev eth0 && ip -n {ns} addr add 2001:db8::{host:x}/64 dev eth0 nodad"
        ));
        self.nodes.push(Node {
            name: name.to_string(),
            ns,
            ip: format!("192.0.2.{host}"),
            mac,
        });
        self.nodes.len() - 1
    }

    pub fn ns(&self, node: usize) -> &str {
        &self.nodes[node].ns
    }

    /// Start ha-vip on `node` with the given router files (name, text) and
    /// optional ha-vip.toml. Returns the process index.
    pub fn start_ha_vip(
        &mut self,
        node: usize,
        routers: &[(&str, String)],
        daemon: Option<&str>,
    ) -> usize {
        let n = self.procs.len();
        let cfg = self.dir.path().join(format!("ha-vip-{node}-{n}"));
        fs::create_dir_all(cfg.join("routers")).expect("mkdir");
        for (name, text) in routers {
            fs::write(cfg.join("routers").join(format!("{name}.toml")), text).expect("write");
        }
        let sock = self.dir.path().join(format!("ctl-{node}-{n}.sock"));
        let daemon_text = daemon
            .map(str::to_string)
            .unwrap_or_else(|| format!("[control]\nsocket = \"{}\"\n", sock.display()));
        fs::write(cfg.join("ha-vip.toml"), daemon_text).expect("write");
        self.spawn_ha_vip(node, cfg)
    }

    /// Start ha-vip again on an existing configuration directory.
    pub fn spawn_ha_vip(&mut self, node: usize, cfg: PathBuf) -> usize {
        let n = self.procs.len();
        let log = self.dir.path().join(format!("ha-vip-{node}-{n}.log"));
        let logf = fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", self.ns(node), HA_VIP, "run", "--config"])
            .arg(&cfg)
            .env("HA_VIP_LOG", &self.ha_vip_log)
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup"))
            .stderr(logf)
            .spawn()
            .expect("spawn ha-vip");
        self.procs.push(Proc {
            node,
            kind: Kind::HaVip,
            child,
            log,
            config: cfg,
        });
        self.procs.len() - 1
    }

    /// Start keepalived (VRRP only, foreground) on `node` with `conf`.
    pub fn start_keepalived(&mut self, node: usize, conf: &str) -> usize {
        let n = self.procs.len();
        let base = self.dir.path().join(format!("keepalived-{node}-{n}"));
        fs::create_dir_all(&base).expect("mkdir");
        let file = base.join("keepalived.conf");
        fs::File::create(&file)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .expect("write keepalived.conf");
        let log = base.join("log");
        let logf = fs::File::create(&log).expect("log");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                self.ns(node),
                "keepalived",
                "-n",
                "-l",
                "-D",
                "-P",
                "-G",
                "-f",
            ])
            .arg(&file)
            .arg("-p")
            .arg(base.join("keepalived.pid"))
            .arg("-r")
            .arg(base.join("vrrp.pid"))
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup"))
            .stderr(logf)
            .spawn()
            .expect("spawn keepalived");
        self.procs.push(Proc {
            node,
            kind: Kind::Keepalived,
            child,
            log,
            config: file,
        });
        self.procs.len() - 1
    }

    /// Start FRR (zebra, then vrrpd) on `node` for one virtual router.
    ///
    /// FRR's vrrpd does not create its macvlan devices: as its
    /// documentation asks, one per family is made here, with the RFC
    /// virtual MAC, a random IPv6 link-local (both routers would
    /// otherwise derive the same one from the shared MAC), the VIPs, in
    /// bridge mode. vrrpd puts it in protodown while Backup; eth0 is set
    /// not to answer ARP for addresses it does not hold. The daemons
    /// run in the foreground as FRR's `frr` user, with their sockets, pid
    /// files and logs in a directory of the lab. Returns vrrpd's process
    /// index; `frr_show` asks it for its state.
    pub fn start_frr(&mut self, node: usize, r: &FrrRouter) -> usize {
        require_frr();
        let n = self.procs.len();
        let base = self.dir.path().join(format!("frr-{node}-{n}"));
        fs::create_dir_all(&base).expect("mkdir");
        // FRR drops to its own user: it must reach and write its directory.
        sh(&format!(
            "chmod 0711 {} && chown frr:frr {}",
            self.dir.path().display(),
            base.display()
        ));
        let ns = self.ns(node).to_string();
        let vrid = r.vrid;
        // The VIPs stay configured on the macvlan in protodown: without
        // these, eth0 would answer ARP for them with its own MAC while
        // Backup (FRR leaves this to the system's configuration).
        sh(&format!(
            "ip netns exec {ns} sysctl -qw net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2"
        ));
        let mut lines = vec![
            format!("hostname {}", self.nodes[node].name),
            "interface eth0".to_string(),
            format!(" vrrp {vrid} version {}", r.version),
            format!(" vrrp {vrid} priority {}", r.priority),
            format!(" vrrp {vrid} advertisement-interval {}", r.interval_ms),
        ];
        for (fam, mac_byte, addrs, kw) in [("4", 1, &r.ipv4, "ip"), ("6", 2, &r.ipv6, "ipv6")] {
            if addrs.is_empty() {
                continue;
            }
            let dev = format!("vrrp{fam}-2-{vrid}");
            sh(&format!(
                "ip -n {ns} link add {dev} link eth0 type macvlan mode bridge && \
                 ip -n {ns} link set dev {dev} addrgenmode random && \
                 ip -n {ns} link set dev {dev} address 00:00:5e:00:{mac_byte:02x}:{vrid:02x}"
            ));
            for a in addrs {
                let nodad = if fam == "6" { " nodad" } else { "" };
                sh(&format!("ip -n {ns} addr add {a} dev {dev}{nodad}"));
                let ip = a.split('/').next().unwrap_or(a);
                lines.push(format!(" vrrp {vrid} {kw} {ip}"));
            }
            sh(&format!("ip -n {ns} link set dev {dev} up"));
        }
        lines.extend(r.extra.iter().map(|l| format!(" {l}")));
        fs::write(
            base.join("zebra.conf"),
            format!("hostname {}\n", self.nodes[node].name),
        )
        .expect("write zebra.conf");
        fs::write(base.join("vrrpd.conf"), lines.join("\n") + "\n").expect("write vrrpd.conf");
        sh(&format!(
            "chmod 0644 {0}/zebra.conf {0}/vrrpd.conf",
            base.display()
        ));
        let zserv = base.join("zserv.api");
        self.spawn_frr(node, &base, "zebra");
        assert!(
            wait_until(Duration::from_secs(10), || zserv.exists()),
            "zebra did not open {}\n{}",
            zserv.display(),
            self.logs()
        );
        self.spawn_frr(node, &base, "vrrpd")
    }

    fn spawn_frr(&mut self, node: usize, base: &Path, daemon: &'static str) -> usize {
        let log = base.join(format!("{daemon}.out"));
        let logf = fs::File::create(&log).expect("log file");
        let child = Command::new("ip")
            .args(["netns", "exec", self.ns(node)])
            .arg(format!("/usr/lib/frr/{daemon}"))
            .arg("-i")
            .arg(base.join(format!("{daemon}.pid")))
            .arg("-z")
            .arg(base.join("zserv.api"))
            .arg("--vty_socket")
            .arg(base)
            .arg("-f")
            .arg(base.join(format!("{daemon}.conf")))
            .args(["-P", "0", "--log", "stdout", "--log-level", "debug"])
            .stdin(Stdio::null())
            .stdout(logf.try_clone().expect("dup"))
            .stderr(logf)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn FRR {daemon}: {e}"));
        self.procs.push(Proc {
            node,
            kind: Kind::Frr(daemon),
            child,
            log,
            config: base.to_path_buf(),
        });
        self.procs.len() - 1
    }

    /// Start FRR's vrrpd again (after a stop) on the directory of `p`.
    pub fn restart_vrrpd(&mut self, p: usize) -> usize {
        let node = self.procs[p].node;
        let base = self.procs[p].config.clone();
        self.spawn_frr(node, &base, "vrrpd")
    }

    /// `show vrrp VRID json` of the vrrpd `p`: FRR's view of one family
    /// (`"v4"` or `"v6"`), e.g. `["status"]` ("Master", "Backup") and
    /// `["stats"]["adverRx"]`. Null when vrrpd does not answer.
    pub fn frr_show(&self, p: usize, vrid: u8, family: &str) -> serde_json::Value {
        let out = Command::new("timeout")
            .arg("5")
            .arg("vtysh")
            .arg("--vty_socket")
            .arg(&self.procs[p].config)
            .args(["-d", "vrrpd", "-c"])
            .arg(format!("show vrrp {vrid} json"))
            .output();
        let Ok(out) = out else {
            return serde_json::Value::Null;
        };
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        v.get(0)
            .and_then(|r| r.get(family))
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }

    /// Send a signal to a process and wait for it to exit; returns its status.
    pub fn signal(&mut self, p: usize, sig: nix::sys::signal::Signal) -> std::process::ExitStatus {
        let pid = self.procs[p].child.id();
        // `ip netns exec` execs the program: the pid is the daemon itself.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig);
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = self.procs[p].child.try_wait() {
                return st;
            }
            assert!(
                Instant::now() < end,
                "process {p} did not exit after {sig:?}:\n{}",
                self.log(p)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_running(&mut self, p: usize) -> bool {
        matches!(self.procs[p].child.try_wait(), Ok(None))
    }

    pub fn log(&self, p: usize) -> String {
        fs::read_to_string(&self.procs[p].log).unwrap_or_default()
    }

    /// Does `node` hold `addr` on eth0?
    pub fn has_addr(&self, node: usize, addr: &str) -> bool {
        let out = Command::new("ip")
            .args(["-n", self.ns(node), "-o", "addr", "show", "dev", "eth0"])
            .output();
        match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .any(|w| w.split('/').next() == Some(addr)),
            Err(_) => false,
        }
    }

    /// Indices of the nodes holding `addr`, among `nodes`.
    pub fn holders(&self, nodes: &[usize], addr: &str) -> Vec<usize> {
        nodes
            .iter()
            .copied()
            .filter(|&n| self.has_addr(n, addr))
            .collect()
    }

    pub fn link(&self, node: usize, up: bool) {
        sh(&format!(
            "ip -n {} link set eth0 {}",
            self.ns(node),
            if up { "up" } else { "down" }
        ));
    }

    /// The MAC the client's neighbour table has for `addr`, after refreshing it.
    pub fn neighbour_mac(&self, client: usize, addr: &str) -> Option<String> {
        let ns = self.ns(client);
        let ping = if addr.contains(':') {
            "ping -6"
        } else {
            "ping"
        };
        sh_quiet(&format!("ip netns exec {ns} {ping} -c1 -W1 {addr}"));
        let out = Command::new("ip")
            .args(["-n", ns, "neigh", "show", addr])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = text.split_whitespace();
        while let Some(w) = words.next() {
            if w == "lladdr" {
                return words.next().map(str::to_string);
            }
        }
        None
    }

    pub fn config_dir(&self, p: usize) -> &Path {
        &self.procs[p].config
    }

    /// All logs, for a failing assertion's message.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.procs.iter().enumerate() {
            s.push_str(&format!(
                "----- proc {i} on {} ({}) -----\n{}\n",
                self.nodes[p.node].name,
                match p.kind {
                    Kind::HaVip => "ha-vip",
                    Kind::Keepalived => "keepalived",
                    Kind::Frr(d) => d,
                },
                self.log(i)
            ));
        }
        s
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if matches!(p.child.try_wait(), Ok(None)) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p.child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = p.child.wait();
            }
        }
        for n in &self.nodes {
            sh_quiet(&format!("ip netns del {}", n.ns));
        }
        sh_quiet(&format!("ip netns del {}", self.hub));
        if std::env::var_os("HA_VIP_KEEP_LOGS").is_some() {
            let kept = self.dir.path().to_path_buf();
            eprintln!("lab logs kept in {}", kept.display());
            // Leak the directory on purpose for inspection.
            let d = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
            let _ = d.keep();
        }
    }
}

/// FRR is a prerequisite of the FRR tests only; missing, they fail.
pub fn require_frr() {
    for f in ["/usr/lib/frr/zebra", "/usr/lib/frr/vrrpd", "/usr/bin/vtysh"] {
        assert!(
            Path::new(f).exists(),
            "prerequisite `{f}` (Debian package frr) is missing: run `sudo scripts/install-prereqs.sh`"
        );
    }
}

/// One FRR virtual router on `eth0`.
pub struct FrrRouter {
    pub vrid: u8,
    pub version: u8,
    pub priority: u8,
    /// A multiple of 10 ms.
    pub interval_ms: u32,
    /// Addresses with their prefix, e.g. "192.0.2.100/24".
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    /// More `vrrp VRID ...` lines (without the interface indent).
    pub extra: Vec<String>,
}

/// A router file for ha-vip.
pub fn ha_router(vrid: u8, priority: u8, vip: &str, interval: &str, extra: &str) -> String {
    format!(
        "interface = \"eth0\"\nvrid = {vrid}\npriority = {priority}\nadvert_interval = \"{interval}\"\naddresses = [\"{vip}\"]\n{extra}\n"
    )
}

/// A keepalived configuration with one vrrp_instance.
pub fn keepalived_conf(
    vrid: u8,
    priority: u8,
    vip: &str,
    advert_int: &str,
    version: u8,
    extra: &str,
) -> String {
    format!(
        "global_defs {{\n  router_id ka{vrid}\n  vrrp_version {version}\n  vrrp_garp_master_delay 1\n  enable_script_security\n}}\n\
vrrp_instance VI_{vrid} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  priority {priority}\n  advert_int {advert_int}\n{extra}\n  virtual_ipaddress {{\n    {vip} dev eth0\n  }}\n}}\n"
    )
}

/// `ha-vip status --json` against a control socket.
pub fn status_json(socket: &Path) -> serde_json::Value {
    let out = Command::new(HA_VIP)
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .output()
        .expect("run ha-vip status");
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

/// An `ha-vip.toml` with a control socket of its own in the lab's
/// directory, and that socket's path.
pub fn control_toml(lab: &Lab, tag: &str) -> (String, PathBuf) {
    let sock = lab.dir.path().join(format!("ctl-{tag}.sock"));
    (
        format!("[control]\nsocket = \"{}\"\n", sock.display()),
        sock,
    )
}

/// The first router of `ha-vip status --json` on `sock`; `None` while the
/// daemon does not answer.
pub fn first_router(sock: &Path) -> Option<serde_json::Value> {
    let st = std::panic::catch_unwind(|| status_json(sock)).ok()?;
    st["routers"].get(0).cloned()
}
