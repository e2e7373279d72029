//! Joint label fusion (Wang, Suh, Das, Pluta, Craige & Yushkevich, IEEE TPAMI 35(3), 2013),
//! with antsJointFusion's default parameters: patch radius 2, search radius 3, α = 0.1,
//! β = 2.
//!
//! At each target voxel `x`, for every atlas `i`: the atlas patch within the search window
//! that best matches the target patch (smallest sum of squared differences between patches
//! normalised to zero mean and unit variance) gives the difference vector `d_i`, and the
//! atlas votes with the label at the centre of that best patch. The pairwise dependency
//! matrix is `M(i,j) = (mean_p |d_i(p)|·|d_j(p)|)^β`; the weights solve `(M + αI) w = 1`,
//! normalised to sum 1. The label with the largest summed weight wins.
//!
//! Voxels where every atlas has the same label throughout the search window take it directly
//! (the agreement mask: any best match would vote for it, so the result is unchanged), and
//! each voxel's votes are reduced to its argmax at once: memory stays O(voxels × atlases),
//! never one image per label.

use rayon::prelude::*;

use crate::{Error, Result};

/// Parameters of joint label fusion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JlfParams {
    /// Patch radius, voxels (patch of (2r+1)³).
    pub patch_radius: usize,
    /// Search radius, voxels.
    pub search_radius: usize,
    /// Ridge term α added to the dependency matrix.
    pub alpha: f64,
    /// Exponent β applied to the pairwise dependencies.
    pub beta: f64,
}

impl Default for JlfParams {
    fn default() -> Self {
        JlfParams {
            patch_radius: 2,
            search_radius: 3,
            alpha: 0.1,
            beta: 2.0,
        }
    }
}

/// Inputs on one grid: the target image and each atlas's warped image and labels.
pub struct JlfInputs<'a> {
    /// Grid size.
    pub dims: [usize; 3],
    /// Target intensities.
    pub target: &'a [f32],
    /// Warped atlas intensities.
    pub images: Vec<&'a [f32]>,
    /// Warped atlas labels.
    pub labels: Vec<&'a [u16]>,
}

impl JlfInputs<'_> {
    fn check(&self) -> Result<()> {
        let n = self.dims.iter().product::<usize>();
        if self.images.is_empty() || self.images.len() != self.labels.len() {
            return Err(Error::InvalidParameter(format!(
                "joint label fusion needs one image per label map ({} images, {} label maps)",
                self.images.len(),
                self.labels.len()
            )));
        }
        if self.target.len() != n
            || self.images.iter().any(|i| i.len() != n)
            || self.labels.iter().any(|l| l.len() != n)
        {
            return Err(Error::InvalidParameter(format!(
                "joint label fusion inputs must all have {n} voxels"
            )));
        }
        Ok(())
    }
}

/// Offsets of a cube of radius `r`, as (di, dj, dk).
fn cube(r: usize) -> Vec<[isize; 3]> {
    let r = r as isize;
    let mut v = Vec::new();
    for k in -r..=r {
        for j in -r..=r {
            for i in -r..=r {
                v.push([i, j, k]);
            }
        }
    }
    v
}

#[inline]
fn clamped(dims: [usize; 3], x: [usize; 3], o: [isize; 3]) -> usize {
    let c = |a: usize| (x[a] as isize + o[a]).clamp(0, dims[a] as isize - 1) as usize;
    c(0) + dims[0] * (c(1) + dims[1] * c(2))
}

/// Reads the patch at `centre` (clamped at the borders) normalised to zero mean and unit
/// variance into `out`; a flat patch becomes all zeros.
fn normalised_patch(
    img: &[f32],
    dims: [usize; 3],
    centre: [usize; 3],
    patch: &[[isize; 3]],
    out: &mut [f64],
) {
    for (o, p) in out.iter_mut().zip(patch) {
        *o = f64::from(img[clamped(dims, centre, *p)]);
    }
    let n = out.len() as f64;
    let mean = out.iter().sum::<f64>() / n;
    let var = out.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let sd = var.sqrt();
    for o in out.iter_mut() {
        *o = if sd > 1e-12 { (*o - mean) / sd } else { 0.0 };
    }
}

