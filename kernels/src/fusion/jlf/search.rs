//! The box-sum search of joint label fusion: for each atlas and voxel, the search offset whose
//! normalised patch is closest to the target's, from running sums over padded images.

use super::weights::{clamped, mean_sd};
use rayon::prelude::*;

/// An image extended by `m` voxels on every side with its border values, in f64.
pub(super) struct Padded {
    pub(super) m: usize,
    pub(super) dims: [usize; 3],
    pub(super) data: Vec<f64>,
}

impl Padded {
    pub(super) fn new(img: &[f32], dims: [usize; 3], m: usize) -> Self {
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
    pub(super) fn at(&self, x: [usize; 3], o: [isize; 3]) -> f64 {
        let c = |a: usize| (x[a] as isize + o[a] + self.m as isize) as usize;
        self.data[c(0) + self.dims[0] * (c(1) + self.dims[1] * c(2))]
    }
}

/// Sums over every window of `w` consecutive voxels along each axis: `src` of size `d`
/// becomes `dst` of size `d − (w − 1)` per axis ("valid" box sums), via running sums.
/// `t1`, `t2` are scratch buffers.
pub(super) fn valid_box(
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

/// Which voxels of each row `(j, k)` of a grid are computed: a half-open span of `i` per row
/// (`lo ≥ hi` when none), for the voxels of a mask, and the spans the box sums read for them.
pub(super) struct Rows {
    /// Spans of the voxels scored, per grid row `j + ny·k`.
    voxels: Vec<(usize, usize)>,
    /// Spans of the sums along `i` and `j` (rows `j + ny·k'`, `k'` over the grid grown by the
    /// patch radius along `k`).
    along_k: Vec<(usize, usize)>,
    /// Spans of the sums along `i` (rows `j' + (ny+2r)·k'`, grown along `j` and `k`).
    along_jk: Vec<(usize, usize)>,
}

/// The hull of two spans (an empty span leaves the other unchanged).
fn hull(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    match (a.0 < a.1, b.0 < b.1) {
        (false, _) => b,
        (_, false) => a,
        _ => (a.0.min(b.0), a.1.max(b.1)),
    }
}

impl Rows {
    /// Spans for the voxels where `inside` holds, with patch radius `r`.
    pub(super) fn new(dims: [usize; 3], r: usize, inside: impl Fn(usize) -> bool) -> Self {
        let [nx, ny, nz] = dims;
        let mut voxels = vec![(0, 0); ny * nz];
        for (row, span) in voxels.iter_mut().enumerate() {
            let mut it = (0..nx).filter(|&i| inside(i + nx * row));
            if let Some(lo) = it.next() {
                *span = (lo, it.last().unwrap_or(lo) + 1);
            }
        }
        // A sum along k at row k reads rows k..k+2r of the grid grown by r along k.
        let w = 2 * r + 1;
        let mut along_k = vec![(0, 0); ny * (nz + 2 * r)];
        for k in 0..nz {
            for j in 0..ny {
                for c in 0..w {
                    let e = &mut along_k[j + ny * (k + c)];
                    *e = hull(*e, voxels[j + ny * k]);
                }
            }
        }
        let gy = ny + 2 * r;
        let mut along_jk = vec![(0, 0); gy * (nz + 2 * r)];
        for k in 0..nz + 2 * r {
            for j in 0..ny {
                for c in 0..w {
                    let e = &mut along_jk[j + c + gy * k];
                    *e = hull(*e, along_k[j + ny * k]);
                }
            }
        }
        Rows {
            voxels,
            along_k,
            along_jk,
        }
    }
}

/// Best search offset per voxel for one atlas: index into `search` of the smallest
/// normalised-patch SSD (first in search order on ties), via box sums over the spans of
/// `rows` only.
pub(super) struct Search<'a> {
    pub(super) dims: [usize; 3],
    pub(super) r: usize,
    pub(super) big_r: usize,
    pub(super) search: &'a [[isize; 3]],
    pub(super) target: &'a Padded,
    /// Per voxel: target patch mean and 1/sd (NaN when flat).
    pub(super) t_stats: &'a [[f64; 2]],
    pub(super) rows: &'a Rows,
}

/// One worker's buffers and its running best per voxel.
pub(super) struct Best {
    pub(super) score: Vec<f64>,
    pub(super) index: Vec<u16>,
    /// Products of one row, target × shifted atlas.
    q: Vec<f64>,
    /// Sums along i of one slab `k'` of the grid grown by r along j and k.
    t1: Vec<f64>,
    /// Sums along i and j of the last 2r+1 slabs, as a ring indexed by `k' mod (2r+1)`.
    t2: Vec<f64>,
    /// Full patch sums of one row.
    sums: Vec<f64>,
}

/// `out[i] = Σ_c src[c][i]`, summing whole rows (vectorises).
#[inline]
fn sum_rows<'s>(out: &mut [f64], src: impl Iterator<Item = &'s [f64]>) {
    out.fill(0.0);
    for row in src {
        out.iter_mut().zip(row).for_each(|(o, x)| *o += x);
    }
}

