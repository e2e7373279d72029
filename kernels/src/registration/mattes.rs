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
/// histograms and one pass writes both derivative images, each voxel's bin positions
/// computed once.
#[derive(Debug, Clone)]
pub struct SymmetricMattes {
    xy: Mattes,
    yx: Mattes,
}

impl SymmetricMattes {
    /// Both metrics with `bins` bins.
    pub fn new(bins: usize) -> Self {
        SymmetricMattes {
            xy: Mattes::new(bins),
            yx: Mattes::new(bins),
        }
    }

    /// Returns MI with `x` as the reference (histogram ranges `rx`, `ry`) and writes
    /// `∂MI(x, y)/∂y` into `d_y` and `∂MI(y, x)/∂x` into `d_x`, voxel by voxel. The same values
    /// as two [`Mattes::evaluate`] and [`Mattes::derivative`] passes, for any thread count.
    pub fn derivatives(
        &mut self,
        x: &[f32],
        y: &[f32],
        [rx, ry]: [BinRange; 2],
        d_x: &mut [f32],
        d_y: &mut [f32],
    ) -> f64 {
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
        let (xy, yx) = (&self.xy, &self.yx);
        let n = x.len() as f64;
        let (norm_y, norm_x) = (1.0 / (n * ry.width), 1.0 / (n * rx.width));
        d_x.par_chunks_mut(CHUNK)
            .zip(d_y.par_chunks_mut(CHUNK))
            .zip(x.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
            .for_each(|((dxc, dyc), (xc, yc))| {
                for (((dx, dy), &xv), &yv) in dxc.iter_mut().zip(dyc).zip(xc).zip(yc) {
                    let (px, py) = (rx.pos(xv, b), ry.pos(yv, b));
                    *dy = (xy.taps_derivative(px.k0, py) * norm_y) as f32;
                    *dx = (yx.taps_derivative(py.k0, px) * norm_x) as f32;
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
mod tests {
    use super::*;

    /// Cubic B-spline β³ and its derivative at `u`.
    #[inline]
    fn bspline3(u: f64) -> (f64, f64) {
        let a = u.abs();
        let s = u.signum();
        if a < 1.0 {
            (
                2.0 / 3.0 - a * a + 0.5 * a * a * a,
                s * (-2.0 * a + 1.5 * a * a),
            )
        } else if a < 2.0 {
            let t = 2.0 - a;
            (t * t * t / 6.0, -s * 0.5 * t * t)
        } else {
            (0.0, 0.0)
        }
    }

    use rand::{Rng, SeedableRng};

    fn pairs(seed: u64, n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let r: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..100.0)).collect();
        let m = r
            .iter()
            .map(|v| (v * 0.01 * 3.0).sin() * 40.0 + 50.0 + rng.random_range(-5.0..5.0))
            .collect();
        (r, m)
    }

    #[test]
    fn bspline_is_a_partition_of_unity_with_matching_derivative() {
        for t in [0.0, 0.3, 0.77] {
            let s: f64 = (-2..=2).map(|k| bspline3(f64::from(k) - t).0).sum();
            assert!((s - 1.0).abs() < 1e-12);
            let h = 1e-6;
            let fd = (bspline3(t + h).0 - bspline3(t - h).0) / (2.0 * h);
            assert!((fd - bspline3(t).1).abs() < 1e-6);
        }
    }

    #[test]
    fn cubic_taps_match_the_bspline() {
        for t in [0.0f32, 0.1, 0.5, 0.77, 0.999] {
            let (w, dw) = cubic_taps(t);
            for (k, (w, dw)) in w.iter().zip(dw).enumerate() {
                let (want, dwant) = bspline3(k as f64 - 1.0 - f64::from(t));
                assert!((f64::from(*w) - want).abs() < 1e-6, "t {t} tap {k}");
                assert!(
                    (f64::from(dw) - dwant).abs() < 1e-6,
                    "t {t} tap {k} derivative"
                );
            }
        }
    }

    #[test]
    fn derivative_matches_finite_differences() {
        let seed = 12;
        let (r, mut m) = pairs(seed, 3000);
        let (rr, mr) = (
            BinRange::new(-1.0, 101.0, 32),
            BinRange::new(-10.0, 110.0, 32),
        );
        let mut metric = Mattes::new(32);
        metric.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
        for x in [0usize, 17, 999, 2500] {
            let analytic = metric.derivative(r[x], m[x], rr, mr);
            let orig = m[x];
            let h = 0.05f32;
            let mut probe = Mattes::new(32);
            m[x] = orig + h;
            let up = probe.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
            m[x] = orig - h;
            let down = probe.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
            m[x] = orig;
            let fd = (up - down) / (2.0 * f64::from(h));
            assert!(
                (fd - analytic).abs() < 1e-3 * analytic.abs().max(1e-6) + 1e-9,
                "seed {seed}, sample {x}: finite difference {fd:e}, analytic {analytic:e}"
            );
        }
    }

    #[test]
    fn parallel_histogram_matches_serial_for_any_thread_count() {
        let (r, m) = pairs(5, 70_000);
        let (rr, mr) = (BinRange::of(&r, 32), BinRange::of(&m, 32));
        let mut serial = Mattes::new(32);
        let want = serial.evaluate(r.iter().copied().zip(m.iter().copied()).step_by(2), rr, mr);
        let values: Vec<f64> = [1, 3]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut par = Mattes::new(32);
                // Odd samples skipped, as the affine stage skips points mapped outside.
                let v = pool.install(|| {
                    par.evaluate_par(r.len(), |s| (s % 2 == 0).then(|| (r[s], m[s])), rr, mr)
                });
                assert_eq!(par.samples, serial.samples);
                let d = par.derivative(r[10], m[10], rr, mr);
                let ds = serial.derivative(r[10], m[10], rr, mr);
                assert!((d - ds).abs() <= 1e-9 * ds.abs().max(1e-12), "{d} vs {ds}");
                v
            })
            .collect();
        assert!((values[0] - want).abs() < 1e-10, "{} vs {want}", values[0]);
        assert_eq!(values[0].to_bits(), values[1].to_bits());
    }

    #[test]
    fn symmetric_pass_matches_two_one_way_evaluations() {
        let (x, y) = pairs(9, 40_000);
        let ranges = [BinRange::of(&x, 32), BinRange::of(&y, 32)];
        let (mut dx, mut dy) = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        let value = SymmetricMattes::new(32).derivatives(&x, &y, ranges, &mut dx, &mut dy);
        let pairs_of = |a: &[f32], b: &[f32]| -> Vec<(f32, f32)> {
            a.iter().copied().zip(b.iter().copied()).collect()
        };
        let mut xy = Mattes::new(32);
        let want = xy.evaluate(pairs_of(&x, &y).into_iter(), ranges[0], ranges[1]);
        let mut yx = Mattes::new(32);
        yx.evaluate(pairs_of(&y, &x).into_iter(), ranges[1], ranges[0]);
        assert!((value - want).abs() < 1e-10, "{value} vs {want}");
        for s in [0, 1, 777, 39_999] {
            let want_y = xy.derivative(x[s], y[s], ranges[0], ranges[1]) as f32;
            let want_x = yx.derivative(y[s], x[s], ranges[1], ranges[0]) as f32;
            assert!(
                (dy[s] - want_y).abs() <= 1e-6 * want_y.abs().max(1e-9),
                "d_y at {s}"
            );
            assert!(
                (dx[s] - want_x).abs() <= 1e-6 * want_x.abs().max(1e-9),
                "d_x at {s}"
            );
        }
    }

    #[test]
    fn dependent_images_share_more_information() {
        let (r, m) = pairs(3, 5000);
        let mut metric = Mattes::new(32);
        let (rr, mr) = (BinRange::of(&r, 32), BinRange::of(&m, 32));
        let related = metric.evaluate(r.iter().copied().zip(m.iter().copied()), rr, mr);
        let shuffled: Vec<f32> = m.iter().rev().copied().collect();
        let unrelated = metric.evaluate(r.iter().copied().zip(shuffled.iter().copied()), rr, mr);
        assert!(
            related > 1.0 && unrelated < 0.2,
            "MI related {related}, unrelated {unrelated}"
        );
    }
}
