//! `ha-vip manifest`: ready-to-apply deployment files for a configuration.
//!
//! ```text
//! ha-vip manifest static-pod [--config DIR] [--image IMAGE]
//! ha-vip manifest daemonset  [--config DIR] [--image IMAGE]
//! ha-vip manifest rbac
//! ha-vip manifest systemd    [--config DIR]
//! ```
//!
//! The files in `deploy/` are the templates, compiled in with
//! `include_str!`, so what is printed is what the repository reviews and
//! tests. The configuration is validated first ([`crate::config::load_dir`]);
//! a refused one prints its errors and nothing on stdout.
//!
//! What is filled in:
//!
//! - **daemonset**: the ConfigMap holds `ha-vip.toml` and every router file,
//!   byte for byte (key `routers.NAME.toml`, mounted as
//!   `/etc/ha-vip/routers/NAME.toml`); the image.
//! - **static-pod**: DIR on the host mounted at `/etc/ha-vip`; the image.
//! - both: every file the configuration reads (the API server's CA and
//!   token, `http` checks' CAs) as a read-only hostPath at the same path,
//!   and every directory it writes (`runtime_dir`, the control socket's
//!   directory, `[capture] dir`) as a hostPath: the record of the addresses
//!   added must survive a container restart (so the next run removes what a
//!   crashed one left), and `ha-vip status` and the captures are reached
//!   from the node.
//! - **systemd**: `--config DIR` in `ExecStart`, `ReadWritePaths` for the
//!   writable directories outside `/run/ha-vip` (the unit's
//!   `RuntimeDirectory`).
//! - **rbac**: `deploy/rbac.yaml` as it is; it does not depend on the
//!   configuration, which is not read.
//!
//! Things a manifest cannot provide (a notify program or `exec` check in a
//! container image, `in_cluster` in a static pod) are reported as warnings
//! on stderr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Deserialize as _;
use serde_yaml_ng::{Mapping, Value};

use crate::config::{Config, ConfigErrors, DAEMON_FILE, ROUTERS_DIR};
use crate::health::CheckKind;

/// The container image: the one name of it in the repository. The
/// templates in deploy/, the Containerfile's build command, the README and
/// docs/operations.md spell exactly this (tests/manifest_containerfile.rs
/// checks), and `--image` replaces it in what `ha-vip manifest` prints.
///
/// A placeholder, on purpose: no such image is published. `example.com`
/// is reserved (RFC 2606), so a manifest applied without `--image` fails
/// to pull, visibly (`ErrImagePull`), rather than pulling an image of the
/// same name from someone else's registry. Build the Containerfile, push
/// it to your registry, and pass that name. The tag is the crate version.
pub const DEFAULT_IMAGE: &str = concat!("registry.example.com/ha-vip:", env!("CARGO_PKG_VERSION"));

const RBAC: &str = include_str!("../deploy/rbac.yaml");
const DAEMONSET: &str = include_str!("../deploy/daemonset.yaml");
const STATIC_POD: &str = include_str!("../deploy/static-pod.yaml");
const SYSTEMD: &str = include_str!("../deploy/ha-vip.service");

/// Where the configuration directory is inside the container.
const CONTAINER_CONFIG: &str = "/etc/ha-vip";
/// The unit's `RuntimeDirectory`: writable without `ReadWritePaths`.
const SYSTEMD_RUNTIME_DIR: &str = "/run/ha-vip";
/// The line of the unit that `--config` changes.
const SYSTEMD_EXEC_START: &str = "ExecStart=/usr/local/bin/ha-vip run --config /etc/ha-vip";
/// The unit's commented example, replaced by the real `ReadWritePaths`.
const SYSTEMD_RW_EXAMPLE: &str = "#ReadWritePaths=/var/lib/ha-vip/captures";
/// Where a pod's service account token and CA are mounted; never taken
/// from the host.
const SERVICE_ACCOUNT_DIRS: [&str; 2] = [
    "/var/run/secrets/kubernetes.io/serviceaccount",
    "/run/secrets/kubernetes.io/serviceaccount",
];

