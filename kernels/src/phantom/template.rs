//! Cohorts from a real brain MRI template: the same subject model as the analytic phantom
//! (a random smooth diffeomorphism, a bias field, Rician noise), applied to real anatomy.
//!
//! The template is three co-registered volumes in one folder: `t1.nii.gz` (a T1-weighted
//! head), `gm.nii.gz` and `wm.nii.gz` (grey- and white-matter probability maps, any positive
//! scale). `scripts/fetch-template.sh` writes them from the MNI ICBM 2009a template that the
//! nilearn wheel on PyPI carries. Labels are 32 regions: grey or white matter (whichever
//! probability is larger, where the two sum to at least half their peak) × hemisphere × four
//! anterior–posterior bands × inferior/superior, all decided in the template's world space,
//! so a label follows the anatomy through each subject's warp. Skull, scalp, cerebrospinal
//! fluid and the real cortical folding stay in the image, unlabelled.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{scan, PhantomSpec, Subject};
use crate::dataset::LabelName;
use crate::filter::smooth;
use crate::registration::interp::{inside, trilinear};
use crate::volume::{read_image, Geometry, LabelVolume, Volume};
use crate::{Error, Result};

/// The template's files, in the order [`Template::load`] reads them.
pub const FILES: [&str; 3] = ["t1.nii.gz", "gm.nii.gz", "wm.nii.gz"];

/// Margin around the head's bounding box, mm.
const MARGIN_MM: f64 = 4.0;

/// Boundaries of the anterior–posterior bands along the template's y axis, mm.
const Y_BANDS: [f64; 3] = [-55.0, -20.0, 15.0];
/// Boundary between the inferior and superior halves along z, mm.
const Z_SPLIT: f64 = 10.0;
const BAND_NAMES: [&str; 4] = ["occipital", "parietal", "central", "frontal"];

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// The folder it came from.
    pub dir: PathBuf,
    t1: Volume<f32>,
    gm: Volume<f32>,
    wm: Volume<f32>,
}

impl Template {
    /// Reads [`FILES`] from `dir`.
    ///
    /// # Errors
    /// A missing or unreadable file (named), or maps not on the T1's grid.
    pub fn load(dir: &Path) -> Result<Template> {
        let [t1, gm, wm] = FILES.map(|f| read_image(&dir.join(f)));
        let (t1, gm, wm) = (t1?, gm?, wm?);
        for (f, v) in FILES[1..].iter().zip([&gm, &wm]) {
            if !v.on_grid_of(&t1) {
                return Err(Error::InvalidParameter(format!(
                    "{}: not on the grid of {} ({} vs {})",
                    dir.join(f).display(),
                    dir.join(FILES[0]).display(),
                    v.grid_text(),
                    t1.grid_text()
                )));
            }
        }
        Ok(Template {
            dir: dir.to_owned(),
            t1,
            gm,
            wm,
        })
    }

    /// The head's bounding box (voxels brighter than 10 % of the T1's peak) in world mm,
    /// lower and upper corners.
    fn head_box(&self) -> Result<([f64; 3], [f64; 3])> {
        let data = self.t1.as_slice();
        let peak = data.iter().copied().fold(0.0f32, f32::max);
        let [nx, ny, _] = self.t1.dims();
        let (mut lo, mut hi) = ([f64::MAX; 3], [f64::MIN; 3]);
        for (n, _) in data.iter().enumerate().filter(|(_, &v)| v > 0.1 * peak) {
            let ijk = [n % nx, (n / nx) % ny, n / (nx * ny)].map(|v| v as f64);
            let w = self.t1.geometry().index_to_world(ijk);
            for a in 0..3 {
                lo[a] = lo[a].min(w[a]);
                hi[a] = hi[a].max(w[a]);
            }
        }
        if lo[0] > hi[0] {
            return Err(Error::InvalidParameter(format!(
                "{}: the image is empty (no voxel above 10 % of its peak)",
                self.dir.join(FILES[0]).display()
            )));
        }
        Ok((lo, hi))
    }

    /// The 32 label values and names.
    pub fn label_names() -> Vec<LabelName> {
        let mut out = Vec::with_capacity(32);
        for (t, tissue) in ["gm", "wm"].iter().enumerate() {
            for (h, hemi) in ["left", "right"].iter().enumerate() {
                for (b, band) in BAND_NAMES.iter().enumerate() {
                    for (z, half) in ["inferior", "superior"].iter().enumerate() {
                        out.push(LabelName {
                            value: label_value(t, h, b, z),
                            name: format!("{tissue}-{hemi}-{band}-{half}"),
                        });
                    }
                }
            }
        }
        out
    }
}

fn label_value(tissue: usize, hemi: usize, band: usize, half: usize) -> u16 {
    (1 + tissue * 16 + hemi * 8 + band * 2 + half) as u16
}

/// The template prepared for one cohort: smoothed for the cohort's voxel size, with the
/// subject grid's shape fitted to the head.
#[derive(Debug, Clone)]
pub struct TemplateCohort {
    /// The cohort's parameters; `shape` is the head's bounding box at `spacing`.
    pub spec: PhantomSpec,
    t1: Vec<f32>,
    gm: Vec<f32>,
    wm: Vec<f32>,
    dims: [usize; 3],
    geometry: Geometry,
    /// Template world point shown at the subject grid's centre.
    centre: [f64; 3],
    /// Mean T1 intensity of white matter: the noise scale.
    wm_level: f32,
    /// Largest grey- plus white-matter probability.
    brain_peak: f32,
}

