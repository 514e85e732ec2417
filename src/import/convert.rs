//! keepalived `vrrp_instance` blocks to ha-vip router files.
//!
//! Pure: an [`Ast`] in, a [`Conversion`] (file names, file texts, notes)
//! out. keepalived's defaults are applied where they differ from ha-vip's
//! (VRRP version 2, priority 255 for `state MASTER` without a priority),
//! so that a converted router sends the same adverts as the keepalived
//! instance it replaces. The keyword table is in docs/import.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use super::Note;
use super::parse::{Ast, Node, Pos};

/// Router names: 1 to 64 of these (docs/configuration.md).
const NAME_MAX: usize = 64;

/// One router file to write: `routers/NAME.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterFile {
    /// The file stem, a valid router name.
    pub name: String,
    /// The keepalived instance it came from.
    pub instance: String,
    pub text: String,
}

/// The result of a conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conversion {
    pub routers: Vec<RouterFile>,
    /// `ha-vip.toml`, when something needs it (`[checks.NAME]`).
    pub daemon: Option<String>,
    /// Converted, with a difference worth knowing.
    pub notes: Vec<Note>,
    /// What keepalived does that the produced files do not.
    pub not_converted: Vec<Note>,
    /// Instances that produced no file, and why.
    pub errors: Vec<Note>,
}

