//! A reader for the part of keepalived's configuration language that
//! `import-keepalived` needs, tolerant of everything else.
//!
//! keepalived's own reader (`lib/parser.c`) works line by line: comments
//! (`#` or `!` outside quotes) are cut, `@ID` conditional lines are kept or
//! dropped against the config-id, `$NAME=VALUE` defines a parameter,
//! `${NAME}` and `$NAME` (followed by whitespace) are replaced, `include`
//! reads other files in place, and what remains is words and braces. The
//! same steps run here, in the same order, and every word keeps the file and
//! line it came from so that the report can point at it.
//!
//! No I/O happens here: `include` goes through a [`Source`], so [`parse`]
//! (no source) can be fuzzed on arbitrary text. Every loop is bounded
//! (nesting, include depth and loops, the bytes and number of files read,
//! substitutions, output size), so no input makes it panic, recurse without
//! end or grow without bound. [`FsSource`] reads regular files only: a FIFO
//! or a device (`include /dev/zero`) is refused before a byte is read, never
//! waited on.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::Note;

/// Blocks nested deeper than this are refused (keepalived's deepest real
/// nesting is 4: `virtual_server { real_server { HTTP_GET { url {`).
const MAX_NESTING: usize = 32;
/// Includes nested deeper than this are refused (a loop is refused as
/// soon as it closes; this bounds the chains that are not loops).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Bytes of one file. keepalived configurations are kilobytes; a file of
/// megabytes is a mistake (a log, an image, `/dev/zero` behind a symlink).
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Bytes of every file read together, the main file included: a file
/// included many times over (`include` in a loop of globs) stops here.
pub const MAX_TOTAL_BYTES: u64 = 16 << 20;
/// Files read, the main file included.
pub const MAX_FILES: usize = 1_000;
/// Substitutions in one line: a parameter that refers to itself would
/// otherwise never finish.
const MAX_SUBSTITUTIONS: usize = 1_000;
/// Bytes of one line after substitution.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Words in the whole configuration, includes and expansions counted.
const MAX_WORDS: usize = 2_000_000;

/// Where a word came from: an index into [`Ast::files`] and a 1-based line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub file: usize,
    pub line: u32,
}

/// One statement: `keyword args...` and, when braces follow, its block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: String,
    pub args: Vec<String>,
    pub block: Option<Vec<Node>>,
    pub pos: Pos,
}

impl Node {
    /// The statements of the block, or none.
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

/// A parsed configuration: the statements of the top level, the files they
/// came from (the first is the main file) and what the reader noticed
/// without refusing (conditional lines skipped, features not supported).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ast {
    pub files: Vec<String>,
    pub nodes: Vec<Node>,
    pub notes: Vec<Note>,
}

impl Ast {
    /// The display name of file `i` (`?` for an index that is not there,
    /// which only a hand-built `Ast` can have).
    pub fn file(&self, i: usize) -> &str {
        self.files.get(i).map_or("?", String::as_str)
    }
}

/// Why the configuration could not be read: `FILE:LINE: MESSAGE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    /// 0 when the problem is the whole file (unreadable).
    pub line: u32,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for ParseError {}

/// Where `include` finds files. The command line uses the file system
/// ([`FsSource`]); tests and the fuzz target use none or a map.
pub trait Source {
    /// The text of `path`; an error when it holds more than `max_bytes`
    /// bytes. Must not block on a FIFO or a device.
    fn read(&mut self, path: &Path, max_bytes: u64) -> Result<String, String>;
    /// What identifies `path` for loop detection (the file system:
    /// its canonical path).
    fn identity(&mut self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
    /// The files matching the glob `pattern` (`*`, `?`, `[...]`), sorted.
    fn glob(&mut self, pattern: &Path) -> Result<Vec<PathBuf>, String>;
}

/// Options of the reader.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// keepalived's config-id (`-i`, default the host name): `@ID` lines
    /// are kept when it matches, `@^ID` lines when it does not. `None`:
    /// every conditional line is skipped with a note.
    pub config_id: Option<String>,
}

