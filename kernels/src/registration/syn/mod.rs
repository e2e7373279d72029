//! Symmetric normalization (SyN; Avants et al., Med. Image Anal. 12(1), 2008) on one grid.
//!
//! Two displacement fields map a middle space (the fixed grid) to the fixed image (`u1`) and
//! to the moving image (`u2`); each is kept with its inverse (`v1`, `v2`: image → middle,
//! the displacement fields of ITK's `FixedToMiddle` and `MovingToMiddle` transforms, whose
//! inverses warp the images). Each iteration warps both images into the middle space,
//! computes the metric derivatives there, turns them into forces along the warped images'
//! gradients, smooths each update with a Gaussian of the update-field variance, holds it at
//! zero on the grid's boundary and scales it so its largest displacement equals the gradient
//! step (voxels of the current level). As ITK's `SyNImageRegistrationMethod` does on every
//! iteration of every level, the update `δ` (a move of the middle's points) is composed
//! after the image → middle field, `v ← v(x) + δ(x + v(x))`, which is smoothed with the
//! total-field variance when it is non-zero and held at zero on the boundary; then `u ← v⁻¹`
//! (warm-started from the previous `u`) and `v ← u⁻¹` (warm-started from the updated `v`),
//! both by the damped fixed-point inversion of [`Field::invert_damped`] (ITK's tolerances: a
//! largest residual below 0.1 voxel or a mean below 0.001, at most 20 passes). For the
//! warping field that is the update applied first, `u ← (id + u) ∘ (id − δ) − id` to first
//! order: the force was measured in the middle space, at `x`, not at `x + u(x)`. The
//! inversions are what keep the map diffeomorphic: an update that would fold the field cannot
//! be followed by the damped iteration, and the round trip comes back without the fold.
//! Levels run coarse to fine (shrink factors and smoothing sigmas in full-resolution voxels);
//! fields and inverses are carried up by resampling. The forward map (fixed → moving) is
//! `u2 ∘ v1`, the inverse map (moving → fixed) `u1 ∘ v2`.
//!
//! The moving image must already be on the fixed grid (the pipeline resamples it through the
//! affine stage's transform first).

use std::borrow::Cow;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::cc::{cc_derivatives, CcWorkspace};
use super::field::{Field, InversionStats};
use super::interp::{sample_row, weighted_gradient};
use super::mattes::{BinRange, SymmetricMattes};
use super::pyramid::{downsample, level_dims};
use super::Schedule;

/// Similarity metric driving SyN.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum SynMetric {
    /// Mattes mutual information with this many bins (the paper's choice).
    Mattes {
        /// Histogram bins.
        bins: usize,
    },
    /// Neighbourhood cross-correlation with this window radius (voxels).
    Cc {
        /// Window radius.
        radius: usize,
    },
}

/// SyN parameters; defaults are the paper's (antsRegistration as Zhang et al. ran it:
/// `SyN[0.1,3,0]` on Mattes MI with 32 bins).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynParams {
    /// Levels, iterations and convergence.
    pub schedule: Schedule,
    /// Largest update displacement per iteration, voxels of the level.
    pub step: f32,
    /// Variance of the Gaussian applied to each update, voxels².
    pub update_variance: f32,
    /// Variance of the Gaussian applied to the total field, voxels² (0 = none).
    pub total_variance: f32,
    /// Similarity metric.
    pub metric: SynMetric,
}

impl Default for SynParams {
    fn default() -> Self {
        SynParams {
            schedule: Schedule::default(),
            step: 0.1,
            update_variance: 3.0,
            total_variance: 0.0,
            metric: SynMetric::Mattes { bins: 32 },
        }
    }
}

/// What happened at one level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelStats {
    /// Shrink factor.
    pub shrink: usize,
    /// Grid of the level.
    pub dims: [usize; 3],
    /// Iterations actually run (≤ the maximum when converged).
    pub iterations: usize,
    /// Metric (larger is better: mean local CC, or MI in nats) before the first iteration.
    pub initial_metric: f64,
    /// Metric after the last iteration.
    pub final_metric: f64,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// Result of [`syn`].
#[derive(Debug, Clone)]
pub struct SynResult {
    /// Fixed grid point `y` maps to moving grid point `y + forward(y)`.
    pub forward: Field,
    /// Moving grid point `z` maps to fixed grid point `z + inverse(z)`.
    pub inverse: Field,
    /// Per-level statistics.
    pub levels: Vec<LevelStats>,
    /// The last inversion of the fixed-side field (`v1 = u1⁻¹`).
    pub inversion: InversionStats,
}

/// `out(x) = img(x + u(x))`.
pub fn warp(img: &[f32], dims: [usize; 3], u: &Field, out: &mut [f32]) {
    let [nx, ny, _] = dims;
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slab)| {
            for j in 0..ny {
                let r = j * nx..(j + 1) * nx;
                let at = nx * ny * k + j * nx;
                let d = [0, 1, 2].map(|a| &u.c[a][at..at + nx]);
                sample_row([img], dims, j, k, d, [&mut slab[r]]);
            }
        });
}

