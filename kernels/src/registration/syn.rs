//! Symmetric normalization (SyN; Avants et al., Med. Image Anal. 12(1), 2008) on one grid.
//!
//! Two displacement fields map a middle space (the fixed grid) to the fixed image (`u1`) and
//! to the moving image (`u2`). Each iteration warps both images into the middle space,
//! computes the metric derivatives there, turns them into forces along the warped images'
//! gradients, smooths each update with a Gaussian of the update-field variance, scales it so
//! its largest displacement equals the gradient step (voxels of the current level), and
//! composes it into its field (`u ← u ∘ (id + δ)`); the total fields are smoothed with the
//! total-field variance when it is non-zero, and held at zero on the grid's boundary. Levels run coarse to fine (shrink factors and
//! smoothing sigmas in full-resolution voxels); fields are carried up by resampling. At the
//! end the inverses are found by fixed-point iteration and composed into the forward map
//! (fixed → moving) and the inverse map (moving → fixed); the inverses are updated at the end
//! of every level, warm-started from the coarser level's. On levels with fewer than
//! `reinvert_below` voxels along an axis each field also takes an inverse round trip after
//! every update (`v = u⁻¹`, `u = v⁻¹`, as antsRegistration does on every level), which keeps
//! Mattes MI from over-deforming on coarse grids.
//!
//! The moving image must already be on the fixed grid (the pipeline resamples it through the
//! affine stage's transform first).

use std::borrow::Cow;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::cc::{cc_derivatives, CcWorkspace};
use super::field::{Field, InversionStats};
use super::interp::{trilinear, weighted_gradient};
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
    /// On levels with fewer than this many voxels along some axis, both fields take an
    /// inverse round trip after every update (`v = u⁻¹`, then `u = v⁻¹`, one warm-started
    /// pass each), as antsRegistration's SyN does on every level; 0 = never. It keeps SyN on
    /// Mattes MI from over-deforming on coarse grids a dozen voxels across; the default, 30,
    /// covers the coarse levels only, where it costs little.
    pub reinvert_below: usize,
}

impl Default for SynParams {
    fn default() -> Self {
        SynParams {
            schedule: Schedule::default(),
            step: 0.1,
            update_variance: 3.0,
            total_variance: 0.0,
            metric: SynMetric::Mattes { bins: 32 },
            reinvert_below: 30,
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
    /// Inversion of the fixed-side field.
    pub inversion: InversionStats,
}

/// `out(x) = img(x + u(x))`.
pub fn warp(img: &[f32], dims: [usize; 3], u: &Field, out: &mut [f32]) {
    let [nx, ny, _] = dims;
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slab)| {
            for j in 0..ny {
                for i in 0..nx {
                    let d = u.at(i + nx * (j + ny * k));
                    slab[i + nx * j] = trilinear(
                        img,
                        dims,
                        [i as f32 + d[0], j as f32 + d[1], k as f32 + d[2]],
                    );
                }
            }
        });
}

/// Largest residual of the inverse fields, voxels of the level: the inversion runs until
/// every voxel's `|v(x) + u(x + v(x))|` is below it (or 20 passes).
const INVERSION_TOLERANCE: f32 = 0.1;

/// Scratch buffers of one level, allocated once per level (never inside the iteration loop).
struct Buffers {
    warped: [Vec<f32>; 2],
    deriv: [Vec<f32>; 2],
    update: Field,
    composed: Field,
    scratch: Vec<f32>,
    metric: MetricState,
    /// Each field's inverse, when this level takes the inverse round trip.
    round_trip: Option<[Field; 2]>,
}

/// The metric's own state for one level.
enum MetricState {
    /// Window sums, with the window radius.
    Cc(CcWorkspace, usize),
    /// Both histograms, with the fixed and moving level images' intensity ranges: warped
    /// intensities are convex combinations of the level image's, so these ranges hold them.
    Mattes(SymmetricMattes, [BinRange; 2]),
}

impl MetricState {
    fn new(metric: SynMetric, fixed: &[f32], moving: &[f32]) -> Self {
        match metric {
            SynMetric::Cc { radius } => MetricState::Cc(CcWorkspace::default(), radius),
            SynMetric::Mattes { bins } => MetricState::Mattes(
                SymmetricMattes::new(bins),
                [BinRange::of(fixed, bins), BinRange::of(moving, bins)],
            ),
        }
    }
}

impl Buffers {
    /// Warps both images into the middle space and computes the metric value (larger is
    /// better) and its derivatives with respect to each warped image (left in `warped` and
    /// `deriv`).
    fn measure(&mut self, images: [&[f32]; 2], dims: [usize; 3], fields: [&Field; 2]) -> f64 {
        warp(images[0], dims, fields[0], &mut self.warped[0]);
        warp(images[1], dims, fields[1], &mut self.warped[1]);
        let [d_f, d_m] = &mut self.deriv;
        let [w0, w1] = &self.warped;
        match &mut self.metric {
            MetricState::Cc(ws, radius) => cc_derivatives(w0, w1, dims, *radius, ws, d_f, d_m),
            MetricState::Mattes(mi, ranges) => mi.derivatives(w0, w1, *ranges, d_f, d_m),
        }
    }
}

