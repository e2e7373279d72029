//! What the parsers share: a source file read whole, errors that name file, line and column,
//! and the value syntaxes (durations, sizes, times, ids).

use std::path::{Path, PathBuf};

use crate::error::UsageError;

/// Largest file read, bytes: accounting of a few million jobs, not an arbitrary file.
const MAX_FILE: u64 = 1 << 30;
/// Largest duration accepted, s (about 30 years).
const MAX_SECONDS: f64 = 1e9;
/// Largest size accepted, bytes (1 PiB).
const MAX_BYTES: f64 = (1u64 << 50) as f64;

/// A value that is not what its field takes: the message, without the place (the parser adds
/// file, line and column).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadValue(pub String);

/// Numbered lines (from 1) of a file.
pub type Lines<'a> = Vec<(usize, &'a str)>;

/// One source file.
pub struct Source {
    /// Its path, as given.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its modification time, Unix seconds (when a format has no absolute times, the file's
    /// last write is the job's end).
    pub mtime_unix: f64,
}

impl Source {
    /// Reads `path` whole.
    ///
    /// # Errors
    /// Unreadable, too large, or not UTF-8.
    pub fn read(path: &Path) -> Result<Self, UsageError> {
        let err = |m: String| UsageError(format!("{}: {m}", path.display()));
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if !meta.is_file() {
            return Err(err("not a regular file".into()));
        }
        if meta.len() > MAX_FILE {
            return Err(err(format!(
                "{} bytes is more than the {} an import reads",
                meta.len(),
                MAX_FILE
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            err(format!("not UTF-8 text (byte {at})"))
        })?;
        let mtime_unix = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(Self {
            path: path.to_path_buf(),
            text,
            mtime_unix,
        })
    }

    /// A source from text already in memory (tests, and generated input).
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>, mtime_unix: f64) -> Self {
        Self {
            path: path.into(),
            text: text.into(),
            mtime_unix,
        }
    }

    /// The first non-empty line and the non-empty lines after it, each with its number from
    /// 1, without a trailing `\r`.
    ///
    /// # Errors
    /// An empty file, saying it should be `expected`.
    pub fn header_and_rows(&self, expected: &str) -> Result<(&str, Lines<'_>), UsageError> {
        let mut lines = self
            .text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
        let Some((_, header)) = lines.next() else {
            return Err(self.at(1, 1, format!("empty file: expected {expected}")));
        };
        Ok((header, lines.collect()))
    }

    /// An error at `line` (from 1) and `col` (from 1) of this file.
    pub fn at(&self, line: usize, col: usize, message: impl std::fmt::Display) -> UsageError {
        UsageError(format!("{}:{line}:{col}: {message}", self.path.display()))
    }

    /// The file's stem (`a/b/sub01.tsv` → `sub01`).
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map_or("job".into(), |s| s.to_string_lossy().into_owned())
    }
}

/// Fields of a delimited line with the column (from 1) each starts at.
pub fn fields(line: &str, sep: char) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut col = 1;
    for f in line.split(sep) {
        out.push((col, f));
        col += f.chars().count() + 1;
    }
    out
}

/// Fields of a whitespace-separated line with their columns.
pub fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, (b, c)) in line.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some((i, b)),
            (true, Some((ci, sb))) => {
                out.push((ci + 1, &line[sb..b]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((ci, sb)) = start {
        out.push((ci + 1, &line[sb..]));
    }
    out
}

/// A finite, non-negative number no larger than `max`.
pub fn number(s: &str, max: f64) -> Result<f64, BadValue> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| BadValue(format!("{s:?} is not a number")))?;
    if !v.is_finite() || v < 0.0 {
        return Err(BadValue(format!(
            "{s:?} is not a finite, non-negative number"
        )));
    }
    if v > max {
        return Err(BadValue(format!("{s:?} is larger than {max:e}")));
    }
    Ok(v)
}

/// Seconds, non-negative and at most about 30 years.
pub fn seconds(s: &str) -> Result<f64, BadValue> {
    number(s, MAX_SECONDS)
}

/// Slurm's durations: `[DD-][HH:]MM:SS[.mmm]`, or `INVALID`/empty for none.
pub fn slurm_duration(s: &str) -> Result<Option<f64>, BadValue> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("invalid") || s.eq_ignore_ascii_case("unknown") {
        return Ok(None);
    }
    let bad = || {
        BadValue(format!(
            "{s:?} is not a Slurm duration ([DD-][HH:]MM:SS[.mmm])"
        ))
    };
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse::<u32>().map_err(|_| bad())?, r),
        None => (0, s),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let last = parts[parts.len() - 1].parse::<f64>().map_err(|_| bad())?;
    let whole = |p: &str| p.parse::<u32>().map_err(|_| bad());
    let (h, m) = match parts.len() {
        3 => (whole(parts[0])?, whole(parts[1])?),
        2 => (0, whole(parts[0])?),
        _ => (0, 0),
    };
    if !last.is_finite()
        || !(0.0..60.0).contains(&last)
        || m >= 60
        || (parts.len() == 3 && h >= 24 && days > 0)
    {
        return Err(bad());
    }
    let v = f64::from(days) * 86400.0 + f64::from(h) * 3600.0 + f64::from(m) * 60.0 + last;
    if v > MAX_SECONDS {
        return Err(BadValue(format!("{s:?} is longer than {MAX_SECONDS:e} s")));
    }
    Ok(Some(v))
}

