//! Imaging kernels of atlasperf: volumes with physical geometry and NIfTI I/O, filters,
//! phantom cohorts, dataset manifests and evaluation (Dice).
//!
//! This crate knows nothing about jobs or measurement: the harness runs these kernels as
//! processes and measures them from the outside.

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
