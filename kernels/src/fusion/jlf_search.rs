//! The box-sum search of joint label fusion: for each atlas and voxel, the search offset whose
//! normalised patch is closest to the target's, from running sums over padded images.

use super::weights::{clamped, mean_sd};

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

/// Best search offset per voxel for one atlas: index into `search` of the smallest
/// normalised-patch SSD (first in search order on ties), via box sums.
pub(super) struct Search<'a> {
    pub(super) dims: [usize; 3],
    pub(super) r: usize,
    pub(super) big_r: usize,
    pub(super) search: &'a [[isize; 3]],
    pub(super) target: &'a Padded,
    /// Per voxel: target patch mean and sd (None when flat).
    pub(super) t_stats: &'a [(f64, Option<f64>)],
}

/// One worker's buffers and its running best per voxel.
pub(super) struct Best {
    pub(super) score: Vec<f64>,
    pub(super) index: Vec<u16>,
    pub(super) q: Vec<f64>,
    pub(super) t1: Vec<f64>,
    pub(super) t2: Vec<f64>,
    pub(super) sums: Vec<f64>,
}

impl Search<'_> {
    pub(super) fn new_best(&self) -> Best {
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
    pub(super) fn offset(
        &self,
        atlas: &Padded,
        a_stats: &[(f64, Option<f64>)],
        si: usize,
        b: &mut Best,
    ) {
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
pub(super) fn patch_stats(img: &Padded, r: usize, keep: usize) -> Vec<(f64, Option<f64>)> {
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
