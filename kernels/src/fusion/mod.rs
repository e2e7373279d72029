//! Label fusion: merge the label maps of n atlases, already warped into the target's space,
//! into one segmentation of the target (stage 2 of multi-atlas segmentation).
//!
//! Majority voting is the baseline; joint label fusion (Wang et al., PAMI 2013) is the
//! method the paper ran ([`jlf`]).

pub mod jlf;
mod majority;

pub use jlf::{joint_label_fusion, joint_label_fusion_with, JlfInputs, JlfOptions, JlfParams};
pub use majority::majority_vote;

use crate::volume::LabelVolume;
use crate::{Error, Result};

/// Checks that every atlas shares the first one's grid.
fn check_grids(atlases: &[&LabelVolume]) -> Result<[usize; 3]> {
    let first = atlases
        .first()
        .ok_or_else(|| Error::InvalidParameter("label fusion needs at least one atlas".into()))?;
    for (n, a) in atlases.iter().enumerate().skip(1) {
        if a.dims() != first.dims() {
            return Err(Error::ShapeMismatch {
                what: format!("label fusion: atlas 1 and atlas {}", n + 1),
                a: first.dims(),
                b: a.dims(),
            });
        }
    }
    Ok(first.dims())
}
