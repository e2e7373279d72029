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
mod write;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::UsageError;
use crate::store::{attempt_id, AttemptStatus, SampleRow};

pub use text::{sanitize_id, Source};
pub use write::write_store;

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
    /// The series, when the source has one (sample rows with `t` from the job's start; the
    /// writer fills in the attempt and the Unix time); else a flat profile is written.
    pub series: Vec<SampleRow>,
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
