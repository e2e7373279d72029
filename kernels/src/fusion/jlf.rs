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
//! target × shifted atlas come from one product image and three running-sum passes (a few
//! operations per voxel instead of one per patch voxel), and the atlas's patch means and
//! variances are computed once per atlas. Memory stays O(voxels × atlases): per atlas the best
//! offset and score, per voxel the weights; never one image per label.

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

/// Offsets of a cube of radius `r`, as (di, dj, dk), i fastest.
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

/// Linear index of `x + o`, each coordinate clamped into the grid.
#[inline]
fn clamped(dims: [usize; 3], x: [usize; 3], o: [isize; 3]) -> usize {
    let c = |a: usize| (x[a] as isize + o[a]).clamp(0, dims[a] as isize - 1) as usize;
    c(0) + dims[0] * (c(1) + dims[1] * c(2))
}

/// A patch's mean and standard deviation from its sum and sum of squares; `None` when the
/// patch is flat (variance negligible against the mean's square).
#[inline]
fn mean_sd(sum: f64, sum_sq: f64, n: f64) -> (f64, Option<f64>) {
    let mean = sum / n;
    let var = sum_sq / n - mean * mean;
    let flat = var <= 1e-9 * mean * mean + 1e-24;
    (mean, (!flat).then(|| var.sqrt()))
}

/// Normalises `v` in place to zero mean and unit variance; a flat patch becomes zeros.
fn normalise(v: &mut [f64]) {
    let n = v.len() as f64;
    let (sum, sq) = v.iter().fold((0.0, 0.0), |(s, q), x| (s + x, q + x * x));
    let (mean, sd) = mean_sd(sum, sq, n);
    for x in v.iter_mut() {
        *x = sd.map_or(0.0, |sd| (*x - mean) / sd);
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

/// Weights from the difference vectors `d` (atlas-major, `patch` values each): solve
/// `(M + αI) w = 1`, clip negative weights to zero, normalise to sum 1 (uniform when nothing
/// is left).
pub fn weights(d: &[f64], atlases: usize, alpha: f64, beta: f64) -> Vec<f64> {
    let p = d.len() / atlases;
    let mut m = vec![0.0; atlases * atlases];
    for i in 0..atlases {
        for j in i..atlases {
            let s: f64 = (0..p)
                .map(|k| d[i * p + k].abs() * d[j * p + k].abs())
                .sum::<f64>()
                / p as f64;
            let v = if beta == 2.0 { s * s } else { s.powf(beta) };
            m[i * atlases + j] = v;
            m[j * atlases + i] = v;
        }
        m[i * atlases + i] += alpha;
    }
    let w: Vec<f64> = solve(m, vec![1.0; atlases])
        .unwrap_or_else(|| vec![1.0; atlases])
        .into_iter()
        .map(|v| if v.is_finite() { v.max(0.0) } else { 0.0 })
        .collect();
    let sum: f64 = w.iter().sum();
    if sum <= 1e-300 {
        return vec![1.0 / atlases as f64; atlases];
    }
    w.iter().map(|v| v / sum).collect()
}

/// Label with the largest summed vote; ties go to the smallest label.
fn argmax(votes: &[(u16, f64)]) -> u16 {
    votes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(l, _)| *l)
}

fn add_vote(votes: &mut Vec<(u16, f64)>, label: u16, w: f64) {
    match votes.iter_mut().find(|(l, _)| *l == label) {
        Some((_, s)) => *s += w,
        None => votes.push((label, w)),
    }
}

/// An image extended by `m` voxels on every side with its border values, in f64.
struct Padded {
    m: usize,
    dims: [usize; 3],
    data: Vec<f64>,
}

impl Padded {
    fn new(img: &[f32], dims: [usize; 3], m: usize) -> Self {
        let pd = dims.map(|d| d + 2 * m);
        let mut data = Vec::with_capacity(pd[0] * pd[1] * pd[2]);
        let mi = m as isize;
        for k in 0..pd[2] {
            for j in 0..pd[1] {
                for i in 0..pd[0] {
                    let o = [i as isize - mi, j as isize - mi, k as isize - mi];
                    data.push(f64::from(img[clamped(dims, [0, 0, 0], o)]));
                }
            }
        }
        Padded { m, dims: pd, data }
    }

    /// The value at grid position `x + o` (any position within the margin).
    #[inline]
    fn at(&self, x: [usize; 3], o: [isize; 3]) -> f64 {
        let c = |a: usize| (x[a] as isize + o[a] + self.m as isize) as usize;
        self.data[c(0) + self.dims[0] * (c(1) + self.dims[1] * c(2))]
    }
}

/// Sums over every window of `w` consecutive voxels along each axis: `src` of size `d`
/// becomes `dst` of size `d − (w − 1)` per axis ("valid" box sums), via running sums.
/// `t1`, `t2` are scratch buffers.
fn valid_box(
    src: &[f64],
    d: [usize; 3],
    w: usize,
    t1: &mut Vec<f64>,
    t2: &mut Vec<f64>,
    dst: &mut Vec<f64>,
) {
    let o = d.map(|v| v + 1 - w);
    // Along i.
    t1.resize(o[0] * d[1] * d[2], 0.0);
    for (row_out, row) in t1.chunks_mut(o[0]).zip(src.chunks(d[0])) {
        let mut s: f64 = row[..w].iter().sum();
        row_out[0] = s;
        for i in 1..o[0] {
            s += row[i + w - 1] - row[i - 1];
            row_out[i] = s;
        }
    }
    // Along j: rows of length o[0].
    let n0 = o[0];
    t2.resize(n0 * o[1] * d[2], 0.0);
    for (slab_out, slab) in t2.chunks_mut(n0 * o[1]).zip(t1.chunks(n0 * d[1])) {
        let (first, rest) = slab_out.split_at_mut(n0);
        first.fill(0.0);
        for jj in 0..w {
            first
                .iter_mut()
                .zip(&slab[jj * n0..(jj + 1) * n0])
                .for_each(|(a, b)| *a += b);
        }
        let mut prev = first;
        for (j, cur) in rest.chunks_mut(n0).enumerate() {
            let add = &slab[(j + w) * n0..(j + w + 1) * n0];
            let sub = &slab[j * n0..(j + 1) * n0];
            for ((c, p), (a, s)) in cur.iter_mut().zip(prev.iter()).zip(add.iter().zip(sub)) {
                *c = p + a - s;
            }
            prev = cur;
        }
    }
    // Along k: slabs of o[0]·o[1].
    let ns = n0 * o[1];
    dst.resize(ns * o[2], 0.0);
    let (first, rest) = dst.split_at_mut(ns);
    first.fill(0.0);
    for kk in 0..w {
        first
            .iter_mut()
            .zip(&t2[kk * ns..(kk + 1) * ns])
            .for_each(|(a, b)| *a += b);
    }
    let mut prev = first;
    for (k, cur) in rest.chunks_mut(ns).enumerate() {
        let add = &t2[(k + w) * ns..(k + w + 1) * ns];
        let sub = &t2[k * ns..(k + 1) * ns];
        for ((c, p), (a, s)) in cur.iter_mut().zip(prev.iter()).zip(add.iter().zip(sub)) {
            *c = p + a - s;
        }
        prev = cur;
    }
}

/// Best search offset per voxel for one atlas: index into `search` of the smallest
/// normalised-patch SSD (first in search order on ties), via box sums.
struct Search<'a> {
    dims: [usize; 3],
    r: usize,
    big_r: usize,
    search: &'a [[isize; 3]],
    target: &'a Padded,
    /// Per voxel: target patch mean and sd (None when flat).
    t_stats: &'a [(f64, Option<f64>)],
}

