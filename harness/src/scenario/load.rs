//! Reading a scenario file: parse, apply `--set` overrides, validate, and report errors with
//! the file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

use super::location::{self, apply_override, line_col};
use super::{validate, Scenario};

/// A scenario error: the file, where in it (when known), and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// Line and column (1-based) of the offending value.
    pub at: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((l, c)) => write!(f, "{}:{l}:{c}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A scenario loaded from a file, with the folder relative paths resolve against.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated scenario (overrides applied).
    pub scenario: Scenario,
    /// The scenario file.
    pub file: PathBuf,
    /// Its folder.
    pub base: PathBuf,
}

/// Reads, overrides (`key=value`, TOML value syntax, bare words as strings) and validates a
/// scenario file.
///
/// # Errors
/// A [`ScenarioError`] naming the file and, where it helps, line and column.
pub fn load(file: &Path, overrides: &[String]) -> Result<Loaded, ScenarioError> {
    let err = |at: Option<(usize, usize)>, message: String| ScenarioError {
        file: file.to_path_buf(),
        at,
        message,
    };
    // Whether a key path was given (or lies under one given) by a `--set` override.
    let set_here = |key: &str| {
        overrides
            .iter()
            .filter_map(|o| o.split_once('=').map(|(k, _)| k.trim()))
            .any(|k| key.starts_with(k) || k.starts_with(key))
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let scenario = if overrides.is_empty() {
        toml::from_str::<Scenario>(&text).map_err(|e| {
            let at = e.span().map(|s| line_col(&text, s.start));
            err(at, e.message().trim().to_string())
        })?
    } else {
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|s| line_col(&text, s.start));
            err(at, e.message().trim().to_string())
        })?;
        let mut doc = toml::Value::Table(table);
        for o in overrides {
            apply_override(&mut doc, o).map_err(|m| err(None, format!("--set {o}: {m}")))?;
        }
        serde_path_to_error::deserialize::<_, Scenario>(doc).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().trim().to_string();
            if set_here(&key) {
                err(None, format!("{key} (set by --set): {message}"))
            } else {
                err(None, format!("{key} (after --set overrides): {message}"))
            }
        })?
    };
    validate(&scenario).map_err(|(key, message)| {
        if set_here(&key) {
            err(None, format!("{key} (set by --set): {message}"))
        } else {
            err(location::locate(&text, &key), format!("{key}: {message}"))
        }
    })?;
    let base = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Loaded {
        scenario,
        file: file.to_path_buf(),
        base,
    })
}
