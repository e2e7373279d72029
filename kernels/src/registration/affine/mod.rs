//! The affine stage: 12 parameters (matrix and translation about a fixed centre) maximising
//! Mattes mutual information by gradient ascent, multi-resolution, as antsRegistration's
//! `Affine[step]` stage with `MI[fixed, moving, 1, 32]`:
//! - initialised by aligning the centres of mass (`--initial-moving-transform [F,M,1]`);
//! - parameter scales from physical shift (ITK's `RegistrationParameterScalesFromPhysicalShift`):
//!   each parameter's gradient is divided by the squared largest shift of the fixed image's
//!   corners per unit change of that parameter;
//! - the learning rate is re-estimated at every iteration so that the largest corner shift
//!   equals `step` voxels of the level (ITK's learning-rate estimation at each iteration);
//!   the best transform seen is kept;
//! - samples on a regular sub-grid of the fixed level (at most `max_samples`); points mapped
//!   outside the moving image do not count, as in ITK.
//!
//! The transform maps fixed world points to moving world points: `T(x) = A(x − c) + c + t`.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::interp::{gradient, inside, trilinear};
use super::mattes::{BinRange, Mattes};
use super::pyramid::{downsample, level_dims, level_geometry};
use super::syn::LevelStats;
use super::Schedule;
use crate::volume::geometry::invert3;
use crate::volume::{Geometry, Volume};

/// An affine map of world coordinates (mm), fixed → moving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AffineTransform {
    /// Matrix `A`, rows.
    pub matrix: [[f64; 3]; 3],
    /// Translation `t`, mm.
    pub translation: [f64; 3],
    /// Centre of rotation `c`, mm.
    pub center: [f64; 3],
}

impl AffineTransform {
    /// Identity about `center`.
    pub fn identity(center: [f64; 3]) -> Self {
        AffineTransform {
            matrix: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
            center,
        }
    }

    /// `T(x) = A(x − c) + c + t`.
    #[inline]
    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        let d: [f64; 3] = std::array::from_fn(|a| x[a] - self.center[a]);
        std::array::from_fn(|r| {
            self.matrix[r][0] * d[0]
                + self.matrix[r][1] * d[1]
                + self.matrix[r][2] * d[2]
                + self.center[r]
                + self.translation[r]
        })
    }
}

/// Parameters of the affine stage; defaults are the paper's schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AffineParams {
    /// Levels, iterations and convergence.
    pub schedule: Schedule,
    /// Largest corner shift per step, voxels of the level.
    pub step: f64,
    /// Histogram bins.
    pub bins: usize,
    /// Most samples drawn from the fixed level grid.
    pub max_samples: usize,
}

impl Default for AffineParams {
    fn default() -> Self {
        AffineParams {
            schedule: Schedule::default(),
            step: 0.1,
            bins: 32,
            max_samples: 200_000,
        }
    }
}

/// Intensity-weighted centre of mass, world mm.
pub fn center_of_mass(v: &Volume<f32>) -> [f64; 3] {
    let [nx, ny, _] = v.dims();
    let (mut sum, mut w) = ([0.0f64; 3], 0.0f64);
    for (n, &val) in v.as_slice().iter().enumerate() {
        let m = f64::from(val.max(0.0));
        let p = v.geometry().index_to_world([
            (n % nx) as f64,
            ((n / nx) % ny) as f64,
            (n / (nx * ny)) as f64,
        ]);
        for a in 0..3 {
            sum[a] += m * p[a];
        }
        w += m;
    }
    if w <= 0.0 {
        return v
            .geometry()
            .index_to_world(v.dims().map(|d| (d as f64 - 1.0) / 2.0));
    }
    sum.map(|s| s / w)
}

/// A level of one image: data, grid and geometry.
struct Level {
    data: Vec<f32>,
    dims: [usize; 3],
    geometry: Geometry,
}

fn level(v: &Volume<f32>, shrink: usize, sigma: f32) -> Level {
    let dims = level_dims(v.dims(), shrink);
    Level {
        data: downsample(v.as_slice(), v.dims(), sigma, dims),
        dims,
        geometry: level_geometry(v.geometry(), v.dims(), dims),
    }
}

/// One sample: offset from the centre and the fixed intensity.
struct Sample {
    d: [f64; 3],
    value: f32,
}

