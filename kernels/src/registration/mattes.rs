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

/// Intensity range mapped onto the histogram's bins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinRange {
    min: f64,
    width: f64,
}

impl BinRange {
    /// Range covering `[min, max]` with `bins` bins including the padding.
    pub fn new(min: f32, max: f32, bins: usize) -> Self {
        let span = f64::from(max - min).max(1e-12);
        BinRange {
            min: f64::from(min),
            width: span / (bins as f64 - 2.0 * PADDING - 1.0),
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
        (f64::from(v) - self.min) / self.width + PADDING
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

    fn clamp_bin(&self, eta: f64) -> f64 {
        eta.clamp(PADDING, self.bins as f64 - PADDING - 1.0)
    }

    /// Builds the histogram from sample pairs `(reference, moving)` with the given ranges
    /// and returns MI (nats, ≥ 0; larger is better).
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
            let i = self.clamp_bin(r.eta(rv)).floor() as usize;
            let em = self.clamp_bin(m.eta(mv));
            let k0 = em.floor() as isize;
            for k in (k0 - 1)..=(k0 + 2) {
                let (w, _) = bspline3(k as f64 - em);
                if w > 0.0 && k >= 0 && (k as usize) < b {
                    self.joint[i * b + k as usize] += w;
                }
            }
            n += 1;
        }
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
        let raw = m.eta(mv);
        let em = self.clamp_bin(raw);
        if em != raw || self.samples == 0 {
            return 0.0;
        }
        let i = self.clamp_bin(r.eta(rv)).floor() as usize;
        let k0 = em.floor() as isize;
        let mut d = 0.0;
        for k in (k0 - 1)..=(k0 + 2) {
            if k >= 0 && (k as usize) < b {
                let (_, dw) = bspline3(k as f64 - em);
                d -= dw * self.log_ratio[i * b + k as usize];
            }
        }
        d / (self.samples as f64 * m.width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
