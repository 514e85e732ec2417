//! `ha-vip manifest` run as a program against the example configurations:
//! the output parses as YAML (or is a unit) and carries what
//! docs/kubernetes.md and docs/operations.md promise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize as _;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ha-vip");

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn manifest(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("manifest")
        .args(args)
        .output()
        .unwrap()
}

fn ok_stdout(args: &[&str]) -> String {
    let out = manifest(args);
    assert!(
        out.status.success(),
        "ha-vip manifest {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn by_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<_> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "exactly one {kind}");
    found[0]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// Host networking, the two capabilities, nothing privileged.
fn assert_pod_security(pod: &Value) {
    assert_eq!(pod["hostNetwork"], true);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let sc = &containers[0]["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    let mut add = strings(&sc["capabilities"]["add"]);
    add.sort_unstable();
    assert_eq!(add, ["NET_ADMIN", "NET_RAW"]);
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(
        containers[0]["args"],
        serde_json::json!(["run", "--config", "/etc/ha-vip"])
    );
}

/// Every mount names a volume that exists, and the other way round.
fn assert_mounts_match_volumes(pod: &Value) {
    let volumes: Vec<&str> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    let mounts: Vec<&str> = pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    let mut v = volumes.clone();
    let mut m = mounts.clone();
    v.sort_unstable();
    m.sort_unstable();
    assert_eq!(v, m);
    v.dedup();
    assert_eq!(v.len(), volumes.len(), "volume names are unique");
}

fn mount<'a>(pod: &'a Value, path: &str) -> &'a Value {
    pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == path)
        .unwrap_or_else(|| panic!("no mount at {path}"))
}

fn volume<'a>(pod: &'a Value, name: &Value) -> &'a Value {
    pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| &v["name"] == name)
        .unwrap()
}

/// The files of a configuration directory, by their path inside it.
fn config_files(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let daemon = dir.join("ha-vip.toml");
    if daemon.exists() {
        out.insert(
            "ha-vip.toml".to_string(),
            std::fs::read_to_string(daemon).unwrap(),
        );
    }
    for e in std::fs::read_dir(dir.join("routers")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if name.ends_with(".toml") {
            out.insert(
                format!("routers/{name}"),
                std::fs::read_to_string(e.path()).unwrap(),
            );
        }
    }
    out
}

