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
pub mod mattes;
pub mod pipeline;
pub mod pyramid;
pub mod syn;

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