/// Parses `text` as a keepalived configuration. `include` lines are not
/// followed (there is no file system here): each is noted.
pub fn parse(text: &str) -> Result<Ast, ParseError> {
    parse_with(
        text,
        "keepalived.conf",
        None,
        &ParseOptions::default(),
        None,
    )
}

/// Parses `text`, the content of the file shown as `name` whose directory
/// is `dir` (where relative includes are resolved), reading includes from
/// `source`.
pub fn parse_with(
    text: &str,
    name: &str,
    dir: Option<&Path>,
    options: &ParseOptions,
    source: Option<&mut dyn Source>,
) -> Result<Ast, ParseError> {
    let mut source = source;
    let main_identity = source.as_deref_mut().map(|s| s.identity(Path::new(name)));
    let mut r = Reader {
        files: vec![name.to_string()],
        dirs: vec![dir.map(Path::to_path_buf)],
        notes: Vec::new(),
        vars: HashMap::new(),
        toks: Vec::new(),
        options,
        source,
        open: main_identity.into_iter().collect(),
        bytes_read: u64::try_from(text.len()).unwrap_or(u64::MAX),
    };
    r.file(0, text, 0)?;
    let toks = std::mem::take(&mut r.toks);
    let mut i = 0;
    let nodes = build(&toks, &mut i, None, 0, &r.files)?;
    Ok(Ast {
        files: r.files,
        nodes,
        notes: r.notes,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Eol,
}

struct Reader<'o, 's> {
    files: Vec<String>,
    dirs: Vec<Option<PathBuf>>,
    notes: Vec<Note>,
    vars: HashMap<String, String>,
    toks: Vec<(Tok, Pos)>,
    options: &'o ParseOptions,
    source: Option<&'s mut dyn Source>,
    /// The files being read, outermost first, by [`Source::identity`]: an
    /// include of one of them is a loop.
    open: Vec<PathBuf>,
    /// Bytes of every file read so far.
    bytes_read: u64,
}

impl Reader<'_, '_> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            message: message.into(),
        }
    }

    fn note(&mut self, pos: Pos, keyword: &str, message: impl Into<String>) {
        let file = self.files.get(pos.file).cloned().unwrap_or_default();
        self.notes.push(Note {
            file,
            line: pos.line,
            keyword: keyword.to_string(),
            message: message.into(),
        });
    }

    /// Reads one file, line by line.
    fn file(&mut self, file: usize, text: &str, depth: usize) -> Result<(), ParseError> {
        let mut lines = text.lines().enumerate();
        while let Some((i, raw)) = lines.next() {
            let pos = Pos {
                file,
                line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            };
            let line = strip_comment(raw);
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if let Some((name, value)) = definition(t) {
                // A value ending in '\' continues on the next lines.
                let mut value = value.to_string();
                while let Some(v) = value.strip_suffix('\\') {
                    value = v.trim_end().to_string();
                    match lines.next() {
                        Some((_, next)) => {
                            let next = strip_comment(next);
                            if !value.is_empty() {
                                value.push('\n');
                            }
                            value.push_str(next.trim());
                        }
                        None => break,
                    }
                }
                self.vars.insert(name.to_string(), value);
                continue;
            }
            self.line(pos, t, depth)?;
        }
        Ok(())
    }

    /// One line without its comment: conditional, substitution, include,
    /// words.
    fn line(&mut self, pos: Pos, text: &str, depth: usize) -> Result<(), ParseError> {
        let text = self.substitute(pos, text).map_err(|m| self.err(pos, m))?;
        if let Some(at) = text.find("${_") {
            let name: String = text
                .get(at..)
                .unwrap_or("")
                .chars()
                .take_while(|&c| c != '}')
                .chain(Some('}'))
                .collect();
            self.note(
                pos,
                &name,
                "this pre-defined parameter of keepalived is not supported: left as it is",
            );
        }
        // A multi-line parameter expands to several lines, all at `pos`.
        for part in text.split('\n') {
            let mut t = part.trim();
            if t.is_empty() {
                continue;
            }
            if t.starts_with('@') {
                match self.conditional(pos, t) {
                    Some(rest) => t = rest,
                    None => continue,
                }
            }
            if t.starts_with("~SEQ") || t.starts_with("~LST") {
                self.note(
                    pos,
                    t.split(['(', ' ']).next().unwrap_or("~SEQ"),
                    "sequence and list blocks are not supported: line skipped",
                );
                continue;
            }
            if let Some((name, value)) = definition(t) {
                self.vars.insert(name.to_string(), value.to_string());
                continue;
            }
            let words = tokenize(t).map_err(|m| self.err(pos, m))?;
            if let Some(Tok::Word(w)) = words.first()
                && matches!(
                    w.as_str(),
                    "include" | "includer" | "includem" | "includew" | "includeb" | "includea"
                )
            {
                let kw = w.clone();
                let arg = match words.get(1) {
                    Some(Tok::Word(a)) => a.clone(),
                    _ => return Err(self.err(pos, format!("{kw}: no file name"))),
                };
                self.include(pos, &kw, &arg, depth)?;
                continue;
            }
            if self.toks.len() + words.len() > MAX_WORDS {
                return Err(self.err(pos, "the configuration is too large to import"));
            }
            self.toks.extend(words.into_iter().map(|w| (w, pos)));
            self.toks.push((Tok::Eol, pos));
        }
        Ok(())
    }

    /// `@ID rest` / `@^ID rest`: the rest when the line applies.
    fn conditional<'t>(&mut self, pos: Pos, t: &'t str) -> Option<&'t str> {
        let body = t.get(1..).unwrap_or("");
        let (negate, body) = match body.strip_prefix('^') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let end = body.find(char::is_whitespace).unwrap_or(body.len());
        let id = body.get(..end).unwrap_or("");
        let rest = body.get(end..).unwrap_or("").trim();
        match &self.options.config_id {
            None => {
                let id = format!("@{}{id}", if negate { "^" } else { "" });
                self.note(
                    pos,
                    &id,
                    "conditional line skipped (give --config-id to select the lines of one host)",
                );
                None
            }
            Some(cid) => ((cid == id) != negate).then_some(rest),
        }
    }

    /// Replaces `${NAME}` and `$NAME` (followed by whitespace or the end)
    /// with defined values, again and again, as keepalived does at the time
    /// of use. Undefined parameters stay as they are.
    fn substitute(&self, pos: Pos, text: &str) -> Result<String, String> {
        if !text.contains('$') {
            return Ok(text.to_string());
        }
        let mut s = text.to_string();
        let mut from = 0;
        let mut count = 0;
        while let Some(off) = s.get(from..).and_then(|r| r.find('$')) {
            let at = from + off;
            let rest = s.get(at + 1..).unwrap_or("");
            let (name, len) = if let Some(braced) = rest.strip_prefix('{') {
                match braced.find('}') {
                    Some(end) => (braced.get(..end).unwrap_or(""), end + 3),
                    None => {
                        from = at + 1;
                        continue;
                    }
                }
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let followed_ok = rest
                    .get(end..)
                    .and_then(|r| r.chars().next())
                    .is_none_or(char::is_whitespace);
                if end == 0 || !followed_ok {
                    from = at + 1;
                    continue;
                }
                (rest.get(..end).unwrap_or(""), end + 1)
            };
            let value = match name {
                "_HASH" => Some("#".to_string()),
                "_BANG" => Some("!".to_string()),
                // The directory of the file being read.
                "_PWD" => self
                    .dirs
                    .get(pos.file)
                    .cloned()
                    .flatten()
                    .map(|d| d.display().to_string()),
                "_INSTANCE" => self.options.config_id.clone(),
                _ => self.vars.get(name).cloned(),
            };
            match value {
                Some(v) => {
                    count += 1;
                    if count > MAX_SUBSTITUTIONS {
                        return Err(
                            "parameter substitution does not end (a parameter that refers to itself?)"
                                .into(),
                        );
                    }
                    if s.len() - len + v.len() > MAX_LINE_BYTES {
                        return Err(format!(
                            "line longer than {MAX_LINE_BYTES} bytes after parameter substitution"
                        ));
                    }
                    s.replace_range(at..at + len, &v);
                    // Scan the replacement again: values may use parameters.
                    from = at;
                }
                None => from = at + 1,
            }
        }
        Ok(s)
    }

    fn include(&mut self, pos: Pos, kw: &str, arg: &str, depth: usize) -> Result<(), ParseError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(self.err(
                pos,
                format!("{kw}: includes nested more than {MAX_INCLUDE_DEPTH} deep (a file that includes itself?)"),
            ));
        }
        let dir = self.dirs.get(pos.file).cloned().flatten();
        if self.source.is_none() {
            self.note(
                pos,
                kw,
                format!("{arg}: not followed (no file system: parsed from text)"),
            );
            return Ok(());
        };
        if arg.contains('{') {
            return Err(self.err(
                pos,
                format!(
                    "{kw} {arg}: brace expansion is not supported; list the files one include each"
                ),
            ));
        }
        let pattern = match &dir {
            Some(d) => d.join(arg),
            None => PathBuf::from(arg),
        };
        let paths = if arg.contains(['*', '?', '[']) {
            let globbed = match self.source.as_deref_mut() {
                Some(source) => source.glob(&pattern),
                None => Ok(Vec::new()),
            };
            let found = globbed.map_err(|e| self.err(pos, format!("{kw} {arg}: {e}")))?;
            if found.is_empty() {
                self.note(pos, kw, format!("{arg}: matches no file"));
            }
            found
        } else {
            vec![pattern]
        };
        for path in paths {
            let Some(source) = self.source.as_deref_mut() else {
                continue;
            };
            let id = source.identity(&path);
            if let Some(first) = self.open.iter().position(|o| *o == id) {
                let chain: Vec<String> = self.open[first..]
                    .iter()
                    .chain(std::iter::once(&id))
                    .map(|p| p.display().to_string())
                    .collect();
                return Err(self.err(
                    pos,
                    format!("{kw} {arg}: include loop: {}", chain.join(" includes ")),
                ));
            }
            if self.files.len() >= MAX_FILES {
                return Err(self.err(
                    pos,
                    format!("{kw} {arg}: more than {MAX_FILES} files read in all (an include in a loop of globs?)"),
                ));
            }
            let left = MAX_TOTAL_BYTES.saturating_sub(self.bytes_read);
            let text = match source.read(&path, MAX_FILE_BYTES.min(left)) {
                Ok(t) => t,
                Err(e) => {
                    let why = if left < MAX_FILE_BYTES {
                        format!(
                            " (all files together may hold {MAX_TOTAL_BYTES} bytes, {left} are left)"
                        )
                    } else {
                        String::new()
                    };
                    return Err(self.err(
                        pos,
                        format!("{kw}: cannot read {}: {e}{why}", path.display()),
                    ));
                }
            };
            self.bytes_read = self
                .bytes_read
                .saturating_add(u64::try_from(text.len()).unwrap_or(u64::MAX));
            let idx = self.files.len();
            self.files.push(path.display().to_string());
            self.dirs.push(path.parent().map(Path::to_path_buf));
            self.open.push(id);
            let read = self.file(idx, &text, depth + 1);
            self.open.pop();
            read?;
        }
        Ok(())
    }
}

