//! Dense displacement fields on a voxel grid, in voxel units of that grid, stored as three
//! component volumes (structure of arrays, `i` fastest), and the operations SyN needs:
//! compositive update, inversion by fixed-point iteration, Gaussian smoothing, resampling to
//! a finer grid, and the Jacobian determinant.
//!
//! A field `u` represents the map `x ↦ x + u(x)`.

use rayon::prelude::*;

use super::interp::Corners;
use crate::filter::smooth;

/// A displacement field.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Grid size.
    pub dims: [usize; 3],
    /// Components along i, j, k, voxels.
    pub c: [Vec<f32>; 3],
}

/// How an inversion ended.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InversionStats {
    /// Fixed-point passes run.
    pub passes: usize,
    /// Largest residual |v(x) + u(x + v(x))| of the inverse returned, voxels.
    pub max_error: f32,
    /// Mean residual, voxels.
    pub mean_error: f32,
}

impl Field {
    /// The identity map (zero displacement).
    pub fn zeros(dims: [usize; 3]) -> Self {
        let n = dims.iter().product();
        Field {
            dims,
            c: [vec![0.0; n], vec![0.0; n], vec![0.0; n]],
        }
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.c[0].len()
    }

    /// True for an empty grid.
    pub fn is_empty(&self) -> bool {
        self.c[0].is_empty()
    }

    /// Displacement at continuous index `p` (trilinear, clamped).
    #[inline(always)]
    pub fn sample(&self, p: [f32; 3]) -> [f32; 3] {
        let c = Corners::new(self.dims, p);
        [
            c.interpolate(&self.c[0]),
            c.interpolate(&self.c[1]),
            c.interpolate(&self.c[2]),
        ]
    }

    /// Displacement at voxel `n`.
    #[inline]
    pub fn at(&self, n: usize) -> [f32; 3] {
        [self.c[0][n], self.c[1][n], self.c[2][n]]
    }

    /// Largest displacement norm, voxels.
    pub fn max_norm(&self) -> f32 {
        const CHUNK: usize = 8192;
        let [x, y, z] = &self.c;
        x.par_chunks(CHUNK)
            .zip(y.par_chunks(CHUNK))
            .zip(z.par_chunks(CHUNK))
            .map(|((x, y), z)| {
                x.iter()
                    .zip(y)
                    .zip(z)
                    .map(|((a, b), c)| a * a + b * b + c * c)
                    .fold(0.0f32, f32::max)
            })
            .reduce(|| 0.0, f32::max)
            .sqrt()
    }

    /// Sets the displacement of the outermost voxel layer to zero, so the map keeps the grid's
    /// box fixed (ITK's "enforce stationary boundary" for displacement-field transforms) and
    /// stays invertible within it.
    pub fn zero_boundary(&mut self) {
        let [nx, ny, nz] = self.dims;
        for comp in &mut self.c {
            comp.par_chunks_mut(nx * ny)
                .enumerate()
                .for_each(|(k, slab)| {
                    if k == 0 || k + 1 == nz {
                        slab.fill(0.0);
                        return;
                    }
                    for j in 0..ny {
                        if j == 0 || j + 1 == ny {
                            slab[j * nx..(j + 1) * nx].fill(0.0);
                        } else {
                            slab[j * nx] = 0.0;
                            slab[j * nx + nx - 1] = 0.0;
                        }
                    }
                });
        }
    }

    /// Gaussian smoothing of each component, σ in voxels.
    pub fn smooth(&mut self, sigma: f32, scratch: &mut Vec<f32>) {
        if sigma > 0.0 {
            for comp in &mut self.c {
                smooth(comp, self.dims, [sigma; 3], scratch);
            }
        }
    }

    /// Compositive update `self ← self ∘ (id + update)`:
    /// `u'(x) = w(x) + u(x + w(x))`, written into `out` (same grid).
    pub fn compose_into(&self, update: &Field, out: &mut Field) {
        self.compose_scaled_into(update, 1.0, out);
    }

    /// [`Field::compose_into`] with the update multiplied by `scale` on the fly (no pass over
    /// the update to scale it first).
    pub fn compose_scaled_into(&self, update: &Field, scale: f32, out: &mut Field) {
        let [nx, ny, _] = self.dims;
        out.fill_with(|i, j, k| {
            let w = update.at(i + nx * (j + ny * k)).map(|v| v * scale);
            let u = self.sample([i as f32 + w[0], j as f32 + w[1], k as f32 + w[2]]);
            [w[0] + u[0], w[1] + u[1], w[2] + u[2]]
        });
    }