impl Conversion {
    /// Every instance produced its file.
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// keepalived's `vrrp_garp_*` / `garp_*` settings, unset = inherit.
#[derive(Debug, Clone, Copy, Default)]
struct Garp {
    delay_s: Option<u64>,
    repeat: Option<u64>,
    refresh_s: Option<u64>,
    refresh_repeat: Option<u64>,
    garp_interval_us: Option<u64>,
    gna_interval_us: Option<u64>,
}

impl Garp {
    fn or(self, other: Garp) -> Garp {
        Garp {
            delay_s: self.delay_s.or(other.delay_s),
            repeat: self.repeat.or(other.repeat),
            refresh_s: self.refresh_s.or(other.refresh_s),
            refresh_repeat: self.refresh_repeat.or(other.refresh_repeat),
            garp_interval_us: self.garp_interval_us.or(other.garp_interval_us),
            gna_interval_us: self.gna_interval_us.or(other.gna_interval_us),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Globals {
    version: Option<u8>,
    garp: Garp,
    strict: bool,
    checksum_as_v2: bool,
    /// `vrrp_skip_check_adv_addr`: the default of every instance.
    skip_check_adv_addr: bool,
}

/// A `vrrp_script` block.
#[derive(Debug, Clone)]
struct Script {
    name: String,
    command: Vec<String>,
    interval_us: u64,
    timeout_us: u64,
    rise: u64,
    fall: u64,
    weight: i64,
    reverse: bool,
    pos: Pos,
}

struct Ctx<'a> {
    ast: &'a Ast,
    out: Conversion,
}

impl Ctx<'_> {
    fn at(&self, pos: Pos, keyword: &str, message: impl Into<String>) -> Note {
        Note {
            file: self.ast.file(pos.file).to_string(),
            line: pos.line,
            keyword: keyword.to_string(),
            message: message.into(),
        }
    }
    fn note(&mut self, pos: Pos, keyword: &str, message: impl Into<String>) {
        let n = self.at(pos, keyword, message);
        self.out.notes.push(n);
    }
    fn skip(&mut self, pos: Pos, keyword: &str, message: impl Into<String>) {
        let n = self.at(pos, keyword, message);
        self.out.not_converted.push(n);
    }
    fn error(&mut self, pos: Pos, keyword: &str, message: impl Into<String>) {
        let n = self.at(pos, keyword, message);
        self.out.errors.push(n);
    }
}

/// Converts every `vrrp_instance` of `ast`.
pub fn convert(ast: &Ast) -> Conversion {
    let mut cx = Ctx {
        ast,
        out: Conversion {
            notes: ast.notes.clone(),
            ..Conversion::default()
        },
    };
    let mut globals = Globals::default();
    let mut scripts: HashMap<String, Script> = HashMap::new();
    // global_defs and vrrp_script apply wherever they are in the file.
    for n in &ast.nodes {
        match n.keyword.as_str() {
            "global_defs" => read_globals(&mut cx, n, &mut globals),
            "vrrp_script" => {
                if let Some(s) = read_script(&mut cx, n) {
                    scripts.insert(s.name.clone(), s);
                }
            }
            _ => {}
        }
    }
    let mut used_checks: BTreeMap<(usize, u32, String), Script> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    let mut seen_ids: HashMap<(String, u8, bool), String> = HashMap::new();
    let mut seen_addrs: HashMap<String, String> = HashMap::new();
    for n in &ast.nodes {
        match n.keyword.as_str() {
            "global_defs" | "vrrp_script" => {}
            "vrrp_instance" => {
                let Some(inst) = read_instance(&mut cx, n, &globals, &scripts) else {
                    continue;
                };
                // ha-vip refuses these across files; say so here, with
                // the keepalived lines, rather than write a refused file.
                let id = (inst.interface.clone(), inst.vrid, inst.ipv6);
                if let Some(other) = seen_ids.get(&id) {
                    cx.error(
                        n.pos,
                        "virtual_router_id",
                        format!(
                            "VRID {} on {} is also used by vrrp_instance {other}: one virtual router per interface, VRID and family",
                            inst.vrid, inst.interface
                        ),
                    );
                    continue;
                }
                if let Some((a, other)) = inst
                    .addresses
                    .iter()
                    .find_map(|a| seen_addrs.get(a).map(|o| (a, o)))
                {
                    cx.error(
                        n.pos,
                        "virtual_ipaddress",
                        format!("{a} is also a virtual address of vrrp_instance {other}"),
                    );
                    continue;
                }
                seen_ids.insert(id, inst.instance.clone());
                for a in &inst.addresses {
                    seen_addrs.insert(a.clone(), inst.instance.clone());
                }
                for (s, _) in &inst.track {
                    if let Some(script) = scripts.get(s) {
                        used_checks.insert(
                            (script.pos.file, script.pos.line, s.clone()),
                            script.clone(),
                        );
                    }
                }
                let name = unique_name(&router_name(&inst.instance), &names);
                if name != inst.instance {
                    cx.note(
                        n.pos,
                        "vrrp_instance",
                        format!(
                            "{}: written as routers/{name}.toml (router names are 1 to 64 of A-Z a-z 0-9 . _ -, not starting with .)",
                            inst.instance
                        ),
                    );
                }
                names.push(name.clone());
                let text = render_router(&inst, ast);
                cx.out.routers.push(RouterFile {
                    name,
                    instance: inst.instance,
                    text,
                });
            }
            "vrrp_sync_group" => cx.skip(
                n.pos,
                "vrrp_sync_group",
                format!(
                    "{}: ha-vip has no sync groups; each member is converted on its own and fails over on its own",
                    n.arg(0).unwrap_or("")
                ),
            ),
            "virtual_server" | "virtual_server_group" | "real_server" => cx.skip(
                n.pos,
                &n.keyword,
                "LVS load balancing: out of ha-vip's scope (it moves addresses, it does not balance)",
            ),
            "static_ipaddress" | "static_routes" | "static_rules" => cx.skip(
                n.pos,
                &n.keyword,
                "static configuration: not moved by VRRP; configure it with the system's network tools",
            ),
            "vrrp_track_process" | "track_file" | "vrrp_track_file" | "bfd_instance"
            | "track_group" => cx.skip(
                n.pos,
                &n.keyword,
                "no ha-vip equivalent to convert to (only vrrp_script becomes a check)",
            ),
            "garp_group" | "linkbeat_interfaces" | "interface_up_down_delays" => cx.skip(
                n.pos,
                &n.keyword,
                "interface-wide settings with no ha-vip equivalent",
            ),
            other => cx.skip(n.pos, other, "unknown keyword at the top level, ignored"),
        }
    }
    if !used_checks.is_empty() {
        cx.out.daemon = Some(render_checks(used_checks.values()));
    }
    // The report reads in file order (main file first, then includes as
    // they were read), line by line within a file.
    let order = |n: &Note| {
        (
            ast.files
                .iter()
                .position(|f| *f == n.file)
                .unwrap_or(usize::MAX),
            n.line,
        )
    };
    cx.out.notes.sort_by_key(order);
    cx.out.not_converted.sort_by_key(order);
    cx.out.errors.sort_by_key(order);
    cx.out
}

fn read_globals(cx: &mut Ctx<'_>, n: &Node, g: &mut Globals) {
    for c in n.children() {
        let kw = c.keyword.as_str();
        let a0 = c.arg(0).unwrap_or("");
        match kw {
            "vrrp_version" => match a0 {
                "2" => g.version = Some(2),
                "3" => g.version = Some(3),
                _ => cx.skip(c.pos, kw, format!("{a0:?} is not 2 or 3, ignored")),
            },
            "vrrp_garp_master_delay" => g.garp.delay_s = whole(cx, c),
            "vrrp_garp_master_repeat" => g.garp.repeat = whole(cx, c),
            "vrrp_garp_master_refresh" => g.garp.refresh_s = whole(cx, c),
            "vrrp_garp_master_refresh_repeat" => g.garp.refresh_repeat = whole(cx, c),
            "vrrp_garp_interval" => g.garp.garp_interval_us = seconds(cx, c),
            "vrrp_gna_interval" => g.garp.gna_interval_us = seconds(cx, c),
            "vrrp_min_garp" if bool_arg(c.arg(0)) => {
                g.garp.repeat = Some(1);
                g.garp.delay_s = Some(0);
            }
            "vrrp_strict" => {
                g.strict = true;
                cx.note(
                    c.pos,
                    kw,
                    "strict mode: ha-vip has no strict checks to turn on, and keeps accept_mode = true (accept mode off is not implemented)",
                );
            }
            "v3_checksum_as_v2" => g.checksum_as_v2 = bool_arg(c.arg(0)),
            "vrrp_skip_check_adv_addr" => g.skip_check_adv_addr = bool_arg(c.arg(0)),
            "vrrp_mcast_group4" | "vrrp_mcast_group6"
                if !matches!(a0, "224.0.0.18" | "ff02::12") =>
            {
                cx.skip(
                    c.pos,
                    kw,
                    "ha-vip sends to the RFC group (224.0.0.18 / ff02::12) only",
                );
            }
            // Everything else in global_defs is about keepalived itself
            // (mail, SNMP, D-Bus, process priorities, LVS): nothing to carry.
            _ => {}
        }
    }
}

fn read_script(cx: &mut Ctx<'_>, n: &Node) -> Option<Script> {
    let Some(name) = n.arg(0) else {
        cx.skip(
            n.pos,
            "vrrp_script",
            "a vrrp_script without a name, ignored",
        );
        return None;
    };
    let mut s = Script {
        name: name.to_string(),
        command: Vec::new(),
        interval_us: 1_000_000,
        timeout_us: 0,
        rise: 1,
        fall: 1,
        weight: 0,
        reverse: false,
        pos: n.pos,
    };
    for c in n.children() {
        let kw = c.keyword.as_str();
        match kw {
            "script" => {
                s.command = split_command(c.arg(0).unwrap_or(""));
                if c.args.len() > 1 {
                    cx.skip(
                        c.pos,
                        kw,
                        "the user/group to run the script as: ha-vip runs checks as the daemon's user",
                    );
                }
            }
            "interval" => s.interval_us = seconds(cx, c).unwrap_or(s.interval_us),
            "timeout" => s.timeout_us = seconds(cx, c).unwrap_or(0),
            "rise" => s.rise = whole(cx, c).unwrap_or(1).max(1),
            "fall" => s.fall = whole(cx, c).unwrap_or(1).max(1),
            "weight" => {
                s.weight = c.arg(0).and_then(|w| w.parse().ok()).unwrap_or(0);
                s.reverse = c.arg(1) == Some("reverse");
            }
            "user" => cx.skip(c.pos, kw, "ha-vip runs checks as the daemon's user"),
            "init_fail" => cx.skip(
                c.pos,
                kw,
                "ha-vip's checks start healthy until they fail `fall` times",
            ),
            other => cx.skip(c.pos, other, "unknown keyword in vrrp_script, ignored"),
        }
    }
    if s.timeout_us == 0 {
        // keepalived: "default = interval".
        s.timeout_us = s.interval_us;
    }
    if s.command.is_empty() {
        cx.skip(n.pos, "vrrp_script", format!("{name}: no script, ignored"));
        return None;
    }
    Some(s)
}

/// A converted instance, before rendering.
#[derive(Debug, Default)]
struct Instance {
    instance: String,
    pos: Pos,
    interface: String,
    vrid: u8,
    priority: u8,
    version: u8,
    advert_interval_ms: u64,
    addresses: Vec<String>,
    ipv6: bool,
    preempt: bool,
    preempt_delay_ms: u64,
    accept_mode: bool,
    unicast_peers: Vec<IpAddr>,
    source_address: Option<IpAddr>,
    virtual_mac: bool,
    /// VRRPv2 `auth_type PASS` password (keepalived keeps its first 8 bytes).
    auth_pass: Option<String>,
    /// (delay_ms, repeat, interval_ms, refresh_s, refresh_repeat)
    announce: (u64, u64, u64, u64, u64),
    checksum_no_pseudo_header: bool,
    /// keepalived's `skip_check_adv_addr`: ha-vip's
    /// `address_list_check = "skip-known-active"`, the same rule.
    skip_check_adv_addr: bool,
    track: Vec<(String, i64)>,
    notify: Vec<(&'static str, Vec<String>)>,
}

fn read_instance(
    cx: &mut Ctx<'_>,
    n: &Node,
    g: &Globals,
    scripts: &HashMap<String, Script>,
) -> Option<Instance> {
    let Some(name) = n.arg(0) else {
        cx.error(n.pos, "vrrp_instance", "an instance without a name");
        return None;
    };
    let errors_before = cx.out.errors.len();
    let mut interface: Option<(String, Pos)> = None;
    let mut vrid: Option<u8> = None;
    let mut priority: Option<u8> = None;
    let mut state: Option<(String, Pos)> = None;
    let mut version: Option<(u8, Pos)> = None;
    let mut advert_us: Option<(u64, Pos)> = None;
    let mut vips: Vec<&Node> = Vec::new();
    let mut nopreempt = false;
    let mut skip_check_adv_addr = g.skip_check_adv_addr;
    let mut preempt_delay: Option<(u64, Pos)> = None;
    let mut accept: Option<bool> = None;
    let mut strict = g.strict;
    let mut checksum_as_v2 = g.checksum_as_v2;
    let mut garp = Garp::default();
    let mut peers: Vec<&Node> = Vec::new();
    let mut source: Option<(&str, Pos)> = None;
    let mut virtual_mac = false;
    let mut auth: Option<&Node> = None;
    let mut track: Vec<(String, i64)> = Vec::new();
    let mut notify: Vec<(&'static str, Vec<String>)> = Vec::new();

    for c in n.children() {
        let kw = c.keyword.as_str();
        let a0 = c.arg(0).unwrap_or("");
        match kw {
            "interface" => interface = Some((a0.to_string(), c.pos)),
            "state" => state = Some((a0.to_ascii_uppercase(), c.pos)),
            "virtual_router_id" => match a0.parse::<u8>() {
                Ok(v) if v >= 1 => vrid = Some(v),
                _ => cx.error(
                    c.pos,
                    kw,
                    format!("{a0:?} is not a VRID in 1..=255{}", hint(a0)),
                ),
            },
            "priority" => match a0.parse::<u8>() {
                Ok(v) if v >= 1 => priority = Some(v),
                _ => cx.error(
                    c.pos,
                    kw,
                    format!("{a0:?} is not a priority in 1..=255{}", hint(a0)),
                ),
            },
            "version" => match a0 {
                "2" => version = Some((2, c.pos)),
                "3" => version = Some((3, c.pos)),
                _ => cx.error(c.pos, kw, format!("{a0:?} is not 2 or 3")),
            },
            "advert_int" => match parse_seconds_us(a0) {
                Some(us) => advert_us = Some((us, c.pos)),
                None => cx.error(c.pos, kw, format!("{a0:?} is not a number of seconds")),
            },
            "virtual_ipaddress" => vips.extend(c.children()),
            "virtual_ipaddress_excluded" => {
                for e in c.children() {
                    cx.skip(
                        e.pos,
                        kw,
                        format!(
                            "{}: ha-vip puts every address in its adverts, and keepalived peers drop adverts whose address list differs; add it to `addresses` (or to a second router for the other family) once no keepalived peer is left",
                            e.keyword
                        ),
                    );
                }
            }
            "unicast_src_ip" | "mcast_src_ip" => source = Some((a0, c.pos)),
            "unicast_peer" => peers.extend(c.children()),
            "nopreempt" => nopreempt = true,
            "preempt" => nopreempt = false,
            "preempt_delay" => match parse_seconds_us(a0) {
                Some(us) => preempt_delay = Some((us, c.pos)),
                None => cx.error(c.pos, kw, format!("{a0:?} is not a number of seconds")),
            },
            "accept" => accept = Some(true),
            "no_accept" => accept = Some(false),
            "strict_mode" => strict = bool_arg(c.arg(0)),
            "v3_checksum_as_v2" => checksum_as_v2 = bool_arg(c.arg(0)),
            "garp_master_delay" => garp.delay_s = whole(cx, c),
            "garp_master_repeat" => garp.repeat = whole(cx, c),
            "garp_master_refresh" => garp.refresh_s = whole(cx, c),
            "garp_master_refresh_repeat" => garp.refresh_repeat = whole(cx, c),
            "garp_interval" => garp.garp_interval_us = seconds(cx, c),
            "gna_interval" => garp.gna_interval_us = seconds(cx, c),
            "authentication" => auth = Some(c),
            "auth_hmac" => cx.skip(
                c.pos,
                kw,
                "keepalived's HMAC extension is not VRRP: ha-vip neither sends nor checks it",
            ),
            "track_script" => {
                for t in c.children() {
                    read_track(cx, t, scripts, &mut track);
                }
            }
            "notify_master" | "notify_backup" | "notify_stop" => cx.skip(
                c.pos,
                kw,
                "ha-vip runs every notify program on every change, as PROGRAM ROUTER STATE PRIORITY: wrap the script (case \"$2\" in Active) ...) and list the wrapper in notify",
            ),
            "notify" => {
                let cmd = split_command(a0);
                if c.args.len() > 1 {
                    cx.skip(
                        c.pos,
                        kw,
                        "the user/group to run it as: ha-vip runs notify programs as the daemon's user",
                    );
                }
                match cmd.as_slice() {
                    [prog] if prog.starts_with('/') => {
                        cx.note(
                            c.pos,
                            kw,
                            "keepalived calls it with TYPE NAME STATE PRIORITY, ha-vip with ROUTER STATE PRIORITY (states Active/Backup/Initialize): check the script's arguments",
                        );
                        notify.push(("any", cmd));
                    }
                    _ => cx.skip(
                        c.pos,
                        kw,
                        "ha-vip notify entries are absolute paths of programs, without arguments: wrap the command in a script",
                    ),
                }
            }
            "notify_fault" => cx.skip(
                c.pos,
                kw,
                "ha-vip has no FAULT state: a failing check lowers the priority instead",
            ),
            "notify_master_rx_lower_pri" | "notify_deleted" => {
                cx.skip(c.pos, kw, "no ha-vip notify event for it")
            }
            "use_vmac" => {
                virtual_mac = true;
                if !c.args.is_empty() {
                    cx.skip(
                        c.pos,
                        kw,
                        format!(
                            "{}: ha-vip names the macvlan and uses the RFC MAC 00-00-5E-00-01-{{VRID}} itself",
                            c.args.join(" ")
                        ),
                    );
                }
            }
            "vmac_xmit_base" => cx.skip(
                c.pos,
                kw,
                "no ha-vip setting for the interface adverts are sent on with virtual_mac",
            ),
            "track_interface" => cx.skip(
                c.pos,
                kw,
                "ha-vip does not track other interfaces in the router file (keepalived goes to FAULT when one goes down); use an interface check of the health-check work",
            ),
            "track_file" | "track_process" | "track_bfd" => {
                cx.skip(c.pos, kw, "no ha-vip equivalent (only track_script is converted)")
            }
            "virtual_routes" | "virtual_rules" => cx.skip(
                c.pos,
                kw,
                "ha-vip moves addresses only, not routes or rules; add them from a notify command",
            ),
            "mcast_dst_ip" => cx.skip(
                c.pos,
                kw,
                "ha-vip sends to the RFC group (224.0.0.18 / ff02::12) only",
            ),
            "down_timer_adverts" | "timer_expired_backup" => cx.skip(
                c.pos,
                kw,
                "changes RFC 9568's Master_Down_Interval: ha-vip keeps the RFC timers",
            ),
            "use_ipvlan" | "vrf" | "use_vmac_addr" | "unicast_fault_no_peer"
            | "old_unicast_checksum" | "garp_extra_if" | "no_virtual_ipaddress"
            | "native_ipv6" | "track_src_ip" | "unicast_ttl" => {
                cx.skip(c.pos, kw, "no ha-vip equivalent")
            }
            "dont_track_primary" => cx.note(
                c.pos,
                kw,
                "dropped: ha-vip has no FAULT state for its own interface to turn off",
            ),
            "debug" | "smtp_alert" | "linkbeat_use_polling" | "kernel_rx_buf_size"
            | "notify_priority_changes" | "lower_prio_no_advert"
            | "higher_prio_send_advert" | "garp_lower_prio_delay" | "garp_lower_prio_repeat"
            | "promote_secondaries" | "check_unicast_src" => cx.note(
                c.pos,
                kw,
                "dropped: keepalived tuning with no effect on the produced router",
            ),
            "skip_check_adv_addr" => skip_check_adv_addr = bool_arg(c.arg(0)),
            other => cx.skip(c.pos, other, "unknown keyword in vrrp_instance, ignored"),
        }
    }

    if let Some((s, pos)) = &state {
        let derived = if priority == Some(255) || (priority.is_none() && s == "MASTER") {
            "Active at once, as the address owner (priority 255)"
        } else {
            "Backup first, Active when the election says so"
        };
        cx.note(
            *pos,
            "state",
            format!("{s} is only a start hint in keepalived; ha-vip derives the start from the priority: {derived}"),
        );
    }
    // keepalived: no priority means 255 for state MASTER, 100 otherwise.
    let priority = priority.unwrap_or(if state.as_ref().is_some_and(|(s, _)| s == "MASTER") {
        255
    } else {
        100
    });

    // Addresses: the family is the first address's, as in keepalived.
    let interface_name = interface.clone().map(|(i, _)| i).unwrap_or_default();
    let mut addresses: Vec<String> = Vec::new();
    let mut family_v6: Option<bool> = None;
    for v in vips {
        if let Some(a) = read_vip(cx, v, &interface_name, &mut family_v6)
            && !addresses.contains(&a)
        {
            addresses.push(a);
        }
    }
    let ipv6 = family_v6.unwrap_or(false);

    let version = match (ipv6, version.or(g.version.map(|v| (v, n.pos)))) {
        (true, Some((2, pos))) => {
            cx.skip(
                pos,
                "version",
                "2 with IPv6 addresses: VRRPv2 is IPv4 only (RFC 3768), ha-vip speaks version 3 for IPv6; set version 3 on the keepalived peers too",
            );
            3
        }
        (true, _) => 3,
        (false, Some((v, _))) => v,
        (false, None) => {
            cx.note(
                n.pos,
                "version",
                "none given: keepalived's default for IPv4 is VRRPv2 (global_defs vrrp_version), so version = 2 is written to keep the adverts compatible",
            );
            2
        }
    };

    let (advert_us, advert_pos) = advert_us.unwrap_or((1_000_000, n.pos));
    let advert_interval_ms = if version == 2 {
        // RFC 3768 section 5.3.7: whole seconds, 1..=255; keepalived rounds.
        let s = (advert_us.saturating_add(500_000) / 1_000_000).clamp(1, 255);
        if s * 1_000_000 != advert_us {
            cx.note(
                advert_pos,
                "advert_int",
                format!(
                    "{}: VRRPv2 counts whole seconds; {s}s written, as keepalived rounds it",
                    fmt_us(advert_us)
                ),
            );
        }
        s * 1000
    } else {
        // RFC 9568 section 5.2.7: centiseconds, 1..=4095.
        let cs = (advert_us.saturating_add(5_000) / 10_000).clamp(1, 4095);
        if cs * 10_000 != advert_us {
            cx.note(
                advert_pos,
                "advert_int",
                format!(
                    "{}: VRRPv3 counts centiseconds; {}ms written",
                    fmt_us(advert_us),
                    cs * 10
                ),
            );
        }
        cs * 10
    };

    let preempt_delay_ms = match preempt_delay {
        Some((us, pos)) if nopreempt && us > 0 => {
            cx.note(
                pos,
                "preempt_delay",
                "dropped: keepalived ignores it with nopreempt",
            );
            0
        }
        Some((us, pos)) => {
            let ms = us / 1000;
            if ms > 3_600_000 {
                cx.error(pos, "preempt_delay", "longer than ha-vip's 1h limit");
            }
            ms
        }
        None => 0,
    };

    let mut unicast_peers = Vec::new();
    for p in peers {
        match p.keyword.parse::<IpAddr>() {
            Ok(ip)
                if addresses
                    .iter()
                    .any(|a| a.split('/').next() == Some(&ip.to_string())) =>
            {
                cx.skip(
                    p.pos,
                    "unicast_peer",
                    format!("{ip}: a virtual address of this instance cannot be a peer, dropped"),
                );
            }
            Ok(ip) if ip.is_ipv6() == ipv6 => {
                if !unicast_peers.contains(&ip) {
                    unicast_peers.push(ip);
                }
                if !p.args.is_empty() {
                    cx.skip(
                        p.pos,
                        "unicast_peer",
                        format!(
                            "{}: min_ttl/max_ttl checks are not in ha-vip",
                            p.args.join(" ")
                        ),
                    );
                }
            }
            Ok(ip) => cx.skip(
                p.pos,
                "unicast_peer",
                format!("{ip}: not of the router's family, dropped"),
            ),
            Err(_) => cx.error(
                p.pos,
                "unicast_peer",
                format!("{:?} is not an IP address", p.keyword),
            ),
        }
    }
    let source_address = match source {
        Some((s, pos)) => match s.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) if ipv6 && !ip.is_unicast_link_local() => {
                cx.skip(
                    pos,
                    "unicast_src_ip",
                    format!(
                        "{ip}: IPv6 adverts go from the interface's link-local address (RFC 9568 section 5.1.2.1), dropped"
                    ),
                );
                None
            }
            Ok(ip) if ip.is_ipv6() == ipv6 => Some(ip),
            Ok(ip) => {
                cx.skip(
                    pos,
                    "unicast_src_ip",
                    format!("{ip}: not of the router's family, dropped"),
                );
                None
            }
            Err(_) => {
                cx.error(pos, "unicast_src_ip", format!("{s:?} is not an IP address"));
                None
            }
        },
        None => None,
    };

