//! Multi-resolution pyramids as antsRegistration builds them: smooth the full-resolution
//! image with a Gaussian of σ (full-resolution voxels), then sample it on a grid shrunk by an
//! integer factor that spans the same voxel-centre extent.

use rayon::prelude::*;

use super::interp::trilinear;
use crate::filter::smooth;
use crate::volume::Geometry;

/// Grid of a level shrunk by `factor`.
pub fn level_dims(dims: [usize; 3], factor: usize) -> [usize; 3] {
    std::array::from_fn(|a| dims[a].div_ceil(factor.max(1)).max(1))
}

/// Full-resolution index per level index along each axis.
pub fn ratio(full: [usize; 3], dims: [usize; 3]) -> [f32; 3] {
    std::array::from_fn(|a| {
        if dims[a] > 1 {
            (full[a] - 1) as f32 / (dims[a] - 1) as f32
        } else {
            1.0
        }
    })
}

/// Geometry of a level grid: the full geometry with its index axes stretched by the ratio.
pub fn level_geometry(g: &Geometry, full: [usize; 3], dims: [usize; 3]) -> Geometry {
    let r = ratio(full, dims);
    let mut out = g.clone();
    for row in &mut out.affine {
        for c in 0..3 {
            row[c] *= f64::from(r[c]);
        }
    }
    out
}

/// Smooths `full` with `sigma` (voxels) and samples it on a `dims` grid spanning the same
/// voxel-centre extent.
pub fn downsample(full: &[f32], full_dims: [usize; 3], sigma: f32, dims: [usize; 3]) -> Vec<f32> {
    let mut s = full.to_vec();
    smooth(&mut s, full_dims, [sigma; 3]);
    if dims == full_dims {
        return s;
    }
    let ratio = ratio(full_dims, dims);
    let [nx, ny, _] = dims;
    let mut out = vec![0.0; dims.iter().product()];
    out.par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slab)| {
            for j in 0..ny {
                for i in 0..nx {
                    slab[i + nx * j] = trilinear(
                        &s,
                        full_dims,
                        [
                            i as f32 * ratio[0],
                            j as f32 * ratio[1],
                            k as f32 * ratio[2],
                        ],
                    );
                }
            }
        });
    out
}