    /// Sets every voxel's displacement to `f(i, j, k)`, k-slabs in parallel.
    pub fn fill_with(&mut self, f: impl Fn(usize, usize, usize) -> [f32; 3] + Sync) {
        let [nx, ny, _] = self.dims;
        let [ox, oy, oz] = &mut self.c;
        ox.par_chunks_mut(nx * ny)
            .zip(oy.par_chunks_mut(nx * ny))
            .zip(oz.par_chunks_mut(nx * ny))
            .enumerate()
            .for_each(|(k, ((sx, sy), sz))| {
                for j in 0..ny {
                    for i in 0..nx {
                        let v = f(i, j, k);
                        let o = i + nx * j;
                        sx[o] = v[0];
                        sy[o] = v[1];
                        sz[o] = v[2];
                    }
                }
            });
    }

    /// Displacement at continuous index `p` and its Jacobian `∂u_row/∂p_col` (the exact
    /// derivative of the trilinear interpolant in the cell holding `p`).
    #[inline(always)]
    pub fn sample_with_jacobian(&self, p: [f32; 3]) -> ([f32; 3], [[f32; 3]; 3]) {
        let c = Corners::new(self.dims, p);
        let (u0, g0) = c.interpolate_with_gradient(&self.c[0]);
        let (u1, g1) = c.interpolate_with_gradient(&self.c[1]);
        let (u2, g2) = c.interpolate_with_gradient(&self.c[2]);
        ([u0, u1, u2], [g0, g1, g2])
    }

    /// The Newton step `δ` for `v + u(x + v) = 0` with residual `r` and `∇u` at `x + v`: the
    /// solution of `(I + ∇u) δ = r` (the next estimate is `v − δ`); where that system is
    /// ill-conditioned (a fold), `δ = r`, the fixed-point step to `−u(x + v)`.
    #[inline]
    fn newton_delta(grad: [[f32; 3]; 3], r: [f32; 3]) -> [f32; 3] {
        let mut a = grad;
        for (d, row) in a.iter_mut().enumerate() {
            row[d] += 1.0;
        }
        let det3 = |m: [[f32; 3]; 3]| {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        };
        let det = det3(a);
        if det < 0.05 {
            return r;
        }
        // Cramer's rule.
        let solve = |col: usize| {
            let mut m = a;
            for row in 0..3 {
                m[row][col] = r[row];
            }
            det3(m) / det
        };
        [solve(0), solve(1), solve(2)]
    }

    /// Inverts the map `x ↦ x + u(x)`: finds `v` with `v(x) + u(x + v(x)) = 0`, starting
    /// from the current contents of `inv` (a warm start), for at most `max_passes` passes or
    /// until the largest residual is below `max_tol` (voxels).
    ///
    /// Each pass takes, per voxel, a Newton step with the trilinear interpolant's exact
    /// Jacobian (the fixed-point step `v ← −u(x + v)` where that system is ill-conditioned)
    /// and backtracks (halving the step, at most three times) until the residual shrinks; a
    /// voxel whose residual does not shrink keeps its estimate. The statistics are the
    /// residuals of the field returned. A pass costs 1.5–2.5 field samples per voxel.
    pub fn invert_into(&self, inv: &mut Field, max_passes: usize, max_tol: f32) -> InversionStats {
        self.invert_with(inv, &mut Field::zeros(self.dims), max_passes, max_tol)
    }

