//! `ha-vip package-files DIR` (hidden): what the Debian package ships
//! besides the binary, generated from the binary's own command line so
//! that the man pages and completions cannot disagree with `--help`.
//!
//! ```text
//! DIR/completions/ha-vip.bash   bash  (usr/share/bash-completion/completions/ha-vip)
//! DIR/completions/_ha-vip       zsh   (usr/share/zsh/vendor-completions/_ha-vip)
//! DIR/completions/ha-vip.fish   fish  (usr/share/fish/vendor_completions.d/ha-vip.fish)
//! DIR/man/ha-vip.1, DIR/man/ha-vip-SUBCOMMAND.1
//! DIR/ha-vip.service            deploy/ha-vip.service for /usr/bin/ha-vip
//! ```
//!
//! Why a hidden subcommand and not `build.rs`: the command line is the
//! crate's own types (`RunArgs`, `CheckArgs`, ... in seven modules), which
//! a build script cannot use without moving them to a second crate or
//! copying them; generating from the binary that ships is the one way the
//! pages are always those of that binary, and ordinary builds do not pay
//! for it. scripts/build-deb.sh runs it between `cargo build --release`
//! and `cargo deb --no-build`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap_complete::Shell;

/// The binary's name: completions and man pages are for this command.
pub const BIN: &str = "ha-vip";

/// Arguments of `ha-vip package-files`.
#[derive(Debug, clap::Args)]
pub struct PackageFilesArgs {
    /// The directory to write into: created, or empty (a stale man page of
    /// a removed subcommand must not be packaged).
    pub out_dir: PathBuf,
}

/// `ha-vip package-files`: write the files, print their paths.
pub fn package_files_main(args: PackageFilesArgs, cli: clap::Command) -> ExitCode {
    match generate(cli, &args.out_dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ha-vip package-files: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why a file could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not empty: give a new or empty directory", .0.display())]
    NotEmpty(PathBuf),
    #[error("{0}")]
    Unit(crate::manifest::ManifestError),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One page per command and visible subcommand (`ha-vip-run.1`, ...), as
/// `clap_mangen::generate_to` writes them, with this build's version
/// (`ha-vip 0.1.0 (commit ...)`) as the source in every page's footer:
/// subcommands carry no version of their own.
fn man_pages(cmd: &clap::Command, dir: &Path) -> Result<(), PackageError> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        man_pages(sub, dir)?;
    }
    clap_mangen::Man::new(cmd.clone())
        .source(format!("{BIN} {}", crate::build_info::LONG_VERSION))
        .manual("ha-vip manual")
        .generate_to(dir)
        .map_err(io_at(dir))?;
    Ok(())
}

/// Writes every file under `out` and returns their paths, sorted.
pub fn generate(cli: clap::Command, out: &Path) -> Result<Vec<PathBuf>, PackageError> {
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(PackageError::NotEmpty(out.to_path_buf()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(out)(e)),
    }
    let completions = out.join("completions");
    let man = out.join("man");
    for d in [&completions, &man] {
        fs::create_dir_all(d).map_err(io_at(d))?;
    }
    let mut files = Vec::new();
    // A clone: generating completions builds the command, which adds the
    // `help` subcommand that the man pages should not get pages for.
    let mut for_completions = cli.clone();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut for_completions, BIN, &completions)
            .map_err(io_at(&completions))?;
        files.push(path);
    }
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    man_pages(&cli, &man)?;
    let entries = fs::read_dir(&man).map_err(io_at(&man))?;
    for e in entries {
        let e = e.map_err(io_at(&man))?;
        files.push(e.path());
    }
    let unit = out.join("ha-vip.service");
    let text = crate::manifest::packaged_unit().map_err(PackageError::Unit)?;
    fs::write(&unit, text).map_err(io_at(&unit))?;
    files.push(unit);
    files.sort();
    Ok(files)
}
