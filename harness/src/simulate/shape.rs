//! What a job does when it runs alone: a measured profile drawn for it and scaled to its size
//! and threads.

use std::sync::Arc;

use super::model::Models;
use super::profiles::{Curve, Profile, BINS};
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
            curve: Arc::new(Curve::flat(1.0)),
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
        curve: Arc::clone(&p.curve),
        cores_scale: p1 / p0,
        threads: t1,
    }
}
