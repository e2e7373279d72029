//! Run stores from what other tools recorded: Slurm accounting (`sacct --parsable2`),
//! Snakemake `benchmark:` files, psrecord logs and prmon series. Each format's parser turns
//! its files into [`Job`]s; [`write_store`] writes them through the store crate in today's
//! schema, marked as imported in `run.json` with the sources and what each quantity came
//! from, so `report`, `compare` and `simulate --profiles` read it as any run.
//!
//! A source without a time series (sacct, Snakemake) gets a flat profile: CPU at its mean rate
//! and memory at its peak from start to end. The import note says so, and the report repeats
//! it.

mod prmon;
mod psrecord;
mod sacct;
mod snakemake;
mod text;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::store::{
    attempt_id, nodes_of, write_tables, AttemptStatus, HostFacts, Import, JobRecord, NodeInfo,
    Notes, RunInfo, RunStatus, RunStore, SampleRow, Segment, Totals, SCHEMA_VERSION,
};

pub use text::{sanitize_id, Source};

/// The formats `atlasperf import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `sacct --parsable2` (or `--parsable`) output with a header line.
    Sacct,
    /// Snakemake `benchmark:` TSV files, one per rule and wildcard set.
    Snakemake,
    /// psrecord `--log` files (plain or `--log-format csv`).
    Psrecord,
    /// prmon's `prmon.txt` series, with `prmon.json` beside it when given.
    Prmon,
}

impl Format {
    /// Name as written in `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sacct => "sacct",
            Self::Snakemake => "snakemake",
            Self::Psrecord => "psrecord",
            Self::Prmon => "prmon",
        }
    }
}

/// One point of a job's series, seconds from its start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Point {
    /// Seconds since the job started.
    pub t: f64,
    /// Cumulative CPU seconds.
    pub cpu_s: f64,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Cumulative syscall bytes read and written.
    pub rchar: u64,
    /// Cumulative syscall bytes written.
    pub wchar: u64,
    /// Cumulative storage bytes read.
    pub read_bytes: u64,
    /// Cumulative storage bytes written.
    pub write_bytes: u64,
    /// Threads and processes, when the source counts them.
    pub threads: u64,
    /// Processes.
    pub processes: u64,
}

/// One imported attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Job id (a file name: see [`sanitize_id`]).
    pub id: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The name the source gave it (a Slurm job name, a rule, a file stem); matched by
    /// `--stage` patterns.
    pub name: String,
    /// Stage, when the source names one (else from `--stage` or the name).
    pub stage: Option<String>,
    /// Node.
    pub node: String,
    /// Outcome.
    pub status: AttemptStatus,
    /// Exit code and signal, when known.
    pub exit_code: Option<i32>,
    /// Signal that ended it, when known.
    pub signal: Option<i32>,
    /// Start and end, Unix seconds.
    pub start_unix: f64,
    /// End, Unix seconds.
    pub end_unix: f64,
    /// User and system CPU seconds.
    pub cpu_user_s: f64,
    /// System CPU seconds.
    pub cpu_sys_s: f64,
    /// Peak resident memory, bytes.
    pub peak_rss: u64,
    /// Syscall bytes read (0 when the source lacks it).
    pub rchar: u64,
    /// Syscall bytes written.
    pub wchar: u64,
    /// Storage bytes read.
    pub read_bytes: u64,
    /// Storage bytes written.
    pub write_bytes: u64,
    /// CPUs allocated or threads used.
    pub threads: usize,
    /// Memory requested, bytes.
    pub mem_request: Option<u64>,
    /// The scheduler's id.
    pub executor_job_id: Option<String>,
    /// The series, when the source has one; else a flat profile is written.
    pub series: Vec<Point>,
}

impl Job {
    /// A job named `name` with everything else unknown (the parsers fill it in).
    pub fn named(id: &str, name: &str, node: &str) -> Self {
        Self {
            id: sanitize_id(id),
            attempt: 1,
            name: name.to_string(),
            stage: None,
            node: node.to_string(),
            status: AttemptStatus::Ok,
            exit_code: Some(0),
            signal: None,
            start_unix: 0.0,
            end_unix: 0.0,
            cpu_user_s: 0.0,
            cpu_sys_s: 0.0,
            peak_rss: 0,
            rchar: 0,
            wchar: 0,
            read_bytes: 0,
            write_bytes: 0,
            threads: 1,
            mem_request: None,
            executor_job_id: None,
            series: Vec::new(),
        }
    }
}

/// What one format's parser found in all its files.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The attempts.
    pub jobs: Vec<Job>,
    /// Per quantity: exact / sampled / missing, and from what.
    pub columns: BTreeMap<String, String>,
    /// Rows left out, assumptions made.
    pub notes: Vec<String>,
}

impl Parsed {
    /// Records, per quantity, what it is in the source (`exact: …`, `sampled: …`, `missing: …`).
    pub fn describe(&mut self, columns: &[(&str, &str)]) {
        for (k, v) in columns {
            self.columns.insert((*k).into(), (*v).into());
        }
    }
}

