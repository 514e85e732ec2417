//! `ha_vip::manifest::render` on configurations made for the test: files
//! YAML must quote, the paths a configuration reads and writes, refusals.

use std::fs;
use std::path::Path;

use ha_vip::manifest::{ManifestError, ManifestKind, render};
use serde::Deserialize as _;
use serde_json::Value;

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn pod_of_daemonset(docs: &[Value]) -> &Value {
    &docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap()["spec"]["template"]["spec"]
}

fn mount_paths(pod: &Value) -> Vec<String> {
    pod["containers"][0]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap().to_string())
        .collect()
}

/// Text YAML cannot hold as a plain block: CRLF line ends, a tab, trailing
/// spaces, a leading space, no final newline, a `---` line, a '#'.
const AWKWARD_ROUTER: &str = " interface = \"eth0\"   \r\nvrid = 7\t# seven\r\n---\r\n\
     addresses = [\"192.0.2.7/24\"]   \n#\n# end";

#[test]
fn the_configmap_keeps_awkward_files_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    // TOML allows CR LF; "---" is not TOML, so keep it inside a string.
    let router = AWKWARD_ROUTER.replace("---\r\n", "# ---\r\n");
    write(tmp.path(), "routers/odd.toml", &router);
    write(
        tmp.path(),
        "routers/plain.toml",
        "interface = \"eth1\"\nvrid = 8\naddresses = [\"198.51.100.8/24\"]\n\n\n",
    );
    write(tmp.path(), "ha-vip.toml", "[log]\nlevel = \"debug\"\n");
    ha_vip::config::load_dir(tmp.path()).unwrap();

    let m = render(ManifestKind::Daemonset, tmp.path(), "img:1").unwrap();
    let docs = yaml_docs(&m.text);
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    assert_eq!(cm["data"]["routers.odd.toml"], router.as_str());
    assert_eq!(
        cm["data"]["routers.plain.toml"],
        "interface = \"eth1\"\nvrid = 8\naddresses = [\"198.51.100.8/24\"]\n\n\n"
    );
    assert_eq!(cm["data"]["ha-vip.toml"], "[log]\nlevel = \"debug\"\n");
    assert_eq!(cm["data"].as_object().unwrap().len(), 3);

    // Written back where the items put them, the pod's view of the files
    // loads to the same routers.
    let pod = pod_of_daemonset(&docs);
    let items = pod["volumes"][0]["configMap"]["items"].as_array().unwrap();
    let seen = tempfile::tempdir().unwrap();
    for item in items {
        let key = item["key"].as_str().unwrap();
        write(
            seen.path(),
            item["path"].as_str().unwrap(),
            cm["data"][key].as_str().unwrap(),
        );
    }
    let strip = |mut c: ha_vip::config::Config| {
        for r in &mut c.routers {
            r.path = Default::default();
        }
        c.routers
    };
    assert_eq!(
        strip(ha_vip::config::load_dir(seen.path()).unwrap()),
        strip(ha_vip::config::load_dir(tmp.path()).unwrap())
    );
}

#[test]
fn paths_the_config_reads_and_writes_are_mounted_from_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 9\naddresses = [\"192.0.2.9/24\"]\n",
    );
    write(
        tmp.path(),
        "ha-vip.toml",
        "runtime_dir = \"/var/lib/ha-vip/state\"\n\
         [control]\nsocket = \"/run/ha-vip/ctl/ha-vip.sock\"\n\
         [capture]\ndir = \"/var/log/ha-vip/captures\"\n\
         [k8s]\nenabled = true\nca_cert = \"/etc/kubernetes/pki/ca.crt\"\n\
         token_file = \"/var/run/secrets/kubernetes.io/serviceaccount/token\"\n",
    );
    let m = render(ManifestKind::Daemonset, tmp.path(), "img:1").unwrap();
    let docs = yaml_docs(&m.text);
    let pod = pod_of_daemonset(&docs);
    let mut mounts = mount_paths(pod);
    mounts.sort();
    assert_eq!(
        mounts,
        [
            "/etc/ha-vip",
            "/etc/kubernetes/pki/ca.crt",
            "/run/ha-vip/ctl",
            "/var/lib/ha-vip/state",
            "/var/log/ha-vip/captures",
        ],
        "the service account token comes with the pod, not from the host"
    );

    let m = render(ManifestKind::StaticPod, tmp.path(), "img:1").unwrap();
    let docs = yaml_docs(&m.text);
    let mut mounts = mount_paths(&docs[0]["spec"]);
    mounts.sort();
    assert!(mounts.contains(&"/var/run/secrets/kubernetes.io/serviceaccount/token".to_string()));
    assert!(mounts.contains(&"/var/log/ha-vip/captures".to_string()));

    let m = render(ManifestKind::Systemd, tmp.path(), "").unwrap();
    let rw: Vec<&str> = m
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("ReadWritePaths="))
        .collect();
    // /run/ha-vip/ctl is inside the unit's RuntimeDirectory.
    assert_eq!(rw, ["/var/lib/ha-vip/state", "/var/log/ha-vip/captures"]);
    assert!(!m.text.contains("#ReadWritePaths="));
}

