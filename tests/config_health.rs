//! The health-check keys: `[k8s]` in full, `[checks.NAME]`, and `track` /
//! `track_k8s` in router files, with errors that name file, line and key.

use std::fs;
use std::path::Path;
use std::time::Duration;

use ha_vip::config::{ConfigErrors, Track, load_dir};
use ha_vip::health::CheckKind;
use tempfile::TempDir;

const ROUTER: &str = "interface = \"eth0\"\nvrid = 51\naddresses = [\"192.0.2.100/24\"]\n";

fn dir_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("routers")).unwrap();
    for (name, text) in files {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn err_at(e: &ConfigErrors, file: &str, key: &str, line: usize) -> String {
    let d = e
        .errors
        .iter()
        .find(|d| d.path.ends_with(file) && d.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("no error for {file} {key} in:\n{e}"));
    assert_eq!(
        d.location.map(|l| l.line),
        Some(line),
        "wrong line for {key}: {d}"
    );
    d.message.clone()
}

#[test]
fn k8s_keys_all_parse() {
    let dir = dir_with(&[
        ("routers/vip.toml", ROUTER),
        (
            "ha-vip.toml",
            "[k8s]\nenabled = true\napi_server = \"https://127.0.0.1:6443\"\ntoken_file = \"/etc/ha-vip/token\"\nca_cert = \"/etc/kubernetes/pki/ca.crt\"\nserver_name = \"kube\"\nexclude = [\"etcd\", \"informer-sync\"]\ninterval = \"500ms\"\ntimeout = \"300ms\"\nstability = \"2s\"\nweight = -60\nconnect_timeout = \"100ms\"\ntls_timeout = \"150ms\"\nresponse_timeout = \"250ms\"\nconnect_interval = \"50ms\"\nconfirm_after = \"0s\"\nhold_down_max = \"10m\"\nflap_reset = \"5m\"\n",
        ),
    ]);
    let c = load_dir(dir.path()).unwrap();
    let k = &c.daemon.k8s;
    assert!(k.enabled);
    assert_eq!(
        k.token_file.as_deref(),
        Some(Path::new("/etc/ha-vip/token"))
    );
    assert_eq!(
        k.ca_cert.as_deref(),
        Some(Path::new("/etc/kubernetes/pki/ca.crt"))
    );
    assert_eq!(k.server_name, "kube");
    assert_eq!(k.exclude, ["etcd", "informer-sync"]);
    assert_eq!(k.interval, Duration::from_millis(500));
    assert_eq!(k.timeout, Duration::from_millis(300));
    assert_eq!(k.stability, Duration::from_secs(2));
    assert_eq!(k.weight, -60);
    assert_eq!(
        (k.connect_timeout, k.tls_timeout, k.response_timeout),
        (ms(100), ms(150), ms(250))
    );
    assert_eq!(k.connect_interval, Some(ms(50)));
    assert_eq!(k.confirm_after, Duration::ZERO);
    assert_eq!(k.hold_down_max, Duration::from_secs(600));
    assert_eq!(k.flap_reset, Duration::from_secs(300));
    let spec = k.check_spec();
    assert_eq!(spec.stages.tls, ms(150));
    assert_eq!(spec.connect_interval, Some(ms(50)));
    assert_eq!(spec.confirm_after, Some(Duration::ZERO));
    assert_eq!(
        spec.damping.map(|d| (d.max_hold_down, d.reset_after)),
        Some((Duration::from_secs(600), Duration::from_secs(300)))
    );
    // A router tracks [k8s] unless it opts out.
    assert!(c.routers[0].track_k8s);
}

#[test]
fn k8s_defaults_follow_the_guide() {
    let dir = dir_with(&[("routers/vip.toml", ROUTER)]);
    let k = load_dir(dir.path()).unwrap().daemon.k8s;
    assert!(!k.enabled);
    assert_eq!(k.api_server, "https://127.0.0.1:6443");
    // /readyz every second (the guide: 2 s) so that a slow 500 is caught
    // within 3 s; the guide's 5 s buffer now guards recovery.
    assert_eq!(k.interval, Duration::from_secs(1));
    assert_eq!(k.timeout, Duration::from_secs(2));
    assert_eq!(
        (k.connect_timeout, k.tls_timeout, k.response_timeout),
        (ms(500), ms(500), ms(800))
    );
    assert_eq!(k.connect_interval, Some(ms(100)));
    assert_eq!(k.confirm_after, ms(200));
    assert_eq!(k.stability, Duration::from_secs(5));
    assert_eq!(k.hold_down_max, Duration::from_secs(120));
    assert_eq!(k.flap_reset, Duration::from_secs(60));
    assert_eq!(k.server_name, "kubernetes");
    assert_eq!(k.weight, -50);
    // The spec the daemon runs is CheckSpec::k8s's defaults.
    let default_spec = ha_vip::health::CheckSpec::k8s(ha_vip::health::K8sParams {
        ca_cert: k.ca_cert.clone(),
        ..Default::default()
    });
    assert_eq!(k.check_spec(), default_spec);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn bad_k8s_timing_keys_name_their_lines() {
    let dir = dir_with(&[
        ("routers/vip.toml", ROUTER),
        (
            "ha-vip.toml",
            "[k8s]\ntimeout = \"1s\"\ntls_timeout = \"1500ms\"\nconnect_timeout = \"0s\"\nconnect_interval = \"5ms\"\nstability = \"30s\"\nhold_down_max = \"10s\"\nflap_reset = \"0s\"\nresponse_timeout = 3\n",
        ),
    ]);
    let e = load_dir(dir.path()).unwrap_err();
    let tls = err_at(&e, "ha-vip.toml", "k8s.tls_timeout", 3);
    assert!(tls.contains("at most timeout (1s)"), "{tls}");
    let connect = err_at(&e, "ha-vip.toml", "k8s.connect_timeout", 4);
    assert!(connect.contains("must be in 1ms..=1h"), "{connect}");
    let fast = err_at(&e, "ha-vip.toml", "k8s.connect_interval", 5);
    assert!(fast.contains("\"0s\" (off)"), "{fast}");
    let hold = err_at(&e, "ha-vip.toml", "k8s.hold_down_max", 7);
    assert!(hold.contains("at least stability (30s)"), "{hold}");
    err_at(&e, "ha-vip.toml", "k8s.flap_reset", 8);
    err_at(&e, "ha-vip.toml", "k8s.response_timeout", 9);
}

#[test]
fn connect_interval_0s_turns_the_fast_probe_off() {
    let dir = dir_with(&[
        ("routers/vip.toml", ROUTER),
        ("ha-vip.toml", "[k8s]\nconnect_interval = \"0s\"\n"),
    ]);
    let k = load_dir(dir.path()).unwrap().daemon.k8s;
    assert_eq!(k.connect_interval, None);
    assert_eq!(k.check_spec().connect_interval, None);
}

#[test]
fn a_token_over_unverified_tls_is_refused_at_its_line() {
    for (text, key, line, why) in [
        (
            "[k8s]\nca_cert = \"\"\ntoken = \"abc\"\n",
            "k8s.token",
            3,
            "ca_cert = \"\"",
        ),
        (
            "[k8s]\nca_cert = \"\"\n\ntoken_file = \"/etc/ha-vip/token\"\n",
            "k8s.token_file",
            4,
            "ca_cert = \"\"",
        ),
        (
            "[k8s]\napi_server = \"http://127.0.0.1:8080\"\ntoken = \"abc\"\n",
            "k8s.token",
            3,
            "plain http://",
        ),
    ] {
        let dir = dir_with(&[("routers/vip.toml", ROUTER), ("ha-vip.toml", text)]);
        let e = load_dir(dir.path()).unwrap_err();
        let msg = err_at(&e, "ha-vip.toml", key, line);
        assert!(msg.contains("only sent over verified TLS"), "{msg}");
        assert!(msg.contains(why), "{msg}");
    }
    // Without a token, no CA is a warning at run time, not an error; and
    // in-cluster mode takes its CA from the service account.
    for text in [
        "[k8s]\nca_cert = \"\"\n",
        "[k8s]\nin_cluster = true\nca_cert = \"\"\ntoken = \"abc\"\n",
    ] {
        let dir = dir_with(&[("routers/vip.toml", ROUTER), ("ha-vip.toml", text)]);
        load_dir(dir.path()).unwrap();
    }
}

#[test]
fn a_token_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt as _;
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("token");
    fs::write(&token, "abc\n").unwrap();
    let text = format!("[k8s]\ntoken_file = \"{}\"\n", token.display());
    for (mode, warned) in [
        (0o600, None),
        (0o640, Some("group-readable")),
        (0o644, Some("world-readable")),
    ] {
        fs::set_permissions(&token, fs::Permissions::from_mode(mode)).unwrap();
        let dir = dir_with(&[("routers/vip.toml", ROUTER), ("ha-vip.toml", &text)]);
        let c = load_dir(dir.path()).unwrap();
        let w: Vec<_> = c
            .warnings
            .iter()
            .filter(|w| w.key.as_deref() == Some("k8s.token_file"))
            .collect();
        match warned {
            None => assert!(w.is_empty(), "{w:?}"),
            Some(why) => {
                assert_eq!(w.len(), 1, "{w:?}");
                assert!(w[0].message.contains(why), "{}", w[0].message);
                assert_eq!(w[0].location.map(|l| l.line), Some(2));
            }
        }
    }
}

#[test]
fn generic_checks_and_tracking() {
    let dir = dir_with(&[
        (
            "routers/vip.toml",
            &format!(
                "{ROUTER}track_k8s = false\ntrack = [{{ check = \"haproxy\", weight = -30 }}, {{ check = \"script\", weight = -5 }}]\n"
            ),
        ),
        (
            "ha-vip.toml",
            "[checks.haproxy]\ntype = \"tcp\"\naddress = \"127.0.0.1:8443\"\nrise = 2\nfall = 3\n\
[checks.web]\ntype = \"http\"\nurl = \"https://127.0.0.1:8443/healthz\"\nexpected_status = 204\ninsecure = true\n\
[checks.script]\ntype = \"exec\"\ncommand = \"/usr/local/bin/check\"\nargs = [\"-q\"]\ntimeout = \"3s\"\ninterval = \"5s\"\n\
[checks.uplink]\ntype = \"interface\"\ninterface = \"eth1\"\n",
        ),
    ]);
    let c = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = c.daemon.checks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["haproxy", "web", "script", "uplink"]);
    let h = &c.daemon.checks[0];
    assert!(matches!(&h.kind, CheckKind::Tcp(p) if p.address == "127.0.0.1:8443"));
    assert_eq!((h.rise, h.fall), (2, 3));
    assert!(
        matches!(&c.daemon.checks[1].kind, CheckKind::Http(p) if p.expected_status == 204 && p.insecure)
    );
    let s = &c.daemon.checks[2];
    assert!(
        matches!(&s.kind, CheckKind::Exec(p) if p.program == "/usr/local/bin/check" && p.args == ["-q"])
    );
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(5), Duration::from_secs(3))
    );
    assert!(matches!(&c.daemon.checks[3].kind, CheckKind::Interface(p) if p.name == "eth1"));
    let r = &c.routers[0];
    assert!(!r.track_k8s);
    assert_eq!(
        r.track,
        [
            Track {
                check: "haproxy".into(),
                weight: -30
            },
            Track {
                check: "script".into(),
                weight: -5
            }
        ]
    );
}

