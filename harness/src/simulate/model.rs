//! Scaling models fitted on the profiles: per stage, time (fitted on CPU time) and peak memory
//! as power laws of the image's voxels and (fusion) of the atlases fused. A simulated job is a profile of
//! its stage scaled by these laws from the profile's size to its own.

use crate::store::stats::fit::{fit_linear, fit_power, Fit};

use super::profiles::{LeadIn, Profile};
use crate::plan::Stage;
use crate::store::ScalingModel;

/// `y = coefficient · x^exponent`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Law {
    /// Coefficient.
    pub coefficient: f64,
    /// Exponent.
    pub exponent: f64,
    /// R² of the fit; none when the exponent was assumed.
    pub r2: Option<f64>,
    /// Distinct predictor values seen.
    pub points: usize,
    /// Largest predictor value profiled.
    pub max_x: f64,
}

impl Law {
    /// The factor from a profile's size `from` to `to`.
    pub fn ratio(&self, from: f64, to: f64) -> f64 {
        (to / from).powf(self.exponent)
    }
}

/// Wall time and peak memory of one stage against voxels and atlases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageModel {
    /// Time (fitted on CPU time, so profiles of any threads agree; after dividing out the
    /// atlases' law) against voxels.
    pub wall_voxels: Law,
    /// Peak memory against voxels.
    pub peak_voxels: Law,
    /// Wall time against atlases (fusion; exponent 0 for registration).
    pub wall_atlases: Law,
    /// Peak memory against atlases.
    pub peak_atlases: Law,
}

impl StageModel {
    /// CPU time the laws give a job of `voxels` fusing `atlases` (1 for a registration), s.
    pub fn cpu(&self, voxels: f64, atlases: f64) -> f64 {
        self.wall_voxels.coefficient
            * voxels.max(1.0).powf(self.wall_voxels.exponent)
            * self.wall_atlases.ratio(1.0, atlases.max(1.0))
    }
}

/// Both stages' models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Models(pub [StageModel; 2]);

fn distinct(x: &[f64]) -> usize {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v.len()
}

/// A power law of `y` on `x`, or, with fewer than two distinct `x`, `assumed` as exponent
/// through the mean point.
fn law(x: &[f64], y: &[f64], assumed: f64) -> Law {
    let points = distinct(x);
    let max_x = x.iter().copied().fold(0.0, f64::max);
    if points >= 2 {
        if let Some(Fit::Power {
            scale,
            exponent,
            r2,
        }) = fit_power(x, y)
        {
            return Law {
                coefficient: scale,
                exponent,
                r2: Some(r2),
                points,
                max_x,
            };
        }
    }
    let n = x.len().max(1) as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    Law {
        coefficient: my / mx.max(1e-12).powf(assumed),
        exponent: assumed,
        r2: None,
        points,
        max_x,
    }
}

impl Models {
    /// Fits both stages on `profiles`. The atlases' law of fusion is fitted within the image
    /// size with the most distinct atlas counts (assumed linear with one count); the voxels'
    /// law on every profile after dividing that out (assumed linear with one size).
    pub fn fit(profiles: &[Profile]) -> Self {
        Models([Stage::Registration, Stage::Fusion].map(|stage| {
            let ps: Vec<&Profile> = profiles.iter().filter(|p| p.stage == stage).collect();
            let none = Law {
                coefficient: 1.0,
                exponent: 0.0,
                r2: None,
                points: 1,
                max_x: 1.0,
            };
            let (wall_atlases, peak_atlases) = if stage == Stage::Fusion {
                let mut sizes: Vec<u64> = ps.iter().map(|p| p.voxels).collect();
                sizes.sort_unstable();
                sizes.dedup();
                let group = sizes
                    .iter()
                    .map(|&v| ps.iter().filter(|p| p.voxels == v).collect::<Vec<_>>())
                    .max_by_key(|g| {
                        distinct(&g.iter().map(|p| p.atlases as f64).collect::<Vec<_>>())
                    })
                    .unwrap_or_default();
                let n: Vec<f64> = group.iter().map(|p| p.atlases as f64).collect();
                let wall: Vec<f64> = group.iter().map(|p| p.cpu_s).collect();
                let peak: Vec<f64> = group.iter().map(|p| p.peak as f64).collect();
                let mut w = law(&n, &wall, 1.0);
                let mut m = law(&n, &peak, 1.0);
                w.max_x = ps.iter().map(|p| p.atlases as f64).fold(0.0, f64::max);
                m.max_x = w.max_x;
                (w, m)
            } else {
                (none, none)
            };
            let v: Vec<f64> = ps.iter().map(|p| p.voxels as f64).collect();
            let per = |f: &dyn Fn(&Profile) -> f64, by: &Law| -> Vec<f64> {
                ps.iter()
                    .map(|p| f(p) / by.ratio(1.0, p.atlases as f64))
                    .collect()
            };
            StageModel {
                // On CPU time: the work grows with the image whatever the threads were.
                wall_voxels: law(&v, &per(&|p| p.cpu_s, &wall_atlases), 1.0),
                peak_voxels: law(&v, &per(&|p| p.peak as f64, &peak_atlases), 1.0),
                wall_atlases,
                peak_atlases,
            }
        }))
    }