    let mut auth_pass = None;
    if let Some(a) = auth {
        let child = |k: &str| {
            a.children()
                .iter()
                .find(|c| c.keyword == k)
                .and_then(|c| c.arg(0))
                .map(str::to_string)
        };
        let ty = child("auth_type").unwrap_or_else(|| "PASS".to_string());
        if version == 3 {
            cx.note(
                a.pos,
                "authentication",
                "dropped: keepalived ignores authentication with VRRPv3",
            );
        } else if ty.eq_ignore_ascii_case("PASS") {
            match child("auth_pass") {
                Some(p) if !p.is_empty() => {
                    // keepalived sends the first 8 bytes; so does ha-vip. The
                    // password is never printed in the report.
                    let kept: String = p
                        .chars()
                        .scan(0, |n, c| {
                            *n += c.len_utf8();
                            (*n <= 8).then_some(c)
                        })
                        .collect();
                    if kept.len() < p.len() {
                        cx.note(
                            a.pos,
                            "authentication",
                            "auth_pass longer than 8 bytes: keepalived and ha-vip use the first 8",
                        );
                    }
                    cx.note(a.pos, "authentication", "auth_pass kept for VRRPv2 peers: it is sent in clear and protects nothing (docs/security.md)");
                    auth_pass = Some(kept);
                }
                _ => cx.skip(a.pos, "authentication", "auth_type PASS without auth_pass"),
            }
        } else {
            cx.skip(
                a.pos,
                "authentication",
                format!(
                    "auth_type {ty}: ha-vip does not send IPsec AH; keepalived peers that keep it drop ha-vip's adverts: remove the block from every keepalived peer of VRID {} first",
                    vrid.map_or_else(|| "?".to_string(), |v| v.to_string())
                ),
            );
        }
    }

