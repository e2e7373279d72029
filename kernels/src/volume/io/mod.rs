//! NIfTI-1 reading and writing (`.nii`, `.nii.gz`) through the `nifti` crate.
//!
//! Geometry follows the NIfTI-1 rules as nibabel and ITK read them: the sform when
//! `sform_code > 0`, else the qform (quaternion) when `qform_code > 0`, else the voxel sizes
//! alone (ANALYZE "method 1"). Writing stores the affine in the sform (code 1, scanner) and,
//! when the direction part is orthonormal, the same transform in the qform, so that tools that
//! prefer either one place the image identically. Files are written to a temporary name and
//! renamed, so a crash never leaves a half-written image under the final name.

use std::path::{Path, PathBuf};

use ndarray::{Array3, ShapeBuilder};
use nifti::{DataElement, IntoNdArray, NiftiHeader, NiftiObject, ReaderOptions};

use super::qform::qform_params;
use super::{Geometry, LabelVolume, Volume};
use crate::{Error, Result};

mod header;
use header::{check_header, check_vox_offset, geometry_from_header, nifti_error, to_3d};

/// Voxel data types a volume can be written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskType {
    /// NIFTI_TYPE_UINT8 (2).
    U8,
    /// NIFTI_TYPE_INT16 (4).
    I16,
    /// NIFTI_TYPE_INT32 (8).
    I32,
    /// NIFTI_TYPE_FLOAT32 (16).
    F32,
    /// NIFTI_TYPE_FLOAT64 (64).
    F64,
    /// NIFTI_TYPE_UINT16 (512).
    U16,
}

impl DiskType {
    /// The NIfTI `datatype` code.
    pub fn code(self) -> i16 {
        match self {
            DiskType::U8 => 2,
            DiskType::I16 => 4,
            DiskType::I32 => 8,
            DiskType::F32 => 16,
            DiskType::F64 => 64,
            DiskType::U16 => 512,
        }
    }

    fn representable(self, v: f32) -> bool {
        let int_in = |lo: f64, hi: f64| v.fract() == 0.0 && (v as f64) >= lo && (v as f64) <= hi;
        match self {
            DiskType::U8 => int_in(0.0, 255.0),
            DiskType::I16 => int_in(-32768.0, 32767.0),
            DiskType::U16 => int_in(0.0, 65535.0),
            DiskType::I32 => int_in(-2147483648.0, 2147483647.0),
            DiskType::F32 | DiskType::F64 => true,
        }
    }
}

/// Datatypes accepted on input: the common integer and float scalar types.
const READABLE: &[(i16, &str)] = &[
    (2, "uint8"),
    (4, "int16"),
    (8, "int32"),
    (16, "float32"),
    (64, "float64"),
    (256, "int8"),
    (512, "uint16"),
    (768, "uint32"),
];

/// Reads a scalar 3-D image as f32 (after `scl_slope`/`scl_inter` scaling).
///
/// # Errors
/// The file cannot be opened or parsed, is truncated, is not 3-D, or has an unsupported
/// datatype or unusable geometry; every error names the file.
pub fn read_image(path: &Path) -> Result<Volume<f32>> {
    let (header, data) = read_raw::<f32>(path)?;
    let geometry = geometry_from_header(path, &header)?;
    let count = data.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        // The first in file order (i fastest).
        let [nx, ny, nz] = [data.dim().0, data.dim().1, data.dim().2];
        let first = (0..nz)
            .flat_map(|k| (0..ny).flat_map(move |j| (0..nx).map(move |i| [i, j, k])))
            .find(|&[i, j, k]| !data[[i, j, k]].is_finite())
            .unwrap_or([0; 3]);
        return Err(Error::NotFinite {
            path: path.to_owned(),
            count,
            first,
        });
    }
    Ok(Volume::from_array(data, geometry))
}