    /// A stage's model.
    pub fn stage(&self, s: Stage) -> &StageModel {
        &self.0[s.index()]
    }

    /// The models as `run.json` records them, with the extrapolation to the largest
    /// simulated voxels and atlases of each stage.
    pub fn notes(&self, largest: [(u64, usize); 2]) -> Vec<ScalingModel> {
        let mut out = Vec::new();
        for stage in [Stage::Registration, Stage::Fusion] {
            let m = self.stage(stage);
            let (v, n) = largest[stage.index()];
            let mut laws = vec![
                ("cpu_s", "voxels", m.wall_voxels, v as f64),
                ("peak_rss", "voxels", m.peak_voxels, v as f64),
            ];
            if stage == Stage::Fusion {
                laws.push(("cpu_s", "atlases", m.wall_atlases, n as f64));
                laws.push(("peak_rss", "atlases", m.peak_atlases, n as f64));
            }
            for (quantity, predictor, l, x) in laws {
                out.push(ScalingModel {
                    stage: stage.as_str().into(),
                    quantity: quantity.into(),
                    predictor: predictor.into(),
                    coefficient: l.coefficient,
                    exponent: l.exponent,
                    r2: l.r2,
                    points: l.points,
                    extrapolation: x / l.max_x.max(1e-12),
                });
            }
        }
        out
    }
}

/// The time from a run's start to its first launch (its inputs prepared), seconds =
/// intercept + slope · the voxels of its inputs, fitted on the profile runs' lead-ins: a line
/// with two input sizes or more, through the origin and their mean with one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeadInLaw {
    /// Seconds at no input.
    pub intercept: f64,
    /// Seconds per input voxel.
    pub slope: f64,
    /// Runs it was fitted on.
    pub runs: usize,
}

impl LeadInLaw {
    /// Fits the law on `lead_ins` (none: no lead-in).
    pub fn fit(lead_ins: &[LeadIn]) -> Self {
        let x: Vec<f64> = lead_ins.iter().map(|l| l.input_voxels).collect();
        let y: Vec<f64> = lead_ins.iter().map(|l| l.seconds).collect();
        let runs = lead_ins.len();
        if let Some(Fit::Linear {
            intercept, slope, ..
        }) = fit_linear(&x, &y)
        {
            if slope >= 0.0 {
                return LeadInLaw {
                    intercept,
                    slope,
                    runs,
                };
            }
        }
        let (sx, sy) = (x.iter().sum::<f64>(), y.iter().sum::<f64>());
        if sx > 0.0 {
            LeadInLaw {
                intercept: 0.0,
                slope: sy / sx,
                runs,
            }
        } else {
            LeadInLaw {
                intercept: sy / runs.max(1) as f64,
                slope: 0.0,
                runs,
            }
        }
    }

    /// The lead-in of a run whose inputs have `input_voxels`, s (never negative).
    pub fn at(&self, input_voxels: f64) -> f64 {
        (self.intercept + self.slope * input_voxels).max(0.0)
    }
}

/// Jobs that time-share a node's cores slow each other beyond processor sharing (each
/// refills the caches the other evicted): per stage, a job burns `1 + per_share_lost · (1 −
/// share)` times its CPU time alone while it gets `share` of the cores it asks for. Fitted on
/// the profiles that shared their cores, against the laws of those that ran alone; zero when
/// no profile shared its cores (nothing measured, nothing assumed).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CoRunLaw {
    /// Per stage, the extra CPU per unit of share lost.
    pub per_share_lost: [f64; 2],
    /// Per stage, the profiles that shared their cores it was fitted on (0: the other
    /// stage's profiles were used, or none).
    pub profiles: [usize; 2],
}