/// What `atlasperf import` was asked to do.
#[derive(Debug, Clone)]
pub struct Request {
    /// Source format.
    pub format: Format,
    /// Source files.
    pub files: Vec<PathBuf>,
    /// `PATTERN=STAGE` pairs, first match wins; `*` matches any run of characters.
    pub stages: Vec<(String, String)>,
    /// Cores of every node (else inferred from the jobs).
    pub node_cores: Option<usize>,
    /// Memory of every node, bytes (else inferred from the jobs).
    pub node_memory: Option<u64>,
    /// Voxels of the images every job processed (no format records it).
    pub voxels: Option<u64>,
}

/// Parses a `--stage PATTERN=STAGE` argument.
///
/// # Errors
/// No `=`, or an empty side.
pub fn stage_rule(arg: &str) -> Result<(String, String), text::BadValue> {
    match arg.split_once('=') {
        Some((p, s)) if !p.is_empty() && !s.trim().is_empty() => {
            Ok((p.to_string(), s.trim().to_string()))
        }
        _ => Err(text::BadValue(format!(
            "expected PATTERN=STAGE (e.g. 'reg-*=registration'), got {arg:?}"
        ))),
    }
}

/// Reads the request's files.
///
/// # Errors
/// A file that cannot be read or is not what the format says, naming file, line and column.
pub fn parse(req: &Request) -> Result<Parsed, UsageError> {
    if req.files.is_empty() {
        return Err(UsageError("import: no files given".into()));
    }
    let sources = req
        .files
        .iter()
        .map(|f| Source::read(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut parsed = parse_sources(req.format, &sources)?;
    if parsed.jobs.is_empty() {
        return Err(UsageError(format!(
            "{}: no finished jobs in these {} file(s)",
            req.files[0].display(),
            req.files.len()
        )));
    }
    for j in &mut parsed.jobs {
        let by_rule = req
            .stages
            .iter()
            .find(|(p, _)| text::glob(p, &j.name) || text::glob(p, &j.id));
        if let Some((_, s)) = by_rule {
            j.stage = Some(s.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    for j in &parsed.jobs {
        if !seen.insert(attempt_id(&j.id, j.attempt)) {
            return Err(UsageError(format!(
                "{}: the attempt {} appears twice (the same job in two files, or a duplicated row)",
                req.files[0].display(),
                attempt_id(&j.id, j.attempt)
            )));
        }
    }
    Ok(parsed)
}

/// Parses sources already read (the property tests feed generated text through here).
///
/// # Errors
/// As [`parse`].
pub fn parse_sources(format: Format, sources: &[Source]) -> Result<Parsed, UsageError> {
    match format {
        Format::Sacct => sacct::parse(sources),
        Format::Snakemake => snakemake::parse(sources),
        Format::Psrecord => psrecord::parse(sources),
        Format::Prmon => prmon::parse(sources),
    }
}

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
    for j in jobs {
        let stage = j.stage.clone().unwrap_or_else(|| default_stage(&j.name));
        let id = attempt_id(&j.id, j.attempt);
        let wall = (j.end_unix - j.start_unix).max(0.0);
        let series = if j.series.is_empty() {
            flat_series(&j, wall)
        } else {
            j.series.clone()
        };
        rows.extend(series.iter().map(|p| SampleRow {
            attempt_id: id.clone(),
            t: p.t,
            unix: j.start_unix + p.t,
            cpu_core_pct: 0.0,
            cpu_s: p.cpu_s,
            rss: p.rss,
            rss_anon: 0,
            hwm_sum: 0,
            rchar: p.rchar,
            wchar: p.wchar,
            read_bytes: p.read_bytes,
            write_bytes: p.write_bytes,
            threads: p.threads,
            processes: p.processes,
            late_ms: 0.0,
        }));
        fill_rates(&mut rows, series.len());
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
                samples: series.len() as u64,
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
fn median_step(series: &[Point]) -> Option<f64> {
    let mut d: Vec<f64> = series.windows(2).map(|w| w[1].t - w[0].t).collect();
    if d.is_empty() {
        return None;
    }
    d.sort_by(f64::total_cmp);
    Some(d[d.len() / 2]).filter(|s| *s > 0.0)
}

/// A flat profile: CPU at the job's mean rate and memory at its peak from start to end, I/O
/// growing evenly.
fn flat_series(j: &Job, wall: f64) -> Vec<Point> {
    let n = FLAT_ROWS.min(((wall / 0.1).ceil() as usize).max(1));
    (0..=n)
        .map(|k| {
            let f = k as f64 / n as f64;
            let part = |v: u64| (v as f64 * f) as u64;
            Point {
                t: wall * f,
                cpu_s: (j.cpu_user_s + j.cpu_sys_s) * f,
                rss: j.peak_rss,
                rchar: part(j.rchar),
                wchar: part(j.wchar),
                read_bytes: part(j.read_bytes),
                write_bytes: part(j.write_bytes),
                threads: j.threads as u64,
                processes: 1,
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
