//! Sweep files (`scenarios/sweep-*.toml`): a base scenario, overrides applied to every point,
//! and axes whose Cartesian product gives the points. Each point is the base scenario with
//! `--set` overrides, so everything `atlasperf run --set` accepts can be swept.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::scenario::{self, line_col, ScenarioError};

/// A sweep file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: String,
    #[serde(default)]
    description: String,
    /// The base scenario, relative to the sweep file.
    base: PathBuf,
    /// `key=value` overrides applied to every point before the axes.
    #[serde(default)]
    set: Vec<String>,
    /// Runs per point (a point's repeats are separate runs).
    #[serde(default = "one")]
    repeats: usize,
    axes: Vec<AxisSpec>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisSpec {
    /// The scenario key this axis sets, e.g. `workload.atlases`.
    #[serde(default)]
    key: Option<String>,
    /// Several keys set to the same value, e.g. every node's slots.
    #[serde(default)]
    keys: Vec<String>,
    /// Short name (default: the key's last segment).
    #[serde(default)]
    name: Option<String>,
    /// Axis label in figures.
    #[serde(default)]
    label: Option<String>,
    values: Vec<toml::Value>,
}

/// One axis, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Short name.
    pub name: String,
    /// Label.
    pub label: String,
    /// Keys set.
    pub keys: Vec<String>,
    /// Values, in TOML syntax.
    pub values: Vec<String>,
    /// Numeric positions (numbers, or the product of a numeric array such as a shape).
    pub x: Option<Vec<f64>>,
}

/// One point: a run of the base scenario with overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Folder name inside the sweep folder, e.g. `p02-atlases=3`.
    pub name: String,
    /// Index into each axis's values.
    pub coords: Vec<usize>,
    /// Every `--set` override of the point (fixed ones first).
    pub overrides: Vec<String>,
}

/// A validated sweep.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The sweep file.
    pub file: PathBuf,
    /// The base scenario file.
    pub base: PathBuf,
    /// Axes.
    pub axes: Vec<Axis>,
    /// Points (axes' Cartesian product, last axis fastest; repeats innermost).
    pub points: Vec<Point>,
}

