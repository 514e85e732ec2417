//! Reading typed values out of toml's spanned parse tree.
//!
//! Why not `#[derive(Deserialize)]`: serde stops at the first error of a
//! file and its errors do not say which key they belong to. Walking the
//! spanned tree (`toml::de::DeTable`) lets us report every problem of a file
//! at once, each with its key, line and column, and refuse unknown keys
//! (the `deny_unknown_fields` rule) with the list of keys that are known.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diag::FileDiags;

pub(crate) type Span = Range<usize>;

/// The outcome of reading one key.
pub(crate) enum Got<T> {
    /// The key is not in the file: the caller applies the default.
    Absent,
    /// The key is there but wrong; the error is already recorded.
    Invalid,
    /// The key is there and well-typed; `Span` is where its value is.
    Set(T, Span),
}

impl<T> Got<T> {
    /// The value, or `default` when absent; `None` when invalid.
    pub fn or(self, default: T) -> Option<T> {
        match self {
            Got::Absent => Some(default),
            Got::Invalid => None,
            Got::Set(v, _) => Some(v),
        }
    }

    pub fn span(&self) -> Option<Span> {
        match self {
            Got::Set(_, span) => Some(span.clone()),
            _ => None,
        }
    }
}

/// The string elements of an array: (index in the array, value, span).
pub(crate) struct StringList {
    pub items: Vec<(usize, String, Span)>,
    /// Length of the array, counting elements that were not strings.
    pub len: usize,
}

/// One TOML table being read. Keys are removed as they are read, so the
/// keys left at `finish` are the unknown ones.
pub(crate) struct Table<'i> {
    /// Dotted path of this table ("" for the document root).
    prefix: String,
    /// Where the table starts: missing required keys are reported here.
    span: Span,
    entries: DeTable<'i>,
    known: Vec<&'static str>,
}

impl<'i> Table<'i> {
    pub fn root(doc: Spanned<DeTable<'i>>) -> Table<'i> {
        let span = doc.span();
        Table {
            prefix: String::new(),
            span: span.start..span.start,
            entries: doc.into_inner(),
            known: Vec::new(),
        }
    }

    /// The full dotted name of `key` in this table.
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn take(&mut self, key: &'static str) -> Option<Spanned<DeValue<'i>>> {
        self.known.push(key);
        self.entries.remove_entry(key).map(|(_, v)| v)
    }

    /// Records that a required key is missing.
    pub fn missing(&self, d: &mut FileDiags<'_>, key: &str) {
        d.error(&self.span, &self.name(key), "required key is missing");
    }

    fn wrong_type(&self, d: &mut FileDiags<'_>, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
        d.error(
            &v.span(),
            &self.name(key),
            format!("expected {want}, got {}", describe(v.get_ref())),
        );
    }

    pub fn string(&mut self, d: &mut FileDiags<'_>, key: &'static str) -> Got<String> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::String(s) => Got::Set(s.to_string(), v.span()),
            _ => {
                self.wrong_type(d, key, &v, "a string");
                Got::Invalid
            }
        }
    }

