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
            "[k8s]\nenabled = true\napi_server = \"https://127.0.0.1:6443\"\ntoken_file = \"/etc/ha-vip/token\"\nca_cert = \"\"\nserver_name = \"kube\"\nexclude = [\"etcd\", \"informer-sync\"]\ninterval = \"500ms\"\ntimeout = \"300ms\"\nstability = \"2s\"\nweight = -60\n",
        ),
    ]);
    let c = load_dir(dir.path()).unwrap();
    let k = &c.daemon.k8s;
    assert!(k.enabled);
    assert_eq!(
        k.token_file.as_deref(),
        Some(Path::new("/etc/ha-vip/token"))
    );
    assert_eq!(k.ca_cert, None, "ca_cert = \"\" means no verification");
    assert_eq!(k.server_name, "kube");
    assert_eq!(k.exclude, ["etcd", "informer-sync"]);
    assert_eq!(k.interval, Duration::from_millis(500));
    assert_eq!(k.timeout, Duration::from_millis(300));
    assert_eq!(k.stability, Duration::from_secs(2));
    assert_eq!(k.weight, -60);
    // A router tracks [k8s] unless it opts out.
    assert!(c.routers[0].track_k8s);
}

#[test]
fn k8s_defaults_follow_the_guide() {
    let dir = dir_with(&[("routers/vip.toml", ROUTER)]);
    let k = load_dir(dir.path()).unwrap().daemon.k8s;
    assert!(!k.enabled);
    assert_eq!(k.api_server, "https://127.0.0.1:6443");
    assert_eq!(k.interval, Duration::from_secs(2));
    assert_eq!(k.stability, Duration::from_secs(5));
    assert_eq!(k.server_name, "kubernetes");
    assert_eq!(k.weight, -50);
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
