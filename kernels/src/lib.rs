//! Imaging kernels of atlasperf: volumes with physical geometry and NIfTI I/O, filters,
//! phantom cohorts, dataset manifests and evaluation (Dice).
//!
//! This crate knows nothing about jobs or measurement: the harness runs these kernels as
//! processes and measures them from the outside.

/// Compiles a function for AVX-512 and for AVX2 besides the baseline, the widest the
/// processor has chosen at run time: the one list of SIMD targets for every hot loop that
/// the compiler vectorises across voxels. The loops it wraps never fuse multiplies and adds,
/// so every clone gives the same bits.
macro_rules! simd_clones {
    ($item:item) => {
        #[multiversion::multiversion(
            targets(
                "x86_64+avx512f+avx512vl+avx512dq+avx512bw+avx2+fma+bmi1+bmi2+lzcnt+popcnt",
                "x86_64+avx2+fma+bmi1+bmi2+lzcnt+popcnt"
            ),
            dispatcher = "direct"
        )]
        $item
    };
}

pub mod dataset;
pub mod error;
pub mod eval;
pub mod filter;
pub mod fusion;
pub mod params;
pub mod phantom;
pub mod registration;
pub mod volume;

pub use error::{Error, Result};
pub use volume::{Geometry, LabelVolume, Volume};
