//! The manifests in deploy/ parse as YAML and carry what docs/kubernetes.md
//! promises: the RBAC objects and their links, host networking, the two
//! capabilities without privileged mode, the files the check reads.

use std::path::Path;

use serde::Deserialize as _;
use serde_json::Value;

fn documents(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{file}: {e}")))
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

#[test]
fn rbac_grants_readyz_to_the_ha_vip_service_account() {
    let docs = documents("rbac.yaml");
    assert_eq!(docs.len(), 3);
    let sa = by_kind(&docs, "ServiceAccount");
    assert_eq!(sa["apiVersion"], "v1");
    assert_eq!(sa["metadata"]["name"], "ha-vip");
    assert_eq!(sa["metadata"]["namespace"], "kube-system");

    let role = by_kind(&docs, "ClusterRole");
    assert_eq!(role["apiVersion"], "rbac.authorization.k8s.io/v1");
    let rules = role["rules"].as_array().unwrap();
    // Least privilege (docs/kubernetes.md, RBAC): nothing in ha-vip reads
    // nodes, so unlike the original guide's role no resource is granted.
    assert!(
        rules.iter().all(|r| r.get("resources").is_none()),
        "a rule on resources: {rules:?}"
    );
    let urls = rules
        .iter()
        .find(|r| r.get("nonResourceURLs").is_some())
        .expect("a nonResourceURLs rule");
    let mut paths = strings(&urls["nonResourceURLs"]);
    paths.sort_unstable();
    assert_eq!(paths, ["/healthz", "/livez", "/readyz"]);
    assert_eq!(strings(&urls["verbs"]), ["get"]);
    // Read-only, nothing else.
    for rule in rules {
        for verb in strings(&rule["verbs"]) {
            assert_eq!(verb, "get");
        }
    }

    let binding = by_kind(&docs, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
    let subjects = binding["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0]["kind"], "ServiceAccount");
    assert_eq!(subjects[0]["name"], sa["metadata"]["name"]);
    assert_eq!(subjects[0]["namespace"], sa["metadata"]["namespace"]);
}

/// hostNetwork, NET_ADMIN and NET_RAW, not privileged, config mounted.
fn check_pod_spec(file: &str, spec: &Value) {
    assert_eq!(spec["hostNetwork"], true, "{file}");
    assert_eq!(spec["priorityClassName"], "system-node-critical", "{file}");
    let containers = spec["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{file}");
    let c = &containers[0];
    assert_eq!(
        strings(&c["args"]),
        ["run", "--config", "/etc/ha-vip"],
        "{file}"
    );
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"], false, "{file}");
    assert_eq!(sc["allowPrivilegeEscalation"], false, "{file}");
    let mut add = strings(&sc["capabilities"]["add"]);
    add.sort_unstable();
    assert_eq!(add, ["NET_ADMIN", "NET_RAW"], "{file}");
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"], "{file}");
    let mounts = c["volumeMounts"].as_array().unwrap();
    let volumes = spec["volumes"].as_array().unwrap();
    for m in mounts {
        assert!(
            volumes.iter().any(|v| v["name"] == m["name"]),
            "{file}: mount {} has no volume",
            m["name"]
        );
    }
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"] == "/etc/ha-vip" && m["readOnly"] == true),
        "{file}: /etc/ha-vip read-only"
    );
    assert!(
        mounts.iter().any(|m| m["mountPath"] == "/run/ha-vip"),
        "{file}: the control socket's directory is writable"
    );
}

#[test]
fn daemonset_runs_on_control_planes_with_host_network_and_two_capabilities() {
    let docs = documents("daemonset.yaml");
    let ds = by_kind(&docs, "DaemonSet");
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(ds["metadata"]["namespace"], "kube-system");
    let selector = ds["spec"]["selector"]["matchLabels"].as_object().unwrap();
    let labels = ds["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .unwrap();
    for (k, v) in selector {
        assert_eq!(labels.get(k), Some(v), "the selector matches the template");
    }
    let spec = &ds["spec"]["template"]["spec"];
    check_pod_spec("daemonset.yaml", spec);
    assert_eq!(spec["serviceAccountName"], "ha-vip");
    assert_eq!(spec["dnsPolicy"], "ClusterFirstWithHostNet");
    assert!(
        spec["nodeSelector"]
            .as_object()
            .unwrap()
            .contains_key("node-role.kubernetes.io/control-plane")
    );
    assert!(
        spec["tolerations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "node-role.kubernetes.io/control-plane")
    );

    // The ConfigMap it mounts exists and lays out the config directory.
    let cm = by_kind(&docs, "ConfigMap");
    let config_volume = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap();
    assert_eq!(config_volume["configMap"]["name"], cm["metadata"]["name"]);
    let items = config_volume["configMap"]["items"].as_array().unwrap();
    let paths: Vec<_> = items.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["ha-vip.toml", "routers/api.toml"]);
    for item in items {
        let key = item["key"].as_str().unwrap();
        assert!(cm["data"].get(key).is_some(), "ConfigMap key {key}");
    }

    // The daemon file: external mode on the local API server, with the
    // pod's projected (rotated) token and CA.
    let toml_text = cm["data"]["ha-vip.toml"].as_str().unwrap();
    let daemon: toml::Value = toml::from_str(toml_text).unwrap();
    let k8s = &daemon["k8s"];
    assert_eq!(k8s["enabled"].as_bool(), Some(true));
    assert_eq!(k8s["in_cluster"].as_bool(), Some(false));
    assert_eq!(k8s["api_server"].as_str(), Some("https://127.0.0.1:6443"));
    assert_eq!(
        k8s["token_file"].as_str(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount/token")
    );
    assert_eq!(
        k8s["ca_cert"].as_str(),
        Some("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")
    );
    assert_eq!(k8s["weight"].as_integer(), Some(-50));
    let router: toml::Value = toml::from_str(cm["data"]["api.toml"].as_str().unwrap()).unwrap();
    assert!(router.get("vrid").is_some() && router.get("interface").is_some());
}

#[test]
fn static_pod_reads_config_and_ca_from_the_node() {
    let docs = documents("static-pod.yaml");
    assert_eq!(docs.len(), 1);
    let pod = by_kind(&docs, "Pod");
    assert_eq!(pod["apiVersion"], "v1");
    assert_eq!(pod["metadata"]["namespace"], "kube-system");
    let spec = &pod["spec"];
    check_pod_spec("static-pod.yaml", spec);
    // Static pods cannot use API objects.
    assert!(spec.get("serviceAccountName").is_none());
    let volumes = spec["volumes"].as_array().unwrap();
    for v in volumes {
        assert!(
            v.get("hostPath").is_some(),
            "static pods use hostPath only: {v}"
        );
        assert!(v.get("configMap").is_none() && v.get("secret").is_none());
    }
    let host_paths: Vec<_> = volumes
        .iter()
        .map(|v| v["hostPath"]["path"].as_str().unwrap())
        .collect();
    assert!(host_paths.contains(&"/etc/ha-vip"));
    assert!(host_paths.contains(&"/etc/kubernetes/pki/ca.crt"));
}
