//! Ratios of runs made side by side: the k-th run of group B ran at the same time as the k-th
//! run of group A (`atlasperf run --repeat K --interleave B --side-by-side`), so the host's
//! speed of that moment — which moves whole runs by ±10 % within minutes on shared machines —
//! is in both and cancels in their ratio. The interval is over the K per-pair ratios.

use super::ci::{log_interval, t975, Estimate};

/// Ratio B / A of a per-run quantity over runs matched by position (`a[k]` ran beside
/// `b[k]`): the ratio of the means, with Student's t interval (K − 1 degrees of freedom) of
/// the mean log ratio of the pairs. `None` when the groups differ in size, hold fewer than two
/// pairs, or a value is not positive (then the unmatched statistics apply).
pub fn matched_ratio(a: &[f64], b: &[f64]) -> Option<Estimate> {
    let k = a.len();
    if k < 2 || b.len() != k || a.iter().chain(b).any(|v| !(v.is_finite() && *v > 0.0)) {
        return None;
    }
    let logs: Vec<f64> = a.iter().zip(b).map(|(x, y)| (y / x).ln()).collect();
    let n = k as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let value = b.iter().sum::<f64>() / a.iter().sum::<f64>();
    Some(log_interval(value, (var / n).sqrt(), t975(n - 1.0), k, 0))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_shared_slowdown_cancels_in_the_pairs() {
        // The machine's speed moves both sides of a pair alike (±20 % here); B is 10 % more
        // work in every pair, within ±1 %.
        let speed = [1.0, 1.2, 0.85, 1.1];
        let jitter = [1.01, 0.99, 1.0, 1.005];
        let a: Vec<f64> = speed.iter().map(|s| 4.0 * s).collect();
        let b: Vec<f64> = speed.iter().zip(jitter).map(|(s, j)| 4.4 * s * j).collect();
        let r = matched_ratio(&a, &b).unwrap();
        assert!((r.value - 1.1).abs() < 0.01, "{r:?}");
        assert!(r.lo > 1.07 && r.hi < 1.13, "{r:?}");
        assert_eq!(r.verdict(0.02), super::super::Verdict::Higher);
        // The same values unmatched: the speed's spread swamps the 10 %.
        let u = super::super::run_ratio(&a, &b).unwrap();
        assert!(u.lo < 1.0, "{u:?}");
    }

    #[test]
    fn the_interval_is_students_t_over_the_pairs() {
        // Log ratios ln 1.1 ± 0.01 over three pairs: sd 0.01, se 0.01 / √3, t(2) = 4.303.
        let a = [1.0, 1.0, 1.0];
        let b = [1.1 * (-0.01f64).exp(), 1.1, 1.1 * 0.01f64.exp()];
        let r = matched_ratio(&a, &b).unwrap();
        let half = 4.303 * 0.01 / 3f64.sqrt();
        let mean_ratio = b.iter().sum::<f64>() / 3.0;
        assert!((r.lo - mean_ratio * (-half).exp()).abs() < 1e-9, "{r:?}");
        assert!((r.hi - mean_ratio * half.exp()).abs() < 1e-9, "{r:?}");
        assert_eq!((r.runs, r.jobs), (3, 0));
    }

    #[test]
    fn unmatched_shapes_and_zeros_give_none() {
        assert!(matched_ratio(&[1.0], &[1.0]).is_none());
        assert!(matched_ratio(&[1.0, 2.0], &[1.0]).is_none());
        assert!(matched_ratio(&[1.0, 0.0], &[1.0, 1.0]).is_none());
        assert!(matched_ratio(&[1.0, f64::NAN], &[1.0, 1.0]).is_none());
    }
}
