//! Curves fitted to measurements: the least-squares line and the power law, with R². The one
//! least-squares routine of the project: sweeps fit their scaling curves with it, the memory
//! forecast its envelope.

/// A fitted curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// y = intercept + slope · x.
    Linear {
        /// Intercept.
        intercept: f64,
        /// Slope.
        slope: f64,
        /// Coefficient of determination on y.
        r2: f64,
    },
    /// y = scale · x^exponent, fitted by least squares on log y against log x.
    Power {
        /// Scale.
        scale: f64,
        /// Exponent.
        exponent: f64,
        /// Coefficient of determination on y (not on log y), comparable with the line's.
        r2: f64,
    },
}

impl Fit {
    /// The fitted value at `x`.
    pub fn at(&self, x: f64) -> f64 {
        match *self {
            Fit::Linear {
                intercept, slope, ..
            } => intercept + slope * x,
            Fit::Power {
                scale, exponent, ..
            } => scale * x.powf(exponent),
        }
    }

    /// Coefficient of determination.
    pub fn r2(&self) -> f64 {
        match *self {
            Fit::Linear { r2, .. } | Fit::Power { r2, .. } => r2,
        }
    }
}

/// Least squares of y on x: (intercept, slope); `None` with fewer than two distinct x.
pub fn least_squares(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len() as f64;
    if x.len() < 2 || x.len() != y.len() {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|v| (v - mx) * (v - mx)).sum();
    if sxx <= f64::EPSILON * mx.abs().max(1.0) {
        return None;
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let slope = sxy / sxx;
    Some((my - slope * mx, slope))
}

/// 1 − SS_res / SS_tot of `f` on the points (1 when y is constant and fitted exactly).
fn r_squared(x: &[f64], y: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let my = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
    let ss_res: f64 = x.iter().zip(y).map(|(a, b)| (b - f(*a)).powi(2)).sum();
    if ss_tot <= f64::EPSILON * my.abs().max(1.0) {
        if ss_res <= 1e-12 * my.abs().max(1.0) {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// The least-squares line through the points.
pub fn fit_linear(x: &[f64], y: &[f64]) -> Option<Fit> {
    let (intercept, slope) = least_squares(x, y)?;
    Some(Fit::Linear {
        intercept,
        slope,
        r2: r_squared(x, y, |v| intercept + slope * v),
    })
}

/// The power law through the points (all x and y must be positive).
pub fn fit_power(x: &[f64], y: &[f64]) -> Option<Fit> {
    if x.iter().chain(y).any(|v| *v <= 0.0 || !v.is_finite()) {
        return None;
    }
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let (a, exponent) = least_squares(&lx, &ly)?;
    let scale = a.exp();
    Some(Fit::Power {
        scale,
        exponent,
        r2: r_squared(x, y, |v| scale * v.powf(exponent)),
    })
}

/// A 95 % (or `boot.level`) interval of the power law's exponent from repeated points: the
/// points at each x are resampled among themselves (a stratified bootstrap, so every x stays
/// in every resample) and the law refitted. `None` without two points at some x — one point
/// per x holds no spread to resample — or when the law cannot be fitted.
pub fn exponent_interval(x: &[f64], y: &[f64], boot: &super::Bootstrap) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    if x.len() != y.len() {
        return None;
    }
    let mut groups: Vec<(f64, Vec<f64>)> = Vec::new();
    for (&a, &b) in x.iter().zip(y) {
        match groups.iter_mut().find(|g| g.0 == a) {
            Some(g) => g.1.push(b),
            None => groups.push((a, vec![b])),
        }
    }
    if groups.iter().all(|g| g.1.len() < 2) {
        return None;
    }
    fit_power(x, y)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(boot.seed);
    let (mut rx, mut ry) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
    let mut exps: Vec<f64> = (0..boot.resamples)
        .filter_map(|_| {
            rx.clear();
            ry.clear();
            for (gx, gy) in &groups {
                for _ in 0..gy.len() {
                    rx.push(*gx);
                    ry.push(gy[rng.random_range(0..gy.len())]);
                }
            }
            match fit_power(&rx, &ry)? {
                Fit::Power { exponent, .. } => Some(exponent),
                Fit::Linear { .. } => None,
            }
        })
        .collect();
    if exps.is_empty() {
        return None;
    }
    exps.sort_by(f64::total_cmp);
    let tail = (1.0 - boot.level) / 2.0;
    Some((
        super::percentile(&exps, tail),
        super::percentile(&exps, 1.0 - tail),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_points_give_an_exponent_interval_around_the_truth() {
        // y = 3 x^1.2 with ±5 % spread between three repeats at each x.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for xi in [2.0_f64, 3.0, 4.0, 6.0] {
            for f in [0.95, 1.0, 1.05] {
                x.push(xi);
                y.push(3.0 * xi.powf(1.2) * f);
            }
        }
        let b = super::super::Bootstrap::default();
        let (lo, hi) = exponent_interval(&x, &y, &b).unwrap_or((f64::NAN, f64::NAN));
        assert!(lo < 1.2 && hi > 1.2 && hi - lo < 0.3, "[{lo}, {hi}]");
        // One point per x: nothing to resample.
        assert_eq!(
            exponent_interval(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0], &b),
            None
        );
    }
}