/// The inversion stops when every voxel's residual `|v(x) + u(x + v(x))|` is below this
/// (voxels of the level; ITK's default)…
const INVERSION_MAX_TOLERANCE: f32 = 0.1;
/// …or when their mean is below this (ITK's default)…
const INVERSION_MEAN_TOLERANCE: f32 = 0.001;
/// …or after this many passes (ITK's default).
const INVERSION_PASSES: usize = 20;

/// `v ← u⁻¹` by the damped inversion at SyN's tolerances.
fn invert(u: &Field, v: &mut Field, work: &mut Field) -> InversionStats {
    u.invert_damped(
        v,
        work,
        INVERSION_PASSES,
        INVERSION_MAX_TOLERANCE,
        INVERSION_MEAN_TOLERANCE,
    )
}

/// Scratch buffers of one level, allocated once per level (never inside the iteration loop).
struct Buffers {
    warped: [Vec<f32>; 2],
    /// The metric's derivatives with respect to each warped image (CC only: Mattes computes
    /// them from the two warped values where the forces use them).
    deriv: [Vec<f32>; 2],
    update: Field,
    metric: MetricState,
}

/// The metric's own state for one level.
enum MetricState {
    /// The streamed window sums' buffers, with the window radius.
    Cc(CcWorkspace, usize),
    /// Both histograms, with the fixed and moving level images' intensity ranges: warped
    /// intensities are convex combinations of the level image's, so these ranges hold them.
    Mattes(Box<SymmetricMattes>, [BinRange; 2]),
}

impl MetricState {
    /// Whether the derivatives are stored as images.
    fn stores_derivatives(&self) -> bool {
        matches!(self, MetricState::Cc(..))
    }

    fn new(metric: SynMetric, fixed: &[f32], moving: &[f32]) -> Self {
        match metric {
            SynMetric::Cc { radius } => MetricState::Cc(CcWorkspace::default(), radius),
            SynMetric::Mattes { bins } => MetricState::Mattes(
                Box::new(SymmetricMattes::new(bins)),
                [BinRange::of(fixed, bins), BinRange::of(moving, bins)],
            ),
        }
    }
}

impl Buffers {
    /// Warps both images into the middle space (left in `warped`) and returns the metric
    /// value (larger is better), made ready for [`Buffers::force`].
    fn measure(&mut self, images: [&[f32]; 2], dims: [usize; 3], fields: [&Field; 2]) -> f64 {
        warp(images[0], dims, fields[0], &mut self.warped[0]);
        warp(images[1], dims, fields[1], &mut self.warped[1]);
        let [d_f, d_m] = &mut self.deriv;
        let [w0, w1] = &self.warped;
        match &mut self.metric {
            MetricState::Cc(ws, radius) => cc_derivatives(w0, w1, dims, *radius, ws, d_f, d_m),
            MetricState::Mattes(mi, ranges) => mi.fit(w0, w1, *ranges),
        }
    }

    /// Side `s`'s force after [`Buffers::measure`], into `update`: the metric's derivative
    /// with respect to that side's warped image times the warped image's gradient.
    fn force(&mut self, s: usize, dims: [usize; 3]) {
        let [fx, fy, fz] = &mut self.update.c;
        let [w0, w1] = &self.warped;
        match &self.metric {
            MetricState::Cc(..) => {
                let d = &self.deriv[s];
                weighted_gradient(&self.warped[s], |v| d[v], dims, [fx, fy, fz]);
            }
            MetricState::Mattes(mi, _) if s == 0 => {
                weighted_gradient(w0, |v| mi.d_x(w0[v], w1[v]), dims, [fx, fy, fz]);
            }
            MetricState::Mattes(mi, _) => {
                weighted_gradient(w1, |v| mi.d_y(w0[v], w1[v]), dims, [fx, fy, fz]);
            }
        }
    }
}

/// One SyN iteration on both fields and their inverses; returns the metric before the
/// update and the fixed-side field's inversion.
fn iterate(
    images: [&[f32]; 2],
    dims: [usize; 3],
    fields: [&mut Field; 2],
    inverses: &mut [Field; 2],
    p: &SynParams,
    b: &mut Buffers,
) -> (f64, InversionStats) {
    let [u1, u2] = fields;
    let metric = b.measure(images, dims, [u1, u2]);
    let mut fixed_side = InversionStats {
        passes: 0,
        max_error: 0.0,
        mean_error: 0.0,
    };
    for ((s, u), v) in [u1, u2].into_iter().enumerate().zip(inverses.iter_mut()) {
        b.force(s, dims);
        b.update.smooth(p.update_variance.sqrt());
        b.update.zero_boundary();
        let stats = apply_update(u, v, &mut b.update, p);
        if s == 0 {
            fixed_side = stats;
        }
    }
    (metric, fixed_side)
}

