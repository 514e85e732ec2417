//! The Containerfile cannot be built here (no container engine), so its
//! paths are checked against the repository instead: what it copies
//! exists, it copies every directory the crate compiles files in from, and
//! the binary it installs is the one cargo builds.

use std::path::Path;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn containerfile() -> String {
    std::fs::read_to_string(repo().join("Containerfile")).unwrap()
}

/// Instructions with their continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
        } else {
            current.push_str(line);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

/// The top-level directories named by `include_str!("../DIR/...")` in src/.
fn included_dirs(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            included_dirs(&p, out);
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for (i, _) in text.match_indices("include_str!(\"") {
            let rest = &text[i + "include_str!(\"".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            // Relative to the including file; resolve to the repository.
            let full = p.parent().unwrap().join(path);
            let full = std::path::absolute(&full).unwrap();
            let mut clean = std::path::PathBuf::new();
            for c in full.components() {
                match c {
                    std::path::Component::ParentDir => {
                        clean.pop();
                    }
                    c => clean.push(c),
                }
            }
            assert!(clean.exists(), "{} includes {path}", p.display());
            let rel = clean.strip_prefix(repo()).unwrap();
            out.push(
                rel.components()
                    .next()
                    .unwrap()
                    .as_os_str()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

#[test]
fn the_build_stage_copies_what_the_crate_needs() {
    let text = containerfile();
    let ins = instructions(&text);
    let copies: Vec<Vec<&str>> = ins
        .iter()
        .filter(|i| i.starts_with("COPY ") && !i.contains("--from="))
        .map(|i| i.split_whitespace().skip(1).collect())
        .collect();
    let mut sources = Vec::new();
    for c in &copies {
        // COPY SRC... DEST
        for src in &c[..c.len() - 1] {
            assert!(
                repo().join(src).exists(),
                "COPY {src}: not in the repository"
            );
            sources.push(src.trim_end_matches('/').to_string());
        }
    }
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(sources.iter().any(|s| s == needed), "COPY {needed} missing");
    }
    let mut dirs = Vec::new();
    included_dirs(&repo().join("src"), &mut dirs);
    assert!(
        dirs.contains(&"deploy".to_string()),
        "manifest.rs includes deploy/"
    );
    for d in dirs {
        assert!(
            sources.contains(&d),
            "src/ includes files from {d}/, which is not copied"
        );
    }
    assert!(
        ins.iter()
            .any(|i| i.starts_with("RUN cargo build --release --locked --bin ha-vip"))
    );
}

#[test]
fn the_runtime_stage_installs_the_binary_and_runs_the_daemon() {
    let text = containerfile();
    let ins = instructions(&text);
    let froms: Vec<&String> = ins.iter().filter(|i| i.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "two stages");
    assert!(froms[0].contains("rust:bookworm") && froms[0].ends_with(" AS build"));
    assert!(froms[1].contains("debian:bookworm-slim"));
    // The binary cargo builds for package ha-vip, where the unit and the
    // manifests expect it.
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"ha-vip\""));
    assert!(ins.contains(
        &"COPY --from=build /src/target/release/ha-vip /usr/local/bin/ha-vip".to_string()
    ));
    assert!(ins.iter().any(|i| i == "WORKDIR /src"));
    assert_eq!(
        ins.last().unwrap(),
        r#"CMD ["run", "--config", "/etc/ha-vip"]"#
    );
    assert!(ins.contains(&r#"ENTRYPOINT ["ha-vip"]"#.to_string()));
    // Not root by default; the user is created in the same stage.
    let user = ins.iter().find(|i| i.starts_with("USER ")).unwrap();
    assert_ne!(user, "USER root");
    assert!(!user.starts_with("USER 0"));
    assert!(
        ins.iter()
            .any(|i| i.contains("useradd") && i.contains("--uid 65532"))
    );
    assert_eq!(user, "USER 65532:65532");
}

/// Every spelling of the image in the repository's files is
/// `ha_vip::manifest::DEFAULT_IMAGE`: the templates, the Containerfile's
/// build and run examples, the README and the docs.
#[test]
fn the_image_placeholder_is_one_constant() {
    use ha_vip::manifest::DEFAULT_IMAGE;
    let prefix = "registry.example.com/";
    assert!(DEFAULT_IMAGE.starts_with(prefix), "{DEFAULT_IMAGE}");
    assert!(DEFAULT_IMAGE.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))));
    let mut files = vec![
        repo().join("Containerfile"),
        repo().join("README.md"),
        repo().join("deploy/static-pod.yaml"),
        repo().join("deploy/daemonset.yaml"),
    ];
    for e in std::fs::read_dir(repo().join("docs")).unwrap() {
        files.push(e.unwrap().path());
    }
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, _) in text.match_indices(prefix) {
            let name: String = text[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"`\"')".contains(*c))
                .collect();
            assert_eq!(name, DEFAULT_IMAGE, "{}", f.display());
            seen += 1;
        }
    }
    // The templates, the Containerfile and the README name it at least.
    assert!(seen >= 5, "{seen}");
    // The templates carry it as the pod's image: what `--image` replaces.
    for t in ["deploy/static-pod.yaml", "deploy/daemonset.yaml"] {
        let text = std::fs::read_to_string(repo().join(t)).unwrap();
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("image: {DEFAULT_IMAGE}")),
            "{t}"
        );
    }
}

#[test]
fn the_build_stage_copies_build_rs_and_takes_the_commit() {
    let ins = instructions(&containerfile());
    assert!(repo().join("build.rs").exists());
    let copy = ins
        .iter()
        .find(|i| i.starts_with("COPY ") && i.contains("Cargo.toml"))
        .unwrap();
    assert!(copy.split_whitespace().any(|w| w == "build.rs"), "{copy}");
    // build.rs reads HA_VIP_GIT_COMMIT when there is no .git: the ARG
    // makes it an environment variable of the RUN that builds.
    let arg = ins
        .iter()
        .position(|i| i.starts_with("ARG HA_VIP_GIT_COMMIT"))
        .unwrap();
    let build = ins
        .iter()
        .position(|i| i.starts_with("RUN cargo build"))
        .unwrap();
    assert!(arg < build);
}