    // Tracking: positive weights add while healthy in keepalived; ha-vip
    // lowers while failed. Raising the base by W and tracking -W gives the
    // same effective priority in both states.
    let mut priority = priority;
    let positive: i64 = track.iter().map(|(_, w)| *w).filter(|w| *w > 0).sum();
    if positive > 0 {
        if priority == 255 {
            cx.note(
                n.pos,
                "track_script",
                "keepalived does not apply weights to the address owner (priority 255); ha-vip may lower it",
            );
        } else {
            let raised = (i64::from(priority) + positive).min(254);
            cx.note(
                n.pos,
                "track_script",
                format!(
                    "positive weights add while the script succeeds in keepalived; written as priority {raised} (was {priority}) lowered by the weight while the check fails"
                ),
            );
            priority = u8::try_from(raised).unwrap_or(254);
        }
    }
    let track = track
        .into_iter()
        .map(|(s, w)| (s, if w > 0 { -w } else { w }))
        .collect();

    // keepalived's no_accept (and vrrp_strict's default) cannot be kept:
    // ha-vip refuses accept_mode = false (not implemented), so the router
    // accepts traffic to its VIPs, as the VIP use case needs.
    if !accept.unwrap_or(!strict) {
        cx.note(
            n.pos,
            if accept == Some(false) { "no_accept" } else { "vrrp_strict" },
            "accept mode off is not implemented in ha-vip: the router accepts traffic to its VIPs (accept_mode = true); keepalived would have dropped it",
        );
    }
    let accept_mode = true;
    let garp = garp.or(g.garp);
    let announce = read_announce(cx, n.pos, garp, ipv6);

