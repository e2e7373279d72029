//! Neighbourhood cross-correlation (ANTs' `CC` metric; Avants et al. 2008, eq. 5).
//!
//! For a cubic window of radius `r` around each voxel, with `A = F − μ_F` and `B = M − μ_M`
//! the window-centred intensities, `sFM = Σ A·B`, `sFF = Σ A²`, `sMM = Σ B²`, the local
//! correlation is `cc = sFM² / (sFF·sMM)`; the metric is its mean over the grid (1 = perfect).
//! Treating the window means as constants, as ANTs does, the derivatives at a voxel are
//! `∂cc/∂M = 2·sFM/(sFF·sMM) · (A − sFM/sMM · B)` and symmetrically for `F`.
//!
//! The five window sums come from separable box filters (O(1) per voxel whatever the radius),
//! windows truncated at the borders. Intensities are centred on their global means first so
//! the f32 sums lose little to cancellation.

use rayon::prelude::*;

/// Local variances below this are treated as flat (no correlation information).
const FLAT: f32 = 1e-5;

/// Window sums along one axis (truncated at the borders), `src` → `dst`.
fn box_axis(src: &[f32], dst: &mut [f32], dims: [usize; 3], axis: usize, r: usize) {
    let [nx, ny, nz] = dims;
    let n_axis = dims[axis];
    let stride = [1, nx, nx * ny][axis];
    // Lines along `axis`: enumerate their starting offsets per k-slab for parallelism.
    let slabs: Vec<usize> = (0..nz).collect();
    let dst_ptr = SendPtr(dst.as_mut_ptr());
    let run_line = |start: usize| {
        let mut acc = 0.0f32;
        // Prime with elements 0..r (window of element 0 is [0, r]).
        for t in 0..r.min(n_axis - 1) {
            acc += src[start + t * stride];
        }
        for c in 0..n_axis {
            if c + r < n_axis {
                acc += src[start + (c + r) * stride];
            }
            if c > r {
                acc -= src[start + (c - r - 1) * stride];
            }
            // SAFETY: every (line, c) pair writes a distinct element; lines are disjoint.
            unsafe { *dst_ptr.get().add(start + c * stride) = acc };
        }
    };
    match axis {
        0 => slabs
            .par_iter()
            .for_each(|&k| (0..ny).for_each(|j| run_line(nx * (j + ny * k)))),
        1 => slabs
            .par_iter()
            .for_each(|&k| (0..nx).for_each(|i| run_line(i + nx * ny * k))),
        _ => (0..ny)
            .into_par_iter()
            .for_each(|j| (0..nx).for_each(|i| run_line(i + nx * j))),
    }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: used only to write disjoint elements from parallel lines in `box_axis`.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Box sum over a cubic window of radius `r`, in place, with `scratch` as the second buffer.
pub fn box_sum(data: &mut [f32], dims: [usize; 3], r: usize, scratch: &mut Vec<f32>) {
    scratch.resize(data.len(), 0.0);
    for axis in 0..3 {
        box_axis(data, scratch, dims, axis, r);
        data.copy_from_slice(scratch);
    }
}

/// Reusable buffers for [`cc_derivatives`].
#[derive(Debug, Default)]
pub struct CcWorkspace {
    sums: [Vec<f32>; 5],
    scratch: Vec<f32>,
}

/// Computes the mean local correlation and, per voxel, `∂cc/∂F` and `∂cc/∂M` into `d_fixed`
/// and `d_moving`.
pub fn cc_derivatives(
    fixed: &[f32],
    moving: &[f32],
    dims: [usize; 3],
    radius: usize,
    ws: &mut CcWorkspace,
    d_fixed: &mut [f32],
    d_moving: &mut [f32],
) -> f64 {
    let n = fixed.len();
    let mean = |v: &[f32]| (v.par_iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64) as f32;
    let (mf, mm) = (mean(fixed), mean(moving));
    for s in &mut ws.sums {
        s.resize(n, 0.0);
    }
    {
        let [sf, sm, sff, smm, sfm] = &mut ws.sums;
        sf.par_iter_mut()
            .zip(sm.par_iter_mut())
            .zip(sff.par_iter_mut())
            .zip(smm.par_iter_mut())
            .zip(sfm.par_iter_mut())
            .enumerate()
            .for_each(|(v, ((((a, b), c), d), e))| {
                let (f, m) = (fixed[v] - mf, moving[v] - mm);
                *a = f;
                *b = m;
                *c = f * f;
                *d = m * m;
                *e = f * m;
            });
    }
    for s in &mut ws.sums {
        box_sum(s, dims, radius, &mut ws.scratch);
    }
    let [nx, ny, _] = dims;
    let count_axis =
        |c: usize, len: usize| ((c + radius).min(len - 1) - c.saturating_sub(radius) + 1) as f32;
    let [sf, sm, sff, smm, sfm] = &ws.sums;
    d_fixed
        .par_iter_mut()
        .zip(d_moving.par_iter_mut())
        .enumerate()
        .map(|(v, (df, dm))| {
            let (i, j, k) = (v % nx, (v / nx) % ny, v / (nx * ny));
            let cnt = count_axis(i, dims[0]) * count_axis(j, dims[1]) * count_axis(k, dims[2]);
            let (mu_f, mu_m) = (sf[v] / cnt, sm[v] / cnt);
            let vfm = sfm[v] - sf[v] * mu_m;
            let vff = sff[v] - sf[v] * mu_f;
            let vmm = smm[v] - sm[v] * mu_m;
            if vff < FLAT * cnt || vmm < FLAT * cnt {
                *df = 0.0;
                *dm = 0.0;
                return 0.0;
            }
            let a = fixed[v] - mf - mu_f;
            let b = moving[v] - mm - mu_m;
            let common = 2.0 * vfm / (vff * vmm);
            *dm = common * (a - vfm / vmm * b);
            *df = common * (b - vfm / vff * a);
            f64::from(vfm * vfm / (vff * vmm))
        })
        .sum::<f64>()
        / n as f64
}

/// Brute-force reference of [`cc_derivatives`]: explicit window loops, f64.
pub fn cc_reference(
    fixed: &[f32],
    moving: &[f32],
    dims: [usize; 3],
    radius: usize,
) -> (f64, Vec<f64>, Vec<f64>) {
    let [nx, ny, nz] = dims;
    let r = radius as isize;
    let mut d_f = vec![0.0; fixed.len()];
    let mut d_m = vec![0.0; fixed.len()];
    let mut total = 0.0;
    for k in 0..nz as isize {
        for j in 0..ny as isize {
            for i in 0..nx as isize {
                let mut win = Vec::new();
                for c in (k - r).max(0)..=(k + r).min(nz as isize - 1) {
                    for b in (j - r).max(0)..=(j + r).min(ny as isize - 1) {
                        for a in (i - r).max(0)..=(i + r).min(nx as isize - 1) {
                            let o = (a + nx as isize * (b + ny as isize * c)) as usize;
                            win.push((f64::from(fixed[o]), f64::from(moving[o])));
                        }
                    }
                }
                let cnt = win.len() as f64;
                let mu_f = win.iter().map(|w| w.0).sum::<f64>() / cnt;
                let mu_m = win.iter().map(|w| w.1).sum::<f64>() / cnt;
                let vfm: f64 = win.iter().map(|w| (w.0 - mu_f) * (w.1 - mu_m)).sum();
                let vff: f64 = win.iter().map(|w| (w.0 - mu_f).powi(2)).sum();
                let vmm: f64 = win.iter().map(|w| (w.1 - mu_m).powi(2)).sum();
                let v = (i + nx as isize * (j + ny as isize * k)) as usize;
                if vff < f64::from(FLAT) * cnt || vmm < f64::from(FLAT) * cnt {
                    continue;
                }
                let a = f64::from(fixed[v]) - mu_f;
                let b = f64::from(moving[v]) - mu_m;
                let common = 2.0 * vfm / (vff * vmm);
                d_m[v] = common * (a - vfm / vmm * b);
                d_f[v] = common * (b - vfm / vff * a);
                total += vfm * vfm / (vff * vmm);
            }
        }
    }
    (total / fixed.len() as f64, d_f, d_m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(dims: [usize; 3], seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..dims.iter().product::<usize>())
            .map(|_| rng.random_range(0.0..10.0))
            .collect()
    }

    #[test]
    fn box_sum_matches_brute_force() {
        let dims = [9, 7, 6];
        let src = random(dims, 1);
        let mut got = src.clone();
        box_sum(&mut got, dims, 2, &mut Vec::new());
        let [nx, ny, nz] = dims;
        for v in 0..src.len() {
            let (i, j, k) = (
                (v % nx) as isize,
                ((v / nx) % ny) as isize,
                (v / (nx * ny)) as isize,
            );
            let mut want = 0.0f64;
            for c in (k - 2).max(0)..=(k + 2).min(nz as isize - 1) {
                for b in (j - 2).max(0)..=(j + 2).min(ny as isize - 1) {
                    for a in (i - 2).max(0)..=(i + 2).min(nx as isize - 1) {
                        want += f64::from(src[(a + nx as isize * (b + ny as isize * c)) as usize]);
                    }
                }
            }
            assert!(
                (f64::from(got[v]) - want).abs() < 1e-3 * want.max(1.0),
                "voxel {v}"
            );
        }
    }

    #[test]
    fn derivatives_match_reference() {
        let seed = 4;
        let dims = [10, 9, 8];
        let f = random(dims, seed);
        let m: Vec<f32> = random(dims, seed + 1)
            .iter()
            .zip(&f)
            .map(|(n, f)| 0.6 * f + 0.4 * n)
            .collect();
        let (mut df, mut dm) = (vec![0.0; f.len()], vec![0.0; f.len()]);
        let value = cc_derivatives(
            &f,
            &m,
            dims,
            2,
            &mut CcWorkspace::default(),
            &mut df,
            &mut dm,
        );
        let (want, want_df, want_dm) = cc_reference(&f, &m, dims, 2);
        assert!(
            (value - want).abs() < 1e-4,
            "seed {seed}: {value} vs {want}"
        );
        let scale = want_dm.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        for v in 0..f.len() {
            assert!(
                (f64::from(dm[v]) - want_dm[v]).abs() < 1e-3 * scale,
                "seed {seed}: dM at {v}"
            );
            assert!(
                (f64::from(df[v]) - want_df[v]).abs() < 1e-3 * scale,
                "seed {seed}: dF at {v}"
            );
        }
    }

    #[test]
    fn identical_images_correlate_perfectly_and_parallel_equals_serial() {
        let dims = [12, 11, 10];
        let f = random(dims, 9);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let (mut df, mut dm) = (vec![0.0; f.len()], vec![0.0; f.len()]);
                let v = cc_derivatives(
                    &f,
                    &f,
                    dims,
                    2,
                    &mut CcWorkspace::default(),
                    &mut df,
                    &mut dm,
                );
                (v, df, dm)
            })
        };
        let (v1, df1, dm1) = run(1);
        let (v2, df2, dm2) = run(2);
        assert!((v1 - 1.0).abs() < 1e-3, "cc(F, F) = {v1}");
        assert!(dm1.iter().all(|d| d.abs() < 1e-3));
        assert_eq!(df1, df2);
        assert_eq!(dm1, dm2);
        assert!((v1 - v2).abs() < 1e-9);
    }
}
