//! Mattes mutual information (Mattes et al., IEEE TMI 22(1), 2003), as ITK's
//! `MattesMutualInformationImageToImageMetricv4` computes it: a joint histogram of `bins`
//! bins with two padding bins at each end, a zero-order (box) Parzen window on the reference
//! image and a cubic B-spline window on the image being moved, so the value is differentiable
//! in the moving intensities:
//!
//! `MI = Σ p(ι,κ) log(p(ι,κ) / (p_R(ι) p_M(κ)))`,
//! `∂MI/∂m(x) = 1/(N·Δ_M) Σ_κ β³'(κ − η(m(x))) · log(p(ι(x),κ) / p_M(κ))`
//! (the `p_R` term drops out because each row of the histogram keeps its mass).

/// Padding bins at each end of the intensity range (ITK's choice for the cubic window).
const PADDING: f64 = 2.0;

/// The four cubic B-spline weights `β³(k − η)` of the taps `k = k₀−1 … k₀+2` around
/// `η = k₀ + t` (`0 ≤ t < 1`), and their derivatives `β³'(k − η)`: the piecewise cubic
/// written out per tap, without branches, for the per-voxel passes.
#[inline(always)]
fn cubic_taps(t: f32) -> ([f32; 4], [f32; 4]) {
    let s = 1.0 - t;
    let (t2, s2) = (t * t, s * s);
    (
        [
            s2 * s / 6.0,
            2.0 / 3.0 - t2 + 0.5 * t2 * t,
            2.0 / 3.0 - s2 + 0.5 * s2 * s,
            t2 * t / 6.0,
        ],
        [0.5 * s2, 2.0 * t - 1.5 * t2, -2.0 * s + 1.5 * s2, -0.5 * t2],
    )
}

/// Intensity range mapped onto the histogram's bins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinRange {
    min: f64,
    width: f64,
    /// 1 / width.
    scale: f64,
}

/// Where a value falls on the histogram: the bin `k₀` left of its clamped coordinate, the
/// fraction `t` past it, and whether it was clamped.
#[derive(Debug, Clone, Copy)]
struct BinPos {
    k0: usize,
    t: f32,
    clamped: bool,
}

impl BinRange {
    /// Range covering `[min, max]` with `bins` bins including the padding.
    pub fn new(min: f32, max: f32, bins: usize) -> Self {
        let span = f64::from(max - min).max(1e-12);
        let width = span / (bins as f64 - 2.0 * PADDING - 1.0);
        BinRange {
            min: f64::from(min),
            width,
            scale: 1.0 / width,
        }
    }

    /// Range of the values in `data`.
    pub fn of(data: &[f32], bins: usize) -> Self {
        let (lo, hi) = data
            .iter()
            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        Self::new(lo, hi, bins)
    }

    /// Continuous bin coordinate of a value.
    #[inline]
    fn eta(&self, v: f32) -> f64 {
        (f64::from(v) - self.min) * self.scale + PADDING
    }

    /// The value's coordinate clamped to `[PADDING, bins − PADDING − 1]`, split into bin and
    /// fraction: the four cubic taps `k₀−1 … k₀+2` then always lie inside the histogram.
    #[inline(always)]
    fn pos(&self, v: f32, bins: usize) -> BinPos {
        let raw = self.eta(v);
        let top = bins as f64 - PADDING - 1.0;
        // A NaN (never produced from finite images) lands in the lowest bin as clamped.
        let eta = if raw.is_nan() {
            PADDING
        } else {
            raw.clamp(PADDING, top)
        };
        let k0 = (eta as usize).min(bins - 3);
        BinPos {
            k0,
            t: (eta - k0 as f64) as f32,
            clamped: eta != raw,
        }
    }
}

/// The joint histogram of one evaluation, reusable across calls.
#[derive(Debug, Clone)]
pub struct Mattes {
    bins: usize,
    joint: Vec<f64>,
    marginal_m: Vec<f64>,
    /// log(p(ι,κ) / p_M(κ)), cached for the derivative pass.
    log_ratio: Vec<f64>,
    /// Samples in the last evaluation.
    samples: usize,
}

impl Mattes {
    /// A metric with `bins` bins (32 in the paper's runs).
    pub fn new(bins: usize) -> Self {
        Mattes {
            bins,
            joint: vec![0.0; bins * bins],
            marginal_m: vec![0.0; bins],
            log_ratio: vec![0.0; bins * bins],
            samples: 0,
        }
    }

