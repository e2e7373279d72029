//! Compaction: journal and per-attempt sample CSVs → Parquet + CSV tables (polars).
//!
//! The node series of emulated nodes are derived here: on a grid of the sampling period, each
//! node's value is the sum over its running attempts of their latest sample (cumulative I/O
//! counters of finished attempts carry their final totals forward, so node counters never
//! drop); rates are differences of the summed counters over the grid step.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::{io_err, JobRecord, RunStore, StoreError};

/// What compaction wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactSummary {
    /// Rows of `jobs` (attempts).
    pub jobs: usize,
    /// Rows of `samples`.
    pub samples: usize,
    /// Rows of `nodes`.
    pub node_rows: usize,
    /// Rows of `machine`.
    pub machine_rows: usize,
}

/// One parsed sample row.
#[derive(Debug, Clone)]
struct Row {
    job: String,
    t: f64,
    unix: f64,
    cpu_pct: f64,
    cpu_s: f64,
    ints: [u64; 9], // rss rss_anon hwm_sum rchar wchar read_bytes write_bytes threads processes
    late_ms: f64,
}

const RSS: usize = 0;
const RSS_ANON: usize = 1;
const IO0: usize = 3; // rchar, wchar, read_bytes, write_bytes at 3..7

/// Writes `jobs`, `samples`, `nodes` and `machine` as Parquet and CSV from what is on disk.
///
/// # Errors
/// When a file cannot be read or a table cannot be written.
pub fn compact(store: &RunStore) -> Result<CompactSummary, StoreError> {
    let info = store.read_info()?;
    let jobs = store.read_jobs()?;
    let rows = read_samples(store)?;
    let mut jobs_df = jobs_frame(&jobs).map_err(table_err(store.dir(), "jobs"))?;
    write_table(store.dir(), "jobs", &mut jobs_df)?;
    let mut samples_df = samples_frame(&rows).map_err(table_err(store.dir(), "samples"))?;
    write_table(store.dir(), "samples", &mut samples_df)?;
    let cores: BTreeMap<String, f64> = info
        .nodes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| {
            Some((
                n.get("name")?.as_str()?.to_string(),
                n.get("cores")?.as_f64()?,
            ))
        })
        .collect();
    let mut nodes_df = nodes_frame(&jobs, &rows, &cores, info.start_unix, info.interval_ms)
        .map_err(table_err(store.dir(), "nodes"))?;
    let node_rows = nodes_df.height();
    write_table(store.dir(), "nodes", &mut nodes_df)?;
    let mut machine_df = machine_frame(&store.machine_csv(), info.start_unix)
        .map_err(table_err(store.dir(), "machine"))?;
    let machine_rows = machine_df.height();
    write_table(store.dir(), "machine", &mut machine_df)?;
    Ok(CompactSummary {
        jobs: jobs.len(),
        samples: rows.len(),
        node_rows,
        machine_rows,
    })
}

fn table_err<'a>(dir: &'a Path, name: &'a str) -> impl FnOnce(PolarsError) -> StoreError + 'a {
    move |source| StoreError::Table {
        path: dir.join(format!("{name}.parquet")),
        source,
    }
}

fn write_table(dir: &Path, name: &str, df: &mut DataFrame) -> Result<(), StoreError> {
    let parquet = dir.join(format!("{name}.parquet"));
    let tmp = dir.join(format!("{name}.parquet-tmp"));
    let f = File::create(&tmp).map_err(io_err(&tmp))?;
    ParquetWriter::new(f)
        .finish(df)
        .map_err(|source| StoreError::Table {
            path: parquet.clone(),
            source,
        })?;
    std::fs::rename(&tmp, &parquet).map_err(io_err(&parquet))?;
    let csv = dir.join(format!("{name}.csv"));
    let tmp = dir.join(format!("{name}.csv-tmp"));
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    CsvWriter::new(&mut f)
        .include_header(true)
        .finish(df)
        .map_err(|source| StoreError::Table {
            path: csv.clone(),
            source,
        })?;
    std::fs::rename(&tmp, &csv).map_err(io_err(&csv))
}

