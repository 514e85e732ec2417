//! Names the git commit in `ha-vip --version` (and wherever
//! `ha_vip::build_info` is used).
//!
//! `HA_VIP_GIT_COMMIT` is set for the compiler to one of:
//!
//! - `HA_VIP_GIT_COMMIT` from the environment, when set and not empty: a
//!   build from a tree with no `.git` (the Containerfile's
//!   `--build-arg HA_VIP_GIT_COMMIT=...`, a distribution's source
//!   tarball) can still say where it came from;
//! - `git rev-parse --short=12 HEAD`, with `-dirty` appended when a tracked
//!   file differs from that commit, when this directory is the top of a git
//!   work tree (a crate unpacked inside some other repository is not
//!   taken for it);
//! - `unknown` otherwise (no git, no repository: `cargo package`, a tarball).
//!
//! Never fails the build: every git problem falls back to `unknown`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=HA_VIP_GIT_COMMIT");
    // What can make the dirty flag or the commit change. Listing paths
    // replaces cargo's default (rerun on any file of the package), so the
    // sources are listed too; a change to docs/ alone is seen at the next
    // commit or source change.
    for p in [
        "build.rs",
        "Cargo.toml",
        "Cargo.lock",
        "src",
        "deploy",
        "config",
    ] {
        println!("cargo:rerun-if-changed={p}");
    }

    let from_env = std::env::var("HA_VIP_GIT_COMMIT")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_graphic()));
    let commit = from_env
        .or_else(|| from_git(&dir))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HA_VIP_GIT_COMMIT={commit}");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
}

fn from_git(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = match (Path::new(&top).canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return None;
    }
    // HEAD, the branch it points at, packed refs and the index: a commit,
    // a checkout or a `git add` changes one of them. Only existing files:
    // cargo reruns every time for a path that does not exist.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".into(), "index".into()];
    if let Some(r) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(r);
    }
    for w in watch {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &w]) {
            let p = if Path::new(&p).is_absolute() {
                PathBuf::from(p)
            } else {
                dir.join(p)
            };
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let hash = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // Tracked files only: an untracked scratch file does not change the
    // binary. A failing `git status` counts as clean rather than hiding
    // the commit.
    let dirty =
        git(dir, &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{hash}-dirty") } else { hash })
}
