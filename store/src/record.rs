//! The job record: one row of the `jobs` table, one line of the `jobs.jsonl` journal.

use serde::{Deserialize, Serialize};

/// Outcome of one job attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// Exited with code 0.
    Ok,
    /// Exited non-zero, died of a signal nobody sent on purpose, or its agent died.
    Failed,
    /// Killed by the OOM watchdog (its node was over capacity and it was the largest job).
    OomKilled,
    /// Terminated because the run was interrupted, or found unfinished after the harness was
    /// killed.
    Terminated,
    /// Could not be started.
    LaunchError,
    /// Never started: a job it depends on failed, or it fits on no node.
    Skipped,
}

impl AttemptStatus {
    /// Every status, in table order.
    pub const ALL: [Self; 6] = [
        Self::Ok,
        Self::Failed,
        Self::OomKilled,
        Self::Terminated,
        Self::LaunchError,
        Self::Skipped,
    ];

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

    /// The status of a table's text.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Exact totals of one supervised attempt, plus the sampler's own cost (the agent's result,
/// `logs/<attempt>.totals.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Exit code when the job exited normally.
    pub exit_code: Option<i32>,
    /// Signal number when the job was killed by a signal.
    pub signal: Option<i32>,
    /// True when the agent itself was asked to stop and terminated the job.
    #[serde(default)]
    pub terminated: bool,
    /// Start, seconds since the Unix epoch.
    pub start_unix: f64,
    /// End (after reaping), seconds since the Unix epoch.
    pub end_unix: f64,
    /// Wall time from spawn to reap, seconds.
    pub wall_s: f64,
    /// User CPU seconds of the job and all its reaped descendants (rusage).
    pub cpu_user_s: f64,
    /// System CPU seconds of the job and all its reaped descendants (rusage).
    pub cpu_sys_s: f64,
    /// Largest sampled sum of VmRSS over the job's processes (at least the largest single
    /// process's peak), bytes.
    pub peak_rss: u64,
    /// Largest sampled sum of RssAnon over the job's processes, bytes.
    pub peak_rss_anon: u64,
    /// Largest sampled sum of VmHWM over the job's processes (overstates the simultaneous
    /// peak), bytes.
    pub peak_hwm_sum: u64,
    /// Peak RSS of the largest single process (children's `ru_maxrss`), bytes.
    pub max_rss_largest_process: u64,
    /// Syscall bytes read by the job tree (`rchar`).
    pub rchar: u64,
    /// Syscall bytes written (`wchar`).
    pub wchar: u64,
    /// Bytes read from storage (`read_bytes`).
    pub read_bytes: u64,
    /// Bytes written to storage (`write_bytes`).
    pub write_bytes: u64,
    /// Number of samples taken.
    pub samples: u64,
    /// CPU seconds the agent itself used (the measurement's cost).
    pub agent_cpu_s: f64,
    /// Median lateness of sampling ticks behind their deadlines, milliseconds.
    pub tick_late_p50_ms: f64,
    /// 99th-percentile tick lateness, milliseconds.
    pub tick_late_p99_ms: f64,
    /// True when these totals were rebuilt from the samples because the agent died before
    /// it could record exact ones (CPU and I/O are then as of the last sample).
    #[serde(default, rename = "totals_from_samples")]
    pub from_samples: bool,
    /// Involuntary context switches of the job and its reaped descendants (rusage
    /// `ru_nivcsw`): how often the kernel took a CPU away from it.
    #[serde(default)]
    pub involuntary_switches: u64,
}

impl Totals {
    /// Total CPU seconds (user + system).
    pub fn cpu_s(&self) -> f64 {
        self.cpu_user_s + self.cpu_sys_s
    }
    /// True when the job exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
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
    /// Node the attempt ran on (empty for a skipped job).
    pub node: String,
    /// Attempt number, from 1 (0 for a skipped job).
    pub attempt: u32,
    /// Memory request the scheduler admitted it with, bytes (memory policy only).
    pub mem_request: Option<u64>,
    /// Voxels of the fixed/target image (the memory forecast's predictor).
    pub voxels: Option<u64>,
    /// Kernel threads the job was given.
    pub threads: usize,
    /// Outcome.
    pub status: AttemptStatus,
    /// Start, seconds on the run clock.
    pub start_s: f64,
    /// End, seconds on the run clock.
    pub end_s: f64,
    /// Totals measured by the agent.
    #[serde(flatten)]
    pub totals: Totals,
    /// The external scheduler's id of the attempt (Slurm job id); none when run locally.
    #[serde(default)]
    pub executor_job_id: Option<String>,
    /// What the external scheduler's accounting recorded of the attempt (Slurm's sacct), when
    /// it answered after the run; never in the journal, filled in from `accounting.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Accounting>,
}

/// An attempt as the scheduler's accounting saw it (`sacct`): figures that measure other
/// things than atlasperf's own (docs/slurm.md), kept beside them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Accounting {
    /// TotalCPU: the CPU of the whole batch step (the job, its agent, the batch shell), s.
    pub cpu_s: f64,
    /// MaxRSS: the largest RSS summed over the step's processes at the accounting's polls,
    /// bytes.
    pub max_rss: u64,
    /// Elapsed, s (whole seconds).
    pub elapsed_s: f64,
}

#[cfg(test)]
impl JobRecord {
    /// A successful single-thread registration attempt `id` on node `n` from `start` to `end`
    /// on the run clock, with `totals` (the store's unit tests).
    pub(crate) fn ok_for_test(id: &str, start: f64, end: f64, totals: Totals) -> Self {
        Self {
            attempt_id: id.into(),
            job_id: id.into(),
            stage: "registration".into(),
            target: String::new(),
            atlas: None,
            node: "n".into(),
            attempt: 1,
            mem_request: None,
            voxels: None,
            threads: 1,
            status: AttemptStatus::Ok,
            start_s: start,
            end_s: end,
            totals,
            executor_job_id: None,
            accounting: None,
        }
    }
}