/// One worker's buffers and its running best per voxel.
struct Best {
    score: Vec<f64>,
    index: Vec<u16>,
    q: Vec<f64>,
    t1: Vec<f64>,
    t2: Vec<f64>,
    sums: Vec<f64>,
}

impl Search<'_> {
    fn new_best(&self) -> Best {
        let n = self.dims.iter().product();
        Best {
            score: vec![f64::INFINITY; n],
            index: vec![u16::MAX; n],
            q: Vec::new(),
            t1: Vec::new(),
            t2: Vec::new(),
            sums: Vec::new(),
        }
    }

    /// Scores offset `si` for every voxel into `b`.
    fn offset(&self, atlas: &Padded, a_stats: &[(f64, Option<f64>)], si: usize, b: &mut Best) {
        let [nx, ny, nz] = self.dims;
        let (r, big_r) = (self.r as isize, self.big_r);
        let s = self.search[si];
        let w = 2 * self.r + 1;
        let qd = self.dims.map(|d| d + 2 * self.r);
        // Product image over the patch voxels of the grid, row by row from the padded
        // images (both share their margin and layout).
        b.q.clear();
        let pd = self.target.dims;
        let m = self.target.m as isize;
        let row = |y1: isize, y2: isize, x0: isize| {
            (x0 + m) as usize + pd[0] * ((y1 + m) as usize + pd[1] * (y2 + m) as usize)
        };
        for k in 0..qd[2] as isize {
            for j in 0..qd[1] as isize {
                let t0 = row(j - r, k - r, -r);
                let a0 = row(j - r + s[1], k - r + s[2], -r + s[0]);
                let tr = &self.target.data[t0..t0 + qd[0]];
                let ar = &atlas.data[a0..a0 + qd[0]];
                b.q.extend(tr.iter().zip(ar).map(|(x, y)| x * y));
            }
        }
        let Best {
            score,
            index,
            q,
            t1,
            t2,
            sums,
        } = b;
        valid_box(q, qd, w, t1, t2, sums);
        let pn = (w * w * w) as f64;
        // Candidate centre statistics live on the grid extended by the search radius.
        let ad = self.dims.map(|d| d + 2 * big_r);
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let v = i + nx * (j + ny * k);
                    // Offsets may be negative; the margin big_r keeps the sum ≥ 0.
                    let c = [
                        (i as isize + s[0] + big_r as isize) as usize,
                        (j as isize + s[1] + big_r as isize) as usize,
                        (k as isize + s[2] + big_r as isize) as usize,
                    ];
                    let (am, asd) = a_stats[c[0] + ad[0] * (c[1] + ad[1] * c[2])];
                    let (tm, tsd) = self.t_stats[v];
                    let ssd = match (tsd, asd) {
                        (None, None) => 0.0,
                        (None, Some(_)) | (Some(_), None) => pn,
                        (Some(ts), Some(sa)) => {
                            2.0 * pn - 2.0 * (sums[v] - tm * am * pn) / (ts * sa)
                        }
                    };
                    if ssd < score[v] {
                        score[v] = ssd;
                        index[v] = si as u16;
                    }
                }
            }
        }
    }
}

