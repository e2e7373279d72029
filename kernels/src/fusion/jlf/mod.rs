//! Joint label fusion (Wang, Suh, Das, Pluta, Craige & Yushkevich, IEEE TPAMI 35(3), 2013),
//! as antsJointFusion runs it with its default parameters: patch radius 2, search radius 3,
//! α = 0.1, β = 2.
//!
//! At each target voxel `x`, for every atlas `i`: the atlas patch within the search window
//! that best matches the target patch (patches normalised to zero mean and unit variance;
//! smallest sum of squared differences, i.e. largest correlation) gives the offset `s_i` and
//! the difference vector `d_i`. The pairwise dependency matrix is
//! `M(i,j) = (mean_p |d_i(p)|·|d_j(p)|)^β`; the weights solve `(M + αI) w = 1`, negative
//! weights are set to zero and the rest normalised to sum 1. Then, like antsJointFusion, the
//! voxel votes over its whole patch: at every patch voxel `y = x + p`, atlas `i` adds `w_i` to
//! the label it has at `y + s_i`. Each voxel takes the label with the largest summed vote
//! (ties to the smallest label). Image values outside the grid are those of the nearest
//! border voxel.
//!
//! Speed comes from the algorithm: for each atlas and search offset, the patch sums of
//! target × shifted atlas come from three separable box-sum passes (a few vectorised
//! additions per voxel instead of one per patch voxel), only over the rows' spans of the
//! voxels fused and the patches around them (a mask's shape, not its bounding box), and the
//! atlas's patch means and variances are computed once per atlas. Memory stays O(voxels × atlases): per atlas the best
//! offset and score, per voxel the weights; never one image per label.

use rayon::prelude::*;

use crate::{Error, Result};

mod reference;
pub use reference::{jlf_reference, jlf_reference_masked};

mod weights;
pub use weights::weights;
use weights::{add_vote, argmax, clamped, cube, voxel_weights, Scratch};

mod search;
use search::{patch_stats, Padded, Rows, Search};

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
        if n == 0 {
            return Err(Error::InvalidParameter(
                "joint label fusion needs a non-empty grid".into(),
            ));
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

/// Optional parts of a fusion: a mask and the label posteriors.
#[derive(Default)]
pub struct JlfOptions<'a> {
    /// Voxels where the mask is 0 take label 0 and cast no votes (antsJointFusion's `-x`).
    pub mask: Option<&'a [u16]>,
    /// Called once per label, in increasing order, with that label's posterior probability
    /// at every voxel (its votes over all votes); one image at a time is alive.
    pub posteriors: Option<&'a mut (dyn FnMut(u16, Vec<f32>) -> Result<()> + Send)>,
}

/// Joint label fusion over all voxels: best offsets per atlas by box sums (search offsets
/// spread over the rayon pool), weights per voxel, then patch votes gathered per voxel, in
/// slabs in parallel. Agrees with [`jlf_reference`] up to rounding between near-tied
/// candidates; the tests require identical labels on random volumes.
///
/// # Errors
/// Inconsistent inputs.
pub fn joint_label_fusion(inp: &JlfInputs<'_>, p: &JlfParams) -> Result<Vec<u16>> {
    joint_label_fusion_with(inp, p, JlfOptions::default())
}

