//! The imported jobs written as a run store through the store crate: `run.json` marked as
//! imported, the four tables, flat profiles where the source has no series, and node
//! capacities given or inferred.

use std::path::Path;

use super::{sanitize_id, Job, Parsed, Request};
use crate::error::UsageError;
use crate::store::{
    attempt_id, nodes_of, write_tables, HostFacts, Import, JobRecord, NodeInfo, Notes, RunInfo,
    RunStatus, RunStore, SampleRow, Segment, Totals, SCHEMA_VERSION,
};

/// Sample rows of a flat profile at most, per attempt.
const FLAT_ROWS: usize = 20;

/// Writes the parsed jobs as a complete run store in `out`, which must not exist: the store
/// is written beside it and renamed into place, so a failure leaves nothing half-written.
///
/// # Errors
/// `out` exists, or a file cannot be written.
pub fn write_store(req: &Request, parsed: Parsed, out: &Path) -> crate::Result<RunInfo> {
    if out.exists() {
        return Err(UsageError(format!(
            "{} already exists; choose another --out",
            out.display()
        ))
        .into());
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::store::fsio::ensure_dir(parent)?;
    let name = out
        .file_name()
        .map_or("import".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)
            .map_err(|e| crate::Error::io(format!("removing the leftover {}", tmp.display()), e))?;
    }
    let written = write_into(req, parsed, &tmp, out);
    match written {
        Ok(info) => {
            std::fs::rename(&tmp, out).map_err(|e| {
                crate::Error::io(format!("moving {} to {}", tmp.display(), out.display()), e)
            })?;
            Ok(info)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

fn write_into(req: &Request, parsed: Parsed, dir: &Path, out: &Path) -> crate::Result<RunInfo> {
    let store = RunStore::create(dir)?;
    let Parsed {
        mut jobs,
        columns,
        mut notes,
    } = parsed;
    jobs.sort_by(|a, b| a.start_unix.total_cmp(&b.start_unix).then(a.id.cmp(&b.id)));
    let start_unix = jobs
        .iter()
        .map(|j| j.start_unix)
        .fold(f64::INFINITY, f64::min);
    let end_unix = jobs.iter().map(|j| j.end_unix).fold(start_unix, f64::max);
    let nodes = node_infos(req, &jobs, &mut notes);
    let flat = jobs.iter().any(|j| j.series.is_empty());
    let mut records = Vec::with_capacity(jobs.len());
    let mut rows = Vec::new();
    let longest = jobs
        .iter()
        .map(|j| j.end_unix - j.start_unix)
        .fold(0.0, f64::max);
    // The store's sampling period: the series' own where there is one, else a period that
    // gives the longest flat profile FLAT_ROWS rows.
    let interval_ms = jobs
        .iter()
        .filter_map(|j| median_step(&j.series))
        .next()
        .unwrap_or(longest / FLAT_ROWS as f64);
    let interval_ms = (interval_ms * 1e3).round().max(1.0) as u64;
    for mut j in jobs {
        let stage = j.stage.clone().unwrap_or_else(|| default_stage(&j.name));
        let id = attempt_id(&j.id, j.attempt);
        let wall = (j.end_unix - j.start_unix).max(0.0);
        let series = if j.series.is_empty() {
            flat_series(&j, wall)
        } else {
            std::mem::take(&mut j.series)
        };
        let n = series.len();
        rows.extend(series.into_iter().map(|p| SampleRow {
            attempt_id: id.clone(),
            unix: j.start_unix + p.t,
            ..p
        }));
        fill_rates(&mut rows, n);
        records.push(JobRecord {
            attempt_id: id,
            job_id: j.id.clone(),
            stage,
            target: String::new(),
            atlas: None,
            node: j.node.clone(),
            attempt: j.attempt,
            mem_request: j.mem_request,
            voxels: req.voxels,
            threads: j.threads,
            status: j.status,
            start_s: j.start_unix - start_unix,
            end_s: j.end_unix - start_unix,
            totals: Totals {
                exit_code: j.exit_code,
                signal: j.signal,
                start_unix: j.start_unix,
                end_unix: j.end_unix,
                wall_s: wall,
                cpu_user_s: j.cpu_user_s,
                cpu_sys_s: j.cpu_sys_s,
                peak_rss: j.peak_rss,
                max_rss_largest_process: j.peak_rss,
                rchar: j.rchar,
                wchar: j.wchar,
                read_bytes: j.read_bytes,
                write_bytes: j.write_bytes,
                samples: n as u64,
                ..Totals::default()
            },
            executor_job_id: j.executor_job_id.clone(),
            accounting: None,
        });
    }
    let mut columns = columns;
    if req.voxels.is_none() {
        columns.insert(
            "voxels".into(),
            "missing: give --voxels for `simulate --profiles` to scale these jobs".into(),
        );
    }
    if flat {
        columns.insert(
            "series".into(),
            "missing: the source has totals only; each job's samples are a flat profile (CPU at its mean rate, memory at its peak from start to end)".into(),
        );
    }
    let failed = records.iter().filter(|r| !r.totals.succeeded()).count();
    let info = RunInfo {
        schema_version: SCHEMA_VERSION,
        id: crate::runner::folder_name(out),
        scenario_name: format!("import-{}", req.format.as_str()),
        scenario: serde_json::json!({}),
        git_commit: None,
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: Default::default(),
        host: HostFacts {
            hostname: "imported".into(),
            cpus: nodes.iter().map(|n| n.cores).sum(),
            memory_bytes: nodes.iter().map(|n| n.memory).sum(),
            ..HostFacts::default()
        },
        start_unix,
        end_unix: Some(end_unix),
        status: RunStatus::Complete,
        interval_ms,
        nodes,
        notes: Notes {
            executor: Some(format!("imported ({})", req.format.as_str())),
            failure: (failed > 0).then(|| {
                format!(
                    "{failed} of {} imported attempts did not succeed",
                    records.len()
                )
            }),
            import: Some(Import {
                format: req.format.as_str().into(),
                sources: req.files.clone(),
                columns,
                notes,
            }),
            ..Notes::default()
        },
        segments: vec![Segment {
            start_unix,
            end_unix: Some(end_unix),
            offset_s: 0.0,
        }],
        conditions: None,
    };
    store.write_info(&info)?;
    let node_rows = nodes_of(&info, &records, &rows);
    write_tables(dir, &info, &records, &rows, &node_rows, &[])?;
    Ok(info)
}

/// The stage of a job no `--stage` pattern matched: atlasperf's own job names
/// (`atlasperf-reg-…`, `reg-…`, `fuse-…`) map to its stages, anything else is its own stage.
fn default_stage(name: &str) -> String {
    let bare = name.strip_prefix("atlasperf-").unwrap_or(name);
    let bare = bare
        .split_once('-')
        .filter(|(p, _)| p.starts_with("rep") && p[3..].chars().all(|c| c.is_ascii_digit()))
        .map_or(bare, |(_, rest)| rest);
    if bare.starts_with("reg-") {
        "registration".into()
    } else if bare.starts_with("fuse-") {
        "fusion".into()
    } else {
        sanitize_id(name)
    }
}

/// Median spacing of a series' points, s.
fn median_step(series: &[SampleRow]) -> Option<f64> {
    let mut d: Vec<f64> = series.windows(2).map(|w| w[1].t - w[0].t).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    Some(d[d.len() / 2]).filter(|s| *s > 0.0)
}

/// A flat profile: CPU at the job's mean rate and memory at its peak from start to end, I/O
/// growing evenly.
fn flat_series(j: &Job, wall: f64) -> Vec<SampleRow> {
    let n = FLAT_ROWS.min(((wall / 0.1).ceil() as usize).max(1));
    (0..=n)
        .map(|k| {
            let f = k as f64 / n as f64;
            let part = |v: u64| (v as f64 * f) as u64;
            SampleRow {
                t: wall * f,
                cpu_s: (j.cpu_user_s + j.cpu_sys_s) * f,
                rss: j.peak_rss,
                rchar: part(j.rchar),
                wchar: part(j.wchar),
                read_bytes: part(j.read_bytes),
                write_bytes: part(j.write_bytes),
                threads: j.threads as u64,
                processes: 1,
                ..SampleRow::default()
            }
        })
        .collect()
}

/// The CPU % of each of the last `n` rows, from their cumulative CPU.
fn fill_rates(rows: &mut [SampleRow], n: usize) {
    let start = rows.len() - n;
    for k in start + 1..rows.len() {
        let dt = rows[k].t - rows[k - 1].t;
        if dt > 0.0 {
            rows[k].cpu_core_pct = 100.0 * (rows[k].cpu_s - rows[k - 1].cpu_s).max(0.0) / dt;
        }
    }
}

/// The nodes, with the capacities given or inferred: cores as the most CPUs its jobs held at
/// once, memory as the most they requested (or, without requests, used) at once.
fn node_infos(req: &Request, jobs: &[Job], notes: &mut Vec<String>) -> Vec<NodeInfo> {
    let mut names: Vec<&str> = jobs.iter().map(|j| j.node.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut inferred = false;
    let infos = names
        .into_iter()
        .map(|name| {
            let on: Vec<&Job> = jobs.iter().filter(|j| j.node == name).collect();
            let most = |v: &dyn Fn(&Job) -> f64| -> f64 {
                on.iter()
                    .map(|a| {
                        on.iter()
                            .filter(|b| b.start_unix <= a.start_unix && a.start_unix < b.end_unix)
                            .map(|b| v(b))
                            .sum::<f64>()
                    })
                    .fold(0.0, f64::max)
            };
            let slots = most(&|_| 1.0).max(1.0) as usize;
            let cores = req.node_cores.unwrap_or_else(|| {
                inferred = true;
                most(&|j| j.threads as f64).max(1.0) as usize
            });
            let memory = req.node_memory.unwrap_or_else(|| {
                inferred = true;
                most(&|j| j.mem_request.unwrap_or(j.peak_rss) as f64).max(1.0) as u64
            });
            NodeInfo {
                name: name.to_string(),
                cores,
                memory,
                slots,
                pinned_cpus: None,
            }
        })
        .collect();
    if inferred {
        notes.push("node capacities inferred from the jobs (the most CPUs they held at once; the most memory they requested, or used, at once); give --node-cores and --node-memory for the real ones".into());
    }
    infos
}