/// A size with an optional binary suffix (`K`, `M`, `G`, `T`, `P`; Slurm's `--units` and
/// default output), a bare number counting `bare` bytes per unit; empty for none. A trailing
/// `n` or `c` (Slurm's old per-node / per-CPU ReqMem) is dropped.
pub fn size(s: &str, bare: f64) -> Result<Option<u64>, BadValue> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let s = s.strip_suffix(['n', 'c']).unwrap_or(s);
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], Some(c.to_ascii_uppercase())),
        _ => (s, None),
    };
    let per = match unit {
        None => bare,
        Some('K') => 1024.0,
        Some('M') => 1024.0 * 1024.0,
        Some('G') => 1024.0_f64.powi(3),
        Some('T') => 1024.0_f64.powi(4),
        Some('P') => 1024.0_f64.powi(5),
        Some(u) => {
            return Err(BadValue(format!(
                "{s:?}: unknown unit {u:?} (K, M, G, T or P)"
            )))
        }
    };
    let v = number(num, MAX_BYTES).map_err(|e| BadValue(format!("{s:?}: {e}")))? * per;
    if v > MAX_BYTES {
        return Err(BadValue(format!("{s:?} is larger than 1 PiB")));
    }
    Ok(Some(v.round() as u64))
}

/// Slurm's time stamps (`2026-12-03T08:00:00`, read as UTC: sacct prints the cluster's local
/// time, which is UTC on the clusters this is tested on); `Unknown`/`None`/empty for none.
pub fn slurm_time(s: &str) -> Result<Option<f64>, BadValue> {
    let s = s.trim();
    if s.is_empty()
        || ["unknown", "none", "n/a"]
            .iter()
            .any(|n| s.eq_ignore_ascii_case(n))
    {
        return Ok(None);
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| {
            BadValue(format!(
                "{s:?} is not a time stamp (YYYY-MM-DDTHH:MM:SS): {e}"
            ))
        })
        .and_then(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| Some(d.as_secs_f64()))
                .map_err(|_| BadValue(format!("{s:?} is before 1970")))
        })
}

/// A job id made safe as a file name: characters other than ASCII letters, digits, `.`, `_`
/// and `-` become `_`, a leading `.` or `-` too, and it is at most 120 characters.
pub fn sanitize_id(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        out.push_str("job");
    }
    if out.starts_with(['.', '-']) {
        out.replace_range(0..1, "_");
    }
    // The attempt number follows the last `.`: keep dots out of the job id.
    out.replace('.', "_")
}

/// `*` matches any run of characters, everything else itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_durations() {
        assert_eq!(slurm_duration("00:01:02"), Ok(Some(62.0)));
        assert_eq!(slurm_duration("1-02:03:04"), Ok(Some(93784.0)));
        assert_eq!(slurm_duration("03:04.500"), Ok(Some(184.5)));
        assert_eq!(slurm_duration(""), Ok(None));
        assert!(slurm_duration("1:2:3:4").is_err());
        assert!(slurm_duration("00:61:00").is_err());
        assert!(slurm_duration("-5").is_err());
        assert!(slurm_duration("99999999-00:00:00").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(size("1024K", 1.0), Ok(Some(1 << 20)));
        assert_eq!(size("1.5M", 1.0), Ok(Some(3 << 19)));
        assert_eq!(size("4000Mn", 1.0), Ok(Some(4000 << 20)));
        assert_eq!(size("12", 1024.0), Ok(Some(12 * 1024)));
        assert_eq!(size("", 1.0), Ok(None));
        assert!(size("12Q", 1.0).is_err());
        assert!(size("-1K", 1.0).is_err());
        assert!(size("1e300", 1.0).is_err());
        assert!(size("NaN", 1.0).is_err());
    }

    #[test]
    fn ids_are_file_names() {
        assert_eq!(sanitize_id("reg-sub01"), "reg-sub01");
        assert_eq!(sanitize_id("../../etc/passwd"), "______etc_passwd");
        assert_eq!(sanitize_id(""), "job");
        assert_eq!(sanitize_id("a.b c"), "a_b_c");
    }

    #[test]
    fn globs() {
        assert!(glob("reg-*", "reg-sub01-sub02"));
        assert!(glob("*fuse*", "atlasperf-fuse-sub01"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("reg", "reg-1"));
        assert!(glob("*", ""));
    }

    #[test]
    fn fields_know_their_columns() {
        assert_eq!(fields("a|bc|d", '|'), vec![(1, "a"), (3, "bc"), (6, "d")]);
        assert_eq!(words("  1.0   2 "), vec![(3, "1.0"), (9, "2")]);
    }
}
