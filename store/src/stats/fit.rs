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