    if checksum_as_v2 && (version != 3 || ipv6) {
        cx.note(
            n.pos,
            "v3_checksum_as_v2",
            "dropped: only VRRPv3 over IPv4 has two checksum forms",
        );
    }

    match &interface {
        None => cx.error(
            n.pos,
            "interface",
            format!("{name}: no interface (ha-vip needs one, even with unicast peers)"),
        ),
        Some((i, pos)) if !crate::config::valid_interface_name(i) || i.contains('$') => cx.error(
            *pos,
            "interface",
            format!("{i:?} is not a Linux interface name{}", hint(i)),
        ),
        Some(_) => {}
    }
    if vrid.is_none() && cx.out.errors.len() == errors_before {
        cx.error(
            n.pos,
            "virtual_router_id",
            format!("{name}: no virtual_router_id"),
        );
    }
    if addresses.is_empty() {
        cx.error(
            n.pos,
            "virtual_ipaddress",
            format!("{name}: no virtual address converted (ha-vip needs at least one)"),
        );
    }
    if cx.out.errors.len() != errors_before {
        return None;
    }
    Some(Instance {
        instance: name.to_string(),
        pos: n.pos,
        interface: interface_name,
        vrid: vrid.unwrap_or(1),
        priority,
        version,
        advert_interval_ms,
        addresses,
        ipv6,
        preempt: !nopreempt,
        preempt_delay_ms,
        accept_mode,
        skip_check_adv_addr,
        unicast_peers,
        source_address,
        virtual_mac,
        auth_pass,
        announce,
        checksum_no_pseudo_header: checksum_as_v2 && version == 3 && !ipv6,
        track,
        notify,
    })
}

/// One `virtual_ipaddress` line: `ADDR[/LEN] [dev IF] [label L] ...`.
fn read_vip(
    cx: &mut Ctx<'_>,
    v: &Node,
    interface: &str,
    family_v6: &mut Option<bool>,
) -> Option<String> {
    let kw = "virtual_ipaddress";
    let text = v.keyword.as_str();
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let Ok(ip) = addr.parse::<IpAddr>() else {
        cx.error(
            v.pos,
            kw,
            format!("{text:?} is not an IP address{}", hint(text)),
        );
        return None;
    };
    let max = if ip.is_ipv6() { 128 } else { 32 };
    let prefix = match len {
        // keepalived, like `ip address add`, defaults to a host prefix.
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(p) if (1..=max).contains(&p) => p,
            _ => {
                cx.skip(
                    v.pos,
                    kw,
                    format!("{text}: prefix length must be 1..={max} in ha-vip"),
                );
                return None;
            }
        },
    };
    let mut ignored: Vec<String> = Vec::new();
    let mut args = v.args.iter();
    while let Some(opt) = args.next() {
        match opt.as_str() {
            "dev" => {
                let dev = args.next().map(String::as_str).unwrap_or("");
                if dev != interface {
                    cx.skip(
                        v.pos,
                        kw,
                        format!(
                            "{text} dev {dev}: ha-vip adds a router's addresses to its own interface ({interface}) only; make a router on {dev}"
                        ),
                    );
                    return None;
                }
            }
            "peer" => {
                let p = args.next().map(String::as_str).unwrap_or("");
                cx.skip(
                    v.pos,
                    kw,
                    format!("{text} peer {p}: point-to-point addresses are not in ha-vip"),
                );
                return None;
            }
            "brd" | "broadcast" | "scope" | "label" | "preferred_lft" | "track_group" => {
                let val = args.next().map(String::as_str).unwrap_or("");
                ignored.push(format!("{opt} {val}"));
            }
            "home" | "-nodad" | "nodad" | "mngtmpaddr" | "noprefixroute" | "autojoin"
            | "no_track" => ignored.push(opt.clone()),
            "use_vmac" => {
                cx.skip(
                    v.pos,
                    kw,
                    format!("{text} use_vmac: per-address virtual MACs are not in ha-vip"),
                );
            }
            other => ignored.push(other.to_string()),
        }
    }
    if !ignored.is_empty() {
        cx.skip(
            v.pos,
            kw,
            format!(
                "{text}: {} dropped (ha-vip adds the address with its prefix length only)",
                ignored.join(", ")
            ),
        );
    }
    match family_v6 {
        Some(v6) if *v6 != ip.is_ipv6() => {
            cx.skip(
                v.pos,
                kw,
                format!(
                    "{text}: not of the instance's family (keepalived refuses mixed families too); convert it as a second instance"
                ),
            );
            return None;
        }
        _ => *family_v6 = Some(ip.is_ipv6()),
    }
    Some(format!("{ip}/{prefix}"))
}

fn read_track(
    cx: &mut Ctx<'_>,
    t: &Node,
    scripts: &HashMap<String, Script>,
    out: &mut Vec<(String, i64)>,
) {
    let name = t.keyword.as_str();
    let Some(script) = scripts.get(name) else {
        cx.skip(
            t.pos,
            "track_script",
            format!("{name}: no vrrp_script of that name"),
        );
        return;
    };
    let mut weight = script.weight;
    let mut reverse = script.reverse;
    let mut args = t.args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "weight" => weight = args.next().and_then(|w| w.parse().ok()).unwrap_or(weight),
            "reverse" => reverse = true,
            "noreverse" => reverse = false,
            _ => {}
        }
    }
    if reverse {
        cx.skip(
            t.pos,
            "track_script",
            format!("{name}: reverse weights are not in ha-vip"),
        );
    } else if weight == 0 {
        cx.skip(
            t.pos,
            "track_script",
            format!(
                "{name}: weight 0 puts keepalived in FAULT when the script fails; ha-vip has no FAULT state, give the script a negative weight larger than the priority gap"
            ),
        );
    } else {
        out.push((name.to_string(), weight.clamp(-253, 253)));
    }
}