/// Folder-name-safe text for a value: `[40, 48, 40]` → `40x48x40`.
fn slug(v: &toml::Value) -> String {
    let raw = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(a) => a.iter().map(slug).collect::<Vec<_>>().join("x"),
        other => other.to_string(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == 'x' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn numeric(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        toml::Value::Array(a) if !a.is_empty() => {
            a.iter().map(numeric).try_fold(1.0, |p, x| x.map(|x| p * x))
        }
        _ => None,
    }
}

/// Reads and validates a sweep file, and loads the base scenario once per point so every
/// point is known to be valid before anything runs.
///
/// # Errors
/// A [`ScenarioError`] naming the sweep file (line and column when the TOML is malformed), or
/// the point whose overrides make the base scenario invalid.
pub fn load(file: &Path) -> Result<Sweep, ScenarioError> {
    let err = |at: Option<(usize, usize)>, message: String| ScenarioError {
        file: file.to_path_buf(),
        at,
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let f: SweepFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| line_col(&text, s.start));
        err(at, e.message().trim().to_string())
    })?;
    if f.axes.is_empty() {
        return Err(err(None, "axes: give at least one [[axes]] table".into()));
    }
    if f.repeats == 0 {
        return Err(err(None, "repeats: must be at least 1".into()));
    }
    let mut axes = Vec::new();
    for (i, a) in f.axes.iter().enumerate() {
        let keys: Vec<String> = a
            .key
            .iter()
            .cloned()
            .chain(a.keys.iter().cloned())
            .collect();
        if keys.is_empty() {
            return Err(err(None, format!("axes[{i}]: give `key` or `keys`")));
        }
        if a.values.is_empty() {
            return Err(err(
                None,
                format!("axes[{i}] ({}): `values` is empty", keys[0]),
            ));
        }
        let name = a.name.clone().unwrap_or_else(|| {
            keys[0]
                .rsplit('.')
                .next()
                .unwrap_or(&keys[0])
                .replace(['[', ']'], "")
        });
        if axes.iter().any(|x: &Axis| x.name == name) {
            return Err(err(
                None,
                format!("axes[{i}]: a second axis named `{name}`; give it a `name`"),
            ));
        }
        let x: Option<Vec<f64>> = a.values.iter().map(numeric).collect();
        axes.push(Axis {
            label: a.label.clone().unwrap_or_else(|| keys.join(", ")),
            name,
            keys,
            values: a.values.iter().map(ToString::to_string).collect(),
            x,
        });
    }
    let base = file.parent().unwrap_or(Path::new(".")).join(&f.base);
    let total: usize = axes.iter().map(|a| a.values.len()).product::<usize>() * f.repeats;
    let width = total.to_string().len().max(2);
    let mut points = Vec::with_capacity(total);
    let mut coords = vec![0usize; axes.len()];
    'grid: loop {
        for r in 0..f.repeats {
            let mut overrides = f.set.clone();
            let mut parts = Vec::new();
            for (a, (axis, c)) in axes.iter().zip(&coords).enumerate() {
                for k in &axis.keys {
                    overrides.push(format!("{k}={}", axis.values[*c]));
                }
                parts.push(format!("{}={}", axis.name, slug(&f.axes[a].values[*c])));
            }
            let mut name = format!("p{:0width$}-{}", points.len() + 1, parts.join("-"));
            if f.repeats > 1 {
                name.push_str(&format!("-r{}", r + 1));
            }
            scenario::load(&base, &overrides)
                .map_err(|e| err(None, format!("point {name} (base {}): {e}", base.display())))?;
            points.push(Point {
                name,
                coords: coords.clone(),
                overrides,
            });
        }
        // Next coordinate, last axis fastest.
        for i in (0..axes.len()).rev() {
            coords[i] += 1;
            if coords[i] < axes[i].values.len() {
                continue 'grid;
            }
            coords[i] = 0;
        }
        break;
    }
    Ok(Sweep {
        name: f.name,
        description: f.description,
        file: file.to_path_buf(),
        base,
        axes,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped quick scenario, found at run time: a test binary may be reused from
    /// another checkout sharing the target directory, with that checkout's path compiled in.
    fn quick_toml() -> PathBuf {
        Path::new(
            &std::env::var_os("CARGO_MANIFEST_DIR")
                .expect("cargo sets CARGO_MANIFEST_DIR when it runs tests"),
        )
        .join("../scenarios/quick.toml")
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    #[test]
    fn grid_points_and_overrides() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = quick_toml();
        let f = write(
            dir.path(),
            "s.toml",
            &format!(
                "name = \"t\"\nbase = {:?}\nset = [\"workload.targets=1\"]\n\
                 [[axes]]\nkey = \"workload.atlases\"\nvalues = [2, 3]\n\
                 [[axes]]\nkeys = [\"cluster.nodes[0].slots\", \"cluster.nodes[1].slots\"]\nname = \"slots\"\nvalues = [1, 2]\n\
                 [[axes]]\nkey = \"dataset.phantom.shape\"\nvalues = [[24, 28, 24]]\n",
                repo.display().to_string()
            ),
        );
        let s = load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.points.len(), 4);
        assert_eq!(s.points[1].name, "p02-atlases=2-slots=2-shape=24x28x24");
        assert_eq!(
            s.points[1].overrides,
            vec![
                "workload.targets=1",
                "workload.atlases=2",
                "cluster.nodes[0].slots=2",
                "cluster.nodes[1].slots=2",
                "dataset.phantom.shape=[24, 28, 24]",
            ]
        );
        assert_eq!(s.axes[2].x, Some(vec![24.0 * 28.0 * 24.0]));
        assert_eq!(s.axes[0].label, "workload.atlases");
    }

    #[test]
    fn bad_sweeps_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let repo = quick_toml();
        let base = format!("{:?}", repo.display().to_string());
        for (text, want) in [
            ("name = \"t\"\nbase = \"q.toml\"\naxes = 3\n".to_string(), "s.toml:3:8"),
            (format!("name = \"t\"\nbase = {base}\naxes = []\n"), "at least one"),
            (
                format!("name = \"t\"\nbase = {base}\n[[axes]]\nkey = \"workload.atlases\"\nvalues = [0]\n"),
                "point p01-atlases=0",
            ),
            (
                format!("name = \"t\"\nbase = {base}\n[[axes]]\nvalues = [1]\n"),
                "give `key` or `keys`",
            ),
        ] {
            let f = write(dir.path(), "s.toml", &text);
            let e = load(&f).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains(want) && e.contains("s.toml"), "{e}");
        }
    }
}