/// Registers `moving` to `fixed` with an affine transform; returns it with per-level stats.
pub fn register_affine(
    fixed: &Volume<f32>,
    moving: &Volume<f32>,
    p: &AffineParams,
) -> (AffineTransform, Vec<LevelStats>) {
    let cf = center_of_mass(fixed);
    let cm = center_of_mass(moving);
    let mut t = AffineTransform::identity(cf);
    t.translation = std::array::from_fn(|a| cm[a] - cf[a]);
    let mut stats = Vec::new();
    for (iters, shrink, sigma) in p.schedule.levels() {
        let started = Instant::now();
        let (fl, ml) = (level(fixed, shrink, sigma), level(moving, shrink, sigma));
        let history = optimise_level(&fl, &ml, &mut t, iters, p);
        stats.push(LevelStats {
            shrink,
            dims: fl.dims,
            iterations: history.len().saturating_sub(1),
            initial_metric: history.first().copied().unwrap_or(0.0),
            final_metric: history.last().copied().unwrap_or(0.0),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    (t, stats)
}

/// Gradient ascent at one level; returns the metric history (the last entry is the metric of
/// the final transform).
fn optimise_level(
    fl: &Level,
    ml: &Level,
    t: &mut AffineTransform,
    iters: usize,
    p: &AffineParams,
) -> Vec<f64> {
    let n = fl.data.len();
    let stride = ((n as f64 / p.max_samples as f64).cbrt().ceil() as usize).max(1);
    let [nx, ny, nz] = fl.dims;
    let mut samples = Vec::new();
    for k in (0..nz).step_by(stride) {
        for j in (0..ny).step_by(stride) {
            for i in (0..nx).step_by(stride) {
                let w = fl.geometry.index_to_world([i as f64, j as f64, k as f64]);
                samples.push(Sample {
                    d: std::array::from_fn(|a| w[a] - t.center[a]),
                    value: fl.data[i + nx * (j + ny * k)],
                });
            }
        }
    }
    // Corners of the fixed grid, relative to the centre: for scales and step lengths.
    let corners: Vec<[f64; 3]> = (0..8)
        .map(|c| {
            let idx = [0, 1, 2].map(|a| {
                if c >> a & 1 == 1 {
                    (fl.dims[a] - 1) as f64
                } else {
                    0.0
                }
            });
            let w = fl.geometry.index_to_world(idx);
            std::array::from_fn(|a| w[a] - t.center[a])
        })
        .collect();
    let mut scales = [1.0f64; 12];
    for r in 0..3 {
        for c in 0..3 {
            scales[r * 3 + c] = corners.iter().map(|d| d[c] * d[c]).fold(1e-12, f64::max);
        }
    }
    let mut grads: [Vec<f32>; 3] = std::array::from_fn(|_| vec![0.0; ml.data.len()]);
    {
        let [gx, gy, gz] = &mut grads;
        gradient(&ml.data, ml.dims, [gx, gy, gz]);
    }
    let Some(inv) = invert3(ml.geometry.linear()) else {
        return Vec::new();
    };
    let origin = ml.geometry.origin();
    let fr = BinRange::of(&fl.data, p.bins);
    let mr = BinRange::of(&ml.data, p.bins);
    let min_spacing = fl.geometry.spacing().into_iter().fold(f64::MAX, f64::min);
    let step_mm = p.step * min_spacing;
    let mut metric = Mattes::new(p.bins);
    let mut history = Vec::with_capacity(iters + 1);
    let mut best = (f64::MIN, t.clone());
    for it in 0..=iters {
        // Map every sample into the moving image: intensity and world-space gradient.
        let mapped: Vec<Option<(f32, [f64; 3])>> = samples
            .par_iter()
            .map(|s| {
                let y = t.apply(std::array::from_fn(|a| s.d[a] + t.center[a]));
                let rel: [f64; 3] = std::array::from_fn(|a| y[a] - origin[a]);
                let q: [f32; 3] = std::array::from_fn(|r| {
                    (inv[r][0] * rel[0] + inv[r][1] * rel[1] + inv[r][2] * rel[2]) as f32
                });
                if !inside(ml.dims, q) {
                    return None;
                }
                let gi = [0, 1, 2].map(|a| f64::from(trilinear(&grads[a], ml.dims, q)));
                // ∂m/∂y = inv(L)ᵀ ∇_q m.
                let gw = std::array::from_fn(|c| {
                    inv[0][c] * gi[0] + inv[1][c] * gi[1] + inv[2][c] * gi[2]
                });
                Some((trilinear(&ml.data, ml.dims, q), gw))
            })
            .collect();
        let value = metric.evaluate_par(
            samples.len(),
            |s| mapped[s].map(|(mv, _)| (samples[s].value, mv)),
            fr,
            mr,
        );
        history.push(value);
        if value > best.0 {
            best = (value, t.clone());
        }
        if it == iters || p.schedule.converged(&history) {
            break;
        }
        // Fixed chunks summed in order: the same result for any number of threads.
        let partial: Vec<[f64; 12]> = samples
            .par_chunks(4096)
            .zip(mapped.par_chunks(4096))
            .map(|(ss, ms)| {
                let mut acc = [0.0f64; 12];
                for (s, m) in ss.iter().zip(ms) {
                    let Some((mv, gw)) = m else { continue };
                    let dm = metric.derivative(s.value, *mv, fr, mr);
                    for r in 0..3 {
                        for c in 0..3 {
                            acc[r * 3 + c] += dm * gw[r] * s.d[c];
                        }
                        acc[9 + r] += dm * gw[r];
                    }
                }
                acc
            })
            .collect();
        let g = partial
            .iter()
            .fold([0.0f64; 12], |a, b| std::array::from_fn(|i| a[i] + b[i]));
        let dir: [f64; 12] = std::array::from_fn(|i| g[i] / scales[i]);
        let shift = corners
            .iter()
            .map(|d| {
                (0..3)
                    .map(|r| {
                        (dir[r * 3] * d[0]
                            + dir[r * 3 + 1] * d[1]
                            + dir[r * 3 + 2] * d[2]
                            + dir[9 + r])
                            .powi(2)
                    })
                    .sum::<f64>()
                    .sqrt()
            })
            .fold(0.0, f64::max);
        if shift <= 0.0 || !shift.is_finite() {
            break;
        }
        let lr = step_mm / shift;
        for r in 0..3 {
            for c in 0..3 {
                t.matrix[r][c] += lr * dir[r * 3 + c];
            }
            t.translation[r] += lr * dir[9 + r];
        }
    }
    *t = best.1;
    if let Some(last) = history.last_mut() {
        *last = best.0;
    }
    history
}

#[cfg(test)]
mod tests;
