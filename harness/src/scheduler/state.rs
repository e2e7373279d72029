//! What the scheduler decides and keeps: the launches it orders, the outcomes it is told, each
//! job's and node's state, and the memory models requests are forecast with.

use crate::plan::Stage;

/// How a job attempt ended, as the scheduler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Exit code 0; its peak Σ RSS.
    Ok {
        /// Peak Σ RSS, bytes.
        peak: u64,
    },
    /// Non-zero exit or a signal.
    Failed {
        /// Peak Σ RSS, bytes.
        peak: u64,
    },
    /// Killed by the OOM watchdog at this peak.
    OomKilled {
        /// Peak Σ RSS when killed, bytes.
        peak: u64,
    },
    /// Terminated because the run was interrupted (not retried; `--resume` reruns it).
    Terminated,
    /// Could not be started (not retried).
    LaunchError,
}

/// A decision: start `job` (attempt `attempt`) on `node`, reserving `request` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// Job index in the plan.
    pub job: usize,
    /// Node index in the plan.
    pub node: usize,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// Memory reserved (memory policy) or committed (after an OOM kill), bytes.
    pub request: Option<u64>,
}

/// State of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for dependencies.
    Waiting,
    /// Ready to launch.
    Ready,
    /// Running on a node.
    Running {
        /// Node index.
        node: usize,
    },
    /// Succeeded.
    Done,
    /// Failed for good (retries exhausted, or could not be started).
    Failed,
    /// Will not run: a dependency failed, or it fits on no node.
    Skipped,
    /// Terminated by an interrupt; left for `--resume`.
    Interrupted,
}

#[derive(Debug, Clone)]
pub(super) struct JobState {
    pub(super) stage: Stage,
    pub(super) voxels: u64,
    pub(super) auto: bool,
    pub(super) fixed_request: Option<u64>,
    pub(super) deps_left: usize,
    pub(super) dependents: Vec<usize>,
    pub(super) status: JobStatus,
    pub(super) attempts: u32,
    /// Attempts that failed or were OOM-killed: what the retry budget counts (an attempt
    /// ended by an interrupt or a killed harness does not).
    pub(super) failures: u32,
    /// Peak at which the last attempt was OOM-killed.
    pub(super) oom_peak: Option<u64>,
    pub(super) reserved: u64,
    pub(super) calibrating: bool,
}

#[derive(Debug, Clone)]
pub(super) struct NodeState {
    pub(super) capacity: u64,
    pub(super) slots: usize,
    pub(super) running: usize,
    pub(super) reserved: u64,
}

/// A linear memory model, bytes = intercept + slope × voxels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryModel {
    /// Bytes at zero voxels.
    pub intercept: f64,
    /// Bytes per voxel.
    pub slope: f64,
    /// Where it came from (`calibration`, `earlier runs (k jobs)`).
    pub source: &'static str,
}

impl MemoryModel {
    /// Predicted peak for an image of `voxels`.
    pub fn predict(&self, voxels: u64) -> u64 {
        (self.intercept + self.slope * voxels as f64).max(0.0) as u64
    }
}
