//! Trilinear and nearest-neighbour sampling on flat volumes (`i` fastest) at continuous voxel
//! indices. Points outside the grid are clamped to the border (replicated edge), which keeps
//! metrics free of artificial edges; callers that need "outside = 0" check [`inside`].

mod row;

pub use row::sample_row;

/// True when the continuous index lies within the grid: up to half a voxel beyond the outer
/// voxel centres, as ITK (and so antsApplyTransforms) decides it; the sample there takes the
/// border value.
#[inline]
pub fn inside(dims: [usize; 3], p: [f32; 3]) -> bool {
    (0..3).all(|a| p[a] >= -0.5 && p[a] <= dims[a] as f32 - 0.5)
}

#[inline(always)]
fn corner(p: f32, n: usize) -> (usize, usize, f32) {
    let max = (n - 1) as f32;
    // Clamped to [0, max], so truncation is the floor (and avoids a libm call).
    let p = p.clamp(0.0, max);
    let i0 = p as usize;
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, p - i0 as f32)
}

/// The eight neighbours and fractional position of a trilinear sample: computed once and
/// applied to several volumes on the same grid (the three components of a field).
#[derive(Debug, Clone, Copy)]
pub struct Corners {
    o: [usize; 8],
    f: [f32; 3],
}

impl Corners {
    /// Corners of continuous index `p` (clamped to the grid).
    #[inline(always)]
    pub fn new(dims: [usize; 3], p: [f32; 3]) -> Self {
        let [nx, ny, _] = dims;
        let (x0, x1, fx) = corner(p[0], dims[0]);
        let (y0, y1, fy) = corner(p[1], dims[1]);
        let (z0, z1, fz) = corner(p[2], dims[2]);
        let at = |x: usize, y: usize, z: usize| x + nx * (y + ny * z);
        Corners {
            o: [
                at(x0, y0, z0),
                at(x1, y0, z0),
                at(x0, y1, z0),
                at(x1, y1, z0),
                at(x0, y0, z1),
                at(x1, y0, z1),
                at(x0, y1, z1),
                at(x1, y1, z1),
            ],
            f: [fx, fy, fz],
        }
    }

    /// Interpolates `data` at these corners.
    #[inline(always)]
    pub fn interpolate(&self, data: &[f32]) -> f32 {
        let a = |k: usize| data[self.o[k]];
        let [fx, fy, fz] = self.f;
        let c00 = a(0) + fx * (a(1) - a(0));
        let c10 = a(2) + fx * (a(3) - a(2));
        let c01 = a(4) + fx * (a(5) - a(4));
        let c11 = a(6) + fx * (a(7) - a(6));
        let c0 = c00 + fy * (c10 - c00);
        let c1 = c01 + fy * (c11 - c01);
        c0 + fz * (c1 - c0)
    }

    /// Interpolated value and its derivative along i, j and k: the exact gradient of the
    /// trilinear interpolant inside the cell (points clamped to the border take the border
    /// cell's gradient).
    #[inline(always)]
    pub fn interpolate_with_gradient(&self, data: &[f32]) -> (f32, [f32; 3]) {
        let a = |k: usize| data[self.o[k]];
        let [fx, fy, fz] = self.f;
        // Differences along i on the four rows, then the usual lerps.
        let d00 = a(1) - a(0);
        let d10 = a(3) - a(2);
        let d01 = a(5) - a(4);
        let d11 = a(7) - a(6);
        let c00 = a(0) + fx * d00;
        let c10 = a(2) + fx * d10;
        let c01 = a(4) + fx * d01;
        let c11 = a(6) + fx * d11;
        let c0 = c00 + fy * (c10 - c00);
        let c1 = c01 + fy * (c11 - c01);
        let dx0 = d00 + fy * (d10 - d00);
        let dx1 = d01 + fy * (d11 - d01);
        let gx = dx0 + fz * (dx1 - dx0);
        let gy = (c10 - c00) + fz * ((c11 - c01) - (c10 - c00));
        let gz = c1 - c0;
        (c0 + fz * (c1 - c0), [gx, gy, gz])
    }
}

/// Trilinear interpolation at continuous index `p` (clamped to the grid).
#[inline]
pub fn trilinear(data: &[f32], dims: [usize; 3], p: [f32; 3]) -> f32 {
    Corners::new(dims, p).interpolate(data)
}