/// `$NAME=VALUE` (no space before `=`), as keepalived defines parameters.
fn definition(t: &str) -> Option<(&str, &str)> {
    let body = t.strip_prefix('$')?;
    let eq = body.find('=')?;
    let name = body.get(..eq)?;
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    Some((name, body.get(eq + 1..)?.trim()))
}

/// The line up to its comment: `#` or `!` outside quotes, anywhere.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '#' | '!' => return line.get(..i).unwrap_or(""),
                _ => {}
            },
        }
    }
    line
}

/// Splits a line into words and braces. Quotes group whitespace and are
/// removed (`"a b"c` is the word `a bc`); inside quotes the shell's
/// backslash escapes apply. An unresolved `${NAME}` stays one word.
fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' {
                match chars.next() {
                    Some(e) => escape(e, &mut chars, &mut word),
                    None => word.push('\\'),
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                quote = Some(c);
                in_word = true;
            }
            '$' if chars.peek() == Some(&'{') => {
                // An undefined ${NAME}: keep it whole, braces included.
                in_word = true;
                word.push('$');
                for d in chars.by_ref() {
                    word.push(d);
                    if d == '}' {
                        break;
                    }
                }
            }
            '{' | '}' => {
                if in_word {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                out.push(if c == '{' { Tok::Open } else { Tok::Close });
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated quote: {q} opened but never closed"));
    }
    if in_word {
        out.push(Tok::Word(word));
    }
    Ok(out)
}