#[test]
fn what_a_manifest_cannot_provide_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 9\naddresses = [\"192.0.2.9/24\"]\nnotify = [\"/usr/local/bin/on-change\"]\n",
    );
    write(
        tmp.path(),
        "ha-vip.toml",
        "[k8s]\nenabled = true\nin_cluster = true\n",
    );
    let m = render(ManifestKind::StaticPod, tmp.path(), "img:1").unwrap();
    assert!(
        m.warnings.iter().any(|w| w.contains("in_cluster")),
        "{:?}",
        m.warnings
    );
    assert!(
        m.warnings
            .iter()
            .any(|w| w.contains("/usr/local/bin/on-change") && w.contains("image")),
        "{:?}",
        m.warnings
    );
    // On the host the notify program is simply there.
    let m = render(ManifestKind::Systemd, tmp.path(), "").unwrap();
    assert!(
        !m.warnings.iter().any(|w| w.contains("on-change")),
        "{:?}",
        m.warnings
    );

    // A token under /etc/ha-vip is not in a DaemonSet's ConfigMap.
    write(
        tmp.path(),
        "ha-vip.toml",
        "[k8s]\nenabled = true\ntoken_file = \"/etc/ha-vip/k8s-token\"\n",
    );
    let m = render(ManifestKind::Daemonset, tmp.path(), "img:1").unwrap();
    assert!(
        m.warnings
            .iter()
            .any(|w| w.starts_with("/etc/ha-vip/k8s-token:")),
        "{:?}",
        m.warnings
    );
}

#[test]
fn refusals() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("routers")).unwrap();
    // An empty routers/ is valid, but a ConfigMap cannot carry it.
    assert!(matches!(
        render(ManifestKind::Daemonset, tmp.path(), "img:1"),
        Err(ManifestError::Refused(_))
    ));
    assert!(render(ManifestKind::StaticPod, tmp.path(), "img:1").is_ok());

    // A path systemd would split or expand.
    let odd = tmp.path().join("my config");
    write(
        &odd,
        "routers/vip.toml",
        "interface = \"eth0\"\nvrid = 9\naddresses = [\"192.0.2.9/24\"]\n",
    );
    match render(ManifestKind::Systemd, &odd, "") {
        Err(ManifestError::Refused(msg)) => assert!(msg.contains("my config"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // YAML quotes it: fine for a static pod.
    let m = render(ManifestKind::StaticPod, &odd, "img:1").unwrap();
    let docs = yaml_docs(&m.text);
    assert_eq!(
        docs[0]["spec"]["volumes"][0]["hostPath"]["path"],
        odd.to_str().unwrap()
    );

    for image in ["", "a b", "img\n:1"] {
        assert!(matches!(
            render(ManifestKind::StaticPod, &odd, image),
            Err(ManifestError::Refused(_))
        ));
    }
    // Invalid configuration: its own errors.
    write(tmp.path(), "routers/bad.toml", "vrid = 300\n");
    match render(ManifestKind::Systemd, tmp.path(), "") {
        Err(ManifestError::Config(e)) => assert!(e.errors.len() >= 2, "{e}"),
        other => panic!("{other:?}"),
    }
}

/// The ClusterRole of `ha-vip manifest rbac` grants exactly the path the
/// [k8s] check requests, with or without `exclude`, and the DaemonSet runs
/// as the service account that role is bound to.
#[test]
fn rbac_grants_what_the_k8s_check_requests_and_no_more() {
    use ha_vip::health::{K8sParams, K8sProber};
    let m = render(ManifestKind::Rbac, Path::new("/nonexistent"), "img:1").unwrap();
    let docs = yaml_docs(&m.text);
    let role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    let granted: Vec<&str> = rules[0]["nonResourceURLs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(rules[0]["verbs"], serde_json::json!(["get"]));
    assert!(rules[0].get("resources").is_none() && rules[0].get("apiGroups").is_none());
    for exclude in [
        vec![],
        vec!["etcd".to_string(), "informer-sync".to_string()],
    ] {
        let prober = K8sProber::new(
            "k8s",
            K8sParams {
                exclude,
                ..K8sParams::default()
            },
        );
        let request = prober.readyz_path();
        // RBAC authorizes the path; the query is not part of it.
        let path = request.split('?').next().unwrap();
        assert!(
            granted.contains(&path),
            "{request}: {path} is not granted by {granted:?}"
        );
        // No wildcard is needed for it.
        assert!(granted.iter().all(|g| !g.contains('*')));
    }

    let binding = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRoleBinding")
        .unwrap();
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = docs.iter().find(|d| d["kind"] == "ServiceAccount").unwrap();

    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "routers/api.toml",
        "interface = \"eth0\"\nvrid = 9\naddresses = [\"192.0.2.9/24\"]\n",
    );
    let ds = render(ManifestKind::Daemonset, tmp.path(), "img:1").unwrap();
    let ds_docs = yaml_docs(&ds.text);
    // The DaemonSet output carries no RBAC of its own.
    let mut kinds: Vec<&str> = ds_docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["ConfigMap", "DaemonSet"]);
    let pod = pod_of_daemonset(&ds_docs);
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    assert_eq!(
        ds_docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap()["metadata"]["namespace"],
        sa["metadata"]["namespace"]
    );
}