/// keepalived's GARP settings as ha-vip's `[announce]`, clamped to its
/// ranges: (delay_ms, repeat, interval_ms, refresh_s, refresh_repeat).
fn read_announce(cx: &mut Ctx<'_>, pos: Pos, g: Garp, ipv6: bool) -> (u64, u64, u64, u64, u64) {
    let mut clamp = |kw: &str, v: u64, lo: u64, hi: u64| {
        let c = v.clamp(lo, hi);
        if c != v {
            cx.note(
                pos,
                kw,
                format!("{v} is outside ha-vip's {lo}..={hi}; {c} written"),
            );
        }
        c
    };
    let delay_s = clamp("garp_master_delay", g.delay_s.unwrap_or(5), 0, 3600);
    let repeat = clamp("garp_master_repeat", g.repeat.unwrap_or(5), 1, 255);
    let refresh_s = match g.refresh_s.unwrap_or(0) {
        0 => 0,
        r => clamp("garp_master_refresh", r, 1, 86_400),
    };
    let refresh_repeat = clamp(
        "garp_master_refresh_repeat",
        g.refresh_repeat.unwrap_or(1),
        1,
        255,
    );
    let interval_us = if ipv6 {
        g.gna_interval_us
    } else {
        g.garp_interval_us
    }
    .unwrap_or(0);
    let interval_ms = clamp(
        if ipv6 {
            "gna_interval"
        } else {
            "garp_interval"
        },
        interval_us.div_ceil(1000),
        0,
        10_000,
    );
    (
        delay_s * 1000,
        repeat,
        interval_ms,
        refresh_s,
        refresh_repeat,
    )
}

