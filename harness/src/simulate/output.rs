//! A simulated run as a run store in the measured runs' schema: `run.json` (marked simulated,
//! with the profiles, models and Monte Carlo bands) and the four tables, written by the
//! store's own writers, so `report` and `compare` read it as any run.

use std::path::Path;

use super::engine::Point;
use super::Sample;
use crate::store::{
    nodes_of, write_tables, AttemptStatus, HostFacts, JobRecord, NodeInfo, Notes, RunInfo,
    RunStatus, RunStore, SampleRow, Segment, Simulation, SCHEMA_VERSION,
};

/// Sample rows per attempt at most; the series' period grows for long runs to keep to it.
const ROWS_PER_ATTEMPT: f64 = 200.0;

/// What `run.json` says besides the sample.
pub struct Header<'a> {
    /// Scenario name.
    pub name: &'a str,
    /// The resolved scenario, as JSON.
    pub scenario: serde_json::Value,
    /// The nodes.
    pub nodes: Vec<NodeInfo>,
    /// Sampling period of the profiles, ms (the simulated series use it, or a longer one).
    pub interval_ms: u64,
    /// How it was simulated.
    pub simulation: Simulation,
}

/// Writes `sample` (recorded) as a complete run store in `dir`.
///
/// # Errors
/// A folder that already holds a run, or a file that cannot be written.
pub fn write_store(dir: &Path, h: Header<'_>, sample: &Sample) -> crate::Result<RunInfo> {
    if dir.join("run.json").exists() {
        return Err(crate::error::UsageError(format!(
            "{} already holds a run; choose another --out",
            dir.display()
        ))
        .into());
    }
    let store = RunStore::create(dir)?;
    let start_unix = crate::sampler::unix_now();
    let longest = sample
        .records
        .iter()
        .map(|r| r.end_s - r.start_s)
        .fold(0.0, f64::max);
    let interval_ms = h
        .interval_ms
        .max((longest / ROWS_PER_ATTEMPT * 1e3).ceil() as u64)
        .max(1);
    let ok = sample.ok_jobs;
    let jobs_planned = sample
        .records
        .iter()
        .map(|r| r.job_id.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();
    let (status, failure) = if ok == jobs_planned {
        (RunStatus::Complete, None)
    } else {
        (
            RunStatus::Failed,
            Some(format!(
                "{} of {jobs_planned} jobs did not succeed in the simulation (killed beyond their retries, or fitting on no node); see jobs.csv",
                jobs_planned - ok
            )),
        )
    };
    let info = RunInfo {
        schema_version: SCHEMA_VERSION,
        id: crate::runner::folder_name(dir),
        scenario_name: h.name.to_string(),
        scenario: h.scenario,
        git_commit: crate::runner::git_commit(),
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: Default::default(),
        host: HostFacts {
            hostname: "simulated".into(),
            ..HostFacts::default()
        },
        start_unix,
        end_unix: Some(start_unix + sample.makespan_s),
        status,
        interval_ms,
        nodes: h.nodes,
        notes: Notes {
            executor: Some("simulated".into()),
            failure,
            simulation: Some(h.simulation),
            ..Notes::default()
        },
        segments: vec![Segment {
            start_unix,
            end_unix: Some(start_unix + sample.makespan_s),
            offset_s: 0.0,
        }],
        conditions: None,
    };
    let jobs: Vec<JobRecord> = sample
        .records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.totals.start_unix = start_unix + r.start_s;
            r.totals.end_unix = start_unix + r.end_s;
            r
        })
        .collect();
    let step = interval_ms as f64 / 1e3;
    let mut rows = Vec::new();
    for (id, series) in &sample.series {
        if let Some(r) = jobs.iter().find(|r| &r.attempt_id == id) {
            rows.extend(rows_of(r, series, step));
        }
    }
    store.write_info(&info)?;
    let nodes = nodes_of(&info, &jobs, &rows);
    write_tables(dir, &info, &jobs, &rows, &nodes, &[])?;
    Ok(info)
}

/// The sample rows of one attempt every `step` s from its start, from its replayed series.
fn rows_of(r: &JobRecord, series: &[Point], step: f64) -> Vec<SampleRow> {
    let wall = (r.end_s - r.start_s).max(0.0);
    if r.status == AttemptStatus::Skipped || series.is_empty() {
        return Vec::new();
    }
    let t = &r.totals;
    let io = [t.rchar, t.wchar, t.read_bytes, t.write_bytes];
    let mut out = Vec::new();
    // Half-way between the node series' grid points on the run clock, so every grid step
    // sees exactly one new sample (times on the grid itself alias with rounding).
    let first = ((r.start_s / step - 0.5).ceil() + 0.5) * step - r.start_s;
    let mut times = vec![0.0];
    times.extend(
        (0..)
            .map(|k| first + k as f64 * step)
            .take_while(|t| *t < wall)
            .filter(|t| *t > 0.0),
    );
    times.push(wall);
    let mut at = 0usize;
    let mut hwm = 0;
    for tk in times {
        while at + 1 < series.len() && series[at + 1].t <= tk {
            at += 1;
        }
        let p = series[at];
        let frac = if wall > 0.0 { tk / wall } else { 1.0 };
        hwm = hwm.max(p.rss);
        let part = |v: u64| (v as f64 * frac) as u64;
        out.push(SampleRow {
            attempt_id: r.attempt_id.clone(),
            t: tk,
            unix: t.start_unix + tk,
            cpu_core_pct: p.cores * 100.0,
            cpu_s: p.cpu_s + p.cores * (tk - p.t),
            rss: p.rss,
            rss_anon: p.rss,
            hwm_sum: hwm,
            rchar: part(io[0]),
            wchar: part(io[1]),
            read_bytes: part(io[2]),
            write_bytes: part(io[3]),
            threads: r.threads as u64,
            processes: 1,
            late_ms: 0.0,
        });
    }
    out
}
