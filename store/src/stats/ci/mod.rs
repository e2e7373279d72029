//! Bootstrap confidence intervals (Efron & Tibshirani, *An Introduction to the Bootstrap*,
//! 1993, ch. 13: the percentile interval) for the two questions atlasperf's numbers answer:
//! what a quantity is over repeated runs ([`median_ci`]), and by how much it changed between
//! two groups of runs ([`paired_ratio`], [`run_ratio`]).
//!
//! Variance arises at two levels on a shared machine: between jobs of one run (co-runners,
//! placement) and between whole runs (the machine's drift). Following Kalibera & Jones
//! (*Rigorous benchmarking in reasonable time*, ISMM 2013) a ratio's interval is taken at the
//! level where the variance arises: with repetitions, over the runs — Welch's t interval on
//! the log of the ratio of means, since a percentile bootstrap of three runs is far too narrow
//! (it ignores that t with 2 degrees of freedom is 4.3, not 1.96); with one run a side, the
//! paired bootstrap over the jobs present in both, widened by an assumed run-level drift that
//! one run cannot show. A median over runs (Table I of a group) takes the percentile
//! bootstrap, its values widened about their mean by √(n / (n − 1)) first (the "expanded"
//! bootstrap), so few runs do not give an optimistic interval.
//!
//! Every interval is drawn from a fixed seed: the same data give the same interval.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::percentile;

/// How the intervals are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// Resamples drawn.
    pub resamples: usize,
    /// Coverage of the interval, e.g. 0.95.
    pub level: f64,
    /// Seed of the resampling.
    pub seed: u64,
    /// Coefficient of variation of a whole run's level (the machine's drift between runs),
    /// assumed where each group holds one run and the data cannot show it; 0 assumes none.
    pub drift_prior: f64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self {
            resamples: 2000,
            level: 0.95,
            seed: 0x5eed,
            drift_prior: 0.0,
        }
    }
}

/// A point estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The estimate from all the data.
    pub value: f64,
    /// Lower bound of the interval.
    pub lo: f64,
    /// Upper bound of the interval.
    pub hi: f64,
    /// Runs behind the estimate (per group for a ratio: the smaller of the two).
    pub runs: usize,
    /// Paired jobs behind a ratio (0 for a per-run quantity).
    pub jobs: usize,
    /// False when the data held one value on each side, so no interval could be drawn and
    /// `lo` and `hi` are the point.
    pub resampled: bool,
}

impl Estimate {
    /// An estimate whose spread is unknown (one value): the interval is the point.
    pub(crate) fn point(value: f64, runs: usize, jobs: usize) -> Self {
        Self {
            value,
            lo: value,
            hi: value,
            runs,
            jobs,
            resampled: false,
        }
    }

    /// True when the data could not give an interval (one value on each side).
    pub fn spread_unknown(&self) -> bool {
        !self.resampled
    }

    /// What a ratio's interval says against `1 ± threshold`.
    pub fn verdict(&self, threshold: f64) -> Verdict {
        if self.lo > 1.0 + threshold {
            Verdict::Higher
        } else if self.hi < 1.0 - threshold {
            Verdict::Lower
        } else {
            Verdict::WithinNoise
        }
    }
}

/// A ratio's reading: its whole interval above `1 + threshold`, below `1 − threshold`, or
/// neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// B is larger than A beyond the noise (for time, CPU, memory, I/O: a regression).
    Higher,
    /// B is smaller than A beyond the noise.
    Lower,
    /// No change that the data can tell from noise.
    WithinNoise,
}

/// Values widened about their mean by √(n / (n − 1)) (unchanged for n < 2).
fn expanded(values: &[f64]) -> Vec<f64> {
    let n = values.len();
    if n < 2 {
        return values.to_vec();
    }
    let m = values.iter().sum::<f64>() / n as f64;
    let c = (n as f64 / (n as f64 - 1.0)).sqrt();
    values.iter().map(|v| m + c * (v - m)).collect()
}

