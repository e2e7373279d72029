//! The run store: the contract between the harness and the reports (see `docs/run-store.md`).
//!
//! While a run is going, the store is append-only text so a killed harness loses at most the
//! rows being written: `jobs.jsonl` (one JSON object per finished job attempt) and
//! `samples/<attempt>.csv` (each agent appends a row per tick). [`RunStore::compact`] turns them
//! into the Parquet and CSV tables (`jobs`, `samples`, `nodes`, `machine`) the reports read; it
//! runs at the end of a run, when a run is interrupted, and on `--resume`.

mod compact;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::JobTotals;

pub use compact::{compact, CompactSummary, MACHINE_HEADER};

/// Version of the on-disk layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the run store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file of the store is not what the contract says.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong (line numbers where they help).
        message: String,
    },
    /// Polars could not build or write a table.
    #[error("writing {path}")]
    Table {
        /// The table file.
        path: PathBuf,
        /// Why.
        #[source]
        source: polars::error::PolarsError,
    },
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Status of a run as recorded in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The harness is (or was, if it was killed) running it.
    Running,
    /// Every job finished (some may have failed; see `jobs`).
    Complete,
    /// Stopped by Ctrl-C or SIGTERM; `--resume` runs what is missing.
    Interrupted,
    /// The harness itself failed.
    Failed,
}

/// Facts about the machine a run ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// CPU model.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Physical memory, bytes.
    pub memory_bytes: u64,
    /// Kernel version.
    pub kernel: String,
    /// OS name and version.
    pub os: String,
}

impl HostFacts {
    /// Reads this machine's facts (best effort: unknown fields stay empty).
    pub fn current() -> Self {
        let mut sys = sysinfo::System::new().ok();
        if let Some(s) = sys.as_mut() {
            s.refresh_memory();
            s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
        }
        Self {
            hostname: sysinfo::System::host_name().unwrap_or_default(),
            cpu_model: sys
                .as_ref()
                .and_then(|s| s.cpus().first().map(|c| c.brand().to_string()))
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: sys.as_ref().map_or(0, sysinfo::System::total_memory),
            kernel: sysinfo::System::kernel_version().unwrap_or_default(),
            os: sysinfo::System::long_os_version().unwrap_or_default(),
        }
    }
}

/// `run.json`: what was run, where, with what, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Run identifier (the folder name).
    pub id: String,
    /// Scenario name.
    pub scenario_name: String,
    /// The resolved scenario (after `--set` overrides), as JSON.
    pub scenario: serde_json::Value,
    /// Git commit of the atlasperf source, when known.
    pub git_commit: Option<String>,
    /// atlasperf version.
    pub atlasperf_version: String,
    /// Versions of external tools the stages call, when they report one.
    pub tool_versions: serde_json::Map<String, serde_json::Value>,
    /// The machine.
    pub host: HostFacts,
    /// Start, seconds since the Unix epoch.
    pub start_unix: f64,
    /// End, seconds since the Unix epoch (absent while running).
    pub end_unix: Option<f64>,
    /// How the run ended.
    pub status: RunStatus,
    /// Sampling period, milliseconds.
    pub interval_ms: u64,
    /// The emulated or real nodes: name, cores, memory capacity, slots, pinned CPUs.
    pub nodes: serde_json::Value,
    /// Extra facts the run adds as it goes (memory forecast vs measured peak, pinning, notes).
    #[serde(default)]
    pub notes: serde_json::Map<String, serde_json::Value>,
}

/// Outcome of one job attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Exited with code 0.
    Ok,
    /// Exited non-zero or died of a signal nobody sent on purpose.
    Failed,
    /// Killed by the OOM watchdog (its node was over capacity and it was the largest job).
    OomKilled,
    /// Terminated because the run was interrupted.
    Terminated,
    /// Could not be started.
    LaunchError,
    /// Never started: a job it depends on failed, or it fits on no node.
    Skipped,
}

impl AttemptStatus {
    /// Name as written in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::OomKilled => "oom_killed",
            Self::Terminated => "terminated",
            Self::LaunchError => "launch_error",
            Self::Skipped => "skipped",
        }
    }
}

