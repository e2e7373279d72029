//! What a job does when it runs alone: a measured profile drawn for it and scaled to its size
//! and threads.

use std::sync::Arc;

use super::model::Models;
use super::profiles::{Curve, Profile, BINS};
use super::Setup;
use crate::plan::{PlannedJob, Stage};

/// What a job does when it runs alone.
#[derive(Debug, Clone)]
pub struct JobShape {
    /// Wall time alone, s.
    pub wall_s: f64,
    /// CPU time, s.
    pub cpu_s: f64,
    /// Peak Σ RSS, bytes.
    pub peak: u64,
    /// rchar, wchar, read_bytes, write_bytes of the whole job.
    pub io: [u64; 4],
    /// Memory and CPU per bin.
    pub curve: Arc<Curve>,
    /// Factor on the curve's cores (threads other than the profile's).
    pub cores_scale: f64,
    /// Threads: the most cores it asks for (a sampled CPU above them is jitter).
    pub threads: f64,
}

impl JobShape {
    pub(super) fn rss(&self, bin: usize) -> u64 {
        (self.curve.rss[bin.min(BINS - 1)] * self.peak as f64) as u64
    }
    pub(super) fn cores(&self, bin: usize) -> f64 {
        (self.curve.cores[bin.min(BINS - 1)] * self.cores_scale).clamp(1e-3, self.threads)
    }
}

/// A stable 64-bit hash (FNV-1a), so a seed gives the same draws on every build.
pub(super) fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The measured spread a Monte Carlo sample draws from. Each profile's CPU time is the laws'
/// level × its run's factor × its own residual: the run's factor (the geometric mean of its
/// profiles' ratios to the laws) is how much slower or faster that run's machine was, the
/// residual what varies from job to job within one run (the images of a pair, noise).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spread {
    /// One factor per profile run.
    pub run_factors: Vec<f64>,
    /// Per stage, every profile's residual within its run.
    pub residuals: [Vec<f64>; 2],
}

impl Spread {
    /// The spread of `profiles` around `models`.
    pub fn of(profiles: &[Profile], models: &Models) -> Self {
        let ratio = |p: &Profile| {
            let level = models.stage(p.stage).cpu(p.voxels as f64, p.atlases as f64);
            (p.cpu_s / level).max(1e-9)
        };
        let mut runs: Vec<&std::path::Path> = profiles.iter().map(|p| p.run.as_path()).collect();
        runs.sort_unstable();
        runs.dedup();
        let run_factors: Vec<f64> = runs
            .iter()
            .map(|r| {
                let logs: Vec<f64> = profiles
                    .iter()
                    .filter(|p| p.run == *r)
                    .map(|p| ratio(p).ln())
                    .collect();
                (logs.iter().sum::<f64>() / logs.len().max(1) as f64).exp()
            })
            .collect();
        let mut residuals: [Vec<f64>; 2] = Default::default();
        for p in profiles {
            let k = runs.binary_search(&p.run.as_path()).unwrap_or(0);
            residuals[p.stage.index()].push(ratio(p) / run_factors[k]);
        }
        Spread {
            run_factors,
            residuals,
        }
    }
}

/// Where a sample's stratified draws start for `what`: every sample walks the same list from
/// its own offset, one step per job, so each entry is drawn about equally often.
fn offset(seed: u64, sample: u64, what: &[u8]) -> u64 {
    fnv(&[&seed.to_le_bytes(), &sample.to_le_bytes(), what])
}

/// A job's shape. Its CPU time is the laws' level at its size × the sample's run factor × a
/// drawn residual; its curve, peak (scaled by the laws), I/O and parallelism come from one of the
/// closest profiles of its stage (its threads, its image size, its atlas count, each when
/// some profile has it). With other threads than the profile's, its parallelism scales with
/// them (up to the threads). Draws are stratified over the sample's jobs (see [`offset`]).
pub fn shape_of(job: &PlannedJob, setup: &Setup<'_>, sample: u64) -> JobShape {
    let Setup {
        profiles,
        models,
        spread,
        seed,
        ..
    } = *setup;
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
    let residuals = &spread.residuals[job.stage.index()];
    if pool.is_empty() || residuals.is_empty() || spread.run_factors.is_empty() {
        return JobShape {
            wall_s: f64::NAN,
            cpu_s: 0.0,
            peak: 0,
            io: [0; 4],
            curve: Arc::new(Curve::flat(1.0)),
            cores_scale: 1.0,
            threads: 1.0,
        };
    }
    let stage = job.stage.as_str().as_bytes();
    let k = job.ordinal as u64;
    let pick = |what: &[u8], len: usize| {
        (offset(seed, sample, &[stage, what].concat()).wrapping_add(k) % len as u64) as usize
    };
    let p = pool[pick(b"profile", pool.len())];
    let run = spread.run_factors
        [(offset(seed, sample, b"run") % spread.run_factors.len() as u64) as usize];
    let m = models.stage(job.stage);
    let atlases = atlases_of(job) as f64;
    let (v0, v1, n0) = (p.voxels as f64, job.voxels.max(1) as f64, p.atlases as f64);
    let residual = residuals[pick(b"residual", residuals.len())];
    let cpu_s = m.cpu(v1, atlases) * run * residual;
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
        wall_s: cpu_s / p1,
        cpu_s,
        peak: (p.peak as f64 * f_peak) as u64,
        io: p.io.map(|v| (v as f64 * f_io) as u64),
        curve: Arc::clone(&p.curve),
        cores_scale: p1 / p0,
        threads: t1,
    }
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;