    /// `−Σ β³'(κ − η) · log(p(row, κ) / p_M(κ))` over the cubic taps of `moving` (zero when the
    /// moving value was clamped to the histogram's range or nothing was evaluated).
    #[inline(always)]
    fn taps_derivative(&self, row: usize, moving: BinPos) -> f64 {
        if moving.clamped || self.samples == 0 {
            return 0.0;
        }
        let (_, dw) = cubic_taps(moving.t);
        let at = row * self.bins + moving.k0 - 1;
        self.log_ratio[at..at + 4]
            .iter()
            .zip(dw)
            .map(|(l, w)| -f64::from(w) * l)
            .sum()
    }

    /// Builds the histogram from sample pairs `(reference, moving)` with the given ranges
    /// and returns MI (nats, ≥ 0; larger is better). Serial; see [`Mattes::evaluate_par`].
    pub fn evaluate(
        &mut self,
        pairs: impl Iterator<Item = (f32, f32)>,
        r: BinRange,
        m: BinRange,
    ) -> f64 {
        let b = self.bins;
        self.joint.iter_mut().for_each(|v| *v = 0.0);
        let mut n = 0usize;
        for (rv, mv) in pairs {
            add_taps(&mut self.joint, b, r.pos(rv, b).k0, m.pos(mv, b));
            n += 1;
        }
        self.finish(n)
    }

    /// [`Mattes::evaluate`] over the pairs `pair(0..n)` (`None` skips a sample), in parallel:
    /// fixed chunks of samples each fill their own histogram and the chunks are added in
    /// order, so the value is the same for any number of threads.
    pub fn evaluate_par(
        &mut self,
        n: usize,
        pair: impl Fn(usize) -> Option<(f32, f32)> + Sync,
        r: BinRange,
        m: BinRange,
    ) -> f64 {
        use rayon::prelude::*;
        const CHUNK: usize = 16_384;
        let b = self.bins;
        let partial: Vec<(Vec<f64>, usize)> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let mut joint = vec![0.0f64; b * b];
                let mut count = 0;
                for s in c * CHUNK..((c + 1) * CHUNK).min(n) {
                    if let Some((rv, mv)) = pair(s) {
                        add_taps(&mut joint, b, r.pos(rv, b).k0, m.pos(mv, b));
                        count += 1;
                    }
                }
                (joint, count)
            })
            .collect();
        self.joint.iter_mut().for_each(|v| *v = 0.0);
        let mut count = 0;
        for (joint, c) in partial {
            self.joint.iter_mut().zip(&joint).for_each(|(a, v)| *a += v);
            count += c;
        }
        self.finish(count)
    }

    /// Normalises the accumulated histogram of `n` samples, caches the derivative's log
    /// ratios and returns MI.
    fn finish(&mut self, n: usize) -> f64 {
        let b = self.bins;
        self.samples = n;
        if n == 0 {
            return 0.0;
        }
        let total: f64 = self.joint.iter().sum();
        self.joint.iter_mut().for_each(|v| *v /= total);
        let mut marginal_r = vec![0.0; b];
        self.marginal_m.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..b {
            for k in 0..b {
                marginal_r[i] += self.joint[i * b + k];
                self.marginal_m[k] += self.joint[i * b + k];
            }
        }
        let mut mi = 0.0;
        for i in 0..b {
            for k in 0..b {
                let p = self.joint[i * b + k];
                if p > 1e-16 && self.marginal_m[k] > 1e-16 {
                    self.log_ratio[i * b + k] = (p / self.marginal_m[k]).ln();
                    mi += p * (p / (marginal_r[i] * self.marginal_m[k])).ln();
                } else {
                    self.log_ratio[i * b + k] = 0.0;
                }
            }
        }
        mi
    }

    /// `∂MI/∂m` for one sample of the last [`Mattes::evaluate`] (same ranges): how MI changes
    /// when that sample's moving intensity grows. Zero outside the histogram's range.
    #[inline]
    pub fn derivative(&self, rv: f32, mv: f32, r: BinRange, m: BinRange) -> f64 {
        let b = self.bins;
        self.taps_derivative(r.pos(rv, b).k0, m.pos(mv, b)) / (self.samples as f64 * m.width)
    }
}

/// Mattes MI of two images on the same grid taken both ways, as SyN needs it: `x` as the
/// reference with `y` moved, and `y` as the reference with `x` moved. One pass fills both
/// histograms ([`SymmetricMattes::fit`]); each voxel's two derivatives are then a function of
/// its two values alone ([`SymmetricMattes::d_x`], [`SymmetricMattes::d_y`]), so a caller can compute them where it uses
/// them instead of storing two derivative images.
#[derive(Debug, Clone)]
pub struct SymmetricMattes {
    xy: Mattes,
    yx: Mattes,
    /// The ranges of the last fit, `x`'s then `y`'s.
    ranges: [BinRange; 2],
    /// `1 / (N·Δ)` of the last fit, for `∂/∂x` then `∂/∂y`.
    norm: [f64; 2],
}