/// What `ha-vip manifest` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestKind {
    /// A Pod for /etc/kubernetes/manifests/ (the API-server VIP).
    StaticPod,
    /// A ConfigMap holding the configuration, and a DaemonSet.
    Daemonset,
    /// The ServiceAccount, ClusterRole and ClusterRoleBinding.
    Rbac,
    /// The systemd unit.
    Systemd,
}

/// Arguments of `ha-vip manifest`.
#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    /// What to print.
    #[arg(value_enum)]
    pub kind: ManifestKind,
    /// The configuration directory the manifest is built from (validated
    /// first; not read for rbac).
    #[arg(long, default_value = "/etc/ha-vip")]
    pub config: PathBuf,
    /// The container image (static-pod, daemonset).
    #[arg(long, default_value = DEFAULT_IMAGE)]
    pub image: String,
}

/// Why no manifest was printed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The configuration was refused; every problem is in it.
    #[error("{0}")]
    Config(ConfigErrors),
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The arguments or the configuration cannot be expressed in this kind
    /// of manifest.
    #[error("{0}")]
    Refused(String),
    /// A compiled-in template lost what this module fills in (a bug,
    /// caught by the tests).
    #[error("template {template}: {message}")]
    Template {
        template: &'static str,
        message: String,
    },
}

/// A manifest, and what the operator should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub text: String,
    pub warnings: Vec<String>,
}