/// Reads a label map: every voxel must hold an integer in `0..=65535`.
///
/// # Errors
/// As [`read_image`], plus [`Error::NotALabel`] for values that are not labels.
pub fn read_labels(path: &Path) -> Result<LabelVolume> {
    let (header, data) = read_raw::<f64>(path)?;
    let geometry = geometry_from_header(path, &header)?;
    let mut out = Array3::<u16>::zeros(data.raw_dim().f());
    for (o, &v) in out.iter_mut().zip(data.iter()) {
        if v.fract() != 0.0 || !(0.0..=65535.0).contains(&v) {
            return Err(Error::NotALabel {
                path: path.to_owned(),
                value: v,
            });
        }
        *o = v as u16;
    }
    Ok(Volume::from_array(out, geometry))
}

/// Writes an image as float32.
///
/// # Errors
/// The file cannot be created or written.
pub fn write_image(path: &Path, volume: &Volume<f32>) -> Result<()> {
    write_typed(path, volume.array(), volume.geometry())
}

/// Writes an image converting voxels to `disk` type; fails if a value is not representable.
///
/// # Errors
/// A voxel value does not fit the type, or the file cannot be written.
pub fn write_image_as(path: &Path, volume: &Volume<f32>, disk: DiskType) -> Result<()> {
    if let Some(bad) = volume.as_slice().iter().find(|v| !disk.representable(**v)) {
        return Err(Error::InvalidParameter(format!(
            "{}: value {bad} cannot be stored as {disk:?}",
            path.display()
        )));
    }
    let g = volume.geometry();
    let a = volume.array();
    match disk {
        DiskType::U8 => write_typed(path, &a.mapv(|v| v as u8), g),
        DiskType::I16 => write_typed(path, &a.mapv(|v| v as i16), g),
        DiskType::U16 => write_typed(path, &a.mapv(|v| v as u16), g),
        DiskType::I32 => write_typed(path, &a.mapv(|v| v as i32), g),
        DiskType::F32 => write_typed(path, a, g),
        DiskType::F64 => write_typed(path, &a.mapv(f64::from), g),
    }
}

/// Writes a label map as uint16.
///
/// # Errors
/// The file cannot be created or written.
pub fn write_labels(path: &Path, volume: &LabelVolume) -> Result<()> {
    write_typed(path, volume.array(), volume.geometry())
}

fn read_raw<T>(path: &Path) -> Result<(NiftiHeader, Array3<T>)>
where
    T: DataElement + Clone + Default,
{
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("is a directory, expected a .nii or .nii.gz file"),
        ));
    }
    // Check the header before the crate allocates and converts the voxel data.
    let header = NiftiHeader::from_file(path).map_err(|e| nifti_error(path, e))?;
    let dims = check_header(path, &header)?;
    // An uncompressed file must hold what its header announces: checked before the reader
    // reserves memory for it.
    if path.extension().is_none_or(|e| e != "gz") && &header.magic == b"n+1\0" {
        let voxels: u64 = dims.iter().map(|&d| d as u64).product();
        let expected = voxels.saturating_mul(u64::from(header.bitpix.unsigned_abs()) / 8);
        let found = meta.len().saturating_sub(header.vox_offset.max(0.0) as u64);
        if expected > found {
            return Err(Error::Truncated {
                path: path.to_owned(),
                expected,
                found,
            });
        }
    }
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| nifti_error(path, e))?;
    check_vox_offset(path, &header, obj.extensions())?;
    let array = obj
        .into_volume()
        .into_ndarray::<T>()
        .map_err(|e| nifti_error(path, e))?;
    let array = to_3d(path, array, dims)?;
    Ok((header, array))
}