    pub fn bool(&mut self, d: &mut FileDiags<'_>, key: &'static str) -> Got<bool> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => Got::Set(*b, v.span()),
            _ => {
                self.wrong_type(d, key, &v, "true or false");
                Got::Invalid
            }
        }
    }

    /// An integer within `range` (inclusive).
    pub fn int(
        &mut self,
        d: &mut FileDiags<'_>,
        key: &'static str,
        range: RangeInclusive<i64>,
    ) -> Got<i64> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(d, key, &v, "an integer");
            return Got::Invalid;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if range.contains(&n) => Got::Set(n, v.span()),
            Ok(n) => {
                d.error(
                    &v.span(),
                    &self.name(key),
                    format!("must be in {}..={}, got {n}", range.start(), range.end()),
                );
                Got::Invalid
            }
            Err(_) => {
                d.error(
                    &v.span(),
                    &self.name(key),
                    format!(
                        "must be in {}..={}, got {}",
                        range.start(),
                        range.end(),
                        i.as_str()
                    ),
                );
                Got::Invalid
            }
        }
    }

    /// A duration written as a string: "1s", "10ms", "1.5s", "1s 500ms".
    /// A bare number is refused: its unit would be a guess.
    pub fn duration(&mut self, d: &mut FileDiags<'_>, key: &'static str) -> Got<Duration> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_type(d, key, &v, "a duration string such as \"1s\" or \"10ms\"");
            return Got::Invalid;
        };
        match parse_duration(s) {
            Ok(duration) => Got::Set(duration, v.span()),
            Err(message) => {
                d.error(&v.span(), &self.name(key), message);
                Got::Invalid
            }
        }
    }

    /// An array of strings. Each element keeps its index in the array
    /// (for `key[i]` in messages) and its span; an element that is not a
    /// string is reported and left out, so the others are still checked.
    pub fn strings(&mut self, d: &mut FileDiags<'_>, key: &'static str) -> Got<StringList> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(d, key, &v, "an array of strings");
            return Got::Invalid;
        };
        let mut list = StringList {
            items: Vec::with_capacity(items.len()),
            len: items.len(),
        };
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => list.items.push((i, s.to_string(), item.span())),
                other => d.error(
                    &item.span(),
                    &format!("{}[{i}]", self.name(key)),
                    format!("expected a string, got {}", describe(other)),
                ),
            }
        }
        Got::Set(list, v.span())
    }

    /// A sub-table. Absent: an empty table, so its keys take their
    /// defaults; `Got` tells whether it was written at all.
    pub fn table(&mut self, d: &mut FileDiags<'_>, key: &'static str) -> (Table<'i>, Got<()>) {
        let name = self.name(key);
        let empty = |span: Span| Table {
            prefix: name.clone(),
            span,
            entries: DeTable::new(),
            known: Vec::new(),
        };
        let Some(v) = self.take(key) else {
            return (empty(self.span.clone()), Got::Absent);
        };
        let span = v.span();
        match v.into_inner() {
            DeValue::Table(entries) => (
                Table {
                    prefix: name.clone(),
                    span: span.clone(),
                    entries,
                    known: Vec::new(),
                },
                Got::Set((), span),
            ),
            other => {
                d.error(
                    &span,
                    &name,
                    format!("expected a table, got {}", describe(&other)),
                );
                (empty(span), Got::Invalid)
            }
        }
    }

    /// A string that must be there: a missing one is recorded as such.
    pub fn required_string(
        &mut self,
        d: &mut FileDiags<'_>,
        key: &'static str,
    ) -> Option<(String, Span)> {
        match self.string(d, key) {
            Got::Set(v, span) => Some((v, span)),
            Got::Absent => {
                self.missing(d, key);
                None
            }
            Got::Invalid => None,
        }
    }

    /// Every entry of this table as a sub-table named by its key (for
    /// `[checks.NAME]`). A non-table entry is an error. Consumes the table.
    pub fn sub_tables(self, d: &mut FileDiags<'_>) -> Vec<(String, Span, Table<'i>)> {
        let mut out = Vec::new();
        for (k, v) in self.entries {
            let key = k.get_ref().to_string();
            let name = if self.prefix.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.prefix)
            };
            let span = v.span();
            match v.into_inner() {
                DeValue::Table(entries) => out.push((
                    key,
                    k.span(),
                    Table {
                        prefix: name,
                        span,
                        entries,
                        known: Vec::new(),
                    },
                )),
                other => d.error(
                    &span,
                    &name,
                    format!("expected a table, got {}", describe(&other)),
                ),
            }
        }
        out.sort_by_key(|(_, span, _)| span.start);
        out
    }

    /// An array of tables (`track = [{ check = "x", weight = -10 }]`): each
    /// element as a table named `key[i]`. `None` when the key is absent.
    pub fn table_array(
        &mut self,
        d: &mut FileDiags<'_>,
        key: &'static str,
    ) -> Got<Vec<(usize, Table<'i>)>> {
        let Some(v) = self.take(key) else {
            return Got::Absent;
        };
        let span = v.span();
        let DeValue::Array(items) = v.into_inner() else {
            d.error(&span, &self.name(key), "expected an array of tables");
            return Got::Invalid;
        };
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let item_span = item.span();
            let name = format!("{}[{i}]", self.name(key));
            match item.into_inner() {
                DeValue::Table(entries) => out.push((
                    i,
                    Table {
                        prefix: name,
                        span: item_span,
                        entries,
                        known: Vec::new(),
                    },
                )),
                other => d.error(
                    &item_span,
                    &name,
                    format!("expected a table, got {}", describe(&other)),
                ),
            }
        }
        Got::Set(out, span)
    }

    /// Refuses every key that was not read: unknown keys are errors, so a
    /// typo never silently falls back to a default.
    pub fn finish(self, d: &mut FileDiags<'_>) {
        let mut known = self.known.clone();
        known.sort_unstable();
        known.dedup();
        let mut unknown: Vec<(String, Span)> = self
            .entries
            .iter()
            .map(|(k, _)| (k.get_ref().to_string(), k.span()))
            .collect();
        unknown.sort_by_key(|(_, span)| span.start);
        for (key, span) in unknown {
            let message = match closest(&key, &known) {
                Some(guess) => format!("unknown key (did you mean `{guess}`?)"),
                None => format!("unknown key; known keys here: {}", known.join(", ")),
            };
            d.error(&span, &self.name(&key), message);
        }
    }
}

/// A value as an error message shows it: its type, and the value itself
/// when it is short.
fn describe(v: &DeValue<'_>) -> String {
    match v {
        DeValue::String(s) => format!("string {s:?}"),
        DeValue::Integer(i) => format!("integer {}", i.as_str()),
        DeValue::Float(f) => format!("float {}", f.as_str()),
        DeValue::Boolean(b) => format!("boolean {b}"),
        other => other.type_str().to_string(),
    }
}

/// Parses a duration the way humantime does ("1s", "10ms", "1.5s",
/// "1m 30s"), with an error message that shows the expected form.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| {
        format!("{s:?} is not a duration ({e}); write e.g. \"1s\", \"10ms\", \"1.5s\"")
    })
}

/// A known key one or two edits away from `key`, to suggest for typos.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(dist, _)| *dist <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters; keys are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev
                .get(j)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(usize::from(ca != *cb));
            let delete = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("vrid", "vrid"), 0);
        assert_eq!(edit_distance("vird", "vrid"), 2);
        assert_eq!(edit_distance("priorty", "priority"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("prempt", &["preempt", "priority"]), Some("preempt"));
        assert_eq!(closest("colour", &["vrid", "priority"]), None);
    }

    #[test]
    fn durations_accept_humantime_forms() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1s 500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("10").is_err());
    }
}