impl Search<'_> {
    /// The best offset index per voxel for atlas `a` (with its patch statistics), the search
    /// offsets split over the rayon pool; voxels outside the rows' spans get offset 0 (they
    /// were not searched and cast no votes).
    pub(super) fn best_offsets(&self, a: &Padded, a_stats: &[[f64; 2]]) -> Vec<u16> {
        let [nx, ny, nz] = self.dims;
        let nvox = nx * ny * nz;
        let n = self.search.len();
        // One chunk of offsets per worker: one set of buffers and running bests each.
        // Floor: pieces shorter than `with_min_len` are never split off, so a ceiling would
        // leave an odd count in one piece and one worker idle.
        let per_worker = (n / rayon::current_num_threads().max(1)).max(1);
        (0..n)
            .into_par_iter()
            .with_min_len(per_worker)
            .fold(
                || self.new_best(),
                |mut b, si| {
                    self.offset(a, a_stats, si, &mut b);
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
            .map(|b| {
                b.index
                    .into_iter()
                    .map(|i| if i == u16::MAX { 0 } else { i })
                    .collect()
            })
            .unwrap_or_else(|| vec![0; nvox])
    }

    pub(super) fn new_best(&self) -> Best {
        let [nx, ny, nz] = self.dims;
        let r = self.r;
        Best {
            score: vec![f64::INFINITY; nx * ny * nz],
            index: vec![u16::MAX; nx * ny * nz],
            q: Vec::with_capacity(nx + 2 * r),
            t1: vec![0.0; nx * (ny + 2 * r)],
            t2: vec![0.0; nx * ny * (2 * r + 1)],
            sums: Vec::with_capacity(nx),
        }
    }

    /// Scores offset `si` for every voxel of the rows' spans into `b`. The box sums run slab
    /// by slab along k, so the partial sums a slab needs stay in cache.
    pub(super) fn offset(&self, atlas: &Padded, a_stats: &[[f64; 2]], si: usize, b: &mut Best) {
        let [nx, ny, nz] = self.dims;
        let (r, big_r) = (self.r as isize, self.big_r);
        let s = self.search[si];
        let w = 2 * self.r + 1;
        let gy = ny + 2 * self.r;
        let pd = self.target.dims;
        let m = self.target.m as isize;
        // Index in the padded images (both share their margin and layout) of grid (x, y, z).
        let at = |x: isize, y: isize, z: isize| {
            (x + m) as usize + pd[0] * ((y + m) as usize + pd[1] * (z + m) as usize)
        };
        let pn = (w * w * w) as f64;
        // Candidate centre statistics live on the grid extended by the search radius.
        let ad = self.dims.map(|d| d + 2 * big_r);
        let Best {
            score,
            index,
            q,
            t1,
            t2,
            sums,
        } = b;
        // Slab k2 of the grid grown by r along k is grid slab z = k2 − r.
        for k2 in 0..nz + 2 * self.r {
            let z = k2 as isize - r;
            // Sums along i of the products, rows j' of the grid grown by r along j.
            for j in 0..gy {
                let (lo, hi) = self.rows.along_jk[j + gy * k2];
                if lo >= hi {
                    continue;
                }
                let y = j as isize - r;
                let t0 = at(lo as isize - r, y, z);
                let a0 = at(lo as isize - r + s[0], y + s[1], z + s[2]);
                let len = hi - lo + 2 * self.r;
                let (tr, ar) = (&self.target.data[t0..t0 + len], &atlas.data[a0..a0 + len]);
                q.clear();
                q.extend(tr.iter().zip(ar).map(|(x, y)| x * y));
                let out = &mut t1[nx * j..][lo..hi];
                sum_rows(out, (0..w).map(|c| &q[c..c + hi - lo]));
            }
            // Along j, into the ring.
            let slab = &mut t2[nx * ny * (k2 % w)..][..nx * ny];
            for j in 0..ny {
                let (lo, hi) = self.rows.along_k[j + ny * k2];
                if lo < hi {
                    let t1 = &*t1;
                    sum_rows(
                        &mut slab[nx * j..][lo..hi],
                        (0..w).map(|c| &t1[nx * (j + c)..][lo..hi]),
                    );
                }
            }
            // Along k: grid slab k reads ring slabs k..=k2, then each voxel's score.
            let Some(k) = k2.checked_sub(2 * self.r) else {
                continue;
            };
            for j in 0..ny {
                let (lo, hi) = self.rows.voxels[j + ny * k];
                if lo >= hi {
                    continue;
                }
                sums.resize(hi - lo, 0.0);
                let t2 = &*t2;
                sum_rows(
                    sums,
                    (k..=k2).map(|kk| &t2[nx * (j + ny * (kk % w))..][lo..hi]),
                );
                let cy = (j as isize + s[1] + big_r as isize) as usize;
                let cz = (k as isize + s[2] + big_r as isize) as usize;
                for (i, sum) in (lo..hi).zip(sums.iter()) {
                    let v = i + nx * (j + ny * k);
                    // Offsets may be negative; the margin big_r keeps the sum ≥ 0.
                    let cx = (i as isize + s[0] + big_r as isize) as usize;
                    let [am, a_inv] = a_stats[cx + ad[0] * (cy + ad[1] * cz)];
                    let [tm, t_inv] = self.t_stats[v];
                    // Normalised patches: SSD = 2·n − 2·correlation·n; a flat patch is all
                    // zeros (NaN here): SSD n against a non-flat one, 0 against a flat one.
                    let mut ssd = 2.0 * pn - 2.0 * (sum - tm * am * pn) * (t_inv * a_inv);
                    if ssd.is_nan() {
                        ssd = if t_inv.is_nan() && a_inv.is_nan() {
                            0.0
                        } else {
                            pn
                        };
                    }
                    if ssd < score[v] {
                        score[v] = ssd;
                        index[v] = si as u16;
                    }
                }
            }
        }
    }
}

/// Patch mean and 1/sd (NaN for a flat patch) at every position of a padded image's inner
/// region of margin `keep` (the positions whose patch lies inside the padding).
pub(super) fn patch_stats(img: &Padded, r: usize, keep: usize) -> Vec<[f64; 2]> {
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
        .map(|(a, b)| {
            let (mean, sd) = mean_sd(*a, *b, pn);
            [mean, sd.map_or(f64::NAN, |sd| 1.0 / sd)]
        })
        .collect()
}