/// Nearest-neighbour sample at continuous index `p`; `None` outside the grid (beyond half a
/// voxel from the border centres).
#[inline]
pub fn nearest<T: Copy>(data: &[T], dims: [usize; 3], p: [f32; 3]) -> Option<T> {
    let mut idx = [0usize; 3];
    for a in 0..3 {
        let r = p[a].round();
        if r < 0.0 || r > (dims[a] - 1) as f32 || !r.is_finite() {
            return None;
        }
        idx[a] = r as usize;
    }
    Some(data[idx[0] + dims[0] * (idx[1] + dims[1] * idx[2])])
}

/// Label at continuous index `p` by linear interpolation of each label's indicator function
/// (ANTs' `GenericLabel` with its default linear interpolator): the label whose corners carry
/// the largest trilinear weight; ties go to the first corner in i, j, k order. `None`
/// outside the grid (beyond half a voxel from the border centres, as [`nearest`]).
#[inline]
pub fn label_vote<T: Copy + PartialEq>(data: &[T], dims: [usize; 3], p: [f32; 3]) -> Option<T> {
    for a in 0..3 {
        if !(p[a] >= -0.5 && p[a] <= dims[a] as f32 - 0.5) {
            return None;
        }
    }
    let c = Corners::new(dims, p);
    let [fx, fy, fz] = c.f;
    let wx = [1.0 - fx, fx];
    let wy = [1.0 - fy, fy];
    let wz = [1.0 - fz, fz];
    // At most eight distinct labels: accumulate each one's weight in corner order.
    let mut labels = [data[c.o[0]]; 8];
    let mut weights = [0.0f32; 8];
    let mut distinct = 0;
    for (k, &o) in c.o.iter().enumerate() {
        let w = wx[k & 1] * wy[(k >> 1) & 1] * wz[k >> 2];
        let label = data[o];
        match labels[..distinct].iter().position(|&l| l == label) {
            Some(slot) => weights[slot] += w,
            None => {
                labels[distinct] = label;
                weights[distinct] = w;
                distinct += 1;
            }
        }
    }
    let mut best = 0;
    for slot in 1..distinct {
        if weights[slot] > weights[best] {
            best = slot;
        }
    }
    Some(labels[best])
}

/// Central-difference gradient of a volume in voxel units (one-sided at the border).
pub fn gradient(data: &[f32], dims: [usize; 3], out: [&mut [f32]; 3]) {
    weighted_gradient(data, |_| 1.0, dims, out);
}

