//! Dense displacement fields on a voxel grid, in voxel units of that grid, stored as three
//! component volumes (structure of arrays, `i` fastest), and the operations SyN needs:
//! composition, inversion by damped fixed-point iteration, Gaussian smoothing, resampling to
//! a finer grid, and the Jacobian determinant.
//!
//! A field `u` represents the map `x ↦ x + u(x)`.

use rayon::prelude::*;

use super::interp::{sample_row, Corners};
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
    pub fn smooth(&mut self, sigma: f32) {
        if sigma > 0.0 {
            for comp in &mut self.c {
                smooth(comp, self.dims, [sigma; 3]);
            }
        }
    }

    /// Composition `self ∘ (id + w)`: `u'(x) = w(x) + u(x + w(x))`, written into `out`
    /// (same grid).
    pub fn compose_into(&self, w: &Field, out: &mut Field) {
        out.clone_from(w);
        self.compose_onto(out);
    }

    /// Composition `self ∘ (id + w)` written over `w`: `w'(x) = w(x) + u(x + w(x))` (a
    /// voxel's new value needs only its own old one).
    pub fn compose_onto(&self, w: &mut Field) {
        self.along_rows(w, |w, u| {
            for (w, u) in w.into_iter().zip(u) {
                w.iter_mut().zip(u).for_each(|(w, u)| *w += u);
            }
        });
    }

    /// The update applied after the field, as ITK's SyN composes them (the update as
    /// displacement, the field as warping field): `u'(x) = u(x) + s·w(x + u(x))`, in place,
    /// with the update multiplied by `scale` on the fly.
    pub fn compose_then_scaled(&mut self, update: &Field, scale: f32) {
        update.along_rows(self, |u, w| {
            for (u, w) in u.into_iter().zip(w) {
                u.iter_mut().zip(w).for_each(|(u, w)| *u += scale * w);
            }
        });
    }

    /// Row by row of `at` (same grid; k-slabs in parallel): the samples of `self` at the
    /// row's points moved by `at` (`x + at(x)`, [`sample_row`]), handed with the row of `at`
    /// to `f`, which may change it.
    fn along_rows(&self, at: &mut Field, f: impl Fn([&mut [f32]; 3], [&[f32]; 3]) + Sync) {
        let [nx, ny, _] = self.dims;
        let comps = [&self.c[0][..], &self.c[1][..], &self.c[2][..]];
        let [ax, ay, az] = &mut at.c;
        ax.par_chunks_mut(nx * ny)
            .zip(ay.par_chunks_mut(nx * ny))
            .zip(az.par_chunks_mut(nx * ny))
            .enumerate()
            .for_each_init(
                || vec![0.0f32; 3 * nx],
                |buf, (k, ((sx, sy), sz))| {
                    for j in 0..ny {
                        let r = j * nx..(j + 1) * nx;
                        let (bx, rest) = buf.split_at_mut(nx);
                        let (by, bz) = rest.split_at_mut(nx);
                        let (rx, ry, rz) = (&mut sx[r.clone()], &mut sy[r.clone()], &mut sz[r]);
                        sample_row(
                            comps,
                            self.dims,
                            j,
                            k,
                            [&*rx, &*ry, &*rz],
                            [&mut *bx, &mut *by, &mut *bz],
                        );
                        f([rx, ry, rz], [&*bx, &*by, &*bz]);
                    }
                },
            );
    }

    /// Sets every voxel's displacement to `f(i, j, k)`, k-slabs in parallel.
    pub fn fill_with(&mut self, f: impl Fn(usize, usize, usize) -> [f32; 3] + Sync) {
        let [nx, ny, _] = self.dims;
        let [ux, uy, uz] = &mut self.c;
        ux.par_chunks_mut(nx * ny)
            .zip(uy.par_chunks_mut(nx * ny))
            .zip(uz.par_chunks_mut(nx * ny))
            .enumerate()
            .for_each(|(k, ((sx, sy), sz))| {
                for j in 0..ny {
                    for i in 0..nx {
                        let o = i + nx * j;
                        [sx[o], sy[o], sz[o]] = f(i, j, k);
                    }
                }
            });
    }

    /// Inverts the map `x ↦ x + u(x)` the way ITK's `InvertDisplacementFieldImageFilter`
    /// does inside SyN: a damped fixed-point iteration, warm-started from `inv`. Each pass
    /// measures every voxel's residual `e(x) = v(x) + u(x + v(x))` (voxels) and moves the
    /// voxel by `−ε·e(x)`, with `ε` = 0.75 on the first pass and 0.5 after, each move capped
    /// at `ε²·max|e|`, the outer voxel layer held at zero. Passes stop once the residuals a
    /// pass measured had their largest below `max_tol` or their mean below `mean_tol` (that
    /// pass's move still applied, as ITK does), or after `max_passes`. So there is always at
    /// least one move. Where `u` is close to folding the damped moves cannot follow it, so
    /// the round trip `u ← (u⁻¹)⁻¹` through this inversion removes what no diffeomorphism
    /// can represent. `residual` (same grid) is the work buffer. A voxel's move and its next
    /// residual need only that voxel, so one sweep applies a pass's moves and measures the
    /// next residuals. The statistics are the last residuals measured (before the last move).
    pub fn invert_damped(
        &self,
        inv: &mut Field,
        residual: &mut Field,
        max_passes: usize,
        max_tol: f32,
        mean_tol: f32,
    ) -> InversionStats {
        let mut step = None;
        let mut pass = 0;
        loop {
            let (max_e, mean_e) = self.damped_sweep(inv, residual, step, true);
            let eps = if pass == 0 { 0.75 } else { 0.5 };
            step = Some((eps, eps * max_e));
            pass += 1;
            if pass >= max_passes || max_e <= max_tol || mean_e <= mean_tol {
                self.damped_sweep(inv, residual, step, false);
                return InversionStats {
                    passes: pass,
                    max_error: max_e,
                    mean_error: mean_e,
                };
            }
        }
    }

    /// One sweep of [`Field::invert_damped`]: with `step = (ε, cap)`, moves every voxel of
    /// `inv` by the residual held in `residual`; then, with `measure`, writes the new
    /// residuals there and returns their largest and mean norms (zeros without `measure`).
    fn damped_sweep(
        &self,
        inv: &mut Field,
        residual: &mut Field,
        step: Option<(f32, f32)>,
        measure: bool,
    ) -> (f32, f32) {
        let [nx, ny, nz] = self.dims;
        let [vx, vy, vz] = &mut inv.c;
        let [ex, ey, ez] = &mut residual.c;
        let comps = [&self.c[0][..], &self.c[1][..], &self.c[2][..]];
        let (max_e, sum_e) = vx
            .par_chunks_mut(nx * ny)
            .zip(vy.par_chunks_mut(nx * ny))
            .zip(vz.par_chunks_mut(nx * ny))
            .zip(
                ex.par_chunks_mut(nx * ny)
                    .zip(ey.par_chunks_mut(nx * ny))
                    .zip(ez.par_chunks_mut(nx * ny)),
            )
            .enumerate()
            .map_init(
                || vec![0.0f32; 3 * nx],
                |buf, (k, (((vx, vy), vz), ((ex, ey), ez)))| {
                    let (mut max_e, mut sum_e) = (0.0f32, 0.0f64);
                    let edge_k = k == 0 || k + 1 == nz;
                    for j in 0..ny {
                        let edge_j = edge_k || j == 0 || j + 1 == ny;
                        let r = j * nx..(j + 1) * nx;
                        let (vx, vy, vz) =
                            (&mut vx[r.clone()], &mut vy[r.clone()], &mut vz[r.clone()]);
                        let (ex, ey, ez) = (&mut ex[r.clone()], &mut ey[r.clone()], &mut ez[r]);
                        if let Some((eps, cap)) = step {
                            for i in 0..nx {
                                if edge_j || i == 0 || i + 1 == nx {
                                    (vx[i], vy[i], vz[i]) = (0.0, 0.0, 0.0);
                                } else {
                                    let e = [ex[i], ey[i], ez[i]];
                                    let norm = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt();
                                    let f = if norm > cap { eps * cap / norm } else { eps };
                                    vx[i] -= f * e[0];
                                    vy[i] -= f * e[1];
                                    vz[i] -= f * e[2];
                                }
                            }
                        }
                        if !measure {
                            continue;
                        }
                        // u at x + v(x) for the whole row, then the residuals.
                        let (ux, rest) = buf.split_at_mut(nx);
                        let (uy, uz) = rest.split_at_mut(nx);
                        sample_row(
                            comps,
                            self.dims,
                            j,
                            k,
                            [&*vx, &*vy, &*vz],
                            [&mut *ux, &mut *uy, &mut *uz],
                        );
                        for i in 0..nx {
                            let e = [vx[i] + ux[i], vy[i] + uy[i], vz[i] + uz[i]];
                            let norm = (e[0] * e[0] + e[1] * e[1] + e[2] * e[2]).sqrt();
                            max_e = max_e.max(norm);
                            sum_e += f64::from(norm);
                            (ex[i], ey[i], ez[i]) = (e[0], e[1], e[2]);
                        }
                    }
                    (max_e, sum_e)
                },
            )
            .reduce(|| (0.0f32, 0.0f64), |a, b| (a.0.max(b.0), a.1 + b.1));
        (max_e, (sum_e / self.len().max(1) as f64) as f32)
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
        self.jacobian().min_det
    }

    /// The Jacobian determinant of `x ↦ x + u(x)` over the interior voxels (central
    /// differences): its minimum and how many voxels fold (determinant ≤ 0).
    pub fn jacobian(&self) -> Jacobian {
        let [nx, ny, nz] = self.dims;
        if nx < 3 || ny < 3 || nz < 3 {
            return Jacobian {
                min_det: 1.0,
                folded_voxels: 0,
            };
        }
        let (min_det, folded_voxels) = (1..nz - 1)
            .into_par_iter()
            .map(|k| {
                let (mut m, mut folded) = (f32::MAX, 0usize);
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
                        folded += usize::from(d <= 0.0);
                    }
                }
                (m, folded)
            })
            .reduce(|| (f32::MAX, 0), |a, b| (a.0.min(b.0), a.1 + b.1));
        Jacobian {
            min_det,
            folded_voxels,
        }
    }
}

/// The Jacobian determinant of a map over its grid's interior.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Jacobian {
    /// Smallest determinant.
    pub min_det: f32,
    /// Voxels whose determinant is ≤ 0: where the map folds.
    pub folded_voxels: usize,
}

#[cfg(test)]
mod tests;
