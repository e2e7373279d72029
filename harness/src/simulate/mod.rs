//! `atlasperf simulate`: a scenario planned exactly as `run` plans it, scheduled by the same
//! scheduler and driver, on a virtual clock where every job replays a measured profile of its
//! stage scaled to its size ([`model`]), sharing its node's cores and memory ([`engine`]).
//! Monte Carlo samples draw each job's profile at random among its stage's; the first sample
//! is written as a run store in the measured runs' schema ([`output`]).

pub mod engine;
pub mod export;
pub mod model;
pub mod output;
pub mod profiles;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use output::write_store;

use crate::driver::{drive, Event};
use crate::plan::{Plan, PlannedJob, Stage};
use crate::scheduler::Scheduler;
use crate::store::{AttemptStatus, JobRecord};
use engine::{JobShape, MemoryRule, Point, SimExecutor};
use model::Models;
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

/// A stable 64-bit hash (FNV-1a), so a seed gives the same draws on every build.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A job's shape: a profile of its stage drawn from `(seed, sample, job id)` among the closest
/// ones (its threads, its image size, its atlas count, each when some profile has it), scaled
/// by the models from the profile's voxels and atlases to the job's; with other threads than
/// the profile's, its parallelism scales with them (up to the threads) at the same CPU time.
pub fn shape_of(
    job: &PlannedJob,
    profiles: &[Profile],
    models: &Models,
    seed: u64,
    sample: u64,
) -> JobShape {
    let atlases_of = |j: &PlannedJob| match j.stage {
        Stage::Registration => 1,
        Stage::Fusion => j.deps.len().max(1),
    };
    // The closest profiles measured: of its stage; with its threads if any; at its image
    // size and atlas count if any — the laws scale only what no profile measured.
    let mut pool: Vec<&Profile> = profiles.iter().filter(|p| p.stage == job.stage).collect();
    for same in [
        &(|p: &Profile| p.threads == job.threads) as &dyn Fn(&Profile) -> bool,
        &|p: &Profile| p.voxels == job.voxels,
        &|p: &Profile| p.atlases == atlases_of(job),
    ] {
        if pool.iter().any(|p| same(p)) {
            pool.retain(|p| same(p));
        }
    }
    if pool.is_empty() {
        return JobShape {
            wall_s: f64::NAN,
            cpu_s: 0.0,
            peak: 0,
            io: [0; 4],
            curve: std::sync::Arc::new(profiles::Curve::flat(1.0)),
            cores_scale: 1.0,
            threads: 1.0,
        };
    }
    let h = fnv(&[
        &seed.to_le_bytes(),
        &sample.to_le_bytes(),
        job.id.as_bytes(),
    ]);
    let p = pool[(h % pool.len() as u64) as usize];
    let m = models.stage(job.stage);
    let atlases = atlases_of(job) as f64;
    let (v0, v1, n0) = (p.voxels as f64, job.voxels.max(1) as f64, p.atlases as f64);
    let f_wall = m.wall_voxels.ratio(v0, v1) * m.wall_atlases.ratio(n0, atlases);
    let f_peak = m.peak_voxels.ratio(v0, v1) * m.peak_atlases.ratio(n0, atlases);
    let f_io = (v1 / v0) * (atlases / n0);
    let p0 = (p.cpu_s / p.wall_s).max(1e-3);
    let (t0, t1) = (p.threads as f64, job.threads.max(1) as f64);
    let p1 = if p.threads == job.threads {
        p0
    } else {
        (p0 * t1 / t0).min(t1)
    };
    JobShape {
        wall_s: p.wall_s * f_wall * p0 / p1,
        cpu_s: p.cpu_s * f_wall,
        peak: (p.peak as f64 * f_peak) as u64,
        io: p.io.map(|v| (v as f64 * f_io) as u64),
        curve: std::sync::Arc::clone(&p.curve),
        cores_scale: p1 / p0,
        threads: t1,
    }
}

/// What every sample of a simulation shares.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The measured attempts.
    pub profiles: &'a [Profile],
    /// The scaling models fitted on them.
    pub models: &'a Models,
    /// Which memory rule kills jobs.
    pub rule: MemoryRule,
    /// The scheduler's memory models (the memory policy's requests), as `run` has them.
    pub memory_models: [Option<crate::scheduler::MemoryModel>; 2],
    /// Seed of the draws.
    pub seed: u64,
}

/// Simulates `plan` once: sample `sample` of the setup's seed. `record` keeps every attempt's record
/// and series (for the run store); without it only the totals are kept, so a million jobs
/// fit in memory.
pub fn simulate_once(
    plan: &Plan,
    s: &Setup<'_>,
    sample: u64,
    record: bool,
) -> anyhow::Result<Sample> {
    let mut sched = Scheduler::new(plan, s.memory_models);
    let shaper = {
        let profiles = s.profiles.to_vec();
        let (models, seed) = (*s.models, s.seed);
        Box::new(move |job: &PlannedJob| shape_of(job, &profiles, &models, seed, sample))
    };
    let mut exec = SimExecutor::new(&plan.nodes, s.rule, shaper, record);
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
}

impl Inputs {
    /// Loads the profiles of `runs` and fits the models.
    ///
    /// # Errors
    /// As [`profiles::load`].
    pub fn load(runs: &[PathBuf]) -> anyhow::Result<Self> {
        let profiles = profiles::load(runs)?;
        let models = Models::fit(&profiles);
        Ok(Self {
            runs: runs.to_vec(),
            profiles,
            models,
        })
    }
}
