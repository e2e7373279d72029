//! The trilinear sampler a row at a time: the point sampler's arithmetic, vectorised across
//! the voxels of a row.

use super::Corners;

simd_clones! {
/// Trilinear samples of `K` volumes on one grid (`dims`) at the points `(i + d[0][i], j +
/// d[1][i], k + d[2][i])` of row `(j, k)`, for every `i` of the row, written to `out[c][i]`:
/// the values [`Corners::interpolate`] gives point by point, bit for bit (the same operations
/// in the same order), computed a row at a time so the compiler vectorises across voxels, with
/// SIMD clones chosen at run time (`simd_clones!`). Indices are 32-bit: grids of up to 2³²
/// voxels (larger grids go point by point).
pub fn sample_row<const K: usize>(
    data: [&[f32]; K],
    dims: [usize; 3],
    j: usize,
    k: usize,
    d: [&[f32]; 3],
    mut out: [&mut [f32]; K],
) {
    let n = d
        .iter()
        .map(|v| v.len())
        .chain(out.iter().map(|o| o.len()))
        .min()
        .unwrap_or(0);
    let last = data.iter().map(|v| v.len()).min().unwrap_or(0);
    if last == 0 || n == 0 {
        return;
    }
    if dims.iter().product::<usize>() > u32::MAX as usize {
        // Beyond 32-bit indices: point by point.
        for i in 0..n {
            let c = Corners::new(
                dims,
                [i as f32 + d[0][i], j as f32 + d[1][i], k as f32 + d[2][i]],
            );
            for (o, v) in out.iter_mut().zip(data) {
                o[i] = c.interpolate(v);
            }
        }
        return;
    }
    let top = dims.map(|v| v.max(1) as u32 - 1);
    let max = top.map(|v| v as f32);
    let (nx, ny) = (dims[0] as u32, dims[1] as u32);
    let (jf, kf) = (j as f32, k as f32);
    // Chunks of the row: first every point's corners and fractions, then each volume's
    // samples; both loops are plain enough for the compiler to vectorise (gathers).
    const CHUNK: usize = 64;
    let mut o = [[0u32; CHUNK]; 8];
    let mut f = [[0f32; CHUNK]; 3];
    for start in (0..n).step_by(CHUNK) {
        let m = CHUNK.min(n - start);
        let (dx, dy, dz) = (
            &d[0][start..start + m],
            &d[1][start..start + m],
            &d[2][start..start + m],
        );
        for t in 0..m {
            // As `corner`: clamped, so truncation is the floor.
            let px = ((start + t) as f32 + dx[t]).clamp(0.0, max[0]);
            let py = (jf + dy[t]).clamp(0.0, max[1]);
            let pz = (kf + dz[t]).clamp(0.0, max[2]);
            let (x0, y0, z0) = (px as u32, py as u32, pz as u32);
            let x1 = (x0 + 1).min(top[0]);
            let y1 = (y0 + 1).min(top[1]);
            let z1 = (z0 + 1).min(top[2]);
            f[0][t] = px - x0 as f32;
            f[1][t] = py - y0 as f32;
            f[2][t] = pz - z0 as f32;
            let r00 = nx * (y0 + ny * z0);
            let r10 = nx * (y1 + ny * z0);
            let r01 = nx * (y0 + ny * z1);
            let r11 = nx * (y1 + ny * z1);
            o[0][t] = r00 + x0;
            o[1][t] = r00 + x1;
            o[2][t] = r10 + x0;
            o[3][t] = r10 + x1;
            o[4][t] = r01 + x0;
            o[5][t] = r01 + x1;
            o[6][t] = r11 + x0;
            o[7][t] = r11 + x1;
        }
        for (v, out) in data.iter().zip(out.iter_mut()) {
            let out = &mut out[start..start + m];
            let last = v.len() - 1;
            // Every index is in the grid; the bound only lets the compiler drop the checks.
            let a = |q: usize, t: usize| v[(o[q][t] as usize).min(last)];
            for t in 0..m {
                let (fx, fy, fz) = (f[0][t], f[1][t], f[2][t]);
                let c00 = a(0, t) + fx * (a(1, t) - a(0, t));
                let c10 = a(2, t) + fx * (a(3, t) - a(2, t));
                let c01 = a(4, t) + fx * (a(5, t) - a(4, t));
                let c11 = a(6, t) + fx * (a(7, t) - a(6, t));
                let c0 = c00 + fy * (c10 - c00);
                let c1 = c01 + fy * (c11 - c01);
                out[t] = c0 + fz * (c1 - c0);
            }
        }
    }
}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_of_samples_is_the_point_samples_bit_for_bit() {
        use rand::{Rng, SeedableRng};
        // Rows longer than a chunk, displacements reaching outside the grid, a NaN and an
        // infinity (clamped as the point sampler clamps them).
        let dims = [150, 7, 5];
        let n: usize = dims.iter().product();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let vols: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..n).map(|_| rng.random_range(-2.0..2.0)).collect())
            .collect();
        for (j, k) in [(0, 0), (3, 2), (6, 4)] {
            let mut d: Vec<Vec<f32>> = (0..3)
                .map(|_| (0..dims[0]).map(|_| rng.random_range(-9.0..9.0)).collect())
                .collect();
            d[0][5] = f32::NAN;
            d[1][70] = f32::INFINITY;
            d[2][149] = f32::NEG_INFINITY;
            let mut out = vec![vec![0.0f32; dims[0]]; 3];
            let [o0, o1, o2] = &mut out[..] else {
                unreachable!()
            };
            sample_row(
                [&vols[0][..], &vols[1][..], &vols[2][..]],
                dims,
                j,
                k,
                [&d[0][..], &d[1][..], &d[2][..]],
                [&mut o0[..], &mut o1[..], &mut o2[..]],
            );
            let mut one = vec![0.0f32; dims[0]];
            sample_row(
                [&vols[1][..]],
                dims,
                j,
                k,
                [&d[0][..], &d[1][..], &d[2][..]],
                [&mut one[..]],
            );
            for i in 0..dims[0] {
                let c = Corners::new(
                    dims,
                    [i as f32 + d[0][i], j as f32 + d[1][i], k as f32 + d[2][i]],
                );
                for (v, o) in vols.iter().zip(&out) {
                    assert_eq!(
                        o[i].to_bits(),
                        c.interpolate(v).to_bits(),
                        "row ({j}, {k}), voxel {i}"
                    );
                }
                assert_eq!(one[i].to_bits(), out[1][i].to_bits());
            }
        }
    }
}
