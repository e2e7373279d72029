//! A registration in the form ITK and ANTs read: the affine as `PREFIX0GenericAffine.mat`
//! (the MATLAB v4 file antsRegistration writes) and the deformable part as
//! `PREFIX1Warp.nii.gz` and `PREFIX1InverseWarp.nii.gz` (NIfTI vector images on the fixed
//! grid). ITK works in LPS physical space: x and y point the other way from NIfTI's RAS, so
//! points, matrices and vectors are flipped on those two axes (`F = diag(−1, −1, 1)`).
//!
//! `antsApplyTransforms -r FIXED -i MOVING -t PREFIX1Warp.nii.gz -t PREFIX0GenericAffine.mat`
//! then maps a fixed point `p` to `T(p + d(p))` in the moving image, exactly as atlasperf
//! warps it; `-r MOVING -i FIXED -t [PREFIX0GenericAffine.mat,1] -t PREFIX1InverseWarp.nii.gz`
//! maps back.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::affine::AffineTransform;
use super::field::Field;
use crate::volume::{write_displacement, Geometry};
use crate::{Error, Result};

/// RAS ↔ LPS: flips x and y.
const FLIP: [f64; 3] = [-1.0, -1.0, 1.0];

/// The affine's ITK parameters in LPS space: the matrix (rows) and translation, then the
/// centre (ITK's fixed parameters). `T(p) = A (p − c) + c + t` in both spaces.
pub fn itk_affine_parameters(t: &AffineTransform) -> ([f64; 12], [f64; 3]) {
    let mut p = [0.0; 12];
    for r in 0..3 {
        for c in 0..3 {
            p[3 * r + c] = FLIP[r] * t.matrix[r][c] * FLIP[c];
        }
        p[9 + r] = FLIP[r] * t.translation[r];
    }
    (p, std::array::from_fn(|a| FLIP[a] * t.center[a]))
}

/// Writes the affine as a MATLAB v4 `.mat` file holding `AffineTransform_double_3_3` (12
/// parameters) and `fixed` (the centre), as ITK's `MatlabTransformIO` reads it.
///
/// # Errors
/// The file cannot be written.
pub fn write_itk_affine(path: &Path, t: &AffineTransform) -> Result<()> {
    let (params, fixed) = itk_affine_parameters(t);
    let mut bytes = Vec::new();
    matlab_v4_vector(&mut bytes, "AffineTransform_double_3_3", &params);
    matlab_v4_vector(&mut bytes, "fixed", &fixed);
    let tmp = path.with_extension("mat.tmp");
    std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::write(path, e))
}

/// One MATLAB v4 matrix: a column vector of little-endian doubles. The header is five
/// 32-bit integers: type (0 = little-endian, double, full numeric), rows, columns, no
/// imaginary part, and the name's length with its NUL.
fn matlab_v4_vector(out: &mut Vec<u8>, name: &str, values: &[f64]) {
    let header = [0, values.len() as i32, 1, 0, name.len() as i32 + 1];
    for v in header {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// `prefix` followed by `name`, as antsRegistration and `kernel register` name outputs
/// (`out/sub02_` + `1Warp.nii.gz`).
pub fn prefixed(prefix: &Path, name: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(name);
    PathBuf::from(s)
}

/// A field in voxels of `grid` as world displacement vectors: millimetres along the NIfTI
/// (RAS) axes, one component volume per axis.
pub fn world_displacement(field: &Field, grid: &Geometry) -> [Vec<f32>; 3] {
    let l = grid.linear();
    std::array::from_fn(|r| {
        (0..field.len())
            .into_par_iter()
            .map(|v| {
                let d = field.at(v);
                (l[r][0] * f64::from(d[0]) + l[r][1] * f64::from(d[1]) + l[r][2] * f64::from(d[2]))
                    as f32
            })
            .collect()
    })
}

/// A field in voxels of `grid` as ITK displacement vectors: LPS millimetres.
pub fn lps_displacement(field: &Field, grid: &Geometry) -> [Vec<f32>; 3] {
    let mut d = world_displacement(field, grid);
    for (comp, flip) in d.iter_mut().zip(FLIP) {
        if flip < 0.0 {
            comp.iter_mut().for_each(|v| *v = -*v);
        }
    }
    d
}

/// Writes a field as an ITK/ANTs warp (`PREFIX1Warp.nii.gz` or `PREFIX1InverseWarp.nii.gz`).
///
/// # Errors
/// The file cannot be written.
pub fn write_itk_warp(path: &Path, field: &Field, grid: &Geometry) -> Result<()> {
    write_displacement(path, &lps_displacement(field, grid), field.dims, grid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mat_file_has_two_matlab_v4_vectors_with_lps_parameters() {
        let t = AffineTransform {
            matrix: [[1.1, 0.2, 0.0], [0.0, 0.9, 0.3], [0.1, 0.0, 1.0]],
            translation: [1.0, 2.0, 3.0],
            center: [4.0, 5.0, 6.0],
        };
        let (p, c) = itk_affine_parameters(&t);
        // x and y rows and columns flip sign; the (x, y) block keeps it.
        assert_eq!(&p[..9], &[1.1, 0.2, -0.0, 0.0, 0.9, -0.3, -0.1, -0.0, 1.0]);
        assert_eq!(&p[9..], &[-1.0, -2.0, 3.0]);
        assert_eq!(c, [-4.0, -5.0, 6.0]);
        // The same point maps the same way in both spaces.
        let x = [7.0, -8.0, 9.0];
        let y = t.apply(x);
        let xl = [-x[0], -x[1], x[2]];
        let yl: Vec<f64> = (0..3)
            .map(|r| (0..3).map(|k| p[3 * r + k] * (xl[k] - c[k])).sum::<f64>() + c[r] + p[9 + r])
            .collect();
        for a in 0..3 {
            assert!((yl[a] - FLIP[a] * y[a]).abs() < 1e-12);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x0GenericAffine.mat");
        write_itk_affine(&path, &t).unwrap();
        let b = std::fs::read(&path).unwrap();
        let int = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(
            [int(0), int(4), int(8), int(12), int(16)],
            [0, 12, 1, 0, 27]
        );
        assert_eq!(&b[20..46], b"AffineTransform_double_3_3");
        let second = 20 + 27 + 12 * 8;
        assert_eq!(int(second + 4), 3);
        assert_eq!(&b[second + 20..second + 25], b"fixed");
        assert_eq!(b.len(), second + 20 + 6 + 3 * 8);
    }
}