/// Applies one smoothed force field (`force`: how the warping field `u` should change, on the
/// middle grid) to a side's pair of fields, and returns the inversion that gives `v = u⁻¹`.
/// The force is scaled so its largest displacement is the step. Moving the middle's points by
/// `δ` changes `u` by `−δ`, so the middle-space update is `δ = −scale · force`; it is composed
/// after the image → middle field `v`, which the total variance smooths, and the warping field
/// is its inverse: `u ← v⁻¹`, then `v ← u⁻¹`. `force` is spent: it serves as the inversions'
/// work buffer.
fn apply_update(u: &mut Field, v: &mut Field, force: &mut Field, p: &SynParams) -> InversionStats {
    let max = force.max_norm();
    let scale = if max > 0.0 { p.step / max } else { 0.0 };
    v.compose_then_scaled(force, -scale);
    v.smooth(p.total_variance.sqrt());
    v.zero_boundary();
    invert(v, u, force);
    invert(u, v, force)
}

/// The image of one level; at full resolution without smoothing the input itself (no copy).
fn level_image(img: &[f32], dims: [usize; 3], sigma: f32, ldims: [usize; 3]) -> Cow<'_, [f32]> {
    if ldims == dims && sigma <= 0.0 {
        Cow::Borrowed(img)
    } else {
        Cow::Owned(downsample(img, dims, sigma, ldims))
    }
}

/// Registers `moving` to `fixed` (same grid, `dims`) with SyN.
pub fn syn(fixed: &[f32], moving: &[f32], dims: [usize; 3], p: &SynParams) -> SynResult {
    let mut state: Option<([Field; 2], [Field; 2])> = None;
    let mut inversion = InversionStats {
        passes: 0,
        max_error: 0.0,
        mean_error: 0.0,
    };
    let mut levels = Vec::new();
    for (iters, f, sigma) in p.schedule.levels() {
        let started = Instant::now();
        let ldims = level_dims(dims, f);
        let imgs = [
            level_image(fixed, dims, sigma, ldims),
            level_image(moving, dims, sigma, ldims),
        ];
        let up = |f: Field| f.resample_to(ldims);
        let ([mut u1, mut u2], mut inverses) = match state.take() {
            Some(([a, b], [c, d])) => ([up(a), up(b)], [up(c), up(d)]),
            None => {
                let z = || Field::zeros(ldims);
                ([z(), z()], [z(), z()])
            }
        };
        let n = ldims.iter().product();
        let metric = MetricState::new(p.metric, &imgs[0], &imgs[1]);
        let stored = if metric.stores_derivatives() { n } else { 0 };
        let mut b = Buffers {
            warped: [vec![0.0; n], vec![0.0; n]],
            deriv: [vec![0.0; stored], vec![0.0; stored]],
            update: Field::zeros(ldims),
            metric,
        };
        let mut history = Vec::with_capacity(iters);
        for _ in 0..iters {
            let (metric, stats) = iterate(
                [&imgs[0], &imgs[1]],
                ldims,
                [&mut u1, &mut u2],
                &mut inverses,
                p,
                &mut b,
            );
            history.push(metric);
            inversion = stats;
            if p.schedule.converged(&history) {
                break;
            }
        }
        let final_metric = b.measure([&imgs[0], &imgs[1]], ldims, [&u1, &u2]);
        levels.push(LevelStats {
            shrink: f,
            dims: ldims,
            iterations: history.len(),
            initial_metric: history.first().copied().unwrap_or(final_metric),
            final_metric,
            seconds: started.elapsed().as_secs_f64(),
        });
        state = Some(([u1, u2], inverses));
    }
    let ([u1, u2], [v1, v2]) = match state {
        Some((u, v)) if u[0].dims == dims => (u, v),
        Some(([a, b], [c, d])) => {
            // The last level was coarser than the images: carry everything up once more and
            // bring the inverses back to tolerance on the full grid.
            let full = |f: Field| f.resample_to(dims);
            let ([a, b], [mut c, mut d]) = ([full(a), full(b)], [full(c), full(d)]);
            let mut work = Field::zeros(dims);
            inversion = invert(&a, &mut c, &mut work);
            invert(&b, &mut d, &mut work);
            ([a, b], [c, d])
        }
        None => {
            let z = || Field::zeros(dims);
            ([z(), z()], [z(), z()])
        }
    };
    // Each map is composed over the inverse it starts from, and each half field freed once
    // used: the end holds four fields, not six.
    let mut forward = v1;
    u2.compose_onto(&mut forward);
    drop(u2);
    let mut inverse = v2;
    u1.compose_onto(&mut inverse);
    drop(u1);
    SynResult {
        forward,
        inverse,
        levels,
        inversion,
    }
}

#[cfg(test)]
mod tests;