/// [`joint_label_fusion`] with a mask and/or the label posteriors.
///
/// # Errors
/// Inconsistent inputs, or what the posterior callback returns.
pub fn joint_label_fusion_with(
    inp: &JlfInputs<'_>,
    p: &JlfParams,
    opts: JlfOptions<'_>,
) -> Result<Vec<u16>> {
    inp.check()?;
    let dims = inp.dims;
    let [nx, ny, nz] = dims;
    let nvox = nx * ny * nz;
    if opts.mask.is_some_and(|m| m.len() != nvox) {
        return Err(Error::InvalidParameter(format!(
            "the mask must have {nvox} voxels like the target"
        )));
    }
    let inside = |v: usize| opts.mask.is_none_or(|m| m[v] != 0);
    let (r, big_r) = (p.patch_radius, p.search_radius);
    // Checked before anything is allocated.
    p.validate()
        .and_then(|()| p.check_image(dims))
        .map_err(|e| Error::InvalidParameter(e.to_string()))?;
    if let (Some(mask), None) = (opts.mask, &opts.posteriors) {
        if let Some(b) = mask_box(mask, dims, 2 * r + big_r) {
            if b.dims != dims {
                return fuse_in_box(inp, p, mask, &b);
            }
        }
    }
    let patch = cube(r);
    let search = cube(big_r);
    if search.len() > usize::from(u16::MAX) {
        return Err(Error::InvalidParameter(format!(
            "search radius {big_r} is too large"
        )));
    }
    let n = inp.images.len();
    let margin = r + big_r;
    let target = Padded::new(inp.target, dims, margin);
    let t_stats = patch_stats(&target, r, 0);
    let rows = Rows::new(dims, r, inside);
    let ctx = Search {
        dims,
        r,
        big_r,
        search: &search,
        target: &target,
        t_stats: &t_stats,
        rows: &rows,
    };
    // Best offset index per atlas per voxel.
    let mut best: Vec<Vec<u16>> = Vec::with_capacity(n);
    let mut atlases = Vec::with_capacity(n);
    for img in &inp.images {
        let a = Padded::new(img, dims, margin);
        best.push(ctx.best_offsets(&a, &patch_stats(&a, r, big_r)));
        atlases.push(a);
    }
    let w = all_weights(inp, p, &patch, &search, &best, &atlases, &inside);
    let of = |xv: usize, a: usize| (search[best[a][xv] as usize], w[xv * n + a]);
    // Votes gathered at each voxel from the patches that cover it.
    let mut out = vec![0u16; nvox];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slab)| {
            let mut votes = Vec::new();
            for j in 0..ny {
                for i in 0..nx {
                    if !inside(i + nx * (j + ny * k)) {
                        continue;
                    }
                    votes.clear();
                    gather(inp, &patch, [i, j, k], of, &mut votes);
                    slab[i + nx * j] = argmax(&votes);
                }
            }
        });
    if let Some(emit) = opts.posteriors {
        posteriors(inp, &patch, of, emit)?;
    }
    Ok(out)
}

/// The part of the grid a masked fusion reads: the mask's bounding box grown by `margin`
/// voxels (clamped to the grid), as a corner and a size.
#[derive(Debug, Clone, PartialEq)]
struct Box3 {
    lo: [usize; 3],
    dims: [usize; 3],
}

/// The box of `mask`'s non-zero voxels grown by `margin`; `None` for an empty mask.
fn mask_box(mask: &[u16], dims: [usize; 3], margin: usize) -> Option<Box3> {
    let [nx, ny, _] = dims;
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for (v, _) in mask.iter().enumerate().filter(|(_, &m)| m != 0) {
        let x = [v % nx, (v / nx) % ny, v / (nx * ny)];
        for a in 0..3 {
            lo[a] = lo[a].min(x[a]);
            hi[a] = hi[a].max(x[a]);
        }
    }
    (lo[0] != usize::MAX).then(|| {
        let lo: [usize; 3] = std::array::from_fn(|a| lo[a].saturating_sub(margin));
        let hi: [usize; 3] = std::array::from_fn(|a| (hi[a] + margin).min(dims[a] - 1));
        Box3 {
            lo,
            dims: std::array::from_fn(|a| hi[a] + 1 - lo[a]),
        }
    })
}

/// A masked fusion done on the mask's box only. The box holds every voxel the full-grid
/// fusion would read for a voxel of the mask (target patches within 2 patch radii, atlas
/// patches and labels a search radius further), so the labels are the same; outside the box
/// they are 0, as outside the mask.
fn fuse_in_box(inp: &JlfInputs<'_>, p: &JlfParams, mask: &[u16], b: &Box3) -> Result<Vec<u16>> {
    let dims = inp.dims;
    let [nx, ny, _] = dims;
    let [bx, by, bz] = b.dims;
    let full =
        |i: usize, j: usize, k: usize| (b.lo[0] + i) + nx * ((b.lo[1] + j) + ny * (b.lo[2] + k));
    fn crop<T: Copy>(
        data: &[T],
        b: &[usize; 3],
        at: &dyn Fn(usize, usize, usize) -> usize,
    ) -> Vec<T> {
        let mut out = Vec::with_capacity(b.iter().product());
        for k in 0..b[2] {
            for j in 0..b[1] {
                out.extend((0..b[0]).map(|i| data[at(i, j, k)]));
            }
        }
        out
    }
    let target = crop(inp.target, &b.dims, &full);
    let images: Vec<Vec<f32>> = inp.images.iter().map(|i| crop(i, &b.dims, &full)).collect();
    let labels: Vec<Vec<u16>> = inp.labels.iter().map(|l| crop(l, &b.dims, &full)).collect();
    let sub_mask = crop(mask, &b.dims, &full);
    let sub = JlfInputs {
        dims: b.dims,
        target: &target,
        images: images.iter().map(Vec::as_slice).collect(),
        labels: labels.iter().map(Vec::as_slice).collect(),
    };
    let fused = joint_label_fusion_with(
        &sub,
        p,
        JlfOptions {
            mask: Some(&sub_mask),
            posteriors: None,
        },
    )?;
    let mut out = vec![0u16; inp.target.len()];
    for k in 0..bz {
        for j in 0..by {
            for i in 0..bx {
                out[full(i, j, k)] = fused[i + bx * (j + by * k)];
            }
        }
    }
    Ok(out)
}

