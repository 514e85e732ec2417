//! Diagnostics: every error and warning names its file, line, column and key.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A 1-based position in a file. The column counts characters, not bytes,
/// so that it matches what an editor shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The position of byte `offset` in `text`. An offset past the end (or
    /// inside a multi-byte character) is clamped, never a panic.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = text.get(..offset).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
        Location { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem found in the configuration.
///
/// Displayed as `PATH:LINE:COLUMN: KEY: MESSAGE`; the location and key are
/// left out only when the problem is the file itself (missing, unreadable)
/// or a TOML syntax error that belongs to no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the directory given on the command line joined with its
    /// name (`/etc/ha-vip/routers/vip.toml`).
    pub path: PathBuf,
    pub location: Option<Location>,
    /// The key in dotted form: `vrid`, `announce.delay`, `addresses[1]`.
    pub key: Option<String>,
    pub message: String,
}

impl Diagnostic {
    /// A problem with a whole file or directory (missing, unreadable).
    pub fn file(path: &Path, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            path: path.to_path_buf(),
            location: None,
            key: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(location) = self.location {
            write!(f, ":{location}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The configuration was refused. Every error is listed, not only the
/// first; warnings found on the way are kept so that `check` can show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The diagnostics of one file being read: turns byte spans into locations.
pub(crate) struct FileDiags<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl<'a> FileDiags<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> FileDiags<'a> {
        FileDiags {
            path,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn location(&self, span: &Range<usize>) -> Location {
        Location::of_offset(self.text, span.start)
    }

    fn at(&self, span: &Range<usize>, key: &str, message: String) -> Diagnostic {
        Diagnostic {
            path: self.path.to_path_buf(),
            location: Some(self.location(span)),
            key: (!key.is_empty()).then(|| key.to_string()),
            message,
        }
    }

    pub fn error(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        let d = self.at(span, key, message.into());
        self.errors.push(d);
    }

    /// Sorts the diagnostics of this file by position, so they read top
    /// to bottom whatever order the checks ran in.
    pub fn sort(&mut self) {
        self.errors.sort_by_key(|d| d.location);
        self.warnings.sort_by_key(|d| d.location);
    }

    pub fn warn(&mut self, span: &Range<usize>, key: &str, message: impl Into<String>) {
        let d = self.at(span, key, message.into());
        self.warnings.push(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "a = 1\nvrid = 0\n# é\nb = 2";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        let vrid_value = text.find('0').unwrap();
        assert_eq!(
            Location::of_offset(text, vrid_value),
            Location { line: 2, column: 8 }
        );
        // 'é' is two bytes but one column.
        let b = text.find('b').unwrap();
        assert_eq!(
            Location::of_offset(text, b),
            Location { line: 4, column: 1 }
        );
        let after_e = text.find('é').unwrap() + 'é'.len_utf8();
        assert_eq!(
            Location::of_offset(text, after_e),
            Location { line: 3, column: 4 }
        );
        // Inside a character or past the end: clamped, no panic.
        assert_eq!(
            Location::of_offset(text, after_e - 1),
            Location { line: 3, column: 3 }
        );
        assert_eq!(
            Location::of_offset(text, 10_000),
            Location { line: 4, column: 6 }
        );
    }

    #[test]
    fn display_has_file_line_column_key_message() {
        let d = Diagnostic {
            path: PathBuf::from("routers/vip.toml"),
            location: Some(Location { line: 4, column: 8 }),
            key: Some("vrid".into()),
            message: "must be in 1..=255, got 0".into(),
        };
        assert_eq!(
            d.to_string(),
            "routers/vip.toml:4:8: vrid: must be in 1..=255, got 0"
        );
        let f = Diagnostic::file(Path::new("/nowhere"), "cannot read: gone");
        assert_eq!(f.to_string(), "/nowhere: cannot read: gone");
    }
}