    /// [`Field::invert_into`] with `next` (same grid) as the work buffer, for callers that
    /// invert inside a loop and must not allocate a field per call.
    pub fn invert_with(
        &self,
        inv: &mut Field,
        next: &mut Field,
        max_passes: usize,
        max_tol: f32,
    ) -> InversionStats {
        let dims = self.dims;
        let [nx, ny, _] = dims;
        let norm = |r: [f32; 3]| (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
        // Voxels this close to their inverse are left alone.
        let settled = max_tol * 0.1;
        let mut stats = InversionStats {
            passes: 0,
            max_error: f32::MAX,
            mean_error: f32::MAX,
        };
        for pass in 1..=max_passes {
            let (max_e, sum_e) = {
                let [ox, oy, oz] = &mut next.c;
                let current = &*inv;
                ox.par_chunks_mut(nx * ny)
                    .zip(oy.par_chunks_mut(nx * ny))
                    .zip(oz.par_chunks_mut(nx * ny))
                    .enumerate()
                    .map(|(k, ((sx, sy), sz))| {
                        let (mut max_e, mut sum_e) = (0.0f32, 0.0f64);
                        for j in 0..ny {
                            for i in 0..nx {
                                let x = [i as f32, j as f32, k as f32];
                                let v = current.at(i + nx * (j + ny * k));
                                let at = |v: [f32; 3]| [x[0] + v[0], x[1] + v[1], x[2] + v[2]];
                                let (u, grad) = self.sample_with_jacobian(at(v));
                                let r = [v[0] + u[0], v[1] + u[1], v[2] + u[2]];
                                let (mut best, mut e) = (v, norm(r));
                                if e > settled {
                                    let delta = Self::newton_delta(grad, r);
                                    let mut t = 1.0f32;
                                    for _ in 0..4 {
                                        let cand: [f32; 3] =
                                            std::array::from_fn(|a| v[a] - t * delta[a]);
                                        let uc = self.sample(at(cand));
                                        let ec = norm([
                                            cand[0] + uc[0],
                                            cand[1] + uc[1],
                                            cand[2] + uc[2],
                                        ]);
                                        if ec < e {
                                            (best, e) = (cand, ec);
                                            break;
                                        }
                                        t *= 0.5;
                                    }
                                }
                                max_e = max_e.max(e);
                                sum_e += f64::from(e);
                                let o = i + nx * j;
                                sx[o] = best[0];
                                sy[o] = best[1];
                                sz[o] = best[2];
                            }
                        }
                        (max_e, sum_e)
                    })
                    .collect::<Vec<_>>()
                    .into_iter()
                    .fold((0.0f32, 0.0f64), |a, b| (a.0.max(b.0), a.1 + b.1))
            };
            std::mem::swap(inv, next);
            stats = InversionStats {
                passes: pass,
                max_error: max_e,
                mean_error: (sum_e / self.len() as f64) as f32,
            };
            if max_e < max_tol {
                break;
            }
        }
        stats
    }

    /// Field on a grid of `dims` covering the same extent (voxel centres aligned at the
    /// corners' centres scaled by the size ratio), displacements rescaled to the new voxels.
    pub fn resample_to(&self, dims: [usize; 3]) -> Field {
        let ratio: [f32; 3] = std::array::from_fn(|a| {
            if dims[a] > 1 && self.dims[a] > 1 {
                (self.dims[a] - 1) as f32 / (dims[a] - 1) as f32
            } else {
                1.0
            }
        });
        let mut out = Field::zeros(dims);
        out.fill_with(|i, j, k| {
            let u = self.sample([
                i as f32 * ratio[0],
                j as f32 * ratio[1],
                k as f32 * ratio[2],
            ]);
            [u[0] / ratio[0], u[1] / ratio[1], u[2] / ratio[2]]
        });
        out
    }

    /// Smallest Jacobian determinant of `x ↦ x + u(x)` (central differences, interior voxels).
    pub fn min_jacobian(&self) -> f32 {
        let [nx, ny, nz] = self.dims;
        if nx < 3 || ny < 3 || nz < 3 {
            return 1.0;
        }
        (1..nz - 1)
            .into_par_iter()
            .map(|k| {
                let mut m = f32::MAX;
                for j in 1..ny - 1 {
                    for i in 1..nx - 1 {
                        let n = i + nx * (j + ny * k);
                        let strides = [1, nx, nx * ny];
                        let mut jac = [[0.0f32; 3]; 3];
                        for (col, s) in strides.iter().enumerate() {
                            for (row, comp) in self.c.iter().enumerate() {
                                jac[row][col] = 0.5 * (comp[n + s] - comp[n - s])
                                    + if row == col { 1.0 } else { 0.0 };
                            }
                        }
                        let d = jac[0][0] * (jac[1][1] * jac[2][2] - jac[1][2] * jac[2][1])
                            - jac[0][1] * (jac[1][0] * jac[2][2] - jac[1][2] * jac[2][0])
                            + jac[0][2] * (jac[1][0] * jac[2][1] - jac[1][1] * jac[2][0]);
                        m = m.min(d);
                    }
                }
                m
            })
            .reduce(|| f32::MAX, f32::min)
    }
}

#[cfg(test)]
#[path = "field_tests.rs"]
mod tests;
