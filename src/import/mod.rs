//! `ha-vip import-keepalived`: keepalived `vrrp_instance` blocks to ha-vip
//! router files.
//!
//! Three steps, the first two without I/O so that they can be fuzzed and
//! tested on strings:
//!
//! - [`parse`] / [`parse_with`]: keepalived's configuration language
//!   (blocks, comments, quotes, `include`, `@` conditional lines, `$NAME`
//!   parameters) to an [`Ast`] of statements that know their file and line;
//! - [`convert`]: the `vrrp_instance`, `vrrp_script` and `global_defs`
//!   blocks to router files and an `ha-vip.toml`, with a note for every
//!   keyword that is dropped or changes meaning;
//! - [`import_main`]: reads the files, writes `DIR/routers/NAME.toml` (never
//!   over an existing file without `--force`) and prints the report.
//!
//! The keyword table and what is not converted, and why: docs/import.md.

mod convert;
mod parse;

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use convert::{Conversion, RouterFile, convert, parse_seconds_us, router_name, split_command};
pub use parse::{
    Ast, FsSource, MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, Node, ParseError, ParseOptions, Pos,
    Source, parse, parse_with, wildcard_match,
};

/// One line of the report: `FILE:LINE: KEYWORD: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub file: String,
    pub line: u32,
    pub keyword: String,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.keyword, self.message
        )
    }
}

/// Arguments of `ha-vip import-keepalived`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The keepalived configuration (includes are followed from it).
    pub keepalived_conf: PathBuf,
    /// The ha-vip configuration directory to create: DIR/routers/NAME.toml
    /// and, for vrrp_script checks, DIR/ha-vip.toml.
    #[arg(short = 'o', long = "output", required_unless_present = "dry_run")]
    pub output: Option<PathBuf>,
    /// Overwrite files that already exist.
    #[arg(long)]
    pub force: bool,
    /// Print the files on stdout (the report goes to stderr); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// keepalived's config-id (its -i option): keep the `@ID` lines of this
    /// host. Without it every `@` line is skipped with a note.
    #[arg(long)]
    pub config_id: Option<String>,
}

/// The files a conversion produces, relative to the output directory, in
/// the order they are written.
pub fn output_files(conv: &Conversion) -> Vec<(PathBuf, &str)> {
    let mut files: Vec<(PathBuf, &str)> = conv
        .routers
        .iter()
        .map(|r| {
            (
                Path::new(crate::config::ROUTERS_DIR).join(format!("{}.toml", r.name)),
                r.text.as_str(),
            )
        })
        .collect();
    if let Some(d) = &conv.daemon {
        files.push((PathBuf::from(crate::config::DAEMON_FILE), d.as_str()));
    }
    files
}

/// The report: one line per produced file (under `dir`), then the notes,
/// what was not converted, and the errors.
pub fn report(conv: &Conversion, dir: &Path, verb: &str) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for r in &conv.routers {
        let _ = writeln!(
            s,
            "{verb} {} (vrrp_instance {})",
            dir.join(crate::config::ROUTERS_DIR)
                .join(format!("{}.toml", r.name))
                .display(),
            r.instance
        );
    }
    if conv.daemon.is_some() {
        let _ = writeln!(
            s,
            "{verb} {} (checks from vrrp_script)",
            dir.join(crate::config::DAEMON_FILE).display()
        );
    }
    for (title, notes) in [
        ("NOTES", &conv.notes),
        ("NOT CONVERTED", &conv.not_converted),
        ("ERRORS", &conv.errors),
    ] {
        if !notes.is_empty() {
            let _ = writeln!(s, "\n{title}");
            for n in notes {
                let _ = writeln!(s, "{n}");
            }
        }
    }
    s
}

/// Exit 0 when every instance produced its file (the NOT CONVERTED list
/// may be long: it is there to be read); 1 on a parse error, an instance
/// that could not be converted, or a file that could not be written.
pub fn import_main(args: ImportArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &ImportArgs) -> Result<(), String> {
    let path = &args.keepalived_conf;
    let name = path.display().to_string();
    let text = FsSource
        .read(path, MAX_FILE_BYTES)
        .map_err(|e| format!("{name}: cannot read: {e}"))?;
    let options = ParseOptions {
        config_id: args.config_id.clone(),
    };
    let ast =
        parse_with(&text, &name, path.parent(), &options, Some(&mut FsSource)).map_err(|e| {
            format!(
                "{e}\nha-vip import-keepalived: {name} not imported: parse error, nothing written"
            )
        })?;
    let conv = convert(&ast);
    let dir = args.output.clone().unwrap_or_default();
    if !conv.ok() {
        eprint!("{}", report(&conv, &dir, "would write"));
        return Err(format!(
            "ha-vip import-keepalived: {} instance{} not converted, nothing written",
            conv.errors.len(),
            if conv.errors.len() == 1 { "" } else { "s" }
        ));
    }
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for (p, text) in output_files(&conv) {
            let _ = writeln!(out, "==> {} <==\n{text}", dir.join(p).display());
        }
        eprint!("{}", report(&conv, &dir, "would write"));
        return Ok(());
    }
    write_files(&conv, &dir, args.force)?;
    print!("{}", report(&conv, &dir, "wrote"));
    Ok(())
}

/// Writes every file, after checking that none exists (unless `force`),
/// so that a refusal leaves the directory as it was.
pub fn write_files(conv: &Conversion, dir: &Path, force: bool) -> Result<(), String> {
    let files = output_files(conv);
    if !force {
        let existing: Vec<String> = files
            .iter()
            .map(|(p, _)| dir.join(p))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(format!(
                "ha-vip import-keepalived: refusing to overwrite {} (use --force); nothing written",
                existing.join(", ")
            ));
        }
    }
    let routers = dir.join(crate::config::ROUTERS_DIR);
    fs::create_dir_all(&routers)
        .map_err(|e| format!("{}: cannot create: {e}", routers.display()))?;
    for (p, text) in files {
        let p = dir.join(p);
        fs::write(&p, text).map_err(|e| format!("{}: cannot write: {e}", p.display()))?;
    }
    Ok(())
}
