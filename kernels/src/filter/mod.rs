//! Image filters on flat f32 buffers in the volume memory order (`i` fastest).
//!
//! Parallel filters run on the rayon pool they are called from; callers install an explicit,
//! sized pool (`ThreadPool::install`) so that kernel threads never oversubscribe a node.

mod gaussian;

pub use gaussian::{convolve_axis, gaussian_kernel, smooth, smooth_reference};