/// One backslash escape inside quotes, keepalived's (and the shell's) set:
/// `\a \b \E \f \n \r \t \v \nnn (octal) \xXX`; any other `\C` is `C`.
fn escape(e: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let push_code = |out: &mut String, v: u32| {
        if let Some(c) = char::from_u32(v) {
            out.push(c);
        }
    };
    match e {
        'a' => out.push('\x07'),
        'b' => out.push('\x08'),
        'E' => out.push('\x1b'),
        'f' => out.push('\x0c'),
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        'v' => out.push('\x0b'),
        'x' => {
            let mut v = 0u32;
            let mut n = 0;
            while n < 2 {
                match chars.peek().and_then(|c| c.to_digit(16)) {
                    Some(d) => {
                        v = v * 16 + d;
                        chars.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            if n == 0 {
                out.push('x');
            } else {
                push_code(out, v);
            }
        }
        '0'..='7' => {
            let mut v = e.to_digit(8).unwrap_or(0);
            let mut n = 1;
            while n < 3 {
                match chars.peek().and_then(|c| c.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        chars.next();
                        n += 1;
                    }
                    None => break,
                }
            }
            push_code(out, v);
        }
        other => out.push(other),
    }
}

/// Builds the statements of one level from the token stream. `open` is
/// where the enclosing `{` was (`None` at the top level).
fn build(
    toks: &[(Tok, Pos)],
    i: &mut usize,
    open: Option<Pos>,
    depth: usize,
    files: &[String],
) -> Result<Vec<Node>, ParseError> {
    let err = |pos: Pos, message: String| ParseError {
        file: files.get(pos.file).cloned().unwrap_or_default(),
        line: pos.line,
        message,
    };
    let mut nodes = Vec::new();
    loop {
        let Some((tok, pos)) = toks.get(*i) else {
            return match open {
                Some(at) => Err(err(
                    at,
                    "unbalanced braces: this `{` is never closed".to_string(),
                )),
                None => Ok(nodes),
            };
        };
        let pos = *pos;
        *i += 1;
        match tok {
            Tok::Eol => {}
            Tok::Close => {
                return match open {
                    Some(_) => Ok(nodes),
                    None => Err(err(
                        pos,
                        "unbalanced braces: `}` without a matching `{`".to_string(),
                    )),
                };
            }
            Tok::Open => {
                return Err(err(pos, "`{` without a keyword before it".to_string()));
            }
            Tok::Word(keyword) => {
                let mut args = Vec::new();
                while let Some((Tok::Word(w), _)) = toks.get(*i) {
                    args.push(w.clone());
                    *i += 1;
                }
                // The `{` may end the line or start the next one.
                let mut j = *i;
                while let Some((Tok::Eol, _)) = toks.get(j) {
                    j += 1;
                }
                let block = if let Some((Tok::Open, open_pos)) = toks.get(j) {
                    if depth + 1 > MAX_NESTING {
                        return Err(err(
                            *open_pos,
                            format!("blocks nested more than {MAX_NESTING} deep"),
                        ));
                    }
                    *i = j + 1;
                    Some(build(toks, i, Some(*open_pos), depth + 1, files)?)
                } else {
                    None
                };
                nodes.push(Node {
                    keyword: keyword.clone(),
                    args,
                    block,
                    pos,
                });
            }
        }
    }
}

/// The file system, for the command line.
pub struct FsSource;

impl Source for FsSource {
    /// Regular files only, checked before opening (so a FIFO is never
    /// opened for its writer and a device never touched) and again on the
    /// open file, which is opened non-blocking in case it was swapped for
    /// a FIFO in between; at most `max_bytes` are read.
    fn read(&mut self, path: &Path, max_bytes: u64) -> Result<String, String> {
        use std::io::Read as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        regular(&meta)?;
        if meta.len() > max_bytes {
            return Err(too_large(max_bytes));
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| e.to_string())?;
        regular(&file.metadata().map_err(|e| e.to_string())?)?;
        let mut bytes = Vec::new();
        file.take(max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_bytes {
            return Err(too_large(max_bytes));
        }
        String::from_utf8(bytes).map_err(|_| "not valid UTF-8".to_string())
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }

    fn glob(&mut self, pattern: &Path) -> Result<Vec<PathBuf>, String> {
        let mut found = vec![PathBuf::new()];
        for comp in pattern.components() {
            let part = comp.as_os_str().to_string_lossy().to_string();
            let mut next = Vec::new();
            if part.contains(['*', '?', '[']) {
                for base in &found {
                    let dir = if base.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        base.as_path()
                    };
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        continue;
                    };
                    let mut names: Vec<String> = entries
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| wildcard_match(&part, n))
                        .collect();
                    names.sort();
                    next.extend(names.into_iter().map(|n| base.join(n)));
                }
            } else {
                next = found.iter().map(|b| b.join(&part)).collect();
            }
            found = next;
        }
        // Not only regular files: a FIFO or device that a glob matches is
        // refused by `read` with its name, rather than skipped unseen.
        Ok(found
            .into_iter()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_dir()))
            .collect())
    }
}

