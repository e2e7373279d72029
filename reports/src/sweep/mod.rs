//! Sweeps: one run per point of a parameter grid, summarised per point (makespan, per-job time,
//! peak memory, I/O, CPU) and fitted against each axis with a line and a power law, with R².
//! The power-law exponent is the paper's claim in one number: ≈ 1 when cost grows linearly
//! with n or m, ≈ −1 when it falls inversely with cores.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::render::{fusion_dice, write, Formats};
use crate::run::RunData;
use crate::table::{bytes, duration, table_one};
use crate::{ReportError, Result};
use atlasperf_store::stats::fit::{exponent_interval, fit_linear, fit_power, Fit};
use atlasperf_store::stats::Bootstrap;

mod plot;
use plot::{draw_axis, SIZE};

/// One axis of the grid.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Short name (file names, CSV columns), e.g. `atlases`.
    pub name: String,
    /// Axis label, e.g. "atlases per target (n)".
    pub label: String,
    /// Every value as written in the sweep file.
    pub values: Vec<String>,
    /// Numeric positions of the values, when they have one (numbers; voxel counts of shapes).
    pub x: Option<Vec<f64>>,
}

/// One point of the grid and the run store holding its result.
#[derive(Debug, Clone)]
pub struct Point {
    /// Point name (its folder), e.g. `p02-atlases=3`.
    pub name: String,
    /// Index into each axis's values.
    pub coords: Vec<usize>,
    /// The run store.
    pub dir: PathBuf,
}

/// What one run measured, for the scaling figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// First start to last end of all attempts, s.
    pub makespan_s: f64,
    /// Mean wall time of a successful registration attempt, s (0 when none).
    pub registration_s: f64,
    /// Mean wall time of a successful fusion attempt, s (0 when none).
    pub fusion_s: f64,
    /// Largest peak Σ RSS of any attempt, bytes.
    pub peak_rss: f64,
    /// Syscall bytes read and written by all attempts.
    pub io_bytes: f64,
    /// Σ CPU of all attempts, hours.
    pub cpu_hours: f64,
    /// Jobs that never succeeded.
    pub failed: usize,
    /// Mean Dice of the fused segmentations, when the run had ground truth.
    pub dice: Option<f64>,
}

/// The quantities fitted and drawn, with how to read each.
const QUANTITIES: [(&str, &str); 5] = [
    ("makespan", "makespan (s)"),
    ("registration job", "mean registration job (s)"),
    ("fusion job", "mean fusion job (s)"),
    ("peak RSS", "largest job peak RSS (MB)"),
    ("I/O", "syscall I/O, read + written (MB)"),
];

impl Metrics {
    /// Summarises a run.
    pub fn of(run: &RunData) -> Self {
        let rows = table_one(run);
        let row = |s: &str| rows.iter().find(|r| r.stage == s);
        let total = row("total");
        let dice = fusion_dice(run);
        Metrics {
            makespan_s: total.map_or(0.0, |r| r.makespan_s),
            registration_s: row("registration").map_or(0.0, |r| r.mean_s),
            fusion_s: row("fusion").map_or(0.0, |r| r.mean_s),
            peak_rss: total.map_or(0.0, |r| r.max_peak),
            io_bytes: total.map_or(0.0, |r| r.rchar + r.wchar),
            cpu_hours: total.map_or(0.0, |r| r.cpu_hours),
            failed: total.map_or(0, |r| r.failed),
            dice: (!dice.is_empty())
                .then(|| dice.iter().map(|d| d.1).sum::<f64>() / dice.len() as f64),
        }
    }

    /// The quantities in [`QUANTITIES`] order, in plot units (s, MB).
    fn quantities(&self) -> [f64; 5] {
        [
            self.makespan_s,
            self.registration_s,
            self.fusion_s,
            self.peak_rss / 1e6,
            self.io_bytes / 1e6,
        ]
    }
}

/// One series of an axis: the points that share every other axis's value.
struct Series {
    /// "slots=2, threads=1", or "" with a single axis.
    others: String,
    /// (x, the five quantities), sorted by x.
    points: Vec<(f64, [f64; 5])>,
}