/// Solves the small symmetric system `a x = b` by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))?;
        if a[p * n + c].abs() < 1e-300 {
            return None;
        }
        if p != c {
            for k in 0..n {
                a.swap(c * n + k, p * n + k);
            }
            b.swap(c, p);
        }
        for r in c + 1..n {
            let f = a[r * n + c] / a[c * n + c];
            for k in c..n {
                a[r * n + k] -= f * a[c * n + k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    Some(x)
}

/// Weights from the difference vectors `d` (atlas-major, `patch` values each).
pub fn weights(d: &[f64], atlases: usize, alpha: f64, beta: f64) -> Vec<f64> {
    let p = d.len() / atlases;
    let mut m = vec![0.0; atlases * atlases];
    for i in 0..atlases {
        for j in i..atlases {
            let s: f64 = (0..p)
                .map(|k| d[i * p + k].abs() * d[j * p + k].abs())
                .sum::<f64>()
                / p as f64;
            let v = s.powf(beta);
            m[i * atlases + j] = v;
            m[j * atlases + i] = v;
        }
        m[i * atlases + i] += alpha;
    }
    let w = solve(m, vec![1.0; atlases]).unwrap_or_else(|| vec![1.0; atlases]);
    let sum: f64 = w.iter().sum();
    if sum.abs() < 1e-300 {
        return vec![1.0 / atlases as f64; atlases];
    }
    w.iter().map(|v| v / sum).collect()
}

/// Patch and search offsets.
struct Stencils {
    patch: Vec<[isize; 3]>,
    search: Vec<[isize; 3]>,
}

impl Stencils {
    fn new(p: &JlfParams) -> Self {
        Stencils {
            patch: cube(p.patch_radius),
            search: cube(p.search_radius),
        }
    }
}

/// Per-worker buffers: target patch, candidate patch, difference vectors.
struct Scratch {
    t: Vec<f64>,
    cand: Vec<f64>,
    d: Vec<f64>,
}

impl Scratch {
    fn new(patch: usize, atlases: usize) -> Self {
        Scratch {
            t: vec![0.0; patch],
            cand: vec![0.0; patch],
            d: vec![0.0; patch * atlases],
        }
    }
}

/// SSD between the normalised target patch `t` and the normalised candidate patch at `cc`,
/// in one pass over the candidate: with `t̂` of zero mean and unit variance,
/// `Σ(t̂ − â)² = 2P − 2·Σ t̂·(a − μ)/σ` (flat patches normalise to zeros, as in
/// [`normalised_patch`]).
fn ssd_one_pass(
    img: &[f32],
    dims: [usize; 3],
    cc: [usize; 3],
    patch: &[[isize; 3]],
    t: &[f64],
    t_sum: f64,
    t_flat: bool,
) -> f64 {
    let (mut sa, mut saa, mut sta) = (0.0f64, 0.0f64, 0.0f64);
    for (tk, o) in t.iter().zip(patch) {
        let a = f64::from(img[clamped(dims, cc, *o)]);
        sa += a;
        saa += a * a;
        sta += tk * a;
    }
    let n = patch.len() as f64;
    let mean = sa / n;
    let sd = (saa / n - mean * mean).max(0.0).sqrt();
    let a_flat = sd <= 1e-12;
    match (t_flat, a_flat) {
        (true, true) => 0.0,
        (true, false) | (false, true) => n,
        (false, false) => 2.0 * n - 2.0 * (sta - mean * t_sum) / sd,
    }
}

/// Per-voxel work shared by both implementations: best offset per atlas, weights, vote.
fn fuse_voxel(
    inp: &JlfInputs<'_>,
    p: &JlfParams,
    x: [usize; 3],
    st: &Stencils,
    sc: &mut Scratch,
    fast: bool,
) -> u16 {
    let (patch, search) = (&st.patch, &st.search);
    let Scratch { t, cand, d } = sc;
    let dims = inp.dims;
    let n = inp.images.len();
    let pn = patch.len();
    normalised_patch(inp.target, dims, x, patch, t);
    let t_sum: f64 = t.iter().sum();
    let t_flat = t.iter().all(|v| *v == 0.0);
    let mut votes: Vec<(u16, f64)> = Vec::with_capacity(n);
    let mut best_labels = Vec::with_capacity(n);
    for (a, img) in inp.images.iter().enumerate() {
        let (mut best, mut best_s) = (f64::MAX, [0isize; 3]);
        for s in search {
            let c = clamped(dims, x, *s);
            let cc = [
                c % dims[0],
                (c / dims[0]) % dims[1],
                c / (dims[0] * dims[1]),
            ];
            let ssd = if fast {
                ssd_one_pass(img, dims, cc, patch, t, t_sum, t_flat)
            } else {
                normalised_patch(img, dims, cc, patch, cand);
                t.iter()
                    .zip(cand.iter())
                    .map(|(u, v)| (u - v) * (u - v))
                    .sum()
            };
            if ssd < best {
                best = ssd;
                best_s = *s;
            }
        }
        let c = clamped(dims, x, best_s);
        let cc = [
            c % dims[0],
            (c / dims[0]) % dims[1],
            c / (dims[0] * dims[1]),
        ];
        normalised_patch(img, dims, cc, patch, cand);
        for k in 0..pn {
            d[a * pn + k] = t[k] - cand[k];
        }
        best_labels.push(inp.labels[a][c]);
    }
    let w = weights(&d[..n * pn], n, p.alpha, p.beta);
    for (l, wi) in best_labels.iter().zip(&w) {
        match votes.iter_mut().find(|(v, _)| v == l) {
            Some((_, s)) => *s += wi,
            None => votes.push((*l, *wi)),
        }
    }
    votes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(l, _)| *l)
}

/// Joint label fusion over all voxels, slabs in parallel, skipping voxels where all atlases
/// agree throughout the search window, scoring candidates in one pass ([`ssd_one_pass`]).
/// Agrees with [`jlf_reference`] up to rounding between near-tied candidates; the tests
/// require identical labels on random volumes.
///
/// # Errors
/// Inconsistent inputs.
pub fn joint_label_fusion(inp: &JlfInputs<'_>, p: &JlfParams) -> Result<Vec<u16>> {
    inp.check()?;
    let [nx, ny, _] = inp.dims;
    let st = Stencils::new(p);
    let n = inp.images.len();
    let mut out = vec![0u16; inp.target.len()];
    out.par_chunks_mut(nx * ny).enumerate().for_each_init(
        || Scratch::new(st.patch.len(), n),
        |sc, (k, slab)| {
            for j in 0..ny {
                for i in 0..nx {
                    let x = [i, j, k];
                    let first = inp.labels[0][clamped(inp.dims, x, [0; 3])];
                    // Every candidate centre of every atlas carries `first`: the vote is decided.
                    let agreed = inp.labels.iter().all(|l| {
                        st.search
                            .iter()
                            .all(|s| l[clamped(inp.dims, x, *s)] == first)
                    });
                    slab[i + nx * j] = if agreed {
                        first
                    } else {
                        fuse_voxel(inp, p, x, &st, sc, true)
                    };
                }
            }
        },
    );
    Ok(out)
}

/// Plain serial reference: every voxel through the full search, every candidate patch
/// normalised explicitly, no agreement mask.
pub fn jlf_reference(inp: &JlfInputs<'_>, p: &JlfParams) -> Result<Vec<u16>> {
    inp.check()?;
    let [nx, ny, nz] = inp.dims;
    let st = Stencils::new(p);
    let mut sc = Scratch::new(st.patch.len(), inp.images.len());
    let mut out = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                out.push(fuse_voxel(inp, p, [i, j, k], &st, &mut sc, false));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "jlf_tests.rs"]
mod tests;