/// What the pod sees in /etc/ha-vip: the ConfigMap's data placed by the
/// volume's items.
fn projected_files(docs: &[Value]) -> BTreeMap<String, String> {
    let cm = by_kind(docs, "ConfigMap");
    let ds = by_kind(docs, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    let m = mount(pod, "/etc/ha-vip");
    assert_eq!(m["readOnly"], true);
    let vol = volume(pod, &m["name"]);
    assert_eq!(vol["configMap"]["name"], cm["metadata"]["name"]);
    let items = vol["configMap"]["items"].as_array().unwrap();
    let data = cm["data"].as_object().unwrap();
    assert_eq!(items.len(), data.len(), "every key is projected");
    items
        .iter()
        .map(|i| {
            let key = i["key"].as_str().unwrap();
            (
                i["path"].as_str().unwrap().to_string(),
                data[key].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn daemonset_carries_the_config_byte_for_byte() {
    for example in ["config/kubernetes", "config/ipv4", "config/dual-stack"] {
        let dir = repo(example);
        let text = ok_stdout(&[
            "daemonset",
            "--config",
            dir.to_str().unwrap(),
            "--image",
            "quay.io/example/ha-vip:9.9",
        ]);
        let docs = yaml_docs(&text);
        assert_eq!(docs.len(), 2, "{example}");
        assert_eq!(projected_files(&docs), config_files(&dir), "{example}");

        let ds = by_kind(&docs, "DaemonSet");
        assert_eq!(ds["apiVersion"], "apps/v1");
        let pod = &ds["spec"]["template"]["spec"];
        assert_pod_security(pod);
        assert_mounts_match_volumes(pod);
        assert_eq!(pod["serviceAccountName"], "ha-vip");
        assert_eq!(pod["containers"][0]["image"], "quay.io/example/ha-vip:9.9");
        // The control socket's directory is writable and on the host.
        let run = mount(pod, "/run/ha-vip");
        let v = volume(pod, &run["name"]);
        assert_eq!(v["hostPath"]["path"], "/run/ha-vip");
        assert_eq!(v["hostPath"]["type"], "DirectoryOrCreate");
    }
}

#[test]
fn daemonset_mounts_the_api_server_ca_of_the_kubernetes_example() {
    let dir = repo("config/kubernetes");
    let docs = yaml_docs(&ok_stdout(&[
        "daemonset",
        "--config",
        dir.to_str().unwrap(),
    ]));
    let pod = &by_kind(&docs, "DaemonSet")["spec"]["template"]["spec"];
    let ca = mount(pod, "/etc/kubernetes/pki/ca.crt");
    assert_eq!(ca["readOnly"], true);
    let v = volume(pod, &ca["name"]);
    assert_eq!(v["hostPath"]["type"], "File");
    assert_eq!(
        pod["containers"][0]["image"],
        ha_vip::manifest::DEFAULT_IMAGE
    );
    // config/ipv4 has no [k8s]: no CA mount.
    let dir = repo("config/ipv4");
    let docs = yaml_docs(&ok_stdout(&[
        "daemonset",
        "--config",
        dir.to_str().unwrap(),
    ]));
    let pod = &by_kind(&docs, "DaemonSet")["spec"]["template"]["spec"];
    assert!(
        !pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/etc/kubernetes/pki/ca.crt")
    );
}

#[test]
fn static_pod_mounts_the_hosts_config_directory() {
    for example in ["config/kubernetes", "config/ipv4"] {
        let dir = repo(example);
        let text = ok_stdout(&["static-pod", "--config", dir.to_str().unwrap()]);
        let docs = yaml_docs(&text);
        assert_eq!(docs.len(), 1);
        let pod = by_kind(&docs, "Pod");
        assert_eq!(pod["metadata"]["namespace"], "kube-system");
        let spec = &pod["spec"];
        assert_pod_security(spec);
        assert_mounts_match_volumes(spec);
        // A static pod cannot use a ServiceAccount or a ConfigMap.
        assert!(spec.get("serviceAccountName").is_none());
        assert!(
            !spec["volumes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.get("configMap").is_some())
        );
        let m = mount(spec, "/etc/ha-vip");
        assert_eq!(m["readOnly"], true);
        let v = volume(spec, &m["name"]);
        assert_eq!(v["hostPath"]["path"], dir.to_str().unwrap());
        assert_eq!(v["hostPath"]["type"], "Directory");
    }
}

#[test]
fn rbac_is_the_reviewed_file() {
    let text = ok_stdout(&["rbac"]);
    assert_eq!(
        text,
        std::fs::read_to_string(repo("deploy/rbac.yaml")).unwrap()
    );
    let docs = yaml_docs(&text);
    let sa = by_kind(&docs, "ServiceAccount");
    assert_eq!(sa["metadata"]["name"], "ha-vip");
    let role = by_kind(&docs, "ClusterRole");
    // Least privilege: one rule, GET on the three health endpoints, no
    // resource of any API group (the original guide's `nodes` is gone).
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = rules[0].as_object().unwrap();
    let mut keys: Vec<&str> = rule.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["nonResourceURLs", "verbs"], "{rule:?}");
    let mut paths = strings(&rule["nonResourceURLs"]);
    paths.sort_unstable();
    assert_eq!(paths, ["/healthz", "/livez", "/readyz"]);
    assert_eq!(strings(&rule["verbs"]), ["get"]);
    // The three objects and no other (no Role with more in a namespace).
    let mut kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["ClusterRole", "ClusterRoleBinding", "ServiceAccount"]
    );
    let binding = by_kind(&docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], "ha-vip");
    assert_eq!(binding["subjects"][0]["namespace"], "kube-system");
}

/// `key=value` lines of one section of a unit; a key may repeat.
fn unit_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            current = line.to_string();
            continue;
        }
        if current == format!("[{section}]") {
            let (k, v) = line.split_once('=').unwrap();
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn one<'a>(keys: &'a [(String, String)], key: &str) -> &'a str {
    let found: Vec<_> = keys.iter().filter(|(k, _)| k == key).collect();
    assert_eq!(found.len(), 1, "{key} once");
    &found[0].1
}

#[test]
fn systemd_unit_runs_unprivileged_with_two_capabilities() {
    let dir = repo("config/ipv4");
    let text = ok_stdout(&["systemd", "--config", dir.to_str().unwrap()]);
    let service = unit_section(&text, "Service");
    assert_eq!(
        one(&service, "ExecStart"),
        format!("/usr/local/bin/ha-vip run --config {}", dir.display())
    );
    assert_eq!(one(&service, "User"), "ha-vip");
    assert_eq!(one(&service, "Environment"), "NO_COLOR=1");
    assert_eq!(
        one(&service, "AmbientCapabilities"),
        "CAP_NET_ADMIN CAP_NET_RAW"
    );
    assert_eq!(
        one(&service, "CapabilityBoundingSet"),
        "CAP_NET_ADMIN CAP_NET_RAW"
    );
    assert_eq!(one(&service, "NoNewPrivileges"), "yes");
    assert_eq!(one(&service, "ProtectSystem"), "strict");
    assert_eq!(one(&service, "RuntimeDirectory"), "ha-vip");
    assert_eq!(one(&service, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(one(&service, "KillSignal"), "SIGTERM");
    assert_eq!(one(&service, "Restart"), "on-failure");
    // Everything the example writes is under /run/ha-vip.
    assert!(!service.iter().any(|(k, _)| k == "ReadWritePaths"));
    assert_eq!(
        one(&unit_section(&text, "Install"), "WantedBy"),
        "multi-user.target"
    );

    // The unit in deploy/ is the same but for the generated header and
    // --config.
    let shipped = std::fs::read_to_string(repo("deploy/ha-vip.service")).unwrap();
    let shipped = shipped.replace(
        "run --config /etc/ha-vip\n",
        &format!("run --config {}\n", dir.display()),
    );
    let tail: Vec<&str> = text.lines().skip(1).collect();
    let shipped: Vec<&str> = shipped.lines().collect();
    assert_eq!(tail, shipped);
}

#[test]
fn a_refused_config_prints_its_errors_and_no_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("routers")).unwrap();
    std::fs::write(
        tmp.path().join("routers/vip.toml"),
        "interface = \"eth0\"\nvrid = 0\naddresses = [\"192.0.2.1/24\"]\n",
    )
    .unwrap();
    for kind in ["daemonset", "static-pod", "systemd"] {
        let out = manifest(&[kind, "--config", tmp.path().to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{kind}");
        assert!(out.stdout.is_empty(), "{kind}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("routers/vip.toml:2:8: vrid"), "{kind}: {err}");
        assert!(err.contains("refused: 1 error"), "{kind}: {err}");
    }
    // rbac does not read the configuration.
    let out = manifest(&["rbac", "--config", tmp.path().to_str().unwrap()]);
    assert!(out.status.success());
}

#[test]
fn a_bad_image_or_kind_is_refused() {
    let dir = repo("config/ipv4");
    let out = manifest(&[
        "daemonset",
        "--config",
        dir.to_str().unwrap(),
        "--image",
        "a b",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let out = manifest(&["helm", "--config", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
}
