//! The project's statistics, in one place on the lowest floor that every crate uses: order
//! statistics ([`percentile`], [`median`]), fitted curves ([`fit`]) and bootstrap confidence
//! intervals of a median or of a ratio between two groups of runs ([`ci`]).
//!
//! The harness (memory forecast, simulator models), the reports (Table I over repetitions,
//! comparisons, sweep fits) and the simulator's validation all call these functions; none of
//! them keeps a copy.

pub mod ci;
pub mod fit;
pub mod matched;

pub use ci::{median_ci, paired_ratio, run_ratio, Bootstrap, Estimate, Verdict};
pub use matched::matched_ratio;

/// The `q` quantile of sorted values (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The median of the values (the mean of the middle two for an even count); `None` when
/// empty or when a value is not finite.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    Some(if s.len() % 2 == 1 {
        s[m]
    } else {
        0.5 * (s[m - 1] + s[m])
    })
}

/// The arithmetic mean; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), 2.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.99), 4.0);
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    }
}
