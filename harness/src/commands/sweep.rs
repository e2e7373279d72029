//! `atlasperf sweep SWEEP.toml`: one `atlasperf run` per point (each its own process, so no
//! point's memory or threads leak into the next), resumable, then the scaling report.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;

use anyhow::Context;
use atlasperf_reports::render::Formats;
use atlasperf_reports::sweep::{render_sweep, Axis, Point};
use serde_json::{json, Value};

use super::agent::stop_flag;
use crate::cli::{SweepArgs, UsageError};
use crate::sweep::{self, Sweep};

/// Exit code of an interrupted sweep (as a shell reports Ctrl-C).
const INTERRUPTED: u8 = 130;

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
        let exe = std::env::current_exe().context("locating the atlasperf binary")?;
        let n = s.points.len();
        for (i, p) in s.points.iter().enumerate() {
            let pdir = dir.join(&p.name);
            let status = run_status(&pdir);
            let mut cmd = Command::new(&exe);
            match status.as_deref() {
                Some("complete") => {
                    eprintln!("[{}/{n}] {}: complete, kept", i + 1, p.name);
                    continue;
                }
                Some(st) => {
                    eprintln!("[{}/{n}] {}: {st}, resuming", i + 1, p.name);
                    cmd.arg("run").arg("--resume").arg(&pdir);
                }
                None => {
                    eprintln!("[{}/{n}] {}: running", i + 1, p.name);
                    cmd.arg("run").arg(&s.base).arg("--out").arg(&pdir);
                    for o in &p.overrides {
                        cmd.arg("--set").arg(o);
                    }
                }
            }
            let code = cmd
                .stdin(Stdio::null())
                .status()
                .with_context(|| format!("starting {}", exe.display()))?;
            if stop.load(Ordering::SeqCst) || code.code() == Some(i32::from(INTERRUPTED)) {
                eprintln!(
                    "sweep interrupted at {}; resume with: atlasperf sweep {} --out {}",
                    p.name,
                    a.sweep.display(),
                    dir.display()
                );
                return Ok(INTERRUPTED);
            }
            if !code.success() {
                eprintln!(
                    "[{}/{n}] {}: atlasperf run ended with {code}",
                    i + 1,
                    p.name
                );
                failed.push(p.name.clone());
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

/// `run.json`'s status of a point folder, if it has one.
fn run_status(dir: &Path) -> Option<String> {
    let store = crate::store::RunStore::open(dir).ok()?;
    Some(store.read_info().map_or_else(
        |_| "unreadable".to_string(),
        |i| i.status.as_str().to_string(),
    ))
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
