//! What the Debian package is made of, checked without dpkg (scripts/
//! test-deb.sh installs the real .deb): `--version` and build.rs's commit,
//! `ha-vip package-files`, and the [package.metadata.deb] of Cargo.toml
//! against the files it names.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn ha_vip(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ha-vip"))
        .args(args)
        .output()
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn version_names_the_commit() {
    let out = ha_vip(&["--version"]);
    assert!(out.status.success());
    let v = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        v.trim(),
        format!(
            "ha-vip {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            ha_vip::build_info::GIT_COMMIT
        )
    );
    match git(repo(), &["rev-parse", "--short=12", "HEAD"]) {
        // The test binary was built from this work tree just now.
        Some(head) if std::env::var_os("HA_VIP_GIT_COMMIT").is_none() => {
            let c = ha_vip::build_info::GIT_COMMIT;
            assert!(c == head || c == format!("{head}-dirty"), "{c} vs {head}");
        }
        _ => {}
    }
}

/// build.rs on a crate of its own in a temporary directory: no git
/// repository (a tarball), the environment override, a repository, a
/// dirty tree.
#[test]
fn build_rs_falls_back_without_git_and_marks_a_dirty_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("crate");
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"commit-probe\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::copy(repo().join("build.rs"), dir.join("build.rs")).unwrap();
    fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"{}\", env!(\"HA_VIP_GIT_COMMIT\")); }\n",
    )
    .unwrap();
    let target = tmp.path().join("target");
    let run = |env: Option<&str>| -> String {
        let mut c = Command::new(env!("CARGO"));
        c.args(["run", "--quiet", "--offline"])
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("HA_VIP_GIT_COMMIT");
        if let Some(v) = env {
            c.env("HA_VIP_GIT_COMMIT", v);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // /tmp is not inside a work tree here; if it were, build.rs must
    // still not take the outer repository's commit.
    assert_eq!(run(None), "unknown");
    assert_eq!(run(Some("0123456789ab")), "0123456789ab");

    if git(&dir, &["--version"]).is_none() {
        panic!("git is not installed: the repository half of this test cannot run");
    }
    let ok = |args: &[&str]| assert!(git(&dir, args).is_some(), "git {args:?}");
    ok(&["init", "-q"]);
    ok(&["add", "."]);
    ok(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.org",
        "commit",
        "-q",
        "-m",
        "probe",
    ]);
    let head = git(&dir, &["rev-parse", "--short=12", "HEAD"]).unwrap();
    assert_eq!(run(None), head);
    fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"{}\", env!(\"HA_VIP_GIT_COMMIT\")); }\n// edited\n",
    )
    .unwrap();
    assert_eq!(run(None), format!("{head}-dirty"));
    // Back to the committed text: clean again.
    ok(&["checkout", "--", "src/main.rs"]);
    assert_eq!(run(None), head);
}