fn read_samples(store: &RunStore) -> Result<Vec<Row>, StoreError> {
    let dir = store.dir().join("samples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map_err(io_err(&dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "csv") && !p.to_string_lossy().ends_with(".node.csv")
        })
        .collect();
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let text = std::fs::read(&path).map_err(io_err(&path))?;
        for line in text.split(|b| *b == b'\n').skip(1) {
            // A torn last line (agent killed mid-write) has too few fields: skipped.
            if let Some(r) = parse_row(line) {
                rows.push(r);
            }
        }
    }
    Ok(rows)
}

fn parse_row(line: &[u8]) -> Option<Row> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b',').collect();
    if fields.len() != 15 {
        return None;
    }
    let f = |i: usize| -> Option<f64> { std::str::from_utf8(fields[i]).ok()?.parse().ok() };
    let u = |i: usize| -> Option<u64> { std::str::from_utf8(fields[i]).ok()?.parse().ok() };
    let mut ints = [0u64; 9];
    for (k, slot) in ints.iter_mut().enumerate() {
        *slot = u(5 + k)?;
    }
    Some(Row {
        job: std::str::from_utf8(fields[0]).ok()?.to_string(),
        t: f(1)?,
        unix: f(2)?,
        cpu_pct: f(3)?,
        cpu_s: f(4)?,
        ints,
        late_ms: f(14)?,
    })
}

fn jobs_frame(jobs: &[JobRecord]) -> PolarsResult<DataFrame> {
    let s = |f: &dyn Fn(&JobRecord) -> String| jobs.iter().map(f).collect::<Vec<String>>();
    let fl = |f: &dyn Fn(&JobRecord) -> f64| jobs.iter().map(f).collect::<Vec<f64>>();
    let u = |f: &dyn Fn(&JobRecord) -> u64| jobs.iter().map(f).collect::<Vec<u64>>();
    df!(
        "attempt_id" => s(&|j| j.attempt_id.clone()),
        "job_id" => s(&|j| j.job_id.clone()),
        "stage" => s(&|j| j.stage.clone()),
        "target" => s(&|j| j.target.clone()),
        "atlas" => jobs.iter().map(|j| j.atlas.clone()).collect::<Vec<Option<String>>>(),
        "node" => s(&|j| j.node.clone()),
        "attempt" => jobs.iter().map(|j| j.attempt).collect::<Vec<u32>>(),
        "status" => s(&|j| j.status.as_str().to_string()),
        "mem_request" => jobs.iter().map(|j| j.mem_request).collect::<Vec<Option<u64>>>(),
        "voxels" => jobs.iter().map(|j| j.voxels).collect::<Vec<Option<u64>>>(),
        "threads" => u(&|j| j.threads as u64),
        "start_s" => fl(&|j| j.start_s),
        "end_s" => fl(&|j| j.end_s),
        "wall_s" => fl(&|j| j.totals.wall_s),
        "exit_code" => jobs.iter().map(|j| j.totals.exit_code).collect::<Vec<Option<i32>>>(),
        "signal" => jobs.iter().map(|j| j.totals.signal).collect::<Vec<Option<i32>>>(),
        "oom_killed" => jobs.iter().map(|j| j.status == super::AttemptStatus::OomKilled).collect::<Vec<bool>>(),
        "cpu_s" => fl(&|j| j.totals.cpu_s()),
        "cpu_user_s" => fl(&|j| j.totals.cpu_user_s),
        "cpu_sys_s" => fl(&|j| j.totals.cpu_sys_s),
        "peak_rss" => u(&|j| j.totals.peak_rss),
        "peak_rss_anon" => u(&|j| j.totals.peak_rss_anon),
        "peak_hwm_sum" => u(&|j| j.totals.peak_hwm_sum),
        "max_rss_largest_process" => u(&|j| j.totals.max_rss_largest_process),
        "rchar" => u(&|j| j.totals.rchar),
        "wchar" => u(&|j| j.totals.wchar),
        "read_bytes" => u(&|j| j.totals.read_bytes),
        "write_bytes" => u(&|j| j.totals.write_bytes),
        "samples" => u(&|j| j.totals.samples),
        "agent_cpu_s" => fl(&|j| j.totals.agent_cpu_s),
        "tick_late_p50_ms" => fl(&|j| j.totals.tick_late_p50_ms),
        "tick_late_p99_ms" => fl(&|j| j.totals.tick_late_p99_ms),
        "executor_job_id" => jobs.iter().map(|j| j.executor_job_id.clone()).collect::<Vec<Option<String>>>(),
    )
}

