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

fn add(out: &mut [f32], from: &[f32]) {
    out.iter_mut().zip(from).for_each(|(o, v)| *o += v);
}

/// Window sums of one line (truncated at its ends): shifted copies of the line added whole
/// (vectorises); the truncated window is the line's missing neighbours counting as nothing.
fn box_line(out: &mut [f32], line: &[f32], r: usize) {
    let nx = line.len();
    out.copy_from_slice(line);
    for t in 1..=r.min(nx - 1) {
        add(&mut out[..nx - t], &line[t..]);
        add(&mut out[t..], &line[..nx - t]);
    }
}

/// Window sums along y of one slab of `ny` lines of `nx`: each output line the sum of the
/// 2r+1 input lines around it.
fn box_lines(out: &mut [f32], slab: &[f32], nx: usize, r: usize) {
    let ny = slab.len() / nx;
    for j in 0..ny {
        let o = &mut out[j * nx..(j + 1) * nx];
        o.fill(0.0);
        for jj in j.saturating_sub(r)..=(j + r).min(ny - 1) {
            add(o, &slab[jj * nx..(jj + 1) * nx]);
        }
    }
}

/// Window sums along one axis (truncated at the borders), `src` → `dst`. Each output row or
/// slab is the sum of the 2r+1 input rows or slabs around it: contiguous, vectorisable adds.
fn box_axis(src: &[f32], dst: &mut [f32], dims: [usize; 3], axis: usize, r: usize) {
    let [nx, ny, nz] = dims;
    match axis {
        0 => dst
            .par_chunks_mut(nx)
            .zip(src.par_chunks(nx))
            .for_each(|(out, row)| box_line(out, row, r)),
        1 => dst
            .par_chunks_mut(nx * ny)
            .zip(src.par_chunks(nx * ny))
            .for_each(|(out, slab)| box_lines(out, slab, nx, r)),
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

/// Reusable buffers for [`cc_derivatives`]: for each run of slabs a worker takes, a ring of
/// its five products' in-slab window sums and their sums along z.
#[derive(Debug, Default)]
pub struct CcWorkspace {
    parts: Vec<Vec<f32>>,
}

/// Computes the mean local correlation and, per voxel, `∂cc/∂F` and `∂cc/∂M` into `d_fixed`
/// and `d_moving`.
///
/// The window sums are never whole volumes: each worker takes a run of slabs and walks it in
/// z order, keeping the five products' window sums within the slab (along x, then y) for the
/// last 2r + 1 slabs in a ring, and adding those along z for the slab at the window's centre
/// — the additions [`box_sum`] makes, in its order, so the values are the same bit for bit.
/// A run recomputes the r slabs beyond each of its ends.
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
    let [nx, ny, nz] = dims;
    let slab = nx * ny;
    let r = radius;
    let window = 2 * r + 1;
    // Window sizes along each axis (truncated at the borders), computed once.
    let counts: [Vec<f32>; 3] = std::array::from_fn(|a| {
        (0..dims[a])
            .map(|c| ((c + r).min(dims[a] - 1) - c.saturating_sub(r) + 1) as f32)
            .collect()
    });
    let per_run = nz.div_ceil(rayon::current_num_threads().max(1));
    let runs = nz.div_ceil(per_run);
    ws.parts.resize_with(runs, Vec::new);
    for p in &mut ws.parts {
        // 5 quantities × (a ring of 2r + 1 slabs, and their sum along z), a slab of the
        // x-pass and a line of products.
        p.resize(5 * (window + 1) * slab + slab + nx, 0.0);
    }
    // The five products' in-slab window sums (along x, then y) of slab `kk`, into `out`.
    let products = |kk: usize, out: &mut [f32], tmp: &mut [f32], line: &mut [f32]| {
        for q in 0..5 {
            for j in 0..ny {
                let v0 = kk * slab + j * nx;
                let (fr, mr) = (&fixed[v0..v0 + nx], &moving[v0..v0 + nx]);
                // One loop per product, each plain enough to vectorise.
                match q {
                    0 => line.iter_mut().zip(fr).for_each(|(p, &f)| *p = f - mf),
                    1 => line.iter_mut().zip(mr).for_each(|(p, &m)| *p = m - mm),
                    2 => line
                        .iter_mut()
                        .zip(fr)
                        .for_each(|(p, &f)| *p = (f - mf) * (f - mf)),
                    3 => line
                        .iter_mut()
                        .zip(mr)
                        .for_each(|(p, &m)| *p = (m - mm) * (m - mm)),
                    _ => line
                        .iter_mut()
                        .zip(fr.iter().zip(mr))
                        .for_each(|(p, (&f, &m))| *p = (f - mf) * (m - mm)),
                }
                box_line(&mut tmp[j * nx..(j + 1) * nx], line, r);
            }
            box_lines(&mut out[q * slab..(q + 1) * slab], tmp, nx, r);
        }
    };
    let per_slab: Vec<f64> = d_fixed
        .par_chunks_mut(per_run * slab)
        .zip(d_moving.par_chunks_mut(per_run * slab))
        .zip(ws.parts.par_iter_mut())
        .enumerate()
        .flat_map_iter(|(run, ((dfs, dms), buf))| {
            let (ring, rest) = buf.split_at_mut(5 * window * slab);
            let (sum, rest) = rest.split_at_mut(5 * slab);
            let (tmp, line) = rest.split_at_mut(slab);
            let k0 = run * per_run;
            let k1 = (k0 + per_run).min(nz);
            let mut totals = Vec::with_capacity(k1 - k0);
            // Slabs enter the ring from k0 − r on; slab kk lives in slot kk mod (2r + 1).
            let slot = |kk: usize| kk % window * 5 * slab;
            for kk in k0.saturating_sub(r)..(k0 + r).min(nz) {
                products(kk, &mut ring[slot(kk)..slot(kk) + 5 * slab], tmp, line);
            }
            for k in k0..k1 {
                if k + r < nz {
                    let at = slot(k + r);
                    products(k + r, &mut ring[at..at + 5 * slab], tmp, line);
                }
                sum.fill(0.0);
                for kk in k.saturating_sub(r)..=(k + r).min(nz - 1) {
                    let at = slot(kk);
                    add(sum, &ring[at..at + 5 * slab]);
                }
                let [sf, sm, sff, smm, sfm] =
                    std::array::from_fn(|q| &sum[q * slab..(q + 1) * slab]);
                let (dfs, dms) = (
                    &mut dfs[(k - k0) * slab..(k - k0 + 1) * slab],
                    &mut dms[(k - k0) * slab..(k - k0 + 1) * slab],
                );
                let mut total = 0.0f64;
                for j in 0..ny {
                    let cyz = counts[1][j] * counts[2][k];
                    for i in 0..nx {
                        let o = i + nx * j;
                        let v = o + slab * k;
                        let cnt = counts[0][i] * cyz;
                        let (mu_f, mu_m) = (sf[o] / cnt, sm[o] / cnt);
                        let vfm = sfm[o] - sf[o] * mu_m;
                        let vff = sff[o] - sf[o] * mu_f;
                        let vmm = smm[o] - sm[o] * mu_m;
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
                totals.push(total);
            }
            totals
        })
        .collect();
    // Per-slab sums added in slab order: the same value for any number of threads.
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

    /// [`cc_derivatives`] with a fresh workspace and derivative images.
    fn cc(f: &[f32], m: &[f32], dims: [usize; 3], r: usize) -> (f64, Vec<f32>, Vec<f32>) {
        let (mut df, mut dm) = (vec![0.0; f.len()], vec![0.0; f.len()]);
        let v = cc_derivatives(f, m, dims, r, &mut CcWorkspace::default(), &mut df, &mut dm);
        (v, df, dm)
    }

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
        let (value, df, dm) = cc(&f, &m, dims, 2);
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
            pool.install(|| cc(&f, &f, dims, 2))
        };
        let (v1, df1, dm1) = run(1);
        let (v2, df2, dm2) = run(2);
        assert!((v1 - 1.0).abs() < 1e-3, "cc(F, F) = {v1}");
        assert!(dm1.iter().all(|d| d.abs() < 1e-3));
        assert_eq!(df1, df2);
        assert_eq!(dm1, dm2);
        assert!((v1 - v2).abs() < 1e-9);
    }

    /// The five window sums as whole volumes (five [`box_sum`]s), then the derivatives: what
    /// [`cc_derivatives`] computed before it streamed its sums.
    fn whole_volume(f: &[f32], m: &[f32], dims: [usize; 3], r: usize) -> (f64, Vec<f32>, Vec<f32>) {
        let n = f.len();
        let mean = |v: &[f32]| (v.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64) as f32;
        let (mf, mm) = (mean(f), mean(m));
        let mut sums: [Vec<f32>; 5] = std::array::from_fn(|q| {
            (0..n)
                .map(|v| {
                    let (a, b) = (f[v] - mf, m[v] - mm);
                    [a, b, a * a, b * b, a * b][q]
                })
                .collect()
        });
        for s in &mut sums {
            box_sum(s, dims, r, &mut Vec::new());
        }
        let [nx, ny, nz] = dims;
        let cnt = |a: usize, c: usize| ((c + r).min(dims[a] - 1) - c.saturating_sub(r) + 1) as f32;
        let (mut df, mut dm) = (vec![0.0; n], vec![0.0; n]);
        let mut total = 0.0;
        for k in 0..nz {
            let mut slab = 0.0f64;
            for j in 0..ny {
                for i in 0..nx {
                    let v = i + nx * (j + ny * k);
                    let c = cnt(0, i) * (cnt(1, j) * cnt(2, k));
                    let [sf, sm, sff, smm, sfm] = std::array::from_fn(|q| sums[q][v]);
                    let (mu_f, mu_m) = (sf / c, sm / c);
                    let (vfm, vff, vmm) = (sfm - sf * mu_m, sff - sf * mu_f, smm - sm * mu_m);
                    if vff < FLAT * c || vmm < FLAT * c {
                        continue;
                    }
                    let (a, b) = (f[v] - mf - mu_f, m[v] - mm - mu_m);
                    let common = 2.0 * vfm / (vff * vmm);
                    dm[v] = common * (a - vfm / vmm * b);
                    df[v] = common * (b - vfm / vff * a);
                    slab += f64::from(vfm * vfm / (vff * vmm));
                }
            }
            total += slab;
        }
        (total / n as f64, df, dm)
    }

    #[test]
    fn streamed_window_sums_are_the_whole_volume_sums_bit_for_bit() {
        // z extents shorter than a window, equal to it and longer; 1 to 3 workers (runs of
        // slabs of different lengths, each recomputing its ends).
        for (dims, r, seed) in [
            ([9, 8, 3], 2, 2),
            ([7, 6, 5], 2, 3),
            ([10, 9, 17], 2, 4),
            ([6, 5, 12], 3, 5),
        ] {
            let (f, m) = (random(dims, seed), random(dims, seed + 100));
            let (want, wdf, wdm) = whole_volume(&f, &m, dims, r);
            for threads in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let (got, df, dm) = pool.install(|| cc(&f, &m, dims, r));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{dims:?} r {r}, {threads} threads"
                );
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&df), bits(&wdf), "{dims:?} r {r}, {threads} threads");
                assert_eq!(bits(&dm), bits(&wdm), "{dims:?} r {r}, {threads} threads");
            }
        }
    }
}