fn header_for(dims: [usize; 3], g: &Geometry) -> NiftiHeader {
    let mut h = NiftiHeader::default();
    let row = |r: usize| g.affine[r].map(|v| v as f32);
    h.srow_x = row(0);
    h.srow_y = row(1);
    h.srow_z = row(2);
    h.sform_code = 1;
    let s = g.spacing();
    h.pixdim = [
        1.0,
        s[0] as f32,
        s[1] as f32,
        s[2] as f32,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    h.dim = [
        3,
        dims[0] as u16,
        dims[1] as u16,
        dims[2] as u16,
        1,
        1,
        1,
        1,
    ];
    h.xyzt_units = 2; // millimetres
    match qform_params(g) {
        Some(([b, c, d], qfac)) => {
            h.qform_code = 1;
            (h.quatern_b, h.quatern_c, h.quatern_d) = (b, c, d);
            [h.quatern_x, h.quatern_y, h.quatern_z] = g.origin().map(|v| v as f32);
            h.pixdim[0] = qfac;
        }
        None => h.qform_code = 0,
    }
    let mut descrip = b"atlasperf".to_vec();
    descrip.resize(80, 0);
    h.descrip = descrip;
    h
}

fn write_typed<T>(path: &Path, data: &Array3<T>, g: &Geometry) -> Result<()>
where
    T: DataElement + bytemuck::Pod,
{
    let d = data.dim();
    write_array(path, data, [d.0, d.1, d.2], g, 0)
}

/// Writes a displacement field as a NIfTI vector image of shape (nx, ny, nz, 1, 3), float32,
/// intent NIFTI_INTENT_VECTOR (1007) — the layout ITK and ANTs use for warp fields. The
/// vectors are world-space millimetres along the NIfTI (RAS) axes.
///
/// # Errors
/// Component lengths that do not match `dims`, or the file cannot be written.
pub fn write_displacement(
    path: &Path,
    components: &[Vec<f32>; 3],
    dims: [usize; 3],
    g: &Geometry,
) -> Result<()> {
    let n: usize = dims.iter().product();
    if components.iter().any(|c| c.len() != n) {
        return Err(Error::InvalidParameter(format!(
            "{}: displacement components do not match a {dims:?} grid",
            path.display()
        )));
    }
    let flat: Vec<f32> = components.concat();
    let array = ndarray::Array::from_shape_vec(
        ndarray::IxDyn(&[dims[0], dims[1], dims[2], 1, 3]).f(),
        flat,
    )
    .map_err(|e| Error::InvalidParameter(format!("{}: {e}", path.display())))?;
    write_array(path, &array, dims, g, 1007)
}

fn write_array<T, D>(
    path: &Path,
    data: &ndarray::Array<T, D>,
    dims: [usize; 3],
    g: &Geometry,
    intent: i16,
) -> Result<()>
where
    T: DataElement + bytemuck::Pod,
    D: ndarray::Dimension + ndarray::RemoveAxis,
{
    if dims.iter().any(|&n| n == 0 || n > u16::MAX as usize) {
        return Err(Error::InvalidParameter(format!(
            "{}: cannot write a {dims:?} volume as NIfTI-1 (each axis must be 1..=65535)",
            path.display()
        )));
    }
    let mut header = header_for(dims, g);
    header.intent_code = intent;
    let tmp = temp_path(path);
    nifti::writer::WriterOptions::new(&tmp)
        .reference_header(&header)
        .write_nifti(data)
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            match e {
                nifti::NiftiError::Io(io) => Error::write(path, io),
                other => Error::Nifti {
                    path: path.to_owned(),
                    error: other,
                },
            }
        })?;
    std::fs::rename(&tmp, path).map_err(|e| Error::write(path, e))
}

/// A sibling temporary name that keeps the `.nii`/`.nii.gz` ending the writer looks at. The
/// `nifti` writer rebuilds the extension from the last dot, so the stem must have no dots.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, ext) = match name.strip_suffix(".nii.gz") {
        Some(stem) => (stem.to_owned(), "nii.gz"),
        None => (name.strip_suffix(".nii").unwrap_or(&name).to_owned(), "nii"),
    };
    let stem = stem.replace('.', "_");
    path.with_file_name(format!("{stem}-{}-partial.{ext}", std::process::id()))
}

#[cfg(test)]
mod tests;
