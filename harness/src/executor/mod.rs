//! Executors carry out the scheduler's launches: `local` (emulated nodes on this machine,
//! each job under `atlasperf agent`), `slurm` (each attempt an `sbatch` job running the same
//! agent on the chosen Slurm node) and `mock` (virtual time, for tests and benches).

pub mod local;
pub mod mock;
pub mod slurm;

use std::time::Duration;

use std::ffi::OsString;

pub use crate::error::LaunchError;
use crate::plan::PlannedJob;
use crate::store::{RunStore, Totals};
pub use slurm::SlurmError;

/// A job attempt that ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Attempt identifier given at launch.
    pub attempt_id: String,
    /// What the agent measured (exit status included).
    pub totals: Totals,
    /// True when the OOM watchdog killed it.
    pub oom_killed: bool,
    /// Set when the executor could not run it at all (the agent never reported).
    pub launch_error: Option<String>,
    /// The external scheduler's id of the attempt (the Slurm job id), if any.
    pub executor_job_id: Option<String>,
}

/// Memory a running attempt holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// Attempt identifier.
    pub attempt_id: String,
    /// Node index.
    pub node: usize,
    /// Σ RSS of its process tree, bytes.
    pub rss: u64,
}

/// What the driver needs from an executor.
pub trait Executor {
    /// Starts one attempt of `job` on node `node`; `request` is the memory the scheduler
    /// admitted it with (memory policy), bytes.
    ///
    /// # Errors
    /// When it cannot be started; the driver records a launch error.
    fn launch(
        &mut self,
        job: &PlannedJob,
        node: usize,
        attempt_id: &str,
        request: Option<u64>,
    ) -> Result<(), LaunchError>;

    /// Waits up to `max` for attempts to end and returns those that did (a mock executor
    /// advances its virtual clock to the next end instead).
    fn wait(&mut self, max: Duration) -> Vec<Finished>;

    /// Memory held by each running attempt (for the OOM watchdog); empty when the executor
    /// cannot observe it (Slurm enforces memory itself).
    fn usage(&mut self) -> Vec<Usage>;

    /// Kills an attempt for exceeding its node's memory; it is reported by `wait` with
    /// `oom_killed` set.
    fn kill_oom(&mut self, attempt_id: &str);

    /// Asks every running attempt to terminate (SIGTERM, then SIGKILL after a grace period).
    fn terminate_all(&mut self);

    /// Seconds since the executor started (the run's clock).
    fn now(&self) -> f64;

    /// Attempts still running.
    fn running(&self) -> usize;
}

/// How a real executor's agents sample and stop: the part of the agent's command line that is
/// the same for every attempt of a run.
#[derive(Debug, Clone, Copy)]
pub struct AgentSettings {
    /// Sampling period, milliseconds.
    pub interval_ms: u64,
    /// Seconds between SIGTERM and SIGKILL when the agent is asked to stop.
    pub grace_s: f64,
}

impl AgentSettings {
    /// The arguments after the binary that run one attempt of `job` under the agent, writing
    /// its samples and result into `store`: the one place the local and Slurm executors take
    /// the agent's command line from.
    pub fn argv(&self, store: &RunStore, attempt_id: &str, job: &PlannedJob) -> Vec<OsString> {
        let mut words: Vec<OsString> = vec![
            "agent".into(),
            "--attempt".into(),
            attempt_id.into(),
            "--interval".into(),
            self.interval_ms.to_string().into(),
            "--samples".into(),
            store.samples_path(attempt_id).into(),
            "--result".into(),
            store.result_path(attempt_id).into(),
            "--grace".into(),
            self.grace_s.to_string().into(),
            "--".into(),
        ];
        words.extend(job.argv().into_iter().map(OsString::from));
        words
    }
}