/// Why a value may be wrong when it still holds a `$`: keepalived leaves
/// undefined parameters as they are (the kubeadm guide's `${STATE}`).
fn hint(value: &str) -> &'static str {
    if value.contains('$') {
        " (an undefined keepalived parameter? define it with $NAME=VALUE)"
    } else {
        ""
    }
}

/// A whole number argument (`garp_master_repeat 5`).
fn whole(cx: &mut Ctx<'_>, c: &Node) -> Option<u64> {
    let a = c.arg(0).unwrap_or("");
    match a.parse::<u64>() {
        Ok(v) => Some(v),
        Err(_) => {
            cx.skip(
                c.pos,
                &c.keyword,
                format!("{a:?} is not a whole number, ignored"),
            );
            None
        }
    }
}

/// A `<TIMER>` argument in microseconds (`0.92`, `3`).
fn seconds(cx: &mut Ctx<'_>, c: &Node) -> Option<u64> {
    let a = c.arg(0).unwrap_or("");
    let v = parse_seconds_us(a);
    if v.is_none() {
        cx.skip(
            c.pos,
            &c.keyword,
            format!("{a:?} is not a number of seconds, ignored"),
        );
    }
    v
}

/// Seconds with an optional fraction, as keepalived's `<TIMER>`, to
/// microseconds (its resolution). No floats: `0.1` is exactly 100000.
pub fn parse_seconds_us(s: &str) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut us: u64 = 0;
    for (i, d) in frac.chars().take(6).enumerate() {
        let d = u64::from(d.to_digit(10)?);
        us += d * 10u64.pow(5 - u32::try_from(i).ok()?);
    }
    int.checked_mul(1_000_000)?.checked_add(us)
}

/// keepalived's `<BOOL>`: absent means on.
fn bool_arg(a: Option<&str>) -> bool {
    !matches!(
        a.map(str::to_ascii_lowercase).as_deref(),
        Some("off" | "false" | "no" | "0")
    )
}

/// A script string to an argument vector: whitespace separates, single or
/// double quotes group (keepalived runs scripts without a shell the same
/// way). Escaped quotes inside are not told apart: a limitation.
pub fn split_command(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// An instance name as a router name: 1 to 64 of `[A-Za-z0-9._-]`, not
/// starting with `.` (the loader skips hidden files).
pub fn router_name(instance: &str) -> String {
    let mut s: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(NAME_MAX)
        .collect();
    if s.starts_with('.') {
        s.replace_range(..1, "_");
    }
    if s.is_empty() { "vrrp".to_string() } else { s }
}

fn unique_name(base: &str, taken: &[String]) -> String {
    if !taken.iter().any(|t| t == base) {
        return base.to_string();
    }
    (2..)
        .map(|i| {
            let suffix = format!("-{i}");
            let keep = NAME_MAX.saturating_sub(suffix.len());
            format!("{}{suffix}", base.chars().take(keep).collect::<String>())
        })
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| "vrrp".to_string())
}

/// A TOML basic string.
fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    format!("[{}]", items.into_iter().collect::<Vec<_>>().join(", "))
}