fn samples_frame(rows: &[Row]) -> PolarsResult<DataFrame> {
    let fl = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let u = |k: usize| rows.iter().map(|r| r.ints[k]).collect::<Vec<u64>>();
    df!(
        "attempt_id" => rows.iter().map(|r| r.job.clone()).collect::<Vec<String>>(),
        "t" => fl(&|r| r.t),
        "unix" => fl(&|r| r.unix),
        "cpu_pct" => fl(&|r| r.cpu_pct),
        "cpu_s" => fl(&|r| r.cpu_s),
        "rss" => u(0),
        "rss_anon" => u(1),
        "hwm_sum" => u(2),
        "rchar" => u(3),
        "wchar" => u(4),
        "read_bytes" => u(5),
        "write_bytes" => u(6),
        "threads" => u(7),
        "processes" => u(8),
        "late_ms" => fl(&|r| r.late_ms),
    )
}

/// One row of the `nodes` table.
#[derive(Debug, Default)]
struct NodeRow {
    node: String,
    t: f64,
    jobs_running: u64,
    cpu_pct: f64,
    rss: u64,
    rss_anon: u64,
    io: [u64; 4],
    rates: [f64; 4],
}

/// Node series of emulated nodes (see the module docs).
fn nodes_frame(
    jobs: &[JobRecord],
    rows: &[Row],
    cores: &BTreeMap<String, f64>,
    start_unix: f64,
    interval_ms: u64,
) -> PolarsResult<DataFrame> {
    let step = (interval_ms.max(1) as f64) / 1e3;
    let mut by_attempt: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_attempt.entry(r.job.as_str()).or_default().push(r);
    }
    for v in by_attempt.values_mut() {
        v.sort_by(|a, b| a.unix.total_cmp(&b.unix));
    }
    let end = jobs.iter().map(|j| j.end_s).fold(0.0, f64::max);
    let steps = (end / step).ceil() as usize + 1;
    let mut out: Vec<NodeRow> = Vec::new();
    let mut node_names: Vec<&str> = jobs.iter().map(|j| j.node.as_str()).collect();
    node_names.sort_unstable();
    node_names.dedup();
    for node in node_names {
        let attempts: Vec<&JobRecord> = jobs.iter().filter(|j| j.node == node).collect();
        let node_cores = cores.get(node).copied().unwrap_or(1.0).max(1.0);
        let mut cursor = vec![0usize; attempts.len()];
        let mut prev_io: Option<[u64; 4]> = None;
        for k in 0..steps {
            let t = k as f64 * step;
            let g = start_unix + t;
            let mut row = NodeRow {
                node: node.to_string(),
                t,
                ..NodeRow::default()
            };
            for (a, j) in attempts.iter().enumerate() {
                let series = by_attempt
                    .get(j.attempt_id.as_str())
                    .map_or(&[][..], Vec::as_slice);
                while cursor[a] < series.len() && series[cursor[a]].unix <= g {
                    cursor[a] += 1;
                }
                let latest = cursor[a].checked_sub(1).map(|i| series[i]);
                if j.start_s <= t && t <= j.end_s {
                    row.jobs_running += 1;
                    if let Some(s) = latest {
                        row.cpu_pct += s.cpu_pct / node_cores;
                        row.rss += s.ints[RSS];
                        row.rss_anon += s.ints[RSS_ANON];
                    }
                }
                let counters = if t > j.end_s {
                    let tt = &j.totals;
                    [tt.rchar, tt.wchar, tt.read_bytes, tt.write_bytes]
                } else {
                    latest.map_or([0; 4], |s| [0, 1, 2, 3].map(|c| s.ints[IO0 + c]))
                };
                for c in 0..4 {
                    row.io[c] += counters[c];
                }
            }
            if let Some(p) = prev_io {
                row.rates = [0, 1, 2, 3].map(|c| row.io[c].saturating_sub(p[c]) as f64 / step);
            }
            prev_io = Some(row.io);
            out.push(row);
        }
    }
    let io = |c: usize| out.iter().map(|r| r.io[c]).collect::<Vec<u64>>();
    let rate = |c: usize| out.iter().map(|r| r.rates[c]).collect::<Vec<f64>>();
    df!(
        "node" => out.iter().map(|r| r.node.clone()).collect::<Vec<String>>(),
        "t" => out.iter().map(|r| r.t).collect::<Vec<f64>>(),
        "jobs_running" => out.iter().map(|r| r.jobs_running).collect::<Vec<u64>>(),
        "cpu_pct" => out.iter().map(|r| r.cpu_pct).collect::<Vec<f64>>(),
        "rss" => out.iter().map(|r| r.rss).collect::<Vec<u64>>(),
        "rss_anon" => out.iter().map(|r| r.rss_anon).collect::<Vec<u64>>(),
        "rchar" => io(0),
        "wchar" => io(1),
        "read_bytes" => io(2),
        "write_bytes" => io(3),
        "rchar_per_s" => rate(0),
        "wchar_per_s" => rate(1),
        "read_bytes_per_s" => rate(2),
        "write_bytes_per_s" => rate(3),
    )
}