#[test]
fn tracking_an_undefined_check_names_the_line() {
    let dir = dir_with(&[
        (
            "routers/vip.toml",
            &format!("{ROUTER}track = [{{ check = \"nope\", weight = -10 }}]\n"),
        ),
        (
            "ha-vip.toml",
            "[checks.haproxy]\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n",
        ),
    ]);
    let e = load_dir(dir.path()).unwrap_err();
    let m = err_at(&e, "routers/vip.toml", "track", 4);
    assert!(
        m.contains("no check \"nope\"") && m.contains("haproxy"),
        "{m}"
    );
}

#[test]
fn bad_checks_are_refused_with_their_keys() {
    let dir = dir_with(&[
        (
            "routers/vip.toml",
            &format!("{ROUTER}track = [{{ check = \"a\", weight = 0 }}]\n"),
        ),
        (
            "ha-vip.toml",
            "[checks.a]\ntype = \"ping\"\n[checks.b]\ntype = \"tcp\"\n[checks.c]\ntype = \"exec\"\ncommand = \"x\"\nrise = 0\n[k8s]\nweight = -300\nca_cert = \"relative.crt\"\n",
        ),
    ]);
    let e = load_dir(dir.path()).unwrap_err();
    assert!(err_at(&e, "ha-vip.toml", "checks.a.type", 2).contains("\"ping\""));
    assert!(err_at(&e, "ha-vip.toml", "checks.b.address", 3).contains("missing"));
    assert!(err_at(&e, "ha-vip.toml", "checks.c.command", 7).contains("absolute path"));
    assert!(err_at(&e, "ha-vip.toml", "checks.c.rise", 8).contains("1..=100"));
    assert!(err_at(&e, "ha-vip.toml", "k8s.weight", 10).contains("-254..=254"));
    assert!(err_at(&e, "ha-vip.toml", "k8s.ca_cert", 11).contains("absolute"));
    assert!(err_at(&e, "routers/vip.toml", "track[0].weight", 4).contains("must not be 0"));
}