impl SymmetricMattes {
    /// Both metrics with `bins` bins.
    pub fn new(bins: usize) -> Self {
        let unit = BinRange::new(0.0, 1.0, bins);
        SymmetricMattes {
            xy: Mattes::new(bins),
            yx: Mattes::new(bins),
            ranges: [unit; 2],
            norm: [0.0; 2],
        }
    }

    /// Fills both histograms from the voxel pairs of `x` and `y` (histogram ranges `rx`,
    /// `ry`) and returns MI with `x` as the reference. The same histograms as two
    /// [`Mattes::evaluate`] passes, for any thread count.
    pub fn fit(&mut self, x: &[f32], y: &[f32], [rx, ry]: [BinRange; 2]) -> f64 {
        use rayon::prelude::*;
        const CHUNK: usize = 16_384;
        let b = self.xy.bins;
        let partial: Vec<(Vec<f64>, Vec<f64>)> = x
            .par_chunks(CHUNK)
            .zip(y.par_chunks(CHUNK))
            .map(|(xc, yc)| {
                let (mut hxy, mut hyx) = (vec![0.0f64; b * b], vec![0.0f64; b * b]);
                for (&xv, &yv) in xc.iter().zip(yc) {
                    let (px, py) = (rx.pos(xv, b), ry.pos(yv, b));
                    add_taps(&mut hxy, b, px.k0, py);
                    add_taps(&mut hyx, b, py.k0, px);
                }
                (hxy, hyx)
            })
            .collect();
        for m in [&mut self.xy, &mut self.yx] {
            m.joint.iter_mut().for_each(|v| *v = 0.0);
        }
        for (hxy, hyx) in &partial {
            self.xy.joint.iter_mut().zip(hxy).for_each(|(a, v)| *a += v);
            self.yx.joint.iter_mut().zip(hyx).for_each(|(a, v)| *a += v);
        }
        let value = self.xy.finish(x.len());
        self.yx.finish(x.len());
        let n = x.len() as f64;
        self.ranges = [rx, ry];
        self.norm = [1.0 / (n * rx.width), 1.0 / (n * ry.width)];
        value
    }

    /// `∂MI(y, x)/∂x` at a voxel holding `xv` in `x` and `yv` in `y`, after
    /// [`SymmetricMattes::fit`]: what [`Mattes::derivative`] gives.
    #[inline(always)]
    pub fn d_x(&self, xv: f32, yv: f32) -> f32 {
        let b = self.xy.bins;
        let (px, py) = (self.ranges[0].pos(xv, b), self.ranges[1].pos(yv, b));
        (self.yx.taps_derivative(py.k0, px) * self.norm[0]) as f32
    }

    /// `∂MI(x, y)/∂y` at a voxel holding `xv` in `x` and `yv` in `y`, after
    /// [`SymmetricMattes::fit`]: what [`Mattes::derivative`] gives.
    #[inline(always)]
    pub fn d_y(&self, xv: f32, yv: f32) -> f32 {
        let b = self.xy.bins;
        let (px, py) = (self.ranges[0].pos(xv, b), self.ranges[1].pos(yv, b));
        (self.xy.taps_derivative(px.k0, py) * self.norm[1]) as f32
    }

    /// [`SymmetricMattes::fit`], then `∂MI(y, x)/∂x` into `d_x` and `∂MI(x, y)/∂y` into
    /// `d_y`, voxel by voxel; returns MI with `x` as the reference.
    pub fn derivatives(
        &mut self,
        x: &[f32],
        y: &[f32],
        ranges: [BinRange; 2],
        d_x: &mut [f32],
        d_y: &mut [f32],
    ) -> f64 {
        use rayon::prelude::*;
        const CHUNK: usize = 16_384;
        let value = self.fit(x, y, ranges);
        let this = &*self;
        d_x.par_chunks_mut(CHUNK)
            .zip(d_y.par_chunks_mut(CHUNK))
            .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
            .for_each(|((dxc, dyc), (xc, yc))| {
                for (((dx, dy), &xv), &yv) in dxc.iter_mut().zip(dyc).zip(xc).zip(yc) {
                    (*dx, *dy) = (this.d_x(xv, yv), this.d_y(xv, yv));
                }
            });
        value
    }
}

/// Adds one sample to an unnormalised joint histogram: row `row` (the reference's bin: a box
/// window) and the cubic B-spline window of the `moving` value.
#[inline(always)]
fn add_taps(joint: &mut [f64], bins: usize, row: usize, moving: BinPos) {
    let (w, _) = cubic_taps(moving.t);
    let at = row * bins + moving.k0 - 1;
    for (h, w) in joint[at..at + 4].iter_mut().zip(w) {
        *h += f64::from(w);
    }
}

#[cfg(test)]
mod tests;
