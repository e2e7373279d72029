//! Registration: affine (Mattes MI) followed by symmetric normalization (SyN), following
//! antsRegistration as Zhang et al. ran it (Avants et al., Med. Image Anal. 12(1), 2008).
//!
//! Building blocks live in their own files: sampling ([`interp`]), displacement fields
//! ([`field`]: compositive updates, fixed-point inversion, Jacobians) and image metrics
//! ([`cc`]: neighbourhood cross-correlation with box sums).

pub mod cc;
pub mod field;
pub mod interp;
pub mod syn;
