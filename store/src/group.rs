//! A group of repeated runs: `group.json` beside the run stores `r01 … rK` that
//! `atlasperf run --repeat K` wrote (`docs/run-store.md`, "Groups"). Every reader that accepts
//! a run store accepts a group through [`Group::members`]: a plain run store is a group of
//! one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{fsio, StoreError};

/// The file that makes a folder a group.
pub const GROUP_FILE: &str = "group.json";

/// `group.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Always `atlasperf-group`: tells a group from any other JSON file.
    pub kind: String,
    /// Scenario name.
    pub scenario_name: String,
    /// The scenario file, as given.
    pub scenario_file: PathBuf,
    /// `--set` overrides every repetition ran with.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Member folders, relative to the group folder, in the order they ran.
    pub runs: Vec<String>,
    /// When the group was interleaved with another (ABBA): that group's folder, relative to
    /// this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleaved_with: Option<String>,
    /// With `interleaved_with`: the k-th runs of both groups ran at the same time, side by
    /// side (`--side-by-side`), rather than one after the other; `compare` then pairs them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub side_by_side: bool,
}

/// The `kind` of every group file.
pub const GROUP_KIND: &str = "atlasperf-group";

impl Group {
    /// A group of `k` runs named `r01 … rK`.
    pub fn new(scenario_name: &str, scenario_file: &Path, overrides: &[String], k: usize) -> Self {
        Self {
            kind: GROUP_KIND.into(),
            scenario_name: scenario_name.into(),
            scenario_file: scenario_file.to_path_buf(),
            overrides: overrides.to_vec(),
            runs: (1..=k).map(member_name).collect(),
            interleaved_with: None,
            side_by_side: false,
        }
    }

    /// True when `a` and `b` are two groups whose repetitions ran side by side with each
    /// other (`run --side-by-side`): both say so, and each names the other as its partner.
    pub fn ran_side_by_side(a: &Path, b: &Path) -> bool {
        let partner = |from: &Path, to: &Path| -> bool {
            let Ok(g) = Self::read(from) else {
                return false;
            };
            let Some(other) = g.interleaved_with.filter(|_| g.side_by_side) else {
                return false;
            };
            match (from.join(other).canonicalize(), to.canonicalize()) {
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            }
        };
        partner(a, b) && partner(b, a)
    }

    /// True when `dir` holds a group file.
    pub fn is_group(dir: &Path) -> bool {
        dir.join(GROUP_FILE).is_file()
    }

    /// Reads `dir/group.json`.
    ///
    /// # Errors
    /// An unreadable file, or one that is not a group file (named, with the reason).
    pub fn read(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(GROUP_FILE);
        let bytes = fsio::read_regular(&path)?;
        let g: Self = serde_json::from_slice(&bytes).map_err(|e| StoreError::Format {
            path: path.clone(),
            message: format!("not a group file: {e}"),
        })?;
        if g.kind != GROUP_KIND {
            return Err(StoreError::Format {
                path,
                message: format!("kind is {:?}, not {GROUP_KIND:?}", g.kind),
            });
        }
        if let Some(bad) = g.runs.iter().find(|r| !is_member_name(r)) {
            return Err(StoreError::Format {
                path,
                message: format!("member {bad:?} is not a folder name inside the group"),
            });
        }
        Ok(g)
    }

    /// Writes `dir/group.json` atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| StoreError::Format {
            path: dir.join(GROUP_FILE),
            message: e.to_string(),
        })?;
        fsio::write_atomic(&dir.join(GROUP_FILE), text.as_bytes())
    }

    /// The run stores a path names: the members of a group (those that exist), or the path
    /// itself when it is a run store.
    ///
    /// # Errors
    /// An unreadable group file, or a path that is neither a group nor a run store.
    pub fn members(path: &Path) -> Result<Vec<PathBuf>, StoreError> {
        if Self::is_group(path) {
            let g = Self::read(path)?;
            let dirs: Vec<PathBuf> = g
                .runs
                .iter()
                .map(|r| path.join(r))
                .filter(|d| d.join("run.json").is_file())
                .collect();
            if dirs.is_empty() {
                return Err(StoreError::Format {
                    path: path.join(GROUP_FILE),
                    message: "no member of the group has run yet".into(),
                });
            }
            return Ok(dirs);
        }
        if path.join("run.json").is_file() {
            return Ok(vec![path.to_path_buf()]);
        }
        Err(StoreError::NotAStore {
            dir: path.to_path_buf(),
        })
    }
}

/// `r01`, `r02`, … (`r100` past 99).
pub fn member_name(i: usize) -> String {
    format!("r{i:02}")
}

/// A member is one plain folder name: no separators, no `..`.
fn is_member_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_round_trips_and_names_its_members() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let g = Group::new("quick", Path::new("scenarios/quick.toml"), &[], 3);
        assert_eq!(g.runs, ["r01", "r02", "r03"]);
        g.write(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(Group::is_group(dir.path()));
        assert_eq!(Group::read(dir.path()).ok(), Some(g));
        // No member has run: refused with the file named.
        let e = Group::members(dir.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("group.json") && e.contains("no member"), "{e}");
        std::fs::create_dir(dir.path().join("r02")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("r02/run.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
        let m = Group::members(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m, vec![dir.path().join("r02")]);
        assert_eq!(Group::members(&dir.path().join("r02")).ok(), Some(m));
    }

    #[test]
    fn hostile_group_files_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (text, expect) in [
            (
                r#"{"kind":"atlasperf-group","scenario_name":"q","scenario_file":"q.toml","runs":["../etc"]}"#,
                "not a folder name",
            ),
            (
                r#"{"kind":"other","scenario_name":"q","scenario_file":"q.toml","runs":[]}"#,
                "kind",
            ),
            (r#"{"kind":"atlasperf-group""#, "not a group file"),
            (
                r#"{"kind":"atlasperf-group","scenario_name":"q","scenario_file":"q.toml","runs":[],"x":1}"#,
                "unknown field",
            ),
        ] {
            std::fs::write(dir.path().join(GROUP_FILE), text).unwrap_or_else(|e| panic!("{e}"));
            let e = Group::read(dir.path())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains(expect) && e.contains("group.json"),
                "{text}: {e}"
            );
        }
    }
}
