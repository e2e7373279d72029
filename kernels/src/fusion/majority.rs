//! Majority voting: each voxel takes the label most atlases give it; ties go to the smallest
//! label, so the result does not depend on the atlas order. Memory is O(voxels × atlases):
//! only the inputs and the output are whole volumes.

use rayon::prelude::*;

use super::check_grids;
use crate::volume::LabelVolume;
use crate::Result;

/// Majority vote over atlases on one grid.
///
/// # Errors
/// No atlas, or atlases on different grids.
pub fn majority_vote(atlases: &[&LabelVolume]) -> Result<LabelVolume> {
    let dims = check_grids(atlases)?;
    let mut out = atlases[0].same_grid(0u16);
    let [nx, ny, _] = dims;
    out.as_mut_slice()
        .par_chunks_mut(nx * ny)
        .enumerate()
        .for_each_init(Vec::new, |votes: &mut Vec<(u16, u32)>, (k, slab)| {
            for (o, seg) in slab.iter_mut().enumerate() {
                let v = o + k * nx * ny;
                votes.clear();
                for a in atlases {
                    let l = a.as_slice()[v];
                    match votes.iter_mut().find(|(label, _)| *label == l) {
                        Some((_, c)) => *c += 1,
                        None => votes.push((l, 1)),
                    }
                }
                *seg = votes
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map_or(0, |(l, _)| *l);
            }
        });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Geometry;

    fn vol(v: &[u16]) -> LabelVolume {
        LabelVolume::from_vec([v.len(), 1, 1], v.to_vec(), Geometry::identity()).unwrap()
    }

    #[test]
    fn majority_and_ties() {
        let a = vol(&[1, 2, 3, 0, 5]);
        let b = vol(&[1, 2, 4, 7, 6]);
        let c = vol(&[2, 3, 4, 7, 7]);
        let fused = majority_vote(&[&a, &b, &c]).unwrap();
        // Voxel 4 is a three-way tie (5, 6, 7): the smallest label wins.
        assert_eq!(fused.as_slice(), &[1, 2, 4, 7, 5]);
        // Order of atlases does not matter.
        assert_eq!(majority_vote(&[&c, &a, &b]).unwrap(), fused);
    }

    #[test]
    fn grid_mismatch_and_no_atlas_are_errors() {
        let a = vol(&[1, 2]);
        let b = vol(&[1, 2, 3]);
        let e = majority_vote(&[&a, &b]).unwrap_err().to_string();
        assert!(e.contains("atlas 2"), "{e}");
        assert!(majority_vote(&[]).is_err());
    }

    #[test]
    fn parallel_equals_serial() {
        let atlases: Vec<LabelVolume> = (0..5u16)
            .map(|s| {
                let data: Vec<u16> = (0..30 * 20 * 10)
                    .map(|n| ((n as u16).wrapping_mul(7 + s) >> 3) % 6)
                    .collect();
                LabelVolume::from_vec([30, 20, 10], data, Geometry::identity()).unwrap()
            })
            .collect();
        let refs: Vec<&LabelVolume> = atlases.iter().collect();
        let run = |t| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| majority_vote(&refs).unwrap())
        };
        assert_eq!(run(1), run(2));
    }
}
