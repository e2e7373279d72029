//! The plain serial reference joint label fusion the fast one is checked against: every
//! candidate patch read and normalised explicitly.

use super::weights::{argmax, clamped, cube, normalise, voxel_weights, Scratch};
use super::{gather, JlfInputs, JlfParams};
use crate::Result;

/// Plain serial reference: for every voxel and atlas, every candidate patch read and
/// normalised explicitly and compared with the normalised target patch; weights from the best
/// ones; votes gathered over the patch as in [`joint_label_fusion`].
pub fn jlf_reference(inp: &JlfInputs<'_>, p: &JlfParams) -> Result<Vec<u16>> {
    jlf_reference_masked(inp, p, None)
}

/// [`jlf_reference`] with antsJointFusion's mask: voxels where it is 0 take label 0 and cast
/// no votes.
pub fn jlf_reference_masked(
    inp: &JlfInputs<'_>,
    p: &JlfParams,
    mask: Option<&[u16]>,
) -> Result<Vec<u16>> {
    inp.check()?;
    let inside = |v: usize| mask.is_none_or(|m| m[v] != 0);
    let dims = inp.dims;
    let [nx, ny, nz] = dims;
    let patch = cube(p.patch_radius);
    let search = cube(p.search_radius);
    let n = inp.images.len();
    let pn = patch.len();
    let mut sc = Scratch::new(pn, n);
    let mut t = vec![0.0; pn];
    let mut cand = vec![0.0; pn];
    let mut best = vec![[0isize; 3]; nx * ny * nz * n];
    let mut w = vec![0.0; nx * ny * nz * n];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let x = [i, j, k];
                let v = i + nx * (j + ny * k);
                if !inside(v) {
                    continue;
                }
                for (tv, o) in t.iter_mut().zip(&patch) {
                    *tv = f64::from(inp.target[clamped(dims, x, *o)]);
                }
                normalise(&mut t);
                for (a, img) in inp.images.iter().enumerate() {
                    let mut best_ssd = f64::INFINITY;
                    for s in &search {
                        for (c, o) in cand.iter_mut().zip(&patch) {
                            *c = f64::from(
                                img[clamped(dims, x, [o[0] + s[0], o[1] + s[1], o[2] + s[2]])],
                            );
                        }
                        normalise(&mut cand);
                        let ssd: f64 = t.iter().zip(&cand).map(|(u, c)| (u - c) * (u - c)).sum();
                        if ssd < best_ssd {
                            best_ssd = ssd;
                            best[v * n + a] = *s;
                        }
                    }
                }
                let offsets: Vec<[isize; 3]> = best[v * n..(v + 1) * n].to_vec();
                let read = |a: usize, o: [isize; 3]| f64::from(inp.images[a][clamped(dims, x, o)]);
                let wv = voxel_weights(inp, p, x, &patch, &offsets, &read, &mut sc);
                w[v * n..(v + 1) * n].copy_from_slice(&wv);
            }
        }
    }
    let mut out = Vec::with_capacity(nx * ny * nz);
    let mut votes = Vec::new();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                if !inside(i + nx * (j + ny * k)) {
                    out.push(0);
                    continue;
                }
                votes.clear();
                gather(
                    inp,
                    &patch,
                    [i, j, k],
                    |xv, a| (best[xv * n + a], w[xv * n + a]),
                    &mut votes,
                );
                out.push(argmax(&votes));
            }
        }
    }
    Ok(out)
}