/// Header of the machine-context CSV written by the node sampler during a run.
pub const MACHINE_HEADER: &str = "unix,cpu_pct,mem_used,mem_total,disk_read_bytes,disk_write_bytes";

/// The machine-context series (node sampler), with `t` relative to the run start.
fn machine_frame(path: &Path, start_unix: f64) -> PolarsResult<DataFrame> {
    let text = std::fs::read(path).unwrap_or_default();
    let mut cols: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut ints: [Vec<u64>; 4] = Default::default();
    let mut t = Vec::new();
    for line in text.split(|b| *b == b'\n').skip(1) {
        let fields: Vec<&str> = match std::str::from_utf8(line) {
            Ok(l) => l.split(',').collect(),
            Err(_) => continue,
        };
        if fields.len() != 6 {
            continue;
        }
        let (Ok(unix), Ok(cpu)) = (fields[0].parse::<f64>(), fields[1].parse::<f64>()) else {
            continue;
        };
        let parsed: Vec<u64> = fields[2..].iter().filter_map(|f| f.parse().ok()).collect();
        if parsed.len() != 4 {
            continue;
        }
        t.push(unix - start_unix);
        cols[0].push(unix);
        cols[1].push(cpu);
        for (c, v) in ints.iter_mut().zip(parsed) {
            c.push(v);
        }
    }
    let [unix, cpu] = cols;
    let [used, total, mut read, mut write] = ints;
    // Since the run (or the resumed part of it) started, not since boot.
    for series in [&mut read, &mut write] {
        let first = series.first().copied().unwrap_or(0);
        for v in series.iter_mut() {
            *v = v.saturating_sub(first);
        }
    }
    df!(
        "t" => t,
        "unix" => unix,
        "cpu_pct" => cpu,
        "mem_used" => used,
        "mem_total" => total,
        "disk_read_bytes" => read,
        "disk_write_bytes" => write,
    )
}