fn series_of(axes: &[Axis], points: &[(&Point, Metrics)], axis: usize) -> Vec<Series> {
    let Some(xs) = &axes[axis].x else {
        return Vec::new();
    };
    let mut out: Vec<(Vec<usize>, Series)> = Vec::new();
    for (p, m) in points {
        let key: Vec<usize> = p
            .coords
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != axis)
            .map(|(_, c)| *c)
            .collect();
        let i = match out.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let others = p
                    .coords
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != axis)
                    .map(|(i, c)| format!("{}={}", axes[i].name, axes[i].values[*c]))
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push((
                    key,
                    Series {
                        others,
                        points: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        out[i].1.points.push((xs[p.coords[axis]], m.quantities()));
    }
    for (_, s) in &mut out {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out.into_iter().map(|(_, s)| s).collect()
}

/// What a sweep report wrote.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    /// Every file written.
    pub files: Vec<PathBuf>,
    /// The Markdown summary (also `sweep.md`).
    pub summary: String,
}

fn fit_text(f: Option<Fit>) -> String {
    match f {
        Some(Fit::Linear {
            intercept,
            slope,
            r2,
        }) => format!(
            "y = {slope:.4} x {} {:.3}, R² {r2:.3}",
            if intercept < 0.0 { '−' } else { '+' },
            intercept.abs()
        ),
        Some(Fit::Power {
            scale,
            exponent,
            r2,
        }) => format!("y = {scale:.4} x^{exponent:.3}, R² {r2:.3}"),
        None => "–".into(),
    }
}

/// Renders the sweep's table, fits and one scaling figure per numeric axis into `out`.
/// Points whose run store is missing, unreadable or not complete are listed, not measured.
///
/// # Errors
/// An unwritable output folder or a failing drawing backend.
pub fn render_sweep(
    title: &str,
    axes: &[Axis],
    points: &[Point],
    out: &Path,
    formats: Formats,
) -> Result<SweepReport> {
    atlasperf_store::fsio::ensure_dir(out)?;
    let mut measured = Vec::new();
    let mut missing = Vec::new();
    for p in points {
        match RunData::load(&p.dir) {
            Ok(run) => match run.info.status {
                atlasperf_store::RunStatus::Complete => measured.push((p, Metrics::of(&run))),
                other => missing.push(format!(
                    "{}: the run is {}, not complete",
                    p.name,
                    other.as_str()
                )),
            },
            Err(e) => missing.push(format!("{}: {}", p.name, atlasperf_store::describe(&e))),
        }
    }
    let mut files = Vec::new();
    let mut md = format!(
        "## atlasperf sweep: {title}\n\n{} of {} points measured.\n\n",
        measured.len(),
        points.len()
    );
    let mut header: Vec<String> = vec!["point".into()];
    header.extend(axes.iter().map(|a| a.name.clone()));
    header.extend(
        [
            "makespan",
            "registration job",
            "fusion job",
            "peak RSS",
            "I/O",
            "CPU-hours",
            "failed jobs",
            "Dice",
        ]
        .map(String::from),
    );
    let _ = writeln!(
        md,
        "| {} |\n|{}",
        header.join(" | "),
        "---|".repeat(header.len())
    );
    let mut csv = String::from("point");
    for a in axes {
        let _ = write!(csv, ",{}", a.name);
    }
    csv.push_str(",makespan_s,registration_job_s,fusion_job_s,peak_rss_bytes,io_bytes,cpu_hours,failed_jobs,dice\n");
    for (p, m) in &measured {
        let vals: Vec<&str> = axes
            .iter()
            .zip(&p.coords)
            .map(|(a, c)| a.values[*c].as_str())
            .collect();
        let dice = m.dice.map_or("–".to_string(), |d| format!("{d:.4}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.5} | {} | {dice} |",
            p.name,
            vals.join(" | "),
            duration(m.makespan_s),
            duration(m.registration_s),
            duration(m.fusion_s),
            bytes(m.peak_rss),
            bytes(m.io_bytes),
            m.cpu_hours,
            m.failed
        );
        let _ = writeln!(
            csv,
            "{},{},{:.3},{:.3},{:.3},{:.0},{:.0},{:.6},{},{}",
            p.name,
            vals.iter()
                .map(|v| format!("\"{}\"", v.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(","),
            m.makespan_s,
            m.registration_s,
            m.fusion_s,
            m.peak_rss,
            m.io_bytes,
            m.cpu_hours,
            m.failed,
            m.dice.map_or(String::new(), |d| format!("{d:.5}"))
        );
    }
    for m in &missing {
        let _ = writeln!(md, "\nNot measured: {m}");
    }
    for (i, axis) in axes.iter().enumerate() {
        let series = series_of(axes, &measured, i);
        if axis.x.is_none() {
            let _ = writeln!(
                md,
                "\n### Against {}\n\nThe values of `{}` are not numbers; see the table above (no fit).",
                axis.label, axis.name
            );
            continue;
        }
        let _ = writeln!(
            md,
            "\n### Against {}\n\n| quantity | series | points | linear fit | power law |\n|---|---|---|---|---|",
            axis.label
        );
        for (q, (name, _)) in QUANTITIES.iter().enumerate() {
            for s in &series {
                let x: Vec<f64> = s.points.iter().map(|p| p.0).collect();
                let y: Vec<f64> = s.points.iter().map(|p| p.1[q]).collect();
                if y.iter().all(|v| *v == 0.0) {
                    continue;
                }
                let _ = writeln!(
                    md,
                    "| {name} | {} | {} | {} | {} |",
                    if s.others.is_empty() {
                        "all"
                    } else {
                        &s.others
                    },
                    x.len(),
                    fit_text(fit_linear(&x, &y)),
                    fit_text(fit_power(&x, &y))
                        + &exponent_interval(&x, &y, &Bootstrap::default())
                            .map_or(String::new(), |(lo, hi)| format!(
                                "; exponent 95 % CI [{lo:.3}, {hi:.3}]"
                            ))
                );
            }
        }
        if series.iter().any(|s| s.points.len() == 2) {
            md.push_str("\nA fit through two points is exact: its R² is 1 by construction, and only its slope or exponent says something.\n");
        }
        if series.iter().all(|s| s.points.len() < 2) {
            continue;
        }
        let stem = out.join(format!("sweep-{}", axis.name));
        if formats.png {
            let path = stem.with_extension("png");
            crate::figures::register_font();
            draw_axis(
                BitMapBackend::new(&path, SIZE).into_drawing_area(),
                title,
                axis,
                &series,
            )
            .map_err(|e| ReportError::draw(&path, e))?;
            files.push(path);
        }
        if formats.svg {
            let path = stem.with_extension("svg");
            draw_axis(
                SVGBackend::new(&path, SIZE).into_drawing_area(),
                title,
                axis,
                &series,
            )
            .map_err(|e| ReportError::draw(&path, e))?;
            files.push(path);
        }
        if formats.png {
            let _ = writeln!(md, "\n![sweep-{0}.png](sweep-{0}.png)", axis.name);
        }
    }
    if formats.md {
        write(out.join("sweep.md"), &md, &mut files)?;
    }
    if formats.csv {
        write(out.join("sweep.csv"), &csv, &mut files)?;
    }
    Ok(SweepReport { files, summary: md })
}