/// The percentile interval of the resampled statistics around `value`.
fn interval(mut stats: Vec<f64>, value: f64, b: &Bootstrap, runs: usize, jobs: usize) -> Estimate {
    stats.retain(|v| v.is_finite());
    if stats.is_empty() {
        return Estimate::point(value, runs, jobs);
    }
    stats.sort_by(f64::total_cmp);
    let tail = (1.0 - b.level) / 2.0;
    Estimate {
        value,
        lo: percentile(&stats, tail).min(value),
        hi: percentile(&stats, 1.0 - tail).max(value),
        runs,
        jobs,
        resampled: true,
    }
}

/// The median of per-run values with a bootstrap interval (Table I over repetitions);
/// `None` when there are none.
pub fn median_ci(values: &[f64], b: &Bootstrap) -> Option<Estimate> {
    let value = super::median(values)?;
    if values.len() < 2 {
        return Some(Estimate::point(value, values.len(), 0));
    }
    let wide = expanded(values);
    let mut rng = ChaCha8Rng::seed_from_u64(b.seed);
    let mut draw = vec![0.0; values.len()];
    let stats = (0..b.resamples)
        .map(|_| {
            for d in draw.iter_mut() {
                *d = wide[rng.random_range(0..wide.len())];
            }
            super::median(&draw).unwrap_or(f64::NAN)
        })
        .collect();
    Some(interval(stats, value, b, values.len(), 0))
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom: a table (Fisher & Yates)
/// interpolated linearly in 1 / df, within 0.3 % of the exact value between its rows.
pub fn t975(df: f64) -> f64 {
    const T: [(f64, f64); 34] = [
        (1.0, 12.706),
        (2.0, 4.303),
        (3.0, 3.182),
        (4.0, 2.776),
        (5.0, 2.571),
        (6.0, 2.447),
        (7.0, 2.365),
        (8.0, 2.306),
        (9.0, 2.262),
        (10.0, 2.228),
        (11.0, 2.201),
        (12.0, 2.179),
        (13.0, 2.160),
        (14.0, 2.145),
        (15.0, 2.131),
        (16.0, 2.120),
        (17.0, 2.110),
        (18.0, 2.101),
        (19.0, 2.093),
        (20.0, 2.086),
        (21.0, 2.080),
        (22.0, 2.074),
        (23.0, 2.069),
        (24.0, 2.064),
        (25.0, 2.060),
        (26.0, 2.056),
        (27.0, 2.052),
        (28.0, 2.048),
        (29.0, 2.045),
        (30.0, 2.042),
        (40.0, 2.021),
        (60.0, 2.000),
        (120.0, 1.980),
        (f64::INFINITY, 1.960),
    ];
    if df.is_nan() || df < 1.0 {
        return T[0].1;
    }
    let inv = 1.0 / df;
    for w in T.windows(2) {
        let ((d0, t0), (d1, t1)) = (w[0], w[1]);
        if df <= d1 {
            let (i0, i1) = (1.0 / d0, 1.0 / d1);
            return t0 + (t1 - t0) * (i0 - inv) / (i0 - i1);
        }
    }
    1.960
}

/// Mean and sample variance.
fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() < 2 {
        0.0
    } else {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    };
    (m, var)
}

/// The interval of mean(b) / mean(a) from per-run values, at least one group holding two:
/// Welch's t on the log ratio (delta method, Welch–Satterthwaite degrees of freedom). A group
/// of one borrows the other group's coefficient of variation.
fn welch(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    if ma <= 0.0 || mb <= 0.0 {
        return None;
    }
    // Squared coefficient of variation per run, and the degrees of freedom behind it.
    let (mut ca, mut cb) = (va / (ma * ma), vb / (mb * mb));
    let (mut fa, mut fb) = (a.len() as f64 - 1.0, b.len() as f64 - 1.0);
    if a.len() < 2 {
        (ca, fa) = (cb, fb);
    }
    if b.len() < 2 {
        (cb, fb) = (ca, fa);
    }
    let (sa, sb) = (ca / a.len() as f64, cb / b.len() as f64);
    let se2 = sa + sb;
    if se2 <= 0.0 {
        return Some((0.0, f64::INFINITY));
    }
    let df = se2 * se2 / (sa * sa / fa.max(1.0) + sb * sb / fb.max(1.0));
    Some((se2.sqrt(), df))
}

