//! Voxel-to-world geometry: the NIfTI affine (sform), in millimetres, RAS+ world axes as NIfTI
//! defines them.

use serde::{Deserialize, Serialize};

/// Maps voxel indices `(i, j, k)` to world coordinates `(x, y, z)` in mm:
/// `world = A · [i, j, k, 1]ᵀ` with `A` the 3×4 matrix of the NIfTI sform rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Rows `srow_x`, `srow_y`, `srow_z` of the affine.
    pub affine: [[f64; 4]; 3],
}

impl Geometry {
    /// Identity: 1 mm isotropic voxels, origin at voxel 0.
    pub fn identity() -> Self {
        Self::from_spacing_origin([1.0; 3], [0.0; 3])
    }

    /// Axis-aligned geometry with the given voxel spacing and the world position of voxel 0.
    pub fn from_spacing_origin(spacing: [f64; 3], origin: [f64; 3]) -> Self {
        let mut affine = [[0.0; 4]; 3];
        for r in 0..3 {
            affine[r][r] = spacing[r];
            affine[r][3] = origin[r];
        }
        Geometry { affine }
    }

    /// Geometry whose voxel centres are centred on the world origin.
    pub fn centered(dims: [usize; 3], spacing: [f64; 3]) -> Self {
        let origin = std::array::from_fn(|a| -0.5 * (dims[a] as f64 - 1.0) * spacing[a]);
        Self::from_spacing_origin(spacing, origin)
    }

    /// Voxel size along each index axis (norm of the affine's columns), mm.
    pub fn spacing(&self) -> [f64; 3] {
        std::array::from_fn(|c| {
            (0..3)
                .map(|r| self.affine[r][c] * self.affine[r][c])
                .sum::<f64>()
                .sqrt()
        })
    }

    /// World position of voxel (0, 0, 0), mm.
    pub fn origin(&self) -> [f64; 3] {
        std::array::from_fn(|r| self.affine[r][3])
    }

    /// Unit direction of each index axis in world space; `direction()[c]` is axis `c`.
    pub fn direction(&self) -> [[f64; 3]; 3] {
        let s = self.spacing();
        std::array::from_fn(|c| std::array::from_fn(|r| self.affine[r][c] / s[c]))
    }

    /// World coordinates of a (possibly fractional) voxel index.
    pub fn index_to_world(&self, ijk: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|r| {
            self.affine[r][0] * ijk[0]
                + self.affine[r][1] * ijk[1]
                + self.affine[r][2] * ijk[2]
                + self.affine[r][3]
        })
    }

    /// Continuous voxel index of a world point; `None` when the affine is singular.
    pub fn world_to_index(&self, xyz: [f64; 3]) -> Option<[f64; 3]> {
        let inv = invert3(self.linear())?;
        let d: [f64; 3] = std::array::from_fn(|r| xyz[r] - self.affine[r][3]);
        Some(std::array::from_fn(|r| {
            inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2]
        }))
    }

    /// The 3×3 linear part (direction × spacing).
    pub fn linear(&self) -> [[f64; 3]; 3] {
        std::array::from_fn(|r| std::array::from_fn(|c| self.affine[r][c]))
    }

    /// True when the two geometries agree within `tol` mm on every affine entry.
    pub fn approx_eq(&self, other: &Geometry, tol: f64) -> bool {
        self.affine
            .iter()
            .flatten()
            .zip(other.affine.iter().flatten())
            .all(|(a, b)| (a - b).abs() <= tol)
    }

    /// Volume of one voxel, mm³.
    pub fn voxel_volume(&self) -> f64 {
        det3(self.linear()).abs()
    }
}

/// Determinant of a 3×3 matrix.
pub fn det3(m: [[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Inverse of a 3×3 matrix; `None` when singular.
pub fn invert3(m: [[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = det3(m);
    if det.abs() < 1e-12 {
        return None;
    }
    let c =
        |r0: usize, c0: usize, r1: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    Some([
        [
            c(1, 1, 2, 2) / det,
            -c(0, 1, 2, 2) / det,
            c(0, 1, 1, 2) / det,
        ],
        [
            -c(1, 0, 2, 2) / det,
            c(0, 0, 2, 2) / det,
            -c(0, 0, 1, 2) / det,
        ],
        [
            c(1, 0, 2, 1) / det,
            -c(0, 0, 2, 1) / det,
            c(0, 0, 1, 1) / det,
        ],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_index_round_trip() {
        let g = Geometry {
            affine: [
                [0.0, -2.0, 0.0, 10.0],
                [1.5, 0.0, 0.0, -4.0],
                [0.0, 0.0, 3.0, 7.0],
            ],
        };
        let p = [1.25, 2.5, -3.0];
        let w = g.index_to_world(p);
        let back = g.world_to_index(w).unwrap();
        for a in 0..3 {
            assert!((back[a] - p[a]).abs() < 1e-12);
        }
        assert_eq!(g.spacing(), [1.5, 2.0, 3.0]);
        assert!((g.voxel_volume() - 9.0).abs() < 1e-12);
    }

    #[test]
    fn centered_geometry_puts_centre_at_origin() {
        let g = Geometry::centered([5, 7, 9], [2.0, 2.0, 2.0]);
        assert_eq!(g.index_to_world([2.0, 3.0, 4.0]), [0.0, 0.0, 0.0]);
    }
}