/// Joint-fusion weights per voxel, atlas-minor, from each atlas's best offsets; voxels outside
/// the mask keep zero weights (they cast no votes).
fn all_weights(
    inp: &JlfInputs<'_>,
    p: &JlfParams,
    patch: &[[isize; 3]],
    search: &[[isize; 3]],
    best: &[Vec<u16>],
    atlases: &[Padded],
    inside: &(impl Fn(usize) -> bool + Sync),
) -> Vec<f64> {
    let [nx, ny, nz] = inp.dims;
    let n = inp.images.len();
    let mut w = vec![0.0f64; nx * ny * nz * n];
    w.par_chunks_mut(nx * ny * n).enumerate().for_each_init(
        || Scratch::new(patch.len(), n),
        |sc, (k, slab)| {
            for j in 0..ny {
                for i in 0..nx {
                    let x = [i, j, k];
                    let v = i + nx * (j + ny * k);
                    if !inside(v) {
                        continue;
                    }
                    let mut offsets = std::mem::take(&mut sc.offsets);
                    offsets.clear();
                    offsets.extend(best.iter().map(|b| search[b[v] as usize]));
                    let read = |a: usize, o: [isize; 3]| atlases[a].at(x, o);
                    let wv = voxel_weights(inp, p, x, patch, &offsets, &read, sc);
                    sc.offsets = offsets;
                    slab[(i + nx * j) * n..(i + nx * j + 1) * n].copy_from_slice(&wv);
                }
            }
        },
    );
    w
}

/// Each label's posterior (its votes over all votes at every voxel), passed to `emit` one
/// label at a time in increasing order.
fn posteriors(
    inp: &JlfInputs<'_>,
    patch: &[[isize; 3]],
    of: impl Fn(usize, usize) -> ([isize; 3], f64) + Sync + Copy,
    emit: &mut (dyn FnMut(u16, Vec<f32>) -> Result<()> + Send),
) -> Result<()> {
    let [nx, ny, nz] = inp.dims;
    let mut set: Vec<u16> = inp.labels.iter().flat_map(|l| l.iter().copied()).collect();
    set.sort_unstable();
    set.dedup();
    for label in set {
        let mut post = vec![0f32; nx * ny * nz];
        post.par_chunks_mut(nx * ny)
            .enumerate()
            .for_each(|(k, slab)| {
                let mut votes = Vec::new();
                for j in 0..ny {
                    for i in 0..nx {
                        votes.clear();
                        gather(inp, patch, [i, j, k], of, &mut votes);
                        let total: f64 = votes.iter().map(|v| v.1).sum();
                        let mine = votes.iter().find(|v| v.0 == label).map_or(0.0, |v| v.1);
                        slab[i + nx * j] = if total > 0.0 {
                            (mine / total) as f32
                        } else {
                            0.0
                        };
                    }
                }
            });
        emit(label, post)?;
    }
    Ok(())
}

/// The votes at voxel `y`: every voxel `x = y − p` of the grid whose patch covers `y` adds,
/// for each atlas, its weight to the label that atlas has at `y` + its best offset at `x`.
/// `of(x, atlas)` gives that offset and weight.
fn gather(
    inp: &JlfInputs<'_>,
    patch: &[[isize; 3]],
    y: [usize; 3],
    of: impl Fn(usize, usize) -> ([isize; 3], f64),
    votes: &mut Vec<(u16, f64)>,
) {
    let dims = inp.dims;
    for o in patch {
        let x = [
            y[0] as isize - o[0],
            y[1] as isize - o[1],
            y[2] as isize - o[2],
        ];
        if (0..3).any(|a| x[a] < 0 || x[a] >= dims[a] as isize) {
            continue;
        }
        let xv = x[0] as usize + dims[0] * (x[1] as usize + dims[1] * x[2] as usize);
        for (a, labels) in inp.labels.iter().enumerate() {
            let (s, wa) = of(xv, a);
            add_vote(votes, labels[clamped(dims, y, s)], wa);
        }
    }
}

#[cfg(test)]
mod tests;