/// How many times its CPU time alone a job burns at `share` of its cores, `per_share_lost`
/// being its stage's [`CoRunLaw`] (never below a thousandth, whatever a fit says).
pub fn inflation(per_share_lost: f64, share: f64) -> f64 {
    (1.0 + per_share_lost * (1.0 - share.clamp(0.0, 1.0))).max(1e-3)
}

/// Profiles with a share below this shared their cores. One that lost less — a launch or a
/// reap overlapping a neighbour's by some milliseconds — ran alone as far as its CPU time can
/// tell: fitted on it, the law would divide that time's noise by a share lost near zero.
pub(crate) const ALONE: f64 = 0.99;

impl CoRunLaw {
    /// Fits the law on `profiles`: the laws of the profiles that ran alone give each sharing
    /// profile's CPU time alone; the extra is fitted through the origin against the share
    /// lost, per stage, with a stage that no sharing profile measured taking both stages'
    /// fit.
    pub fn fit(profiles: &[Profile]) -> Self {
        let alone: Vec<Profile> = profiles
            .iter()
            .filter(|p| p.share >= ALONE)
            .cloned()
            .collect();
        let stages = [Stage::Registration, Stage::Fusion];
        if stages.iter().any(|s| !alone.iter().any(|p| p.stage == *s)) {
            return Self::default();
        }
        let laws = Models::fit(&alone);
        // Per stage: Σ lost · extra, Σ lost², profiles.
        let mut sums = [(0.0, 0.0, 0usize); 2];
        for p in profiles.iter().filter(|p| p.share < ALONE) {
            let level = laws.stage(p.stage).cpu(p.voxels as f64, p.atlases as f64);
            let lost = 1.0 - p.share;
            let e = &mut sums[p.stage.index()];
            e.0 += lost * (p.cpu_s / level - 1.0);
            e.1 += lost * lost;
            e.2 += 1;
        }
        let pooled = (sums[0].0 + sums[1].0) / (sums[0].1 + sums[1].1).max(1e-12);
        let mut out = Self::default();
        for s in stages {
            let (xy, xx, n) = sums[s.index()];
            out.per_share_lost[s.index()] = if n > 0 { xy / xx.max(1e-12) } else { pooled };
            out.profiles[s.index()] = n;
        }
        out
    }

    /// How many times its CPU time alone a job of `stage` burns at `share` of its cores.
    pub fn inflation(&self, stage: Stage, share: f64) -> f64 {
        inflation(self.per_share_lost[stage.index()], share)
    }

    /// The profiles taken back to their CPU and wall time alone.
    pub fn deflate(&self, profiles: &mut [Profile]) {
        for p in profiles.iter_mut().filter(|p| p.share < ALONE) {
            let f = self.inflation(p.stage, p.share);
            p.cpu_s /= f;
            p.wall_s /= f;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{LeadIn, LeadInLaw};

    fn lead(input_voxels: f64, seconds: f64) -> LeadIn {
        LeadIn {
            input_voxels,
            seconds,
        }
    }

    #[test]
    fn the_lead_in_is_a_line_over_input_sizes_and_through_the_origin_with_one() {
        // 0.03 s + 0.13 s per million voxels, measured at two sizes.
        let law = LeadInLaw::fit(&[lead(1e6, 0.16), lead(2e6, 0.29), lead(1e6, 0.16)]);
        assert!((law.intercept - 0.03).abs() < 1e-9 && (law.slope * 1e6 - 0.13).abs() < 1e-9);
        assert!((law.at(4e6) - 0.55).abs() < 1e-9);
        assert_eq!(law.runs, 3);
        // One size: proportional to the inputs.
        let law = LeadInLaw::fit(&[lead(1e6, 0.2), lead(1e6, 0.1)]);
        assert!((law.at(2e6) - 0.3).abs() < 1e-9);
        // Nothing measured: no lead-in; a falling line is not extrapolated below zero.
        assert_eq!(LeadInLaw::fit(&[]).at(1e9), 0.0);
        let law = LeadInLaw::fit(&[lead(1e6, 0.3), lead(2e6, 0.1)]);
        assert!(law.slope >= 0.0 && law.at(1e12) >= 0.0);
    }
}
