//! Key paths (`cluster.nodes[1].memory`): finding where a value sits in the TOML text, and
//! setting one from the command line.

use crate::error::UsageError;
use toml::de::{DeTable, DeValue};

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    (line, col)
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Result<Vec<Segment<'_>>, UsageError> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            if let Ok(i) = name.parse::<usize>() {
                out.push(Segment::Index(i));
            } else {
                out.push(Segment::Key(name));
            }
        }
        while let Some(r) = rest.strip_prefix('[') {
            let close = r
                .find(']')
                .ok_or_else(|| UsageError(format!("unclosed `[` in `{path}`")))?;
            let i = r[..close].parse::<usize>().map_err(|_| {
                UsageError(format!("`{}` is not an index in `{path}`", &r[..close]))
            })?;
            out.push(Segment::Index(i));
            rest = &r[close + 1..];
        }
        if name.is_empty() && out.is_empty() {
            return Err(UsageError(format!("empty key in `{path}`")));
        }
    }
    Ok(out)
}

/// Line and column of the value at `path` in `text` (or of the deepest part of the path that
/// is there, when the value itself was left to its default).
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let doc = DeTable::parse(text).ok()?;
    let segs = segments(path).ok()?;
    let mut found = None;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut array: Option<&[toml::Spanned<DeValue<'_>>]> = None;
    for seg in segs {
        let value = match seg {
            Segment::Key(k) => table?
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k)
                .map(|(_, v)| v),
            Segment::Index(i) => array?.get(i),
        };
        let Some(v) = value else { break };
        found = Some(v.span().start);
        table = None;
        array = None;
        match v.get_ref() {
            DeValue::Table(t) => table = Some(t),
            DeValue::Array(a) => array = Some(&a[..]),
            _ => {}
        }
    }
    found.map(|o| line_col(text, o))
}

/// Applies `key.path=value` to a parsed document. The value is TOML (`4`, `"x"`, `[1, 2]`,
/// `{ a = 1 }`); anything that does not parse as TOML is taken as a string.
///
/// # Errors
/// A malformed assignment, or a path through something that is not a table or array.
pub fn apply_override(doc: &mut toml::Value, assignment: &str) -> Result<(), UsageError> {
    let (path, raw) = assignment
        .split_once('=')
        .ok_or_else(|| UsageError("expected KEY=VALUE".into()))?;
    let (path, raw) = (path.trim(), raw.trim());
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let segs = segments(path)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err(UsageError("empty key".into()));
    };
    let mut cur: &mut toml::Value = doc;
    for seg in parents {
        cur = match (seg, cur) {
            (Segment::Key(k), toml::Value::Table(t)) => t
                .entry((*k).to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new())),
            (Segment::Index(i), toml::Value::Array(a)) => {
                let n = a.len();
                a.get_mut(*i)
                    .ok_or_else(|| UsageError(format!("index {i} is past the end ({n} entries)")))?
            }
            (Segment::Key(k), _) => {
                return Err(UsageError(format!("`{k}`: the parent is not a table")))
            }
            (Segment::Index(i), _) => {
                return Err(UsageError(format!("[{i}]: the parent is not an array")))
            }
        };
    }
    match (last, cur) {
        (Segment::Key(k), toml::Value::Table(t)) => {
            t.insert((*k).to_string(), value);
        }
        (Segment::Index(i), toml::Value::Array(a)) => {
            let n = a.len();
            *a.get_mut(*i)
                .ok_or_else(|| UsageError(format!("index {i} is past the end ({n} entries)")))? =
                value;
        }
        _ => {
            return Err(UsageError(
                "the parent of the last key is not a table or array".into(),
            ))
        }
    }
    Ok(())
}
