//! Measured profiles: every successful registration or fusion attempt of the given run stores,
//! as its size, totals and a normalised curve — memory and CPU against the fraction of its
//! wall time done, in [`BINS`] equal bins. An attempt that shared its node's cores with more
//! threads than the node had is taken back to what it would have taken alone (its measured
//! wall × its average share of the cores, at least its CPU time over its threads); profiles
//! measured alone (one slot, or threads ≤ cores) need no such correction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::UsageError;
use crate::plan::Stage;
use crate::store::{read_samples_table, AttemptStatus, JobRecord, RunInfo, SampleRow};

/// Bins of a curve: the simulator's memory and CPU change at their boundaries.
pub const BINS: usize = 32;

/// A job's shape over its run, per bin of equal wall-time fraction.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Largest Σ RSS sampled in the bin, as a fraction of the attempt's peak (its high-water
    /// mark: the samples can miss a peak shorter than their interval, so the bins may stay
    /// below 1).
    pub rss: Vec<f64>,
    /// The largest of `rss`: what the samples saw of the peak.
    pub top: f64,
    /// Cores busy in the bin (CPU % of one core / 100), scaled so the bins add up to the
    /// attempt's CPU seconds.
    pub cores: Vec<f64>,
}

impl Curve {
    /// One level all the way: `cores` busy, the peak held throughout.
    pub fn flat(cores: f64) -> Self {
        Curve {
            rss: vec![1.0; BINS],
            top: 1.0,
            cores: vec![cores; BINS],
        }
    }
}

/// One measured attempt.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The run it comes from.
    pub run: PathBuf,
    /// Its attempt id there.
    pub attempt_id: String,
    /// Stage.
    pub stage: Stage,
    /// Kernel threads it was given.
    pub threads: usize,
    /// Voxels of its target image.
    pub voxels: u64,
    /// Atlases fused (fusion), 1 for a registration.
    pub atlases: usize,
    /// Wall time it would take alone on its node, s: the measured one when nothing beside
    /// it asked for its cores (see [`load`]).
    pub wall_s: f64,
    /// Wall time measured, s.
    pub measured_wall_s: f64,
    /// CPU time, s.
    pub cpu_s: f64,
    /// Peak Σ RSS, bytes.
    pub peak: u64,
    /// rchar, wchar, read_bytes, write_bytes.
    pub io: [u64; 4],
    /// Its shape.
    pub curve: Arc<Curve>,
    /// The share of its threads' cores it got on average (1: never more threads than cores
    /// on its node). Below 1, its wall time alone is taken as the measured one × the share,
    /// but at least its CPU time over its threads.
    pub share: f64,
    /// Seconds the harness held the attempt's slot beyond the job's own wall time: from its
    /// launch to the agent's spawn of the job (the agent's start-up), and from the reap to the
    /// driver noticing the end (its poll). A replayed job holds its slot this much longer.
    pub overhead_s: f64,
}

/// How long a measured run took from its start to its first launch — preparing its inputs
/// (a phantom cohort generated and written, images staged) — against the voxels of those
/// inputs: every subject a job names, at the size of its images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeadIn {
    /// Voxels of every subject the run's jobs read.
    pub input_voxels: f64,
    /// Seconds from the run's start to its first launch.
    pub seconds: f64,
}

/// The lead-in of a run from its jobs table; none without attempts (an imported store's
/// clock starts at its first job anyway).
pub fn lead_in_of(jobs: &[JobRecord]) -> Option<LeadIn> {
    let first = jobs.iter().map(|j| j.start_s).min_by(f64::total_cmp)?;
    Some(LeadIn {
        input_voxels: subject_voxels(
            jobs.iter()
                .map(|j| (j.target.as_str(), j.atlas.as_deref(), j.voxels.unwrap_or(0))),
        ),
        seconds: first.max(0.0),
    })
}