/// An error unless `meta` is a regular file, naming what it is instead.
fn regular(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a directory"
    } else {
        "of an unknown type"
    };
    Err(format!(
        "{what}, not a regular file: only regular files are read"
    ))
}

fn too_large(max_bytes: u64) -> String {
    format!("larger than {max_bytes} bytes (the most ha-vip reads of one file is {MAX_FILE_BYTES})")
}

/// glob(3) matching of one path component: `*`, `?`, `[abc]`, `[a-z]`,
/// `[!x]`; a leading `.` is only matched by a literal `.`.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`: linear
    // in practice, never recursive.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let c = n.get(ni).copied().unwrap_or_default();
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => class_match(&p, pi, c),
            Some(&pc) => (pc == c).then_some(pi + 1),
            None => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or(&[]).iter().all(|&c| c == '*')
}

/// `[...]` at `p[at]` against `c`: the index after `]` when it matches.
fn class_match(p: &[char], at: usize, c: char) -> Option<usize> {
    let mut i = at + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let lo = *p.get(i)?;
        if lo == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let hi = *p.get(i + 2)?;
            matched |= lo <= c && c <= hi;
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    (matched != negate).then_some(i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_comments() {
        let ast = parse("a \"b c\"d 'e' # x\n! all\nf g!h\n").unwrap();
        assert_eq!(ast.nodes.len(), 2);
        assert_eq!(ast.nodes[0].args, vec!["b cd", "e"]);
        assert_eq!(ast.nodes[1].args, vec!["g"]);
        assert_eq!(ast.nodes[1].pos.line, 3);
    }

    #[test]
    fn blocks_on_one_line_and_brace_on_next_line() {
        let ast = parse("x {\n a { 1 2 }\n}\ny\n{\n z\n}\n").unwrap();
        assert_eq!(ast.nodes[0].children()[0].children()[0].keyword, "1");
        assert_eq!(ast.nodes[0].children()[0].children()[0].args, vec!["2"]);
        assert_eq!(ast.nodes[1].children()[0].keyword, "z");
    }

    #[test]
    fn unbalanced_braces_name_the_line() {
        let e = parse("a {\n b {\n }\n").unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (1, "keepalived.conf"));
        let e = parse("a\n}\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("keepalived.conf:2: unbalanced"));
    }

    #[test]
    fn parameters_are_replaced_at_use() {
        let ast = parse(
            "$BASE=10.2.${SUB}\n$SUB=0\na ${BASE}.100/32\n$SUB=10\na ${BASE}.100/32 $SUB\nb ${UNDEF} $UNDEF\n",
        )
        .unwrap();
        assert_eq!(ast.nodes[0].args, vec!["10.2.0.100/32"]);
        assert_eq!(ast.nodes[1].args, vec!["10.2.10.100/32", "10"]);
        assert_eq!(ast.nodes[2].args, vec!["${UNDEF}", "$UNDEF"]);
    }

    #[test]
    fn self_reference_is_an_error_not_a_hang() {
        let e = parse("$A=x${A}\nb ${A}\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn multiline_parameter() {
        let ast =
            parse("$I= \\\nvrrp_instance V_${N} { \\\n priority 1 \\\n}\n$N=3\n$I\n").unwrap();
        assert_eq!(ast.nodes[0].keyword, "vrrp_instance");
        assert_eq!(ast.nodes[0].args, vec!["V_3"]);
        assert_eq!(ast.nodes[0].children()[0].args, vec!["1"]);
        assert_eq!(ast.nodes[0].pos.line, 6);
    }

    #[test]
    fn predefined_parameters() {
        let opts = ParseOptions {
            config_id: Some("node1".into()),
        };
        let text = "a ${_PWD}/x ${_INSTANCE} \"${_HASH}${_BANG}\"\nb ${_RANDOM 1 9}\n";
        let ast = parse_with(text, "k", Some(Path::new("/etc/keepalived")), &opts, None).unwrap();
        assert_eq!(ast.nodes[0].args, vec!["/etc/keepalived/x", "node1", "#!"]);
        assert_eq!(ast.nodes[1].args, vec!["${_RANDOM 1 9}"]);
        assert_eq!(ast.notes.len(), 1);
        assert_eq!(
            (ast.notes[0].line, ast.notes[0].keyword.as_str()),
            (2, "${_RANDOM 1 9}")
        );
    }

    #[test]
    fn conditionals() {
        let text = "@main a 1\n@^main a 2\n@backup a 3\n";
        let skipped = parse(text).unwrap();
        assert!(skipped.nodes.is_empty());
        assert_eq!(skipped.notes.len(), 3);
        let opts = ParseOptions {
            config_id: Some("main".into()),
        };
        let ast = parse_with(text, "k", None, &opts, None).unwrap();
        assert_eq!(ast.nodes.len(), 1);
        assert_eq!(ast.nodes[0].args, vec!["1"]);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(!wildcard_match("*.conf", ".a.conf"));
        assert!(wildcard_match("v[0-9]?.c*f", "v1x.conf"));
        assert!(!wildcard_match("v[!0-9]", "v1"));
        assert!(wildcard_match("*a*b", "xxaxxb"));
        assert!(!wildcard_match("[", "["));
    }

    #[test]
    fn escapes_inside_quotes() {
        let ast = parse("a \"x\\ty\\x41\\101\\\"\"\n").unwrap();
        assert_eq!(ast.nodes[0].args, vec!["x\tyAA\""]);
    }
}
