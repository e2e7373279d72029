//! Volumes: a 3-D array of voxels together with the geometry that places it in the world.
//!
//! # Memory order
//! Voxel `(i, j, k)` (NIfTI index order) is stored at `i + nx * (j + ny * k)`: `i` varies
//! fastest, exactly as on disk in a NIfTI file (Fortran / column-major order). The `ndarray`
//! view is indexed `[i, j, k]` with Fortran strides; hot kernels work on the flat slice
//! returned by [`Volume::as_slice`] and compute offsets with [`Volume::offset`].

pub mod geometry;
mod io;
mod qform;

pub use geometry::Geometry;
pub use io::{
    read_image, read_labels, write_displacement, write_image, write_image_as, write_labels,
    DiskType,
};

use ndarray::{Array3, ShapeBuilder};

/// A 3-D image with its voxel-to-world geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    data: Array3<T>,
    geometry: Geometry,
}

/// An integer label map (segmentation); label 0 is background.
pub type LabelVolume = Volume<u16>;

impl<T: Clone + Default> Volume<T> {
    /// A volume of `dims` voxels filled with `T::default()`.
    pub fn zeros(dims: [usize; 3], geometry: Geometry) -> Self {
        Volume {
            data: Array3::from_elem(dims.f(), T::default()),
            geometry,
        }
    }

    /// Builds a volume from a flat buffer in the documented memory order (`i` fastest).
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] when `data.len()` is not the product of `dims`.
    pub fn from_vec(dims: [usize; 3], data: Vec<T>, geometry: Geometry) -> crate::Result<Self> {
        let len = data.len();
        let data = Array3::from_shape_vec(dims.f(), data).map_err(|_| {
            crate::Error::InvalidParameter(format!(
                "buffer of {len} voxels does not fit a {dims:?} volume"
            ))
        })?;
        Ok(Volume { data, geometry })
    }

    /// Wraps an array, copying it into Fortran order if it is not already.
    pub fn from_array(array: Array3<T>, geometry: Geometry) -> Self {
        let data = if array.t().is_standard_layout() {
            array
        } else {
            let mut f = Array3::from_elem(array.raw_dim().f(), T::default());
            f.assign(&array);
            f
        };
        Volume { data, geometry }
    }

    /// A volume on the same grid as `self`, filled with `value`.
    pub fn same_grid<U: Clone>(&self, value: U) -> Volume<U> {
        Volume {
            data: Array3::from_elem(self.data.raw_dim().f(), value),
            geometry: self.geometry.clone(),
        }
    }
}

/// How far two affines may differ (mm, per entry) and still be one grid: NIfTI stores them
/// in f32.
pub const GRID_TOLERANCE_MM: f64 = 1e-3;

impl<T> Volume<T> {
    /// Number of voxels along i, j, k.
    pub fn dims(&self) -> [usize; 3] {
        let d = self.data.dim();
        [d.0, d.1, d.2]
    }

    /// Total number of voxels.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the volume has no voxels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Flat offset of voxel `(i, j, k)` in [`Volume::as_slice`].
    #[inline]
    pub fn offset(&self, i: usize, j: usize, k: usize) -> usize {
        let [nx, ny, _] = self.dims();
        i + nx * (j + ny * k)
    }

    /// The voxels in memory order (`i` fastest).
    pub fn as_slice(&self) -> &[T] {
        // Invariant: every constructor stores Fortran-contiguous data.
        self.data.as_slice_memory_order().unwrap_or(&[])
    }

    /// The voxels in memory order, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data.as_slice_memory_order_mut().unwrap_or(&mut [])
    }

    /// The array view, indexed `[i, j, k]`.
    pub fn array(&self) -> &Array3<T> {
        &self.data
    }

    /// Voxel-to-world geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// True when `other` lies on this volume's grid: the same shape and the same affine
    /// within [`GRID_TOLERANCE_MM`], so one voxel index is one place in both.
    pub fn on_grid_of<U>(&self, other: &Volume<U>) -> bool {
        self.dims() == other.dims() && self.geometry.approx_eq(other.geometry(), GRID_TOLERANCE_MM)
    }

    /// The grid in words, for messages: shape, spacing and origin.
    pub fn grid_text(&self) -> String {
        format!(
            "{:?} (spacing {:?} mm, origin {:?})",
            self.dims(),
            self.geometry.spacing(),
            self.geometry.origin()
        )
    }

    /// Replaces the geometry (the voxels are unchanged).
    pub fn set_geometry(&mut self, geometry: Geometry) {
        self.geometry = geometry;
    }

    /// Applies `f` to every voxel, keeping the geometry.
    pub fn map<U: Clone + Default>(&self, f: impl Fn(&T) -> U) -> Volume<U> {
        Volume::from_array(self.data.map(f), self.geometry.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_order_is_i_fastest() {
        let data: Vec<u16> = (0..24).collect();
        let v = Volume::from_vec([2, 3, 4], data, Geometry::identity()).unwrap();
        assert_eq!(v.array()[[1, 0, 0]], 1);
        assert_eq!(v.array()[[0, 1, 0]], 2);
        assert_eq!(v.array()[[0, 0, 1]], 6);
        assert_eq!(v.offset(1, 2, 3), 1 + 2 * 2 + 3 * 6);
        assert_eq!(v.as_slice()[v.offset(1, 2, 3)], v.array()[[1, 2, 3]]);
    }

    #[test]
    fn from_array_normalises_c_order() {
        let c = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as f32);
        let v = Volume::from_array(c.clone(), Geometry::identity());
        assert_eq!(v.array(), &c);
        assert_eq!(v.as_slice()[v.offset(1, 2, 3)], 123.0);
        assert_eq!(v.as_slice().len(), 24);
    }

    #[test]
    fn from_vec_rejects_wrong_length() {
        assert!(Volume::from_vec([2, 2, 2], vec![0f32; 7], Geometry::identity()).is_err());
    }
}
