//! Per-voxel weights of joint label fusion: patch statistics, the small linear solve of Wang et
//! al. and the votes.

use super::{JlfInputs, JlfParams};

/// Offsets of a cube of radius `r`, as (di, dj, dk), i fastest.
pub(super) fn cube(r: usize) -> Vec<[isize; 3]> {
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
pub(super) fn clamped(dims: [usize; 3], x: [usize; 3], o: [isize; 3]) -> usize {
    let c = |a: usize| (x[a] as isize + o[a]).clamp(0, dims[a] as isize - 1) as usize;
    c(0) + dims[0] * (c(1) + dims[1] * c(2))
}

/// A patch's mean and standard deviation from its sum and sum of squares; `None` when the
/// patch is flat (variance negligible against the mean's square).
#[inline]
pub(super) fn mean_sd(sum: f64, sum_sq: f64, n: f64) -> (f64, Option<f64>) {
    let mean = sum / n;
    let var = sum_sq / n - mean * mean;
    let flat = var <= 1e-9 * mean * mean + 1e-24;
    (mean, (!flat).then(|| var.sqrt()))
}

/// Normalises `v` in place to zero mean and unit variance; a flat patch becomes zeros.
pub(super) fn normalise(v: &mut [f64]) {
    let n = v.len() as f64;
    let (sum, sq) = v.iter().fold((0.0, 0.0), |(s, q), x| (s + x, q + x * x));
    let (mean, sd) = mean_sd(sum, sq, n);
    for x in v.iter_mut() {
        *x = sd.map_or(0.0, |sd| (*x - mean) / sd);
    }
}

/// Solves the small symmetric system `a x = b` by Gaussian elimination with partial pivoting.
pub(super) fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
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
pub(super) fn argmax(votes: &[(u16, f64)]) -> u16 {
    votes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(l, _)| *l)
}

pub(super) fn add_vote(votes: &mut Vec<(u16, f64)>, label: u16, w: f64) {
    match votes.iter_mut().find(|(l, _)| *l == label) {
        Some((_, s)) => *s += w,
        None => votes.push((label, w)),
    }
}

/// Per-worker buffers of [`voxel_weights`]: the target patch and the difference vectors.
pub(super) struct Scratch {
    pub(super) t: Vec<f64>,
    pub(super) d: Vec<f64>,
    /// The voxel's best offset per atlas (kept to avoid an allocation per voxel).
    pub(super) offsets: Vec<[isize; 3]>,
}

impl Scratch {
    pub(super) fn new(patch: usize, atlases: usize) -> Self {
        Scratch {
            t: vec![0.0; patch],
            d: vec![0.0; patch * atlases],
            offsets: Vec::with_capacity(atlases),
        }
    }
}

/// Per voxel: weights (atlas-major) from the best offsets, with the normalised target patch
/// and each atlas's normalised best patch read directly.
pub(super) fn voxel_weights(
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