/// `value · exp(± t · se)`.
pub(crate) fn log_interval(value: f64, se: f64, t: f64, runs: usize, jobs: usize) -> Estimate {
    Estimate {
        value,
        lo: value * (-t * se).exp(),
        hi: value * (t * se).exp(),
        runs,
        jobs,
        resampled: true,
    }
}

/// Ratio B / A of a per-run quantity (a stage's makespan): with two or more runs in a group,
/// Welch's interval over the runs; the point alone when both groups hold one run. `None` when
/// a group is empty or a mean is not positive.
pub fn run_ratio(a: &[f64], b: &[f64]) -> Option<Estimate> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    if a.is_empty() || b.is_empty() || mean(a) <= 0.0 {
        return None;
    }
    let value = mean(b) / mean(a);
    let runs = a.len().min(b.len());
    if a.len() < 2 && b.len() < 2 {
        return Some(Estimate::point(value, runs, 0));
    }
    let (se, df) = welch(a, b)?;
    Some(log_interval(value, se, t975(df), runs, 0))
}

/// Ratio B / A of a quantity summed over paired jobs — Σ_j mean_r B[r][j] / Σ_j mean_r A[r][j].
///
/// `a[r][j]` is job `j`'s value in run `r` of group A, and `b` likewise; the columns must be
/// the same jobs in the same order in every run of both groups (the caller keeps the jobs
/// present everywhere). With two or more runs in a group the interval is Welch's over the
/// runs' sums (the machine's drift between runs is the variance that matters, and the jobs'
/// own noise is inside each sum); with one run a side it is the paired bootstrap over jobs,
/// widened by `boot.drift_prior` — the coefficient of variation of a whole run's level that
/// one run cannot show. `None` when a group has no run, there is no job, or A sums to zero.
pub fn paired_ratio(a: &[Vec<f64>], b: &[Vec<f64>], boot: &Bootstrap) -> Option<Estimate> {
    let jobs = a.first()?.len();
    if jobs == 0 || b.is_empty() || a.iter().chain(b).any(|r| r.len() != jobs) {
        return None;
    }
    let sums = |g: &[Vec<f64>]| -> Vec<f64> { g.iter().map(|r| r.iter().sum()).collect() };
    let (sa, sb) = (sums(a), sums(b));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    if mean(&sa) <= 0.0 {
        return None;
    }
    let value = mean(&sb) / mean(&sa);
    let runs = a.len().min(b.len());
    if a.len() >= 2 || b.len() >= 2 {
        let (se, df) = welch(&sa, &sb)?;
        return Some(log_interval(value, se, t975(df), runs, jobs));
    }
    let (ja, jb) = (&a[0], &b[0]);
    let jobs_only = if jobs < 2 {
        Estimate::point(value, runs, jobs)
    } else {
        let mut rng = ChaCha8Rng::seed_from_u64(boot.seed);
        let stats = (0..boot.resamples)
            .map(|_| {
                let (mut xa, mut xb) = (0.0, 0.0);
                for _ in 0..jobs {
                    let j = rng.random_range(0..jobs);
                    xa += ja[j];
                    xb += jb[j];
                }
                if xa > 0.0 {
                    xb / xa
                } else {
                    f64::NAN
                }
            })
            .collect();
        interval(stats, value, boot, runs, jobs)
    };
    if boot.drift_prior <= 0.0 || value <= 0.0 {
        return Some(jobs_only);
    }
    // The jobs' interval as a standard error on the log scale, then the prior drift of each
    // of the two runs added in quadrature.
    let z = 1.96;
    let se_jobs = if jobs_only.lo > 0.0 {
        (jobs_only.hi / jobs_only.lo).ln() / (2.0 * z)
    } else {
        0.0
    };
    let se = (se_jobs * se_jobs + 2.0 * boot.drift_prior * boot.drift_prior).sqrt();
    Some(log_interval(value, se, z, runs, jobs))
}

#[cfg(test)]
mod tests;
