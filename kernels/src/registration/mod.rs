//! Registration: affine (Mattes MI) followed by symmetric normalization (SyN), following
//! antsRegistration as Zhang et al. ran it (Avants et al., Med. Image Anal. 12(1), 2008).
//!
//! Building blocks live in their own files: sampling ([`interp`]), displacement fields
//! ([`field`]: compositive updates, fixed-point inversion, Jacobians) and image metrics
//! ([`cc`]: neighbourhood cross-correlation with box sums).

pub mod affine;
pub mod cc;
pub mod field;
pub mod interp;
pub mod itk;
pub mod mattes;
pub mod pipeline;
pub mod pyramid;
pub mod syn;

/// The multi-resolution schedule both stages share (antsRegistration's `--convergence`,
/// `--shrink-factors`, `--smoothing-sigmas`); defaults are the paper's.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Schedule {
    /// Iterations per level, coarse to fine.
    pub iterations: Vec<usize>,
    /// Shrink factor per level.
    pub shrink: Vec<usize>,
    /// Smoothing sigma per level, full-resolution voxels.
    pub smooth: Vec<f32>,
    /// Convergence window (iterations).
    pub window: usize,
    /// Convergence threshold on the normalised slope of the metric over the window.
    pub threshold: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            iterations: vec![200, 100, 50],
            shrink: vec![4, 2, 1],
            smooth: vec![2.0, 1.0, 0.0],
            window: 10,
            threshold: 1e-6,
        }
    }
}

impl Schedule {
    /// A schedule with these iterations and the default shrink and smoothing.
    pub fn with_iterations(iterations: Vec<usize>) -> Self {
        Schedule {
            iterations,
            ..Schedule::default()
        }
    }

    /// Levels as (maximum iterations, shrink factor, smoothing sigma), coarse to fine.
    pub fn levels(&self) -> impl Iterator<Item = (usize, usize, f32)> + '_ {
        self.iterations.iter().enumerate().map(|(l, &n)| {
            (
                n,
                self.shrink.get(l).copied().unwrap_or(1).max(1),
                self.smooth.get(l).copied().unwrap_or(0.0),
            )
        })
    }

    /// True when the metric history has converged under this schedule.
    pub(crate) fn converged(&self, history: &[f64]) -> bool {
        converged(history, self.window, self.threshold)
    }
}

/// True when the least-squares slope of the last `window` metric values, relative to their
/// mean magnitude, is below `threshold` (ANTs' convergence monitor, simplified).
pub(crate) fn converged(history: &[f64], window: usize, threshold: f64) -> bool {
    if window < 2 || history.len() < window {
        return false;
    }
    let tail = &history[history.len() - window..];
    let n = window as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = tail.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, y) in tail.iter().enumerate() {
        sxy += (x as f64 - mean_x) * (y - mean_y);
        sxx += (x as f64 - mean_x).powi(2);
    }
    (sxy / sxx).abs() / mean_y.abs().max(1e-12) < threshold
}