impl TemplateCohort {
    /// Prepares `template` for a cohort of `spec` (whose `shape` is replaced by the head's
    /// bounding box plus a margin, at `spec.spacing`).
    ///
    /// # Errors
    /// An invalid spec, or an empty template.
    pub fn new(template: &Template, mut spec: PhantomSpec) -> Result<TemplateCohort> {
        let (lo, hi) = template.head_box()?;
        spec.shape = std::array::from_fn(|a| {
            ((hi[a] - lo[a] + 2.0 * MARGIN_MM) / spec.spacing).ceil() as usize + 1
        });
        spec.validate()?;
        let dims = template.t1.dims();
        let geometry = template.t1.geometry().clone();
        let tsp = geometry.spacing();
        // Anti-aliasing before sampling on a coarser grid: σ of half the new voxel, less
        // the template's own resolution.
        let sigma: [f32; 3] = std::array::from_fn(|a| {
            let r = spec.spacing / tsp[a];
            if r > 1.0 {
                (0.5 * (r * r - 1.0).sqrt()) as f32
            } else {
                0.0
            }
        });
        let prepared = |v: &Volume<f32>| {
            let mut d = v.as_slice().to_vec();
            if sigma.iter().any(|&s| s > 0.0) {
                smooth(&mut d, dims, sigma);
            }
            d
        };
        let (t1, gm, wm) = (
            prepared(&template.t1),
            prepared(&template.gm),
            prepared(&template.wm),
        );
        let wm_peak = wm.iter().copied().fold(0.0f32, f32::max);
        let (sum, count) = t1
            .iter()
            .zip(&wm)
            .filter(|(_, &w)| w > 0.9 * wm_peak)
            .fold((0.0f64, 0usize), |(s, c), (&t, _)| {
                (s + f64::from(t), c + 1)
            });
        let brain_peak = gm
            .iter()
            .zip(&wm)
            .map(|(g, w)| g + w)
            .fold(0.0f32, f32::max);
        Ok(TemplateCohort {
            spec,
            t1,
            gm,
            wm,
            dims,
            geometry,
            centre: std::array::from_fn(|a| 0.5 * (lo[a] + hi[a])),
            wm_level: (sum / count.max(1) as f64) as f32,
            brain_peak,
        })
    }

    /// Subject `index`: the template seen through the subject's transform, scanned.
    pub fn subject(&self, index: usize) -> Subject {
        let spec = &self.spec;
        let geometry = spec.geometry();
        let dims = spec.shape;
        let transform = spec.transform(index);
        let [nx, ny, _] = dims;
        let n = dims.iter().product();
        let mut intensity = vec![0.0f32; n];
        let mut labels = LabelVolume::zeros(dims, geometry.clone());
        intensity
            .par_chunks_mut(nx * ny)
            .zip(labels.as_mut_slice().par_chunks_mut(nx * ny))
            .enumerate()
            .for_each(|(k, (img, lab))| {
                for j in 0..ny {
                    for i in 0..nx {
                        let x = geometry.index_to_world([i as f64, j as f64, k as f64]);
                        let a = transform.apply(x);
                        let w: [f64; 3] = std::array::from_fn(|c| a[c] + self.centre[c]);
                        let (v, l) = self.at(w);
                        img[i + nx * j] = v;
                        lab[i + nx * j] = l;
                    }
                }
            });
        let image = scan(spec, index, &geometry, &intensity, self.wm_level);
        Subject {
            image,
            labels,
            transform,
        }
    }

    /// T1 intensity and label at template world point `w` (0 and 0 outside the template).
    fn at(&self, w: [f64; 3]) -> (f32, u16) {
        let Some(p) = self.geometry.world_to_index(w) else {
            return (0.0, 0);
        };
        let p = p.map(|v| v as f32);
        if !inside(self.dims, p) {
            return (0.0, 0);
        }
        let t1 = trilinear(&self.t1, self.dims, p);
        let gm = trilinear(&self.gm, self.dims, p);
        let wm = trilinear(&self.wm, self.dims, p);
        if gm + wm < 0.5 * self.brain_peak {
            return (t1, 0);
        }
        let tissue = usize::from(wm > gm);
        let hemi = usize::from(w[0] >= 0.0);
        let band = Y_BANDS.iter().filter(|&&b| w[1] >= b).count();
        let half = usize::from(w[2] >= Z_SPLIT);
        (t1, label_value(tissue, hemi, band, half))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_one_to_thirty_two_with_distinct_names() {
        let names = Template::label_names();
        let values: Vec<u16> = names.iter().map(|l| l.value).collect();
        assert_eq!(values, (1..=32).collect::<Vec<u16>>());
        let mut n: Vec<&str> = names.iter().map(|l| l.name.as_str()).collect();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), 32);
    }

    #[test]
    fn a_missing_template_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = Template::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("t1.nii.gz"), "{e}");
    }
}