/// `"3s"` or `"1500ms"`.
fn dur_ms(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn fmt_us(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else {
        let frac = format!("{:06}", us % 1_000_000);
        format!("{}.{}s", us / 1_000_000, frac.trim_end_matches('0'))
    }
}

fn render_router(r: &Instance, ast: &Ast) -> String {
    let file = ast.file(r.pos.file);
    let base = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |b| b.to_string_lossy().to_string());
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Imported from {base}:{} (vrrp_instance {}) by ha-vip import-keepalived.",
        r.pos.line, r.instance
    );
    let _ = writeln!(s, "interface = {}", q(&r.interface));
    let _ = writeln!(s, "vrid = {}", r.vrid);
    let _ = writeln!(s, "priority = {}", r.priority);
    let _ = writeln!(s, "version = {}", r.version);
    let _ = writeln!(s, "advert_interval = {}", q(&dur_ms(r.advert_interval_ms)));
    let _ = writeln!(s, "addresses = {}", list(r.addresses.iter().map(|a| q(a))));
    if !r.preempt {
        let _ = writeln!(s, "preempt = false");
    }
    if r.preempt_delay_ms > 0 {
        let _ = writeln!(s, "preempt_delay = {}", q(&dur_ms(r.preempt_delay_ms)));
    }
    if !r.accept_mode {
        let _ = writeln!(s, "accept_mode = false");
    }
    if !r.unicast_peers.is_empty() {
        let _ = writeln!(
            s,
            "unicast_peers = {}",
            list(r.unicast_peers.iter().map(|p| q(&p.to_string())))
        );
    }
    if let Some(src) = r.source_address {
        let _ = writeln!(s, "source_address = {}", q(&src.to_string()));
    }
    if r.skip_check_adv_addr {
        let _ = writeln!(s, "address_list_check = \"skip-known-active\"");
    }
    if r.virtual_mac {
        let _ = writeln!(s, "virtual_mac = true");
    }
    if let Some(p) = &r.auth_pass {
        let _ = writeln!(s, "auth_pass = {}", q(p));
    }
    if !r.track.is_empty() {
        let _ = writeln!(
            s,
            "track = {}",
            list(
                r.track
                    .iter()
                    .map(|(c, w)| format!("{{ check = {}, weight = {w} }}", q(&check_name(c))))
            )
        );
    }
    if !r.notify.is_empty() {
        let _ = writeln!(
            s,
            "notify = {}",
            list(
                r.notify
                    .iter()
                    .filter_map(|(_, cmd)| cmd.first())
                    .map(|p| q(p))
            )
        );
    }
    let (delay_ms, repeat, interval_ms, refresh_s, refresh_repeat) = r.announce;
    let mut announce = String::new();
    if delay_ms != 5000 {
        let _ = writeln!(announce, "delay = {}", q(&dur_ms(delay_ms)));
    }
    if repeat != 5 {
        let _ = writeln!(announce, "repeat = {repeat}");
    }
    if interval_ms != 0 {
        let _ = writeln!(announce, "interval = {}", q(&dur_ms(interval_ms)));
    }
    if refresh_s != 0 {
        let _ = writeln!(announce, "refresh = {}", q(&dur_ms(refresh_s * 1000)));
    }
    if refresh_repeat != 1 {
        let _ = writeln!(announce, "refresh_repeat = {refresh_repeat}");
    }
    if !announce.is_empty() {
        let _ = write!(s, "\n[announce]\n{announce}");
    }
    if r.checksum_no_pseudo_header {
        let _ = write!(s, "\n[checksum]\nsend = \"no-pseudo-header\"\n");
    }
    s
}

/// A check name ha-vip accepts ([A-Za-z0-9._-]): other characters of a
/// vrrp_script name become '_'.
fn check_name(name: &str) -> String {
    name.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

fn render_checks<'a>(checks: impl Iterator<Item = &'a Script>) -> String {
    let mut s = String::from(
        "# Checks imported from keepalived vrrp_script blocks by ha-vip import-keepalived.\n",
    );
    for c in checks {
        let key = check_name(&c.name);
        let (program, args) = match c.command.split_first() {
            Some((p, a)) => (p.as_str(), a),
            None => ("", &[][..]),
        };
        let _ = write!(
            s,
            "\n[checks.{key}]\ntype = \"exec\"\ncommand = {}\n",
            q(program)
        );
        if !args.is_empty() {
            let _ = writeln!(s, "args = {}", list(args.iter().map(|a| q(a))));
        }
        let _ = write!(
            s,
            "interval = {}\ntimeout = {}\nrise = {}\nfall = {}\n",
            q(&dur_ms(c.interval_us / 1000)),
            q(&dur_ms(c.timeout_us / 1000)),
            c.rise,
            c.fall
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_without_floats() {
        assert_eq!(parse_seconds_us("0.92"), Some(920_000));
        assert_eq!(parse_seconds_us("3"), Some(3_000_000));
        assert_eq!(parse_seconds_us(".5"), Some(500_000));
        assert_eq!(parse_seconds_us("1.0000019"), Some(1_000_001));
        assert_eq!(parse_seconds_us("-1"), None);
        assert_eq!(parse_seconds_us("."), None);
        assert_eq!(parse_seconds_us("99999999999999999999"), None);
    }

    #[test]
    fn names() {
        assert_eq!(router_name("VI_1"), "VI_1");
        assert_eq!(router_name("api vip/1"), "api_vip_1");
        assert_eq!(router_name(".hidden"), "_hidden");
        assert_eq!(router_name(""), "vrrp");
        assert_eq!(router_name(&"x".repeat(100)).len(), 64);
        assert_eq!(unique_name("a", &["a".into(), "a-2".into()]), "a-3");
    }

    #[test]
    fn seconds_for_humans() {
        assert_eq!(fmt_us(2_400_000), "2.4s");
        assert_eq!(fmt_us(123_000), "0.123s");
        assert_eq!(fmt_us(3_000_000), "3s");
        assert_eq!(dur_ms(1500), "1500ms");
        assert_eq!(dur_ms(0), "0s");
    }

    #[test]
    fn commands() {
        assert_eq!(
            split_command("/bin/sh -c 'exit 1' \"a b\""),
            vec!["/bin/sh", "-c", "exit 1", "a b"]
        );
        assert!(split_command("  ").is_empty());
    }

    fn import(text: &str) -> Conversion {
        match crate::import::parse::parse(text) {
            Ok(ast) => convert(&ast),
            Err(e) => panic!("parse: {e:?}"),
        }
    }

    const INSTANCE: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress {\n  192.0.2.100/24\n }\n";

    /// keepalived's `vrrp_skip_check_adv_addr` (global) and
    /// `skip_check_adv_addr` (per instance) are the same rule as ha-vip's
    /// `address_list_check = "skip-known-active"`.
    #[test]
    fn skip_check_adv_addr_maps_to_skip_known_active() {
        let key = "address_list_check = \"skip-known-active\"";
        let c = import(&format!(
            "global_defs {{\n vrrp_skip_check_adv_addr\n}}\n{INSTANCE}}}\n"
        ));
        assert!(c.routers[0].text.contains(key), "{}", c.routers[0].text);
        let c = import(&format!("{INSTANCE} skip_check_adv_addr\n}}\n"));
        assert!(c.routers[0].text.contains(key));
        let c = import(&format!(
            "global_defs {{\n vrrp_skip_check_adv_addr\n}}\n{INSTANCE} skip_check_adv_addr off\n}}\n"
        ));
        assert!(!c.routers[0].text.contains("address_list_check"));
        let c = import(&format!("{INSTANCE}}}\n"));
        assert!(!c.routers[0].text.contains("address_list_check"));
    }
}
