//! NIfTI headers checked before any voxel is read: datatype against bitpix, vox_offset against
//! the data's start, dimensions (3-D only), and the geometry from the qform or sform. Every
//! refusal names the file and the field.

use std::path::Path;

use ndarray::{Array3, Axis, Ix3};
use nifti::NiftiHeader;

use super::READABLE;
use crate::volume::qform::qform_geometry;
use crate::volume::Geometry;
use crate::{Error, Result};

/// The `bitpix` that goes with each readable datatype.
pub(super) fn bits_of(datatype: i16) -> Option<i16> {
    Some(match datatype {
        2 | 256 => 8,
        4 | 512 => 16,
        8 | 16 | 768 => 32,
        64 => 64,
        _ => return None,
    })
}

/// In a single-file NIfTI the voxel data start right after the header (348 bytes), the
/// 4-byte extender and the extensions. The `nifti` crate reads them from there whatever
/// `vox_offset` says, so a header whose `vox_offset` says otherwise is refused rather than
/// read from the wrong place.
pub(super) fn check_vox_offset(
    path: &Path,
    h: &NiftiHeader,
    extensions: &nifti::extension::ExtensionSequence,
) -> Result<()> {
    if &h.magic != b"n+1\0" {
        return Ok(());
    }
    let start = 352 + extensions.bytes_on_disk();
    let offset = h.vox_offset;
    if !(offset.is_finite() && offset.fract() == 0.0 && offset as usize == start) {
        return Err(Error::Header {
            path: path.to_owned(),
            field: "vox_offset",
            problem: format!(
                "{offset} but the voxel data start at byte {start} (348-byte header, 4-byte extender, {} bytes of extensions)",
                start - 352
            ),
        });
    }
    Ok(())
}

/// Validates what the `nifti` crate leaves to us: rank, a 3-D shape, datatype and bitpix.
pub(super) fn check_header(path: &Path, h: &NiftiHeader) -> Result<[usize; 3]> {
    let bad = |field: &'static str, problem: String| Error::Header {
        path: path.to_owned(),
        field,
        problem,
    };
    let rank = h.dim[0] as usize;
    if !(1..=7).contains(&rank) {
        return Err(bad(
            "dim",
            format!("dim[0] = {} is not a rank in 1..=7", h.dim[0]),
        ));
    }
    let extra: Vec<u16> = h.dim[4..=rank.max(3)].to_vec();
    if extra.iter().any(|&d| d > 1) {
        return Err(bad(
            "dim",
            format!(
                "{rank}-D volume {:?}; a single 3-D volume is needed",
                &h.dim[1..=rank]
            ),
        ));
    }
    let dims: [usize; 3] =
        std::array::from_fn(|a| if a < rank { h.dim[a + 1] as usize } else { 1 });
    if dims.contains(&0) {
        return Err(bad("dim", format!("zero-length axis in {dims:?}")));
    }
    if dims.contains(&1) {
        return Err(bad(
            "dim",
            format!(
                "{dims:?} is a 2-D image (an axis of length 1); registration, fusion and Dice need a 3-D volume"
            ),
        ));
    }
    if !READABLE.iter().any(|(c, _)| *c == h.datatype) {
        let names: Vec<&str> = READABLE.iter().map(|(_, n)| *n).collect();
        return Err(bad(
            "datatype",
            format!(
                "code {} is not supported (supported: {})",
                h.datatype,
                names.join(", ")
            ),
        ));
    }
    if let Some(bits) = bits_of(h.datatype).filter(|&b| b != h.bitpix) {
        return Err(bad(
            "bitpix",
            format!(
                "{} contradicts datatype {} ({bits} bits per voxel)",
                h.bitpix, h.datatype
            ),
        ));
    }
    Ok(dims)
}

pub(super) fn to_3d<T: Clone + Default>(
    path: &Path,
    array: ndarray::ArrayD<T>,
    dims: [usize; 3],
) -> Result<Array3<T>> {
    let n = array.len();
    let mut a = array;
    while a.ndim() > 3 {
        let last = Axis(a.ndim() - 1);
        a = a.index_axis_move(last, 0);
    }
    while a.ndim() < 3 {
        let end = Axis(a.ndim());
        a = a.insert_axis(end);
    }
    let a = a.into_dimensionality::<Ix3>().map_err(|_| Error::Header {
        path: path.to_owned(),
        field: "dim",
        problem: format!("{n} voxels do not form a {dims:?} volume"),
    })?;
    // Callers wrap this in `Volume::from_array`, which guarantees Fortran order.
    Ok(a)
}

pub(super) fn nifti_error(path: &Path, e: nifti::NiftiError) -> Error {
    match e {
        nifti::NiftiError::IncompatibleLength(found, expected) => Error::Truncated {
            path: path.to_owned(),
            expected: expected as u64,
            found: found as u64,
        },
        nifti::NiftiError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Error::Io {
            path: path.to_owned(),
            error: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("truncated file: it ends before the header or voxel data do ({io})"),
            ),
        },
        nifti::NiftiError::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
            ) =>
        {
            Error::Io {
                path: path.to_owned(),
                error: std::io::Error::new(
                    io.kind(),
                    format!("not a NIfTI-1 file, or a corrupt .gz stream ({io})"),
                ),
            }
        }
        nifti::NiftiError::Io(io) => Error::io(path, io),
        other => Error::Nifti {
            path: path.to_owned(),
            error: other,
        },
    }
}

pub(super) fn geometry_from_header(path: &Path, h: &NiftiHeader) -> Result<Geometry> {
    let geometry = if h.sform_code > 0 {
        let r = |row: [f32; 4]| row.map(f64::from);
        Geometry {
            affine: [r(h.srow_x), r(h.srow_y), r(h.srow_z)],
        }
    } else if h.qform_code > 0 {
        qform_geometry(h)
    } else {
        Geometry::from_spacing_origin(
            [h.pixdim[1], h.pixdim[2], h.pixdim[3]].map(|s| f64::from(s.abs())),
            [0.0; 3],
        )
    };
    if geometry
        .spacing()
        .iter()
        .any(|s| !(s.is_finite() && *s > 0.0))
        || geometry.world_to_index([0.0; 3]).is_none()
    {
        let field = if h.sform_code > 0 {
            "srow_x/srow_y/srow_z"
        } else {
            "pixdim"
        };
        return Err(Error::Header {
            path: path.to_owned(),
            field,
            problem: format!(
                "voxel-to-world affine {:?} is singular or not finite",
                geometry.affine
            ),
        });
    }
    Ok(geometry)
}