/// The subcommands `ha-vip --help` lists (help excluded).
fn subcommands() -> Vec<String> {
    let out = ha_vip(&["--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut in_commands = false;
    let mut names = Vec::new();
    for line in text.lines() {
        if line == "Commands:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            let Some(rest) = line.strip_prefix("  ") else {
                break;
            };
            let name = rest.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn package_files_are_generated_from_the_real_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("files");
    let out = ha_vip(&["package-files", out_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<PathBuf> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    for p in &listed {
        assert!(fs::metadata(p).unwrap().len() > 0, "{}", p.display());
    }

    let subs = subcommands();
    assert!(subs.len() >= 7, "{subs:?}");
    assert!(!subs.contains(&"package-files".to_string()), "hidden");
    let mut expected: Vec<PathBuf> = vec![out_dir.join("man/ha-vip.1")];
    for s in &subs {
        expected.push(out_dir.join(format!("man/ha-vip-{s}.1")));
    }
    for c in ["ha-vip.bash", "_ha-vip", "ha-vip.fish"] {
        expected.push(out_dir.join("completions").join(c));
    }
    expected.push(out_dir.join("ha-vip.service"));
    expected.sort();
    assert_eq!(
        listed, expected,
        "one man page per visible subcommand, no more"
    );

    let page = fs::read_to_string(out_dir.join("man/ha-vip-run.1")).unwrap();
    assert!(page.contains(".TH ha-vip-run 1"), "{page}");
    assert!(page.contains(ha_vip::build_info::LONG_VERSION), "{page}");
    for shell in ["ha-vip.bash", "_ha-vip", "ha-vip.fish"] {
        let text = fs::read_to_string(out_dir.join("completions").join(shell)).unwrap();
        for s in &subs {
            assert!(text.contains(s.as_str()), "{shell} lacks {s}");
        }
        assert!(!text.contains("package-files"), "{shell}");
    }

    // The unit is deploy/ha-vip.service from its [Unit] line on, with the
    // package's binary and man pages.
    let unit = fs::read_to_string(out_dir.join("ha-vip.service")).unwrap();
    let template = fs::read_to_string(repo().join("deploy/ha-vip.service")).unwrap();
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .skip_while(|l| *l != "[Unit]")
            .map(str::to_string)
            .collect()
    };
    let (mut u, t) = (body(&unit), body(&template));
    // The one line the package adds: its man pages.
    let doc = "Documentation=man:ha-vip-run(1) man:ha-vip(1)";
    assert_eq!(u.iter().filter(|l| *l == doc).count(), 1);
    assert!(!t.iter().any(|l| l.starts_with("Documentation=")));
    u.retain(|l| l != doc);
    assert_eq!(u.len(), t.len());
    for (a, b) in u.iter().zip(&t) {
        if b.starts_with("ExecStart=") {
            assert_eq!(a, "ExecStart=/usr/bin/ha-vip run --config /etc/ha-vip");
            assert_eq!(
                b,
                "ExecStart=/usr/local/bin/ha-vip run --config /etc/ha-vip"
            );
        } else {
            assert_eq!(a, b);
        }
    }
    assert_eq!(
        unit,
        ha_vip::manifest::packaged_unit().unwrap(),
        "the same text as the library's"
    );

    // A second run into the same directory is refused: no stale page.
    let again = ha_vip(&["package-files", out_dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

/// Every asset Cargo.toml packages exists, or is made by `package-files`
/// or cargo; the maintainer scripts carry cargo-deb's #DEBHELPER# token;
/// every lintian override has its reason above it.
#[test]
fn the_deb_metadata_names_files_that_exist() {
    let manifest: toml::Table = fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("deb-files");
    assert!(
        ha_vip(&["package-files", generated.to_str().unwrap()])
            .status
            .success()
    );
    let mut dests = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let (src, dest, mode) = (
            a[0].as_str().unwrap(),
            a[1].as_str().unwrap(),
            a[2].as_str().unwrap(),
        );
        dests.push(dest.to_string());
        assert!(
            mode == "644" || (mode == "755" && dest == "usr/bin/"),
            "{src}: {mode}"
        );
        if src == "target/release/ha-vip" {
            continue;
        }
        let (base, rel) = match src.strip_prefix("target/deb-files/") {
            Some(rel) => (generated.clone(), rel.to_string()),
            None => (repo().to_path_buf(), src.to_string()),
        };
        let matches = glob_count(&base, &rel);
        assert!(matches > 0, "asset {src} matches no file");
    }
    assert!(dests.iter().any(|d| d == "etc/ha-vip/ha-vip.toml"));
    assert!(dests.iter().any(|d| d.starts_with("usr/share/man/man1")));

    let units = deb["systemd-units"].as_table().unwrap();
    assert_eq!(units["unit-scripts"].as_str(), Some("target/deb-files/"));
    assert_eq!(units["enable"].as_bool(), Some(false));
    assert_eq!(units["start"].as_bool(), Some(false));

    let scripts = repo().join(deb["maintainer-scripts"].as_str().unwrap());
    for s in ["postinst", "postrm"] {
        let text = fs::read_to_string(scripts.join(s)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{s}");
        assert!(text.lines().any(|l| l == "#DEBHELPER#"), "{s}");
        assert!(text.contains("set -e"), "{s}");
    }
    // The shipped conffile parses as a daemon file that sets nothing.
    let conf: toml::Table = fs::read_to_string(repo().join("deploy/debian/ha-vip.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(conf.is_empty());

    let overrides = fs::read_to_string(repo().join("deploy/debian/lintian-overrides")).unwrap();
    let lines: Vec<&str> = overrides.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("ha-vip: ") {
            assert!(
                i > 0 && lines[i - 1].starts_with("# "),
                "override {l:?} has no reason above it"
            );
        }
    }
}

/// Files under `base` matching `pattern` (`*` within a component, `**`
/// across directories), enough for the asset patterns of Cargo.toml.
fn glob_count(base: &Path, pattern: &str) -> usize {
    fn walk(dir: &Path, parts: &[&str]) -> usize {
        let Some((first, rest)) = parts.split_first() else {
            return usize::from(dir.is_file());
        };
        if *first == "**" {
            let mut n = walk(dir, rest);
            if let Ok(entries) = fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.path().is_dir() {
                        n += walk(&e.path(), parts);
                    }
                }
            }
            return n;
        }
        if !first.contains('*') {
            return walk(&dir.join(first), rest);
        }
        let (pre, post) = first.split_once('*').unwrap();
        let mut n = 0;
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(pre) && name.ends_with(post) {
                    n += walk(&e.path(), rest);
                }
            }
        }
        n
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    walk(base, &parts)
}