/// `weight(v) · ∇data` per voxel `v` (flat index; the gradient as in [`gradient`]): SyN's
/// forces without storing the gradient, and with a weight computed where it is used.
pub fn weighted_gradient(
    data: &[f32],
    weight: impl Fn(usize) -> f32 + Sync,
    dims: [usize; 3],
    out: [&mut [f32]; 3],
) {
    use rayon::prelude::*;
    let [nx, ny, nz] = dims;
    let [gx, gy, gz] = out;
    let d = |n: usize, c: usize| if c == 0 || c + 1 == n { 1.0f32 } else { 0.5 };
    gx.par_chunks_mut(nx * ny)
        .zip(gy.par_chunks_mut(nx * ny))
        .zip(gz.par_chunks_mut(nx * ny))
        .enumerate()
        .for_each(|(k, ((sx, sy), sz))| {
            let km = k.saturating_sub(1);
            let kp = (k + 1).min(nz - 1);
            for j in 0..ny {
                let jm = j.saturating_sub(1);
                let jp = (j + 1).min(ny - 1);
                for i in 0..nx {
                    let im = i.saturating_sub(1);
                    let ip = (i + 1).min(nx - 1);
                    let at = |x: usize, y: usize, z: usize| data[x + nx * (y + ny * z)];
                    let o = i + nx * j;
                    let gx = (at(ip, j, k) - at(im, j, k)) * d(nx, i);
                    let gy = (at(i, jp, k) - at(i, jm, k)) * d(ny, j);
                    let gz = (at(i, j, kp) - at(i, j, km)) * d(nz, k);
                    let w = weight(o + nx * ny * k);
                    (sx[o], sy[o], sz[o]) = (w * gx, w * gy, w * gz);
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trilinear_reproduces_affine_functions() {
        let dims = [5, 6, 7];
        let f = |x: f32, y: f32, z: f32| 2.0 * x - 0.5 * y + 3.0 * z + 1.0;
        let data: Vec<f32> = (0..210)
            .map(|n| f((n % 5) as f32, ((n / 5) % 6) as f32, (n / 30) as f32))
            .collect();
        for p in [
            [1.3, 2.7, 4.1],
            [0.0, 0.0, 0.0],
            [3.99, 4.5, 5.5],
            [2.0, 3.0, 1.25],
        ] {
            let got = trilinear(&data, dims, p);
            assert!((got - f(p[0], p[1], p[2])).abs() < 1e-4, "{p:?}: {got}");
        }
        // Clamped outside.
        assert_eq!(trilinear(&data, dims, [-3.0, 0.0, 0.0]), f(0.0, 0.0, 0.0));
    }

    #[test]
    fn trilinear_gradient_matches_finite_differences_inside_a_cell() {
        let dims = [5, 6, 7];
        let data: Vec<f32> = (0..210)
            .map(|n| ((n * 37 % 101) as f32 * 0.13).sin())
            .collect();
        for p in [[1.3f32, 2.7, 4.1], [3.5, 0.2, 5.9], [0.4, 4.6, 0.7]] {
            let (value, grad) = Corners::new(dims, p).interpolate_with_gradient(&data);
            assert!((value - trilinear(&data, dims, p)).abs() < 1e-6);
            for axis in 0..3 {
                // Within one cell the interpolant is linear along each axis.
                let h = 0.01;
                let (mut hi, mut lo) = (p, p);
                hi[axis] += h;
                lo[axis] -= h;
                let fd = (trilinear(&data, dims, hi) - trilinear(&data, dims, lo)) / (2.0 * h);
                assert!(
                    (fd - grad[axis]).abs() < 1e-3,
                    "{p:?} axis {axis}: {fd} vs {}",
                    grad[axis]
                );
            }
        }
    }

    /// Plain reference: each label's indicator interpolated on its own, then the argmax;
    /// also the runner-up's weight, to skip near-ties (broken differently on purpose).
    fn label_vote_reference(data: &[u16], dims: [usize; 3], p: [f32; 3]) -> (u16, f32, f32) {
        let mut labels: Vec<u16> = data.to_vec();
        labels.sort_unstable();
        labels.dedup();
        let mut weights: Vec<(f32, u16)> = labels
            .iter()
            .map(|&l| {
                let indicator: Vec<f32> =
                    data.iter().map(|&v| f32::from(u8::from(v == l))).collect();
                (trilinear(&indicator, dims, p), l)
            })
            .collect();
        weights.sort_by(|a, b| b.0.total_cmp(&a.0));
        (weights[0].1, weights[0].0, weights[1].0)
    }

    #[test]
    fn label_vote_matches_per_label_interpolation() {
        let dims = [6, 5, 4];
        let data: Vec<u16> = (0..120).map(|n| ((n * 7919) % 13 % 5) as u16).collect();
        let mut checked = 0;
        for t in 0..400 {
            let t = t as f32;
            let p = [
                (t * 0.731).fract() * 5.0,
                (t * 0.377).fract() * 4.0,
                (t * 0.913).fract() * 3.0,
            ];
            let (want, first, second) = label_vote_reference(&data, dims, p);
            if first - second < 1e-4 {
                continue;
            }
            assert_eq!(label_vote(&data, dims, p).unwrap(), want, "at {p:?}");
            checked += 1;
        }
        assert!(checked > 300, "only {checked} points without a tie");
        // On grid points the vote is the voxel's own label; outside it is None.
        assert_eq!(
            label_vote(&data, dims, [2.0, 3.0, 1.0]),
            Some(data[2 + 6 * (3 + 5)])
        );
        assert_eq!(label_vote(&data, dims, [-0.6, 0.0, 0.0]), None);
        assert_eq!(label_vote(&data, dims, [5.4, 4.4, 3.4]), Some(data[119]));
    }

    #[test]
    fn nearest_rounds_and_rejects_outside() {
        let data: Vec<u16> = (0..8).collect();
        assert_eq!(nearest(&data, [2, 2, 2], [0.6, 0.2, 0.9]), Some(1 + 4));
        assert_eq!(nearest(&data, [2, 2, 2], [1.6, 0.0, 0.0]), None);
    }

    #[test]
    fn gradient_of_linear_ramp() {
        let dims = [6, 5, 4];
        let data: Vec<f32> = (0..120)
            .map(|n| (n % 6) as f32 * 2.0 + (n / 30) as f32)
            .collect();
        let (mut gx, mut gy, mut gz) = (vec![0.0; 120], vec![0.0; 120], vec![0.0; 120]);
        gradient(&data, dims, [&mut gx, &mut gy, &mut gz]);
        assert!(gx.iter().all(|v| (v - 2.0).abs() < 1e-6));
        assert!(gy.iter().all(|v| v.abs() < 1e-6));
        assert!(gz.iter().all(|v| (v - 1.0).abs() < 1e-6));
    }
}