/// One row of the `jobs` table: one attempt of one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Attempt identifier (`<job>.<attempt>`), the key of the samples.
    pub attempt_id: String,
    /// Job identifier, e.g. `reg-sub01-sub05` or `fuse-sub01`.
    pub job_id: String,
    /// `registration` or `fusion` (or `profile`).
    pub stage: String,
    /// Target subject.
    pub target: String,
    /// Atlas subject (registration jobs only).
    pub atlas: Option<String>,
    /// Node the attempt ran on.
    pub node: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Memory request the scheduler admitted it with, bytes (memory policy only).
    pub mem_request: Option<u64>,
    /// Voxels of the fixed/target image (the memory forecast's predictor).
    pub voxels: Option<u64>,
    /// Kernel threads the job was given.
    pub threads: usize,
    /// Outcome.
    pub status: AttemptStatus,
    /// Start, seconds since the run started.
    pub start_s: f64,
    /// End, seconds since the run started.
    pub end_s: f64,
    /// Totals measured by the agent.
    #[serde(flatten)]
    pub totals: JobTotals,
    /// The external scheduler's id of the attempt (Slurm job id); none when run locally.
    #[serde(default)]
    pub executor_job_id: Option<String>,
}

/// Layout of one run folder.
#[derive(Debug, Clone)]
pub struct RunStore {
    dir: PathBuf,
}

impl RunStore {
    /// A store at `dir` (creating its sub-folders).
    ///
    /// # Errors
    /// When the folders cannot be created.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        for sub in ["logs", "samples", "outputs"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
        })
    }

    /// An existing store (for `--resume` and reports).
    ///
    /// # Errors
    /// When `dir` has no `run.json`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let info = dir.join("run.json");
        if !info.is_file() {
            return Err(StoreError::Format {
                path: dir.to_path_buf(),
                message: "not a run store (no run.json)".into(),
            });
        }
        Self::create(dir)
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Path of `run.json`.
    pub fn info_path(&self) -> PathBuf {
        self.dir.join("run.json")
    }
    /// Samples CSV of one attempt.
    pub fn samples_path(&self, attempt_id: &str) -> PathBuf {
        self.dir.join("samples").join(format!("{attempt_id}.csv"))
    }
    /// Log file of one attempt (`stdout` or `stderr`).
    pub fn log_path(&self, attempt_id: &str, stream: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{attempt_id}.{stream}"))
    }
    /// Agent result (totals JSON) of one attempt.
    pub fn result_path(&self, attempt_id: &str) -> PathBuf {
        self.dir
            .join("logs")
            .join(format!("{attempt_id}.totals.json"))
    }
    /// Folder of job outputs.
    pub fn outputs(&self) -> PathBuf {
        self.dir.join("outputs")
    }
    /// The journal of finished attempts.
    pub fn journal_path(&self) -> PathBuf {
        self.dir.join("jobs.jsonl")
    }
    /// The machine-context series (node sampler) while running.
    pub fn machine_csv(&self) -> PathBuf {
        self.dir.join("samples").join("machine.node.csv")
    }

    /// Writes `run.json` atomically.
    ///
    /// # Errors
    /// When it cannot be written.
    pub fn write_info(&self, info: &RunInfo) -> Result<(), StoreError> {
        let path = self.info_path();
        let text = serde_json::to_string_pretty(info).map_err(|e| StoreError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&path, text.as_bytes())
    }

    /// Reads `run.json`.
    ///
    /// # Errors
    /// When it is missing or not valid.
    pub fn read_info(&self) -> Result<RunInfo, StoreError> {
        let path = self.info_path();
        let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
        serde_json::from_str(&text).map_err(|e| StoreError::Format {
            path,
            message: e.to_string(),
        })
    }

    /// Appends one finished attempt to the journal (one `write`, then `fsync`).
    ///
    /// # Errors
    /// When the journal cannot be written.
    pub fn append_job(&self, record: &JobRecord) -> Result<(), StoreError> {
        let path = self.journal_path();
        let mut line = serde_json::to_string(record).map_err(|e| StoreError::Format {
            path: path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        let mut f: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.write_all(line.as_bytes()).map_err(io_err(&path))?;
        f.sync_data().map_err(io_err(&path))
    }

    /// Every attempt in the journal. A torn last line (a harness killed mid-write) is skipped.
    ///
    /// # Errors
    /// When the journal cannot be read or a complete line is not a job record.
    pub fn read_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let path = self.journal_path();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let lines: Vec<String> = BufReader::new(f)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(io_err(&path))?;
        let n = lines.len();
        let mut out = Vec::with_capacity(n);
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str(line) {
                Ok(r) => out.push(r),
                Err(_) if i + 1 == n => {}
                Err(e) => {
                    return Err(StoreError::Format {
                        path,
                        message: format!("line {}: {e}", i + 1),
                    })
                }
            }
        }
        Ok(out)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
///
/// # Errors
/// When the file cannot be written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}
