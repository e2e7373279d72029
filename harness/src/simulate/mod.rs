//! `atlasperf simulate`: a scenario planned as `run` plans it (the same graph, without command
//! lines), scheduled by the same scheduler and driver, on a virtual clock where every job
//! replays a measured profile of its stage scaled to its size ([`model`]), sharing its node's
//! cores and memory ([`engine`]). Monte Carlo samples draw each job's profile at random among
//! the closest of its stage's ([`shape`]); the first sample is written as a run store in the
//! measured runs' schema ([`output`]).

pub mod engine;
pub mod export;
pub mod model;
pub mod output;
pub mod profiles;
pub mod shape;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use output::write_store;
pub use shape::{shape_of, Spread};

use crate::driver::{drive, Event};
use crate::error::UsageError;
use crate::plan::{Plan, PlannedJob};
use crate::scheduler::Scheduler;
use crate::store::{read_jobs_table, AttemptStatus, JobRecord, RunInfo, RunStore, StoreError};
use engine::{MemoryRule, Point, SimExecutor};
use model::{CoRunLaw, LeadInLaw, Models};
use profiles::Profile;

/// What one simulated run gives.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// End of the last attempt, s.
    pub makespan_s: f64,
    /// Largest Σ RSS per node, bytes.
    pub node_peaks: Vec<u64>,
    /// Attempts killed by a memory rule.
    pub oom_killed: usize,
    /// CPU time of every attempt, hours.
    pub cpu_hours: f64,
    /// Jobs with a successful attempt.
    pub ok_jobs: usize,
    /// Every attempt's record (when recorded).
    pub records: Vec<JobRecord>,
    /// Every attempt's replayed series (when recorded).
    pub series: Vec<(String, Vec<Point>)>,
}

/// A run store whose tables were written, as `flag` (named in every error) reads it: the store,
/// its `run.json` and its jobs table. `measured` refuses a simulated run.
///
/// # Errors
/// Usage errors: not a store, a simulated run where a measured one is needed, tables never
/// written; an unreadable table.
pub fn open_tables(
    dir: &Path,
    flag: &str,
    measured: bool,
) -> crate::Result<(RunStore, RunInfo, Vec<JobRecord>)> {
    let usage = |e: StoreError| UsageError(format!("{flag}: {e}"));
    let store = RunStore::open(dir).map_err(usage)?;
    let info = store.read_info().map_err(usage)?;
    if measured && info.notes.simulation.is_some() {
        return Err(UsageError(format!(
            "{flag}: {} is a simulated run; give a measured one",
            dir.display()
        ))
        .into());
    }
    let jobs_path = dir.join("jobs.parquet");
    if !jobs_path.exists() {
        return Err(UsageError(format!(
            "{flag}: {}: the run's tables were never written; `atlasperf report {}` compacts them",
            jobs_path.display(),
            dir.display()
        ))
        .into());
    }
    let jobs = read_jobs_table(&jobs_path)?;
    Ok((store, info, jobs))
}

/// What every sample of a simulation shares.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The measured attempts.
    pub profiles: &'a [Profile],
    /// The scaling models fitted on them.
    pub models: &'a Models,
    /// The profiles' spread around the models.
    pub spread: &'a Spread,
    /// Which memory rule kills jobs.
    pub rule: MemoryRule,
    /// The scheduler's memory models (the memory policy's requests), as `run` has them.
    pub memory_models: [Option<crate::scheduler::MemoryModel>; 2],
    /// Seed of the draws.
    pub seed: u64,
    /// Seconds before the first launch (the run's inputs prepared), as the profile runs took.
    pub lead_in_s: f64,
    /// How jobs that time-share cores slow each other.
    pub corun: CoRunLaw,
}

/// Voxels of every subject `plan`'s jobs read (each target and atlas once, at its jobs' image
/// size): what a run prepares before its first launch.
pub fn input_voxels(plan: &Plan) -> f64 {
    profiles::subject_voxels(
        plan.jobs
            .iter()
            .map(|j| (j.target.as_str(), j.atlas.as_deref(), j.voxels)),
    )
}

/// Simulates `plan` once: sample `sample` of the setup's seed. `record` keeps every attempt's record
/// and series (for the run store); without it only the totals are kept, so a million jobs
/// fit in memory.
pub fn simulate_once(
    plan: &Plan,
    s: &Setup<'_>,
    sample: u64,
    record: bool,
) -> crate::Result<Sample> {
    let mut sched = Scheduler::new(plan, s.memory_models);
    let draws = shape::Draws::new(s.spread, s.seed, sample);
    let shaper = Box::new(move |job: &PlannedJob| shape_of(job, s, &draws));
    let mut exec = SimExecutor::new(&plan.nodes, s.rule, shaper, record).starting_at(s.lead_in_s);
    let mut out = Sample::default();
    let mut ok = vec![false; plan.jobs.len()];
    let stop = AtomicBool::new(false);
    drive(
        plan,
        &mut sched,
        &mut exec,
        &stop,
        Duration::ZERO,
        &mut |e| {
            if let Event::Recorded { job, record: r } = e {
                out.makespan_s = out.makespan_s.max(r.end_s);
                out.cpu_hours += r.totals.cpu_s() / 3600.0;
                match r.status {
                    AttemptStatus::OomKilled => out.oom_killed += 1,
                    AttemptStatus::Ok => ok[job] = true,
                    _ => {}
                }
                if record {
                    out.records.push(r.clone());
                }
            }
            Ok(())
        },
    )?;
    out.ok_jobs = ok.iter().filter(|o| **o).count();
    out.node_peaks = exec.node_peaks();
    out.series = std::mem::take(&mut exec.series);
    Ok(out)
}

/// P10, P50 and P90 of `v` (nearest rank on the sorted values).
pub fn band(v: &[f64]) -> [f64; 3] {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    [0.1, 0.5, 0.9].map(|q| crate::store::percentile(&s, q))
}

/// The inputs of a simulation besides the plan.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Run stores the profiles come from.
    pub runs: Vec<PathBuf>,
    /// Their successful attempts.
    pub profiles: Vec<Profile>,
    /// Models fitted on them.
    pub models: Models,
    /// The profiles' spread around the models.
    pub spread: Spread,
    /// The profile runs' time before their first launch.
    pub lead_in: LeadInLaw,
    /// How jobs that time-shared cores slowed each other (the profiles are taken back to
    /// their times alone by it).
    pub corun: CoRunLaw,
}

impl Inputs {
    /// Loads the profiles of `runs` and fits the models.
    ///
    /// # Errors
    /// As [`profiles::load`].
    pub fn load(runs: &[PathBuf]) -> crate::Result<Self> {
        let profiles::Loaded {
            mut profiles,
            lead_ins,
        } = profiles::load(runs)?;
        let corun = CoRunLaw::fit(&profiles);
        corun.deflate(&mut profiles);
        let models = Models::fit(&profiles);
        let spread = Spread::of(&profiles, &models);
        Ok(Self {
            runs: runs.to_vec(),
            profiles,
            models,
            spread,
            lead_in: LeadInLaw::fit(&lead_ins),
            corun,
        })
    }
}
