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
    /// Memory per bin (and the profile's CPU per bin).
    pub curve: Arc<Curve>,
    /// Cores it uses per bin when it has them all: the curve's, at most its threads, and
    /// adding up to its CPU time over its wall time (see [`fill_cores`]).
    pub cores: [f64; BINS],
    /// Threads: the most cores it asks for (a sampled CPU above them is jitter).
    pub threads: f64,
    /// Extra CPU per unit of its cores' share lost to other jobs (see
    /// [`CoRunLaw`](super::model::CoRunLaw)).
    pub per_share_lost: f64,
}

impl JobShape {
    /// Σ RSS in `bin` as 100 ms samples see it: what a node's series sums and its
    /// watchdog judges.
    pub(super) fn rss(&self, bin: usize) -> u64 {
        (self.curve.rss[bin.min(BINS - 1)] * self.peak as f64) as u64
    }
    /// Σ RSS in `bin` with the peaks the samples missed (the curve scaled to the job's
    /// high-water mark): what a per-job memory limit (a cgroup) judges.
    pub(super) fn rss_full(&self, bin: usize) -> u64 {
        let top = self.curve.top.max(1e-9);
        ((self.curve.rss[bin.min(BINS - 1)] / top).min(1.0) * self.peak as f64) as u64
    }
    pub(super) fn cores(&self, bin: usize) -> f64 {
        self.cores[bin.min(BINS - 1)]
    }
    /// How many times its CPU time alone it burns at `share` of its cores.
    pub(super) fn inflation(&self, share: f64) -> f64 {
        super::model::inflation(self.per_share_lost, share)
    }
}

/// The cores per bin of a job that burns `cpu_s` over `wall_s` with at most `threads` at a
/// time, shaped like `shape` (any scale): the shape scaled, with the bins it would push
/// above the threads held at them and the rest raised until the CPU time is all there. A
/// replayed job then burns exactly its CPU time; clipping the bins alone (a sample above
/// the threads is jitter) would lose the clipped CPU, and a node would run more work than
/// its cores can. When even every bin at the threads is not enough, every bin is at the
/// threads (and the wall time, not the shape, is what is short).
pub fn fill_cores(shape: &[f64], cpu_s: f64, wall_s: f64, threads: f64) -> [f64; BINS] {
    const FLOOR: f64 = 1e-3;
    let mut out = [FLOOR; BINS];
    let want = (cpu_s / wall_s.max(1e-12)).max(FLOOR) * BINS as f64;
    let raw: [f64; BINS] = std::array::from_fn(|b| shape.get(b).copied().unwrap_or(0.0).max(FLOOR));
    let mut capped = [false; BINS];
    // Each round holds at the threads the bins the scale pushes past them; a handful of
    // rounds settle it (a bin once held stays held).
    for _ in 0..BINS {
        let held = capped.iter().filter(|c| **c).count() as f64 * threads;
        let free: f64 = (0..BINS).filter(|&b| !capped[b]).map(|b| raw[b]).sum();
        if free <= 0.0 {
            break;
        }
        let scale = ((want - held) / free).max(0.0);
        let mut more = false;
        for b in 0..BINS {
            if !capped[b] && raw[b] * scale > threads {
                capped[b] = true;
                more = true;
            }
        }
        if !more {
            for b in 0..BINS {
                out[b] = if capped[b] {
                    threads
                } else {
                    (raw[b] * scale).max(FLOOR)
                };
            }
            return out;
        }
    }
    [threads; BINS]
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
        let mut runs: Vec<&std::path::Path> = profiles.iter().map(|p| p.run.as_path()).collect();
        runs.sort_unstable();
        runs.dedup();
        // (its run, ln of its ratio to the laws) per profile; then each run's mean of them.
        let logs: Vec<(usize, f64)> = profiles
            .iter()
            .map(|p| {
                let level = models.stage(p.stage).cpu(p.voxels as f64, p.atlases as f64);
                let run = runs.binary_search(&p.run.as_path()).unwrap_or(0);
                (run, (p.cpu_s / level).max(1e-9).ln())
            })
            .collect();
        let mut sums = vec![(0.0, 0usize); runs.len()];
        for &(r, l) in &logs {
            sums[r].0 += l;
            sums[r].1 += 1;
        }
        let run_factors: Vec<f64> = sums
            .iter()
            .map(|&(sum, n)| (sum / n.max(1) as f64).exp())
            .collect();
        let mut residuals: [Vec<f64>; 2] = Default::default();
        for (p, &(r, l)) in profiles.iter().zip(&logs) {
            residuals[p.stage.index()].push(l.exp() / run_factors[r]);
        }
        Spread {
            run_factors,
            residuals,
        }
    }
}