/// Patch mean and sd at every position of a padded image's inner region of margin `keep`
/// (the positions whose patch lies inside the padding).
fn patch_stats(img: &Padded, r: usize, keep: usize) -> Vec<(f64, Option<f64>)> {
    let w = 2 * r + 1;
    let cut = img.m - keep - r;
    let d = img.dims.map(|v| v - 2 * cut);
    let mut v = Vec::with_capacity(d[0] * d[1] * d[2]);
    let mut v2 = Vec::with_capacity(d[0] * d[1] * d[2]);
    for k in 0..d[2] {
        for j in 0..d[1] {
            for i in 0..d[0] {
                let x = img.data[(i + cut) + img.dims[0] * ((j + cut) + img.dims[1] * (k + cut))];
                v.push(x);
                v2.push(x * x);
            }
        }
    }
    let (mut t1, mut t2, mut s, mut s2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    valid_box(&v, d, w, &mut t1, &mut t2, &mut s);
    valid_box(&v2, d, w, &mut t1, &mut t2, &mut s2);
    let pn = (w * w * w) as f64;
    s.iter()
        .zip(&s2)
        .map(|(a, b)| mean_sd(*a, *b, pn))
        .collect()
}

/// Per-worker buffers of [`voxel_weights`]: the target patch and the difference vectors.
struct Scratch {
    t: Vec<f64>,
    d: Vec<f64>,
    /// The voxel's best offset per atlas (kept to avoid an allocation per voxel).
    offsets: Vec<[isize; 3]>,
}

impl Scratch {
    fn new(patch: usize, atlases: usize) -> Self {
        Scratch {
            t: vec![0.0; patch],
            d: vec![0.0; patch * atlases],
            offsets: Vec::with_capacity(atlases),
        }
    }
}

/// Per voxel: weights (atlas-major) from the best offsets, with the normalised target patch
/// and each atlas's normalised best patch read directly.
fn voxel_weights(
    inp: &JlfInputs<'_>,
    p: &JlfParams,
    x: [usize; 3],
    patch: &[[isize; 3]],
    offsets: &[[isize; 3]],
    read: &dyn Fn(usize, [isize; 3]) -> f64,
    sc: &mut Scratch,
) -> Vec<f64> {
    let Scratch { t, d, .. } = sc;
    let pn = patch.len();
    for (tv, o) in t.iter_mut().zip(patch) {
        *tv = f64::from(inp.target[clamped(inp.dims, x, *o)]);
    }
    normalise(t);
    for (a, s) in offsets.iter().enumerate() {
        let da = &mut d[a * pn..(a + 1) * pn];
        for (dv, o) in da.iter_mut().zip(patch) {
            *dv = read(a, [o[0] + s[0], o[1] + s[1], o[2] + s[2]]);
        }
        normalise(da);
        for (dv, tv) in da.iter_mut().zip(t.iter()) {
            *dv = tv - *dv;
        }
    }
    weights(d, offsets.len(), p.alpha, p.beta)
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
    let ctx = Search {
        dims,
        r,
        big_r,
        search: &search,
        target: &target,
        t_stats: &t_stats,
    };
    // Best offset index per atlas per voxel.
    let mut best: Vec<Vec<u16>> = Vec::with_capacity(n);
    let mut atlases = Vec::with_capacity(n);
    for img in &inp.images {
        let a = Padded::new(img, dims, margin);
        let a_stats = patch_stats(&a, r, big_r);
        // One chunk of offsets per worker: one set of buffers and running bests each.
        let per_worker = search.len().div_ceil(rayon::current_num_threads().max(1));
        let found = (0..search.len())
            .into_par_iter()
            .with_min_len(per_worker)
            .fold(
                || ctx.new_best(),
                |mut b, si| {
                    ctx.offset(&a, &a_stats, si, &mut b);
                    b
                },
            )
            .reduce_with(|mut x, y| {
                for v in 0..nvox {
                    if y.score[v] < x.score[v]
                        || (y.score[v] == x.score[v] && y.index[v] < x.index[v])
                    {
                        x.score[v] = y.score[v];
                        x.index[v] = y.index[v];
                    }
                }
                x
            })
            .map(|b| b.index)
            .unwrap_or_else(|| vec![0; nvox]);
        best.push(found);
        atlases.push(a);
    }
    // Weights per voxel, atlas-minor; masked-out voxels keep zero weights (no votes).
    let mut w = vec![0.0f64; nvox * n];
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
                    let wv = voxel_weights(inp, p, x, &patch, &offsets, &read, sc);
                    sc.offsets = offsets;
                    slab[(i + nx * j) * n..(i + nx * j + 1) * n].copy_from_slice(&wv);
                }
            }
        },
    );
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
        let mut set: Vec<u16> = inp.labels.iter().flat_map(|l| l.iter().copied()).collect();
        set.sort_unstable();
        set.dedup();
        for label in set {
            let mut post = vec![0f32; nvox];
            post.par_chunks_mut(nx * ny)
                .enumerate()
                .for_each(|(k, slab)| {
                    let mut votes = Vec::new();
                    for j in 0..ny {
                        for i in 0..nx {
                            votes.clear();
                            gather(inp, &patch, [i, j, k], of, &mut votes);
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
    }
    Ok(out)
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

/// Plain serial reference: for every voxel and atlas, every candidate patch read and
/// normalised explicitly and compared with the normalised target patch; weights from the best
/// ones; votes gathered over the patch as in [`joint_label_fusion`].
pub fn jlf_reference(inp: &JlfInputs<'_>, p: &JlfParams) -> Result<Vec<u16>> {
    inp.check()?;
    let dims = inp.dims;
    let [nx, ny, nz] = dims;
    let patch = cube(p.patch_radius);
    let search = cube(p.search_radius);
    let n = inp.images.len();
    let pn = patch.len();
    let mut sc = Scratch::new(pn, n);
    let mut t = vec![0.0; pn];
    let mut cand = vec![0.0; pn];
    let mut best = vec![[0isize; 3]; nx * ny * nz * n];
    let mut w = vec![0.0; nx * ny * nz * n];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let x = [i, j, k];
                let v = i + nx * (j + ny * k);
                for (tv, o) in t.iter_mut().zip(&patch) {
                    *tv = f64::from(inp.target[clamped(dims, x, *o)]);
                }
                normalise(&mut t);
                for (a, img) in inp.images.iter().enumerate() {
                    let mut best_ssd = f64::INFINITY;
                    for s in &search {
                        for (c, o) in cand.iter_mut().zip(&patch) {
                            *c = f64::from(
                                img[clamped(dims, x, [o[0] + s[0], o[1] + s[1], o[2] + s[2]])],
                            );
                        }
                        normalise(&mut cand);
                        let ssd: f64 = t.iter().zip(&cand).map(|(u, c)| (u - c) * (u - c)).sum();
                        if ssd < best_ssd {
                            best_ssd = ssd;
                            best[v * n + a] = *s;
                        }
                    }
                }
                let offsets: Vec<[isize; 3]> = best[v * n..(v + 1) * n].to_vec();
                let read = |a: usize, o: [isize; 3]| f64::from(inp.images[a][clamped(dims, x, o)]);
                let wv = voxel_weights(inp, p, x, &patch, &offsets, &read, &mut sc);
                w[v * n..(v + 1) * n].copy_from_slice(&wv);
            }
        }
    }
    let mut out = Vec::with_capacity(nx * ny * nz);
    let mut votes = Vec::new();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                votes.clear();
                gather(
                    inp,
                    &patch,
                    [i, j, k],
                    |xv, a| (best[xv * n + a], w[xv * n + a]),
                    &mut votes,
                );
                out.push(argmax(&votes));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "jlf_tests.rs"]
mod tests;