/// Voxels of every subject some job reads — (target, atlas, its images' voxels) per job —
/// each subject counted once.
pub fn subject_voxels<'a>(jobs: impl Iterator<Item = (&'a str, Option<&'a str>, u64)>) -> f64 {
    let mut subjects: HashMap<&str, u64> = HashMap::new();
    for (target, atlas, voxels) in jobs {
        for s in std::iter::once(target).chain(atlas) {
            subjects.insert(s, voxels);
        }
    }
    subjects.values().map(|v| *v as f64).sum()
}

/// The profiles of a set of run stores, with each run's lead-in.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Every successful registration or fusion attempt.
    pub profiles: Vec<Profile>,
    /// One per run that had attempts.
    pub lead_ins: Vec<LeadIn>,
}

/// Reads the profiles of every run store in `runs`.
///
/// # Errors
/// A folder that is not a run store, or whose tables were never written, is a usage error
/// naming it; so is a set of stores with no successful attempt of a stage.
pub fn load(runs: &[PathBuf]) -> crate::Result<Loaded> {
    let mut loaded = Loaded::default();
    for dir in runs {
        let (profiles, lead_in) = load_one(dir)?;
        loaded.profiles.extend(profiles);
        loaded.lead_ins.extend(lead_in);
    }
    let out = &loaded.profiles;
    for stage in [Stage::Registration, Stage::Fusion] {
        if !out.iter().any(|p| p.stage == stage) {
            return Err(UsageError(format!(
                "--profiles: no successful {} attempt in {}; give a run that measured one",
                stage.as_str(),
                runs.iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }
    }
    Ok(loaded)
}

fn load_one(dir: &Path) -> crate::Result<(Vec<Profile>, Option<LeadIn>)> {
    let (_, info, jobs) = super::open_tables(dir, "--profiles", true)?;
    let mut samples: HashMap<String, Vec<SampleRow>> = HashMap::new();
    // The store's errors name the table they could not read.
    for r in read_samples_table(&dir.join("samples.parquet"))? {
        samples.entry(r.attempt_id.clone()).or_default().push(r);
    }
    let parents = super::export::fusion_parents(&jobs);
    let mut out = Vec::new();
    for j in &jobs {
        let stage = match j.stage.as_str() {
            "registration" => Stage::Registration,
            "fusion" => Stage::Fusion,
            _ => continue,
        };
        if j.status != AttemptStatus::Ok || j.totals.wall_s <= 0.0 || j.totals.peak_rss == 0 {
            continue;
        }
        let Some(voxels) = j.voxels else {
            return Err(UsageError(format!(
                "--profiles: {}: attempt {} has no image size (a store imported without --voxels); import it again with --voxels N, the voxels of the images its jobs processed",
                dir.display(),
                j.attempt_id
            ))
            .into());
        };
        let t = &j.totals;
        let rows = samples.remove(&j.attempt_id).unwrap_or_default();
        // Alone, it would have run at least as fast as its share allowed, and no faster than
        // its CPU time spread over all its threads.
        let share = cpu_share(j, &jobs, &info);
        let alone = (t.wall_s * share)
            .max(t.cpu_s() / j.threads.max(1) as f64)
            .min(t.wall_s);
        out.push(Profile {
            run: dir.to_path_buf(),
            attempt_id: j.attempt_id.clone(),
            stage,
            threads: j.threads.max(1),
            voxels: voxels.max(1),
            atlases: match stage {
                Stage::Registration => 1,
                Stage::Fusion => parents.get(j.job_id.as_str()).map_or(1, Vec::len).max(1),
            },
            wall_s: alone,
            measured_wall_s: t.wall_s,
            cpu_s: t.cpu_s(),
            peak: t.peak_rss,
            io: [t.rchar, t.wchar, t.read_bytes, t.write_bytes],
            curve: Arc::new(curve_of(&rows, t.wall_s, alone, t.cpu_s(), t.peak_rss)),
            share,
            overhead_s: (j.end_s - j.start_s - t.wall_s).clamp(0.0, t.wall_s),
        });
    }
    Ok((out, lead_in_of(&jobs)))
}

/// The time-averaged share of its asked cores `j` got on its node: at each moment
/// min(1, cores / Σ threads of the attempts running there), 1 when its node is unknown.
fn cpu_share(j: &JobRecord, jobs: &[JobRecord], info: &RunInfo) -> f64 {
    let Some(cores) = info.node(&j.node).map(|n| n.cores.max(1) as f64) else {
        return 1.0;
    };
    let wall = j.end_s - j.start_s;
    if wall <= 0.0 {
        return 1.0;
    }
    let beside: Vec<&JobRecord> = jobs
        .iter()
        .filter(|o| o.node == j.node && o.start_s < j.end_s && o.end_s > j.start_s)
        .collect();
    let mut cuts: Vec<f64> = beside
        .iter()
        .flat_map(|o| [o.start_s, o.end_s])
        .filter(|t| *t > j.start_s && *t < j.end_s)
        .chain([j.start_s, j.end_s])
        .collect();
    cuts.sort_by(f64::total_cmp);
    cuts.dedup();
    let mut sum = 0.0;
    for w in cuts.windows(2) {
        let mid = 0.5 * (w[0] + w[1]);
        let threads: usize = beside
            .iter()
            .filter(|b| b.start_s <= mid && b.end_s > mid)
            .map(|b| b.threads.max(1))
            .sum();
        sum += (w[1] - w[0]) * (cores / threads.max(1) as f64).min(1.0);
    }
    sum / wall
}

/// The curve of one attempt from its samples (`t` since its start, over `wall_s`): per bin
/// the largest RSS and the mean CPU; bins no sample fell in take the previous bin's values;
/// the cores are scaled so the bins give its CPU seconds over `alone_s`. Without samples, a
/// flat curve.
pub fn curve_of(rows: &[SampleRow], wall_s: f64, alone_s: f64, cpu_s: f64, peak: u64) -> Curve {
    let mean_cores = cpu_s / alone_s.max(1e-9);
    if rows.is_empty() || peak == 0 {
        return Curve::flat(mean_cores);
    }
    let mut rss = vec![f64::NAN; BINS];
    let mut cpu = vec![(0.0, 0usize); BINS];
    for r in rows {
        let b = ((r.t / wall_s * BINS as f64) as usize).min(BINS - 1);
        let v = r.rss as f64 / peak as f64;
        rss[b] = if rss[b].is_nan() { v } else { rss[b].max(v) };
        cpu[b].0 += r.cpu_core_pct / 100.0;
        cpu[b].1 += 1;
    }
    let first = rss.iter().copied().find(|v| !v.is_nan()).unwrap_or(1.0);
    let mut last = (first, mean_cores);
    let mut cores = Vec::with_capacity(BINS);
    for b in 0..BINS {
        if rss[b].is_nan() {
            rss[b] = last.0;
        }
        let c = if cpu[b].1 > 0 {
            cpu[b].0 / cpu[b].1 as f64
        } else {
            last.1
        };
        last = (rss[b], c);
        cores.push(c);
    }
    // As sampled: a node's series sums its jobs' samples, and its watchdog looks at them, so
    // a peak the samples missed is missed there too (the job's own peak is `peak`).
    rss.iter_mut().for_each(|v| *v = v.min(1.0));
    let top = rss.iter().copied().fold(0.0, f64::max);
    // CPU seconds are exact in the totals; the samples give only the shape.
    let sum: f64 = cores.iter().sum::<f64>() * alone_s / BINS as f64;
    if sum > 0.0 {
        cores.iter_mut().for_each(|c| *c *= cpu_s / sum);
    } else {
        cores.iter_mut().for_each(|c| *c = mean_cores);
    }
    if top <= 0.0 {
        return Curve::flat(mean_cores);
    }
    Curve { rss, top, cores }
}