/// What one Monte Carlo sample draws once for all its jobs: its run factor, and per stage
/// where its stratified walks over the profiles and the residuals start — every sample walks
/// the same lists from its own offsets, one step per job, so each entry is drawn about
/// equally often.
#[derive(Debug, Clone, Copy)]
pub struct Draws {
    run: f64,
    /// Per stage: the profiles' start, the residuals' start.
    starts: [[u64; 2]; 2],
}

impl Draws {
    /// Sample `sample` of `seed` over `spread`.
    pub fn new(spread: &Spread, seed: u64, sample: u64) -> Self {
        let at = |what: &[u8]| fnv(&[&seed.to_le_bytes(), &sample.to_le_bytes(), what]);
        let f = &spread.run_factors;
        let run = if f.is_empty() {
            1.0
        } else {
            f[(at(b"run") % f.len() as u64) as usize]
        };
        let starts = [Stage::Registration, Stage::Fusion].map(|s| {
            [b"profile".as_slice(), b"residual"].map(|w| at(&[s.as_str().as_bytes(), w].concat()))
        });
        Draws { run, starts }
    }
}

/// A job's shape. Its CPU time is the laws' level at its size × the sample's run factor × a
/// drawn residual; its curve, peak (scaled by the laws), I/O and parallelism come from one of the
/// closest profiles of its stage (its threads, its image size, its atlas count, each when
/// some profile has it). With other threads than the profile's, its parallelism scales with
/// them (up to the threads). Draws are stratified over the sample's jobs (see [`Draws`]).
pub fn shape_of(job: &PlannedJob, setup: &Setup<'_>, draws: &Draws) -> JobShape {
    let Setup {
        profiles,
        models,
        spread,
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
    // Every profile of the stage left a residual: none only when there is no profile.
    let residuals = &spread.residuals[job.stage.index()];
    if pool.is_empty() {
        return JobShape {
            wall_s: f64::NAN,
            cpu_s: 0.0,
            peak: 0,
            io: [0; 4],
            curve: Arc::new(Curve::flat(1.0)),
            cores: [1.0; BINS],
            threads: 1.0,
            per_share_lost: 0.0,
        };
    }
    let starts = draws.starts[job.stage.index()];
    let pick = |walk: usize, len: usize| {
        (starts[walk].wrapping_add(job.ordinal as u64) % len as u64) as usize
    };
    let p = pool[pick(0, pool.len())];
    let m = models.stage(job.stage);
    let atlases = atlases_of(job) as f64;
    let (v0, v1, n0) = (p.voxels as f64, job.voxels.max(1) as f64, p.atlases as f64);
    let cpu_s = m.cpu(v1, atlases) * draws.run * residuals[pick(1, residuals.len())];
    let f_peak = m.peak_voxels.ratio(v0, v1) * m.peak_atlases.ratio(n0, atlases);
    let f_io = (v1 / v0) * (atlases / n0);
    let p0 = (p.cpu_s / p.wall_s).max(1e-3);
    let (t0, t1) = (p.threads as f64, job.threads.max(1) as f64);
    let p1 = if p.threads == job.threads {
        p0
    } else {
        (p0 * t1 / t0).min(t1)
    };
    // The slot is held for the job's own time plus what the harness spends around it
    // (agent start-up, the driver's poll), at the same CPU: the curve's cores thin out.
    let own = cpu_s / p1;
    let held = own + p.overhead_s.max(0.0);
    JobShape {
        wall_s: held,
        cpu_s,
        peak: (p.peak as f64 * f_peak) as u64,
        io: p.io.map(|v| (v as f64 * f_io) as u64),
        cores: fill_cores(&p.curve.cores, cpu_s, held, t1),
        curve: Arc::clone(&p.curve),
        threads: t1,
        per_share_lost: setup.corun.per_share_lost[job.stage.index()],
    }
}

#[cfg(test)]
mod tests;