/// One SyN iteration; returns the metric before the update.
fn iterate(
    images: [&[f32]; 2],
    dims: [usize; 3],
    fields: [&mut Field; 2],
    p: &SynParams,
    b: &mut Buffers,
) -> f64 {
    let [u1, u2] = fields;
    let metric = b.measure(images, dims, [u1, u2]);
    for (s, u) in [u1, u2].into_iter().enumerate() {
        let [fx, fy, fz] = &mut b.update.c;
        weighted_gradient(&b.warped[s], Some(&b.deriv[s]), dims, [fx, fy, fz]);
        b.update.smooth(p.update_variance.sqrt(), &mut b.scratch);
        let max = b.update.max_norm();
        let scale = if max > 0.0 { p.step / max } else { 0.0 };
        u.compose_scaled_into(&b.update, scale, &mut b.composed);
        std::mem::swap(u, &mut b.composed);
        u.smooth(p.total_variance.sqrt(), &mut b.scratch);
        u.zero_boundary();
        if let Some(inverses) = &mut b.round_trip {
            // `composed` holds the field before this update: free as the work buffer.
            let v = &mut inverses[s];
            u.invert_with(v, &mut b.composed, 1, INVERSION_TOLERANCE);
            v.invert_with(u, &mut b.composed, 1, INVERSION_TOLERANCE);
        }
    }
    metric
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
    let mut fields: Option<[Field; 2]> = None;
    let mut inverses: Option<[Field; 2]> = None;
    let mut inversion = None;
    let mut levels = Vec::new();
    for (iters, f, sigma) in p.schedule.levels() {
        let started = Instant::now();
        let ldims = level_dims(dims, f);
        let imgs = [
            level_image(fixed, dims, sigma, ldims),
            level_image(moving, dims, sigma, ldims),
        ];
        let [mut u1, mut u2] = match fields.take() {
            Some([a, b]) => [a.resample_to(ldims), b.resample_to(ldims)],
            None => [Field::zeros(ldims), Field::zeros(ldims)],
        };
        let n = ldims.iter().product();
        let mut b = Buffers {
            warped: [vec![0.0; n], vec![0.0; n]],
            deriv: [vec![0.0; n], vec![0.0; n]],
            update: Field::zeros(ldims),
            composed: Field::zeros(ldims),
            scratch: Vec::with_capacity(n),
            metric: MetricState::new(p.metric, &imgs[0], &imgs[1]),
            round_trip: (ldims.iter().min().copied().unwrap_or(0) < p.reinvert_below)
                .then(|| [Field::zeros(ldims), Field::zeros(ldims)]),
        };
        let mut history = Vec::with_capacity(iters);
        for _ in 0..iters {
            history.push(iterate(
                [&imgs[0], &imgs[1]],
                ldims,
                [&mut u1, &mut u2],
                p,
                &mut b,
            ));
            if p.schedule.converged(&history) {
                break;
            }
        }
        let final_metric = b.measure([&imgs[0], &imgs[1]], ldims, [&u1, &u2]);
        // The level's work buffers (about 70 B per voxel) go before the inversion allocates
        // its own: otherwise both are alive at the finest level's end, the run's peak.
        drop(b);
        levels.push(LevelStats {
            shrink: f,
            dims: ldims,
            iterations: history.len(),
            initial_metric: history.first().copied().unwrap_or(final_metric),
            final_metric,
            seconds: started.elapsed().as_secs_f64(),
        });
        // Keep the inverses level by level, each warm-started from the coarser one, so the
        // final inversion starts close to its answer.
        let [mut v1, mut v2] = match inverses.take() {
            Some([a, b]) => [a.resample_to(ldims), b.resample_to(ldims)],
            None => [Field::zeros(ldims), Field::zeros(ldims)],
        };
        inversion = Some(u1.invert_into(&mut v1, 20, INVERSION_TOLERANCE));
        u2.invert_into(&mut v2, 20, INVERSION_TOLERANCE);
        inverses = Some([v1, v2]);
        fields = Some([u1, u2]);
    }
    let ([u1, u2], [v1, v2]) = match (fields, inverses) {
        (Some(f), Some(v)) if f[0].dims == dims => (f, v),
        (Some([a, b]), Some([c, d])) => {
            let (mut c, mut d) = (c.resample_to(dims), d.resample_to(dims));
            let (a, b) = (a.resample_to(dims), b.resample_to(dims));
            inversion = Some(a.invert_into(&mut c, 20, INVERSION_TOLERANCE));
            b.invert_into(&mut d, 20, INVERSION_TOLERANCE);
            ([a, b], [c, d])
        }
        _ => (
            [Field::zeros(dims), Field::zeros(dims)],
            [Field::zeros(dims), Field::zeros(dims)],
        ),
    };
    let inversion = inversion.unwrap_or(InversionStats {
        passes: 0,
        max_error: 0.0,
        mean_error: 0.0,
    });
    let mut forward = Field::zeros(dims);
    u2.compose_into(&v1, &mut forward);
    let mut inverse = Field::zeros(dims);
    u1.compose_into(&v2, &mut inverse);
    SynResult {
        forward,
        inverse,
        levels,
        inversion,
    }
}

#[cfg(test)]
#[path = "syn_tests.rs"]
mod tests;
