//! `atlasperf sweep SWEEP.toml`: one `atlasperf run` per point (each its own process, so no
//! point's memory or threads leak into the next), resumable, then the scaling report.

use std::path::{Path, PathBuf};

use anyhow::Context;
use atlasperf_reports::render::Formats;
use atlasperf_reports::sweep::{render_sweep, Axis, Point};
use serde_json::{json, Value};

use super::agent::stop_flag;
use super::child::{run_into, Ended, INTERRUPTED};
use crate::cli::SweepArgs;
use crate::error::UsageError;
use crate::sweep::{self, Sweep};

pub(crate) fn run(a: &SweepArgs) -> anyhow::Result<u8> {
    let s = sweep::load(&a.sweep).map_err(|e| UsageError(e.to_string()))?;
    if a.dry_run {
        println!(
            "sweep {}: {} points over {} (base {})",
            s.name,
            s.points.len(),
            s.axes
                .iter()
                .map(|x| format!("{} = [{}]", x.name, x.values.join(", ")))
                .collect::<Vec<_>>()
                .join(" × "),
            s.base.display()
        );
        for p in &s.points {
            println!("  {}: --set {}", p.name, p.overrides.join(" --set "));
        }
        return Ok(0);
    }
    let dir = folder(a.out.as_deref(), &s)?;
    let mut failed = Vec::new();
    if !a.report_only {
        let stop = stop_flag()?;
        let n = s.points.len();
        for (i, p) in s.points.iter().enumerate() {
            let pdir = dir.join(&p.name);
            match run_into(&pdir, &s.base, &p.overrides, &p.name, (i + 1, n), &stop)? {
                Ended::Interrupted => {
                    eprintln!(
                        "sweep interrupted at {}; resume with: atlasperf sweep {} --out {}",
                        p.name,
                        a.sweep.display(),
                        dir.display()
                    );
                    return Ok(INTERRUPTED);
                }
                Ended::Failed => failed.push(p.name.clone()),
                Ended::Kept | Ended::Complete => {}
            }
        }
    }
    let out = dir.join("report");
    let r = render_sweep(
        &s.name,
        &report_axes(&s),
        &report_points(&s, &dir),
        &out,
        Formats::ALL,
    )
    .with_context(|| format!("rendering the sweep report into {}", out.display()))?;
    for f in &r.files {
        println!("{}", f.display());
    }
    eprintln!("sweep report: {}", out.join("sweep.md").display());
    if !failed.is_empty() {
        eprintln!(
            "{} point(s) had failed jobs or runs: {}",
            failed.len(),
            failed.join(", ")
        );
        return Ok(1);
    }
    Ok(0)
}

/// The sweep folder: created with a `sweep.json` describing the points, or — when it exists —
/// checked to hold the same sweep, so resuming never mixes two grids.
fn folder(out: Option<&Path>, s: &Sweep) -> anyhow::Result<PathBuf> {
    let dir = super::out_or_default(out, &s.name);
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let manifest = dir.join("sweep.json");
    let points: Vec<Value> = s
        .points
        .iter()
        .map(|p| json!({"name": p.name, "overrides": p.overrides}))
        .collect();
    if manifest.exists() {
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("reading {}", manifest.display()))?;
        let old: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", manifest.display()))?;
        if old["points"] != Value::Array(points) {
            return Err(UsageError(format!(
                "{} holds a different sweep (its points differ from {}); choose another --out",
                dir.display(),
                s.file.display()
            ))
            .into());
        }
        return Ok(dir);
    }
    if dir.join("run.json").exists() {
        return Err(UsageError(format!("{} holds a run, not a sweep", dir.display())).into());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let body = json!({
        "name": s.name,
        "description": s.description,
        "sweep_file": std::path::absolute(&s.file).unwrap_or_else(|_| s.file.clone()),
        "base": std::path::absolute(&s.base).unwrap_or_else(|_| s.base.clone()),
        "sweep_toml": std::fs::read_to_string(&s.file).unwrap_or_default(),
        "axes": s.axes.iter().map(|a| json!({"name": a.name, "keys": a.keys, "values": a.values})).collect::<Vec<_>>(),
        "points": points,
    });
    std::fs::write(&manifest, serde_json::to_string_pretty(&body)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(dir)
}

fn report_axes(s: &Sweep) -> Vec<Axis> {
    s.axes
        .iter()
        .map(|a| Axis {
            name: a.name.clone(),
            label: a.label.clone(),
            values: a.values.clone(),
            x: a.x.clone(),
        })
        .collect()
}

fn report_points(s: &Sweep, dir: &Path) -> Vec<Point> {
    s.points
        .iter()
        .map(|p| Point {
            name: p.name.clone(),
            coords: p.coords.clone(),
            dir: dir.join(&p.name),
        })
        .collect()
}
