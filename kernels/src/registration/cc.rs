//! Neighbourhood cross-correlation (ANTs' `CC` metric; Avants et al. 2008, eq. 5).
//!
//! For a cubic window of radius `r` around each voxel, with `A = F − μ_F` and `B = M − μ_M`
//! the window-centred intensities, `sFM = Σ A·B`, `sFF = Σ A²`, `sMM = Σ B²`, the local
//! correlation is `cc = sFM² / (sFF·sMM)`; the metric is its mean over the grid (1 = perfect).
//! Treating the window means as constants, as ANTs does, the derivatives at a voxel are
//! `∂cc/∂M = 2·sFM/(sFF·sMM) · (A − sFM/sMM · B)` and symmetrically for `F`.
//!
//! The five window sums come from separable box filters (3·(2r+1) contiguous adds per voxel,
//! not (2r+1)³), windows truncated at the borders. Intensities are centred on their global
//! means first so the f32 sums lose little to cancellation.

use rayon::prelude::*;

/// Local variances below this are treated as flat (no correlation information).
const FLAT: f32 = 1e-5;

/// Window sums along one axis (truncated at the borders), `src` → `dst`. Each output row or
/// slab is the sum of the 2r+1 input rows or slabs around it: contiguous, vectorisable adds.
fn box_axis(src: &[f32], dst: &mut [f32], dims: [usize; 3], axis: usize, r: usize) {
    let [nx, ny, nz] = dims;
    let add = |out: &mut [f32], from: &[f32]| out.iter_mut().zip(from).for_each(|(o, v)| *o += v);
    match axis {
        0 => dst
            .par_chunks_mut(nx)
            .zip(src.par_chunks(nx))
            .for_each(|(out, row)| {
                // Shifted copies of the row added whole (vectorises); the truncated window
                // is the row's missing neighbours counting as nothing.
                out.copy_from_slice(row);
                for t in 1..=r.min(nx - 1) {
                    add(&mut out[..nx - t], &row[t..]);
                    add(&mut out[t..], &row[..nx - t]);
                }
            }),
        1 => dst
            .par_chunks_mut(nx * ny)
            .zip(src.par_chunks(nx * ny))
            .for_each(|(out, slab)| {
                for j in 0..ny {
                    let o = &mut out[j * nx..(j + 1) * nx];
                    o.fill(0.0);
                    for jj in j.saturating_sub(r)..=(j + r).min(ny - 1) {
                        add(o, &slab[jj * nx..(jj + 1) * nx]);
                    }
                }
            }),
        _ => dst
            .par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, out)| {
                out.fill(0.0);
                for kk in k.saturating_sub(r)..=(k + r).min(nz - 1) {
                    add(out, &src[kk * nx * ny..(kk + 1) * nx * ny]);
                }
            }),
    }
}

/// Box sum over a cubic window of radius `r`, in place, with `scratch` as the second buffer
/// (the two vectors are swapped as the axes are processed).
pub fn box_sum(data: &mut Vec<f32>, dims: [usize; 3], r: usize, scratch: &mut Vec<f32>) {
    scratch.resize(data.len(), 0.0);
    for axis in 0..3 {
        box_axis(data, scratch, dims, axis, r);
        // Ping-pong the buffers instead of copying the result back.
        std::mem::swap(data, scratch);
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
    // Window sizes along each axis (truncated at the borders), computed once.
    let counts: [Vec<f32>; 3] = std::array::from_fn(|a| {
        (0..dims[a])
            .map(|c| ((c + radius).min(dims[a] - 1) - c.saturating_sub(radius) + 1) as f32)
            .collect()
    });
    let [sf, sm, sff, smm, sfm] = &ws.sums;
    let slab = nx * ny;
    // Per-slab sums added in slab order: the same value for any number of threads.
    let per_slab: Vec<f64> = d_fixed
        .par_chunks_mut(slab)
        .zip(d_moving.par_chunks_mut(slab))
        .enumerate()
        .map(|(k, (dfs, dms))| {
            let mut total = 0.0f64;
            for j in 0..ny {
                let cyz = counts[1][j] * counts[2][k];
                for i in 0..nx {
                    let o = i + nx * j;
                    let v = o + slab * k;
                    let cnt = counts[0][i] * cyz;
                    let (mu_f, mu_m) = (sf[v] / cnt, sm[v] / cnt);
                    let vfm = sfm[v] - sf[v] * mu_m;
                    let vff = sff[v] - sf[v] * mu_f;
                    let vmm = smm[v] - sm[v] * mu_m;
                    if vff < FLAT * cnt || vmm < FLAT * cnt {
                        dfs[o] = 0.0;
                        dms[o] = 0.0;
                        continue;
                    }
                    let a = fixed[v] - mf - mu_f;
                    let b = moving[v] - mm - mu_m;
                    let common = 2.0 * vfm / (vff * vmm);
                    dms[o] = common * (a - vfm / vmm * b);
                    dfs[o] = common * (b - vfm / vff * a);
                    total += f64::from(vfm * vfm / (vff * vmm));
                }
            }
            total
        })
        .collect();
    per_slab.iter().sum::<f64>() / n as f64
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