/// `ha-vip manifest`: print the manifest, or the errors and exit 1.
pub fn manifest_main(args: ManifestArgs) -> ExitCode {
    match render(args.kind, &args.config, &args.image) {
        Ok(m) => {
            for w in &m.warnings {
                eprintln!("warning: {w}");
            }
            print!("{}", m.text);
            ExitCode::SUCCESS
        }
        Err(ManifestError::Config(e)) => {
            for d in &e.errors {
                eprintln!("{d}");
            }
            eprintln!(
                "ha-vip manifest: {} refused: {} error{}",
                args.config.display(),
                e.errors.len(),
                if e.errors.len() == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("ha-vip manifest: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Build the manifest of `kind` for the configuration in `config_dir`.
pub fn render(
    kind: ManifestKind,
    config_dir: &Path,
    image: &str,
) -> Result<Manifest, ManifestError> {
    if kind == ManifestKind::Rbac {
        return Ok(Manifest {
            text: RBAC.to_string(),
            warnings: Vec::new(),
        });
    }
    let config = crate::config::load_dir(config_dir).map_err(ManifestError::Config)?;
    let dir = std::path::absolute(config_dir).map_err(|source| ManifestError::Read {
        path: config_dir.to_path_buf(),
        source,
    })?;
    let mut warnings: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
    let text = match kind {
        ManifestKind::Systemd => systemd(&config, &dir, &mut warnings)?,
        ManifestKind::StaticPod => {
            check_image(image)?;
            static_pod(&config, &dir, image, &mut warnings)?
        }
        ManifestKind::Daemonset => {
            check_image(image)?;
            daemonset(&config, &dir, image, &mut warnings)?
        }
        ManifestKind::Rbac => RBAC.to_string(),
    };
    Ok(Manifest { text, warnings })
}

fn check_image(image: &str) -> Result<(), ManifestError> {
    if image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ManifestError::Refused(format!(
            "--image {image:?}: an image reference has no spaces and is not empty"
        )));
    }
    Ok(())
}

/// The host paths a configuration uses, sorted and without duplicates.
#[derive(Debug, Default)]
struct HostPaths {
    /// Files the daemon reads besides its configuration directory.
    read_files: Vec<PathBuf>,
    /// Directories the daemon creates files in, none inside another.
    write_dirs: Vec<PathBuf>,
}

fn host_paths(config: &Config, warnings: &mut Vec<String>, in_container: bool) -> HostPaths {
    let d = &config.daemon;
    let mut read_files = Vec::new();
    if d.k8s.enabled && !d.k8s.in_cluster {
        read_files.extend(d.k8s.ca_cert.iter().cloned());
        read_files.extend(d.k8s.token_file.iter().cloned());
    }
    for check in &d.checks {
        match &check.kind {
            CheckKind::Http(p) => read_files.extend(p.ca_cert.iter().cloned()),
            CheckKind::Exec(p) if in_container => warnings.push(format!(
                "check {}: the program {:?} must exist inside the container image",
                check.name, p.program
            )),
            _ => {}
        }
    }
    if in_container {
        for r in &config.routers {
            for prog in &r.notify {
                warnings.push(format!(
                    "router {}: the notify program {} must exist inside the container image",
                    r.name,
                    prog.display()
                ));
            }
        }
    }

    let mut dirs: Vec<PathBuf> = vec![d.runtime_dir.clone()];
    if let Some(parent) = d.control.socket.parent() {
        dirs.push(parent.to_path_buf());
    }
    dirs.extend(d.capture.dir.iter().cloned());
    dirs.sort();
    dirs.dedup();
    // /run/ha-vip covers /run/ha-vip/sub: one mount, one ReadWritePaths.
    let write_dirs: Vec<PathBuf> = dirs
        .iter()
        .filter(|p| !dirs.iter().any(|q| q != *p && p.starts_with(q)))
        .cloned()
        .collect();
    read_files.sort();
    read_files.dedup();
    read_files.retain(|f| !write_dirs.iter().any(|d| f.starts_with(d)));
    HostPaths {
        read_files,
        write_dirs,
    }
}

// ---- systemd -------------------------------------------------------------

/// Characters a path may hold on a unit's command or path line without
/// quoting or escaping (`%` is a specifier, `$` a variable, spaces split).
fn unit_safe(p: &Path) -> Result<String, ManifestError> {
    let s = p.to_str().unwrap_or_default();
    let ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@:,=".contains(c));
    if ok {
        Ok(s.to_string())
    } else {
        Err(ManifestError::Refused(format!(
            "{:?}: a path in a systemd unit here may hold only letters, digits and / . _ - + @ : , =",
            p.display()
        )))
    }
}

fn systemd(
    config: &Config,
    dir: &Path,
    warnings: &mut Vec<String>,
) -> Result<String, ManifestError> {
    let template = |message: &str| ManifestError::Template {
        template: "deploy/ha-vip.service",
        message: message.to_string(),
    };
    if !SYSTEMD.lines().any(|l| l == SYSTEMD_EXEC_START) {
        return Err(template("no ExecStart line to fill in"));
    }
    if !SYSTEMD.lines().any(|l| l == SYSTEMD_RW_EXAMPLE) {
        return Err(template("no ReadWritePaths example to fill in"));
    }
    let paths = host_paths(config, warnings, false);
    let mut rw = Vec::new();
    for d in &paths.write_dirs {
        if d.starts_with(SYSTEMD_RUNTIME_DIR) {
            continue;
        }
        if d.starts_with("/tmp") || d.starts_with("/var/tmp") {
            warnings.push(format!(
                "{} is under /tmp: the unit's PrivateTmp hides it from other processes (ha-vip status, your tools)",
                d.display()
            ));
        }
        rw.push(format!("ReadWritePaths={}", unit_safe(d)?));
    }
    let exec = format!(
        "ExecStart=/usr/local/bin/ha-vip run --config {}",
        unit_safe(dir)?
    );
    let mut out = format!(
        "# Generated by `ha-vip manifest systemd --config {:?}` (ha-vip {}).\n",
        dir.display(),
        env!("CARGO_PKG_VERSION")
    );
    for line in SYSTEMD.lines() {
        if line == SYSTEMD_EXEC_START {
            out.push_str(&exec);
        } else if line == SYSTEMD_RW_EXAMPLE && !rw.is_empty() {
            out.push_str(&rw.join("\n"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

// ---- the Debian package's unit -------------------------------------------

/// Where the Debian package installs the binary.
pub const PACKAGE_BIN: &str = "/usr/bin/ha-vip";
/// The configuration directory the package's unit runs with.
const PACKAGE_CONFIG: &str = "/etc/ha-vip";
/// The first line of the template's header kept in the package's unit;
/// the lines above it are the manual install, which the package replaces.
const SYSTEMD_HEADER_KEPT: &str =
    "# The daemon runs as the unprivileged user ha-vip with exactly two";
const PACKAGE_UNIT_HEADER: &str = "\
# ha-vip as a systemd service, installed by the Debian package ha-vip.
# Generated from deploy/ha-vip.service (`ha-vip package-files`): the same
# unit with the package's paths.
#
# Not enabled on install: put router files in /etc/ha-vip/routers/
# (examples: /usr/share/doc/ha-vip/examples), then
#   ha-vip check --config /etc/ha-vip
#   systemctl enable --now ha-vip
# Change it with a drop-in (systemctl edit ha-vip), never here: an upgrade
# replaces this file. Writable paths outside /run/ha-vip: ReadWritePaths=
# in the drop-in (`ha-vip manifest systemd --config /etc/ha-vip` prints
# the ones a configuration needs).
#
";

/// The unit's description line, after which the package's unit names its
/// man pages.
const SYSTEMD_DESCRIPTION: &str = "Description=ha-vip VRRP virtual IP daemon";
const PACKAGE_DOCUMENTATION: &str = "Documentation=man:ha-vip-run(1) man:ha-vip(1)";

/// deploy/ha-vip.service as the Debian package installs it: the binary at
/// [`PACKAGE_BIN`], `--config /etc/ha-vip`, `Documentation=` for the man
/// pages it ships, the header telling how the package sets it up.
/// Everything else is the template's, line for line.
pub fn packaged_unit() -> Result<String, ManifestError> {
    let template = |message: &str| ManifestError::Template {
        template: "deploy/ha-vip.service",
        message: message.to_string(),
    };
    if !SYSTEMD.lines().any(|l| l == SYSTEMD_EXEC_START) {
        return Err(template("no ExecStart line to fill in"));
    }
    if !SYSTEMD.lines().any(|l| l == SYSTEMD_DESCRIPTION) {
        return Err(template("no Description line to put Documentation after"));
    }
    let kept = SYSTEMD
        .find(SYSTEMD_HEADER_KEPT)
        .and_then(|i| SYSTEMD.get(i..))
        .ok_or_else(|| template("no header line about the daemon's user to keep"))?;
    let mut out = PACKAGE_UNIT_HEADER.to_string();
    for line in kept.lines() {
        if line == SYSTEMD_EXEC_START {
            let _ = write!(out, "ExecStart={PACKAGE_BIN} run --config {PACKAGE_CONFIG}");
        } else if line == SYSTEMD_DESCRIPTION {
            // The package ships the man pages; a manual install may not,
            // and `systemd-analyze verify` checks that they exist.
            let _ = write!(out, "{line}\n{PACKAGE_DOCUMENTATION}");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    Ok(out)
}

// ---- Kubernetes ----------------------------------------------------------

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

/// Parse a compiled-in multi-document template.
fn documents(template: &'static str, text: &str) -> Result<Vec<Value>, ManifestError> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| ManifestError::Template {
            template,
            message: e.to_string(),
        })?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// The value at `path` (mapping keys, or sequence indexes as digits).
fn at<'a>(
    template: &'static str,
    mut v: &'a mut Value,
    path: &[&str],
) -> Result<&'a mut Value, ManifestError> {
    for key in path {
        let next = match key.parse::<usize>() {
            Ok(i) => v.get_mut(i),
            Err(_) => v.get_mut(*key),
        };
        v = next.ok_or_else(|| ManifestError::Template {
            template,
            message: format!("no {}", path.join(".")),
        })?;
    }
    Ok(v)
}

fn yaml_text(header: &str, docs: &[Value]) -> Result<String, ManifestError> {
    let mut out = header.to_string();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let text = serde_yaml_ng::to_string(doc).map_err(|e| ManifestError::Template {
            template: "output",
            message: e.to_string(),
        })?;
        out.push_str(&text);
    }
    Ok(out)
}

fn header(kind: &str, dir: &Path, template: &str, note: &str) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "# Generated by `ha-vip manifest {kind} --config {:?}` (ha-vip {}).",
        dir.display(),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        h,
        "# Template: {template}, whose comments explain each field."
    );
    for line in note.lines() {
        let _ = writeln!(h, "# {line}");
    }
    h
}

fn under_service_account(p: &Path) -> bool {
    SERVICE_ACCOUNT_DIRS.iter().any(|d| p.starts_with(d))
}

/// Volumes and mounts for the host paths, named `host-file-N` and
/// `host-dir-N`.
fn host_volumes(paths: &HostPaths, volumes: &mut Vec<Value>, mounts: &mut Vec<Value>) {
    for (i, f) in paths.read_files.iter().enumerate() {
        let name = format!("host-file-{}", i + 1);
        let p = f.display().to_string();
        volumes.push(map(vec![
            ("name", s(&name)),
            ("hostPath", map(vec![("path", s(&p)), ("type", s("File"))])),
        ]));
        mounts.push(map(vec![
            ("name", s(&name)),
            ("mountPath", s(&p)),
            ("readOnly", Value::Bool(true)),
        ]));
    }
    for (i, d) in paths.write_dirs.iter().enumerate() {
        let name = format!("host-dir-{}", i + 1);
        let p = d.display().to_string();
        volumes.push(map(vec![
            ("name", s(&name)),
            (
                "hostPath",
                map(vec![("path", s(&p)), ("type", s("DirectoryOrCreate"))]),
            ),
        ]));
        mounts.push(map(vec![("name", s(&name)), ("mountPath", s(&p))]));
    }
}

/// Set the image, mounts and volumes of a pod spec in `doc` at `spec`.
fn fill_pod(
    template: &'static str,
    doc: &mut Value,
    spec: &[&str],
    image: &str,
    mounts: Vec<Value>,
    volumes: Vec<Value>,
) -> Result<(), ManifestError> {
    let pod = at(template, doc, spec)?;
    let container = at(template, pod, &["containers", "0"])?;
    *at(template, container, &["image"])? = s(image);
    *at(template, container, &["volumeMounts"])? = Value::Sequence(mounts);
    *at(template, pod, &["volumes"])? = Value::Sequence(volumes);
    Ok(())
}

/// Files under the container's configuration directory come from the
/// config volume, not from the host.
fn split_config_files(paths: &mut HostPaths) -> Vec<PathBuf> {
    let (inside, outside): (Vec<_>, Vec<_>) = paths
        .read_files
        .drain(..)
        .partition(|f| f.starts_with(CONTAINER_CONFIG));
    paths.read_files = outside;
    inside
}

fn static_pod(
    config: &Config,
    dir: &Path,
    image: &str,
    warnings: &mut Vec<String>,
) -> Result<String, ManifestError> {
    const T: &str = "deploy/static-pod.yaml";
    let mut docs = documents(T, STATIC_POD)?;
    if docs.len() != 1 {
        return Err(ManifestError::Template {
            template: T,
            message: format!("{} documents, expected 1 Pod", docs.len()),
        });
    }
    if config.daemon.k8s.enabled && config.daemon.k8s.in_cluster {
        warnings.push(
            "[k8s] in_cluster = true needs a service account, which a static pod cannot have: \
             use in_cluster = false with api_server, ca_cert and token_file"
                .into(),
        );
    }
    let mut paths = host_paths(config, warnings, true);
    let in_config = split_config_files(&mut paths);
    if dir != Path::new(CONTAINER_CONFIG) {
        for f in in_config {
            warnings.push(format!(
                "{}: the container sees {} (the host's {}) at {CONTAINER_CONFIG}, so this file is read from {} instead",
                f.display(),
                CONTAINER_CONFIG,
                dir.display(),
                dir.join(f.strip_prefix(CONTAINER_CONFIG).unwrap_or(&f)).display()
            ));
        }
    }
    let mut volumes = vec![map(vec![
        ("name", s("config")),
        (
            "hostPath",
            map(vec![
                ("path", s(&dir.display().to_string())),
                ("type", s("Directory")),
            ]),
        ),
    ])];
    let mut mounts = vec![map(vec![
        ("name", s("config")),
        ("mountPath", s(CONTAINER_CONFIG)),
        ("readOnly", Value::Bool(true)),
    ])];
    host_volumes(&paths, &mut volumes, &mut mounts);
    let doc = docs.get_mut(0).ok_or_else(|| ManifestError::Template {
        template: T,
        message: "empty".into(),
    })?;
    fill_pod(T, doc, &["spec"], image, mounts, volumes)?;
    let h = header(
        "static-pod",
        dir,
        T,
        "Copy to /etc/kubernetes/manifests/ha-vip.yaml on each control-plane node;\n\
         the host's configuration directory is mounted at /etc/ha-vip.",
    );
    yaml_text(&h, &docs)
}

fn daemonset(
    config: &Config,
    dir: &Path,
    image: &str,
    warnings: &mut Vec<String>,
) -> Result<String, ManifestError> {
    const T: &str = "deploy/daemonset.yaml";
    if config.routers.is_empty() {
        return Err(ManifestError::Refused(format!(
            "{}: no router files in {ROUTERS_DIR}/: the ConfigMap would have no routers directory and the daemon would refuse to start",
            dir.display()
        )));
    }
    let mut docs = documents(T, DAEMONSET)?;
    let cm_index = docs
        .iter()
        .position(|d| d.get("kind").and_then(Value::as_str) == Some("ConfigMap"));
    let ds_index = docs
        .iter()
        .position(|d| d.get("kind").and_then(Value::as_str) == Some("DaemonSet"));
    let (Some(cm_index), Some(ds_index), 2) = (cm_index, ds_index, docs.len()) else {
        return Err(ManifestError::Template {
            template: T,
            message: "expected one ConfigMap and one DaemonSet".into(),
        });
    };

    // The files, byte for byte. Keys may not hold '/', so the router files
    // are `routers.NAME.toml` (NAME never starts with '.', so no key is
    // ha-vip.toml) and the volume's items put them back in routers/.
    let mut data = Mapping::new();
    let mut items = Vec::new();
    let daemon_file = dir.join(DAEMON_FILE);
    if daemon_file.exists() {
        let text = read(&daemon_file)?;
        data.insert(s(DAEMON_FILE), s(&text));
        items.push(map(vec![("key", s(DAEMON_FILE)), ("path", s(DAEMON_FILE))]));
    }
    for r in &config.routers {
        let text = read(&r.path)?;
        let key = format!("{ROUTERS_DIR}.{}.toml", r.name);
        data.insert(s(&key), Value::String(text));
        items.push(map(vec![
            ("key", s(&key)),
            ("path", s(&format!("{ROUTERS_DIR}/{}.toml", r.name))),
        ]));
    }
    let cm = docs
        .get_mut(cm_index)
        .ok_or_else(|| ManifestError::Template {
            template: T,
            message: "no ConfigMap".into(),
        })?;
    *at(T, cm, &["data"])? = Value::Mapping(data);
    let cm_name = at(T, cm, &["metadata", "name"])?.clone();

    let mut paths = host_paths(config, warnings, true);
    for f in split_config_files(&mut paths) {
        warnings.push(format!(
            "{}: {CONTAINER_CONFIG} in the pod holds only the ConfigMap (ha-vip.toml and routers/), so this file will be missing; \
             use the pod's service account files ({}/token, ca.crt)",
            f.display(),
            SERVICE_ACCOUNT_DIRS[0]
        ));
    }
    paths.read_files.retain(|f| !under_service_account(f));
    let mut volumes = vec![map(vec![
        ("name", s("config")),
        (
            "configMap",
            map(vec![("name", cm_name), ("items", Value::Sequence(items))]),
        ),
    ])];
    let mut mounts = vec![map(vec![
        ("name", s("config")),
        ("mountPath", s(CONTAINER_CONFIG)),
        ("readOnly", Value::Bool(true)),
    ])];
    host_volumes(&paths, &mut volumes, &mut mounts);
    let ds = docs
        .get_mut(ds_index)
        .ok_or_else(|| ManifestError::Template {
            template: T,
            message: "no DaemonSet".into(),
        })?;
    fill_pod(T, ds, &["spec", "template", "spec"], image, mounts, volumes)?;
    let h = header(
        "daemonset",
        dir,
        T,
        "Apply `ha-vip manifest rbac` first. The ConfigMap holds the configuration\n\
         files as they are; edit them and generate again rather than editing here.",
    );
    yaml_text(&h, &docs)
}

fn read(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_path_buf(),
        source,
    })
}