#[test]
fn auth_pass_is_v2_only_and_at_most_8_bytes() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 51\nversion = 2\naddresses = [\"192.0.2.100/24\"]\nauth_pass = \"s3cret\"\n",
    )]);
    let c = load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.routers[0].auth_pass.as_deref(), Some("s3cret"));

    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{ROUTER}auth_pass = \"s3cret\"\n"),
    )]);
    let e = load_dir(dir.path()).unwrap_err();
    assert!(err_at(&e, "routers/vip.toml", "auth_pass", 4).contains("VRRPv2 only"));

    let dir = dir_with(&[(
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 51\nversion = 2\naddresses = [\"192.0.2.100/24\"]\nauth_pass = \"123456789\"\n",
    )]);
    let e = load_dir(dir.path()).unwrap_err();
    assert!(err_at(&e, "routers/vip.toml", "auth_pass", 5).contains("1 to 8 bytes"));
}

#[test]
fn a_relative_notify_program_is_refused_at_its_line() {
    let dir = dir_with(&[(
        "routers/vip.toml",
        &format!("{ROUTER}notify = [\"/usr/local/bin/ok\", \"notify.sh\"]\n"),
    )]);
    let e = load_dir(dir.path()).unwrap_err();
    let msg = err_at(&e, "routers/vip.toml", "notify[1]", 4);
    assert!(msg.contains("absolute path"), "{msg}");
}
