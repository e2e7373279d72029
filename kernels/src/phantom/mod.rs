//! Phantom cohorts: the embedded default dataset, generated so that everything runs with no
//! download.
//!
//! Every subject is the same analytic anatomy ([`anatomy`]) seen through its own random,
//! smooth, diffeomorphic transform ([`deformation`]): the subject's voxel at world point `x`
//! shows the anatomy at `T(x)`. Labels are the anatomy's labels at `T(x)` (exact, no
//! interpolation); the T1-like image is the labels' tissue intensities blurred by a small
//! point-spread function, times a smooth multiplicative bias field, plus Rician noise.
//! A subject depends only on the spec and its index, so cohorts are reproducible and
//! subjects can be generated in parallel.

pub mod anatomy;
pub mod deformation;
pub mod template;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::filter::smooth;
use crate::volume::{Geometry, LabelVolume, Volume};
use crate::{Error, Result};
pub use deformation::SubjectTransform;

/// Parameters of a phantom cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhantomSpec {
    /// Number of subjects.
    pub subjects: usize,
    /// Grid size (voxels along i, j, k).
    pub shape: [usize; 3],
    /// Isotropic voxel size, mm.
    pub spacing: f64,
    /// Random seed: same seed, same cohort.
    pub seed: u64,
    /// RMS of the nonlinear displacement, mm.
    pub deformation_mm: f64,
    /// Largest rotation about each axis, degrees.
    pub rotation_deg: f64,
    /// Largest relative scaling per axis.
    pub scale: f64,
    /// Largest translation per axis, mm.
    pub shift_mm: f64,
    /// Noise standard deviation, as a fraction of white-matter intensity.
    pub noise: f64,
    /// Amplitude of the log bias field (0.1 ≈ ±10 %).
    pub bias: f64,
}

impl Default for PhantomSpec {
    fn default() -> Self {
        PhantomSpec {
            subjects: 8,
            shape: [80, 100, 80],
            spacing: 2.0,
            seed: 1,
            deformation_mm: 3.0,
            rotation_deg: 5.0,
            scale: 0.05,
            shift_mm: 4.0,
            noise: 0.03,
            bias: 0.1,
        }
    }
}

impl PhantomSpec {
    /// Checks that the parameters describe a cohort that can be generated.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first bad parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidParameter(m));
        if self.subjects == 0 || self.subjects > 999 {
            return bad(format!("subjects = {} (must be 1..=999)", self.subjects));
        }
        if self.shape.iter().any(|&n| !(8..=1024).contains(&n)) {
            return bad(format!(
                "shape = {:?} (each axis must be 8..=1024 voxels)",
                self.shape
            ));
        }
        if !(self.spacing.is_finite() && self.spacing > 0.0) {
            return bad(format!("spacing = {} (must be > 0 mm)", self.spacing));
        }
        for (name, v) in [
            ("deformation_mm", self.deformation_mm),
            ("rotation_deg", self.rotation_deg),
            ("scale", self.scale),
            ("shift_mm", self.shift_mm),
            ("noise", self.noise),
            ("bias", self.bias),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} = {v} (must be finite and >= 0)"));
            }
        }
        if self.scale >= 0.5 {
            return bad(format!("scale = {} (must be < 0.5)", self.scale));
        }
        Ok(())
    }

    /// The grid every subject is sampled on: centred on the world origin.
    pub fn geometry(&self) -> Geometry {
        Geometry::centered(self.shape, [self.spacing; 3])
    }

    pub(crate) fn fov(&self) -> [f64; 3] {
        self.shape.map(|n| n as f64 * self.spacing)
    }

    /// Subject identifier, `sub01`, `sub02`, … (1-based).
    pub fn subject_id(index: usize) -> String {
        format!("sub{:02}", index + 1)
    }

    /// The transform of subject `index` (drawn from the seed and the index only).
    pub fn transform(&self, index: usize) -> SubjectTransform {
        let mut rng = self.rng(index, 0);
        SubjectTransform::random(
            &mut rng,
            self.fov(),
            self.deformation_mm,
            self.rotation_deg,
            self.scale,
            self.shift_mm,
        )
    }

    fn rng(&self, index: usize, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(((index as u64) << 8) | stream);
        rng
    }
}

/// One generated subject.
#[derive(Debug, Clone)]
pub struct Subject {
    /// T1-like image.
    pub image: Volume<f32>,
    /// Ground-truth labels.
    pub labels: LabelVolume,
    /// The transform from this subject's world space to the anatomy's.
    pub transform: SubjectTransform,
}

/// Labels of the anatomy seen through `transform`, sampled on `geometry`'s grid.
pub fn render_labels(
    geometry: &Geometry,
    dims: [usize; 3],
    transform: &SubjectTransform,
) -> LabelVolume {
    let head: [f64; 3] = std::array::from_fn(|a| {
        let s = geometry.spacing()[a];
        anatomy::HEAD_FRACTION * dims[a] as f64 * s
    });
    let [nx, ny, _] = dims;
    let mut labels = LabelVolume::zeros(dims, geometry.clone());
    labels
        .as_mut_slice()
        .par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(k, slab)| {
            for j in 0..ny {
                for i in 0..nx {
                    let x = geometry.index_to_world([i as f64, j as f64, k as f64]);
                    let a = transform.apply(x);
                    let q = std::array::from_fn(|c| a[c] / head[c]);
                    slab[i + nx * j] = anatomy::label_at(q);
                }
            }
        });
    labels
}

/// Generates subject `index` of the cohort.
pub fn generate_subject(spec: &PhantomSpec, index: usize) -> Subject {
    let geometry = spec.geometry();
    let dims = spec.shape;
    let transform = spec.transform(index);
    let labels = render_labels(&geometry, dims, &transform);

    let mut intensity: Vec<f32> = labels
        .as_slice()
        .iter()
        .map(|&l| anatomy::t1_intensity(l))
        .collect();
    // Point-spread function: partial-volume blur of about half a voxel.
    smooth(&mut intensity, dims, [0.5; 3]);

    let wm = anatomy::t1_intensity(6);
    let image = scan(spec, index, &geometry, &intensity, wm);
    Subject {
        image,
        labels,
        transform,
    }
}

/// What a scanner adds to a subject's noise-free `intensity` (on `geometry`'s grid, the
/// cohort's shape): a smooth multiplicative bias field (log-quadratic, amplitude
/// `spec.bias`) and Rician noise of standard deviation `spec.noise × wm`, drawn from the
/// subject's own random stream.
pub fn scan(
    spec: &PhantomSpec,
    index: usize,
    geometry: &Geometry,
    intensity: &[f32],
    wm: f32,
) -> Volume<f32> {
    let dims = spec.shape;
    let mut rng = spec.rng(index, 1);
    let coef: [f64; 6] = std::array::from_fn(|_| rng.random_range(-1.0..=1.0) * spec.bias);
    let fov = spec.fov();
    let sigma = spec.noise * f64::from(wm);
    let mut image = Volume::<f32>::zeros(dims, geometry.clone());
    let [nx, ny, _] = dims;
    for (n, (out, &v)) in image.as_mut_slice().iter_mut().zip(intensity).enumerate() {
        let (i, j, k) = (n % nx, (n / nx) % ny, n / (nx * ny));
        let x = geometry.index_to_world([i as f64, j as f64, k as f64]);
        let p: [f64; 3] = std::array::from_fn(|a| 2.0 * x[a] / fov[a]);
        let log_bias = coef[0] * p[0]
            + coef[1] * p[1]
            + coef[2] * p[2]
            + coef[3] * p[0] * p[1]
            + coef[4] * (p[2] * p[2] - 0.33)
            + coef[5] * p[1] * p[2];
        let s = f64::from(v) * log_bias.exp();
        // Rician noise: magnitude of a complex signal with Gaussian noise on both channels.
        let (n1, n2) = (gauss(&mut rng) * sigma, gauss(&mut rng) * sigma);
        *out = ((s + n1).powi(2) + n2 * n2).sqrt() as f32;
    }
    image
}

/// Standard normal deviate (Box–Muller).
fn gauss(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Minimum Jacobian determinant of a subject's transform over its voxel grid.
pub fn min_jacobian(spec: &PhantomSpec, transform: &SubjectTransform) -> f64 {
    let g = spec.geometry();
    let [nx, ny, nz] = spec.shape;
    (0..nz)
        .into_par_iter()
        .map(|k| {
            let mut m = f64::MAX;
            for j in 0..ny {
                for i in 0..nx {
                    m = m.min(
                        transform.jacobian_det(g.index_to_world([i as f64, j as f64, k as f64])),
                    );
                }
            }
            m
        })
        .reduce(|| f64::MAX, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::dice;

    #[test]
    fn every_label_in_every_subject_and_diffeomorphic() {
        let spec = PhantomSpec {
            subjects: 4,
            shape: [48, 60, 48],
            spacing: 3.0,
            seed: 11,
            ..PhantomSpec::default()
        };
        for index in 0..spec.subjects {
            let s = generate_subject(&spec, index);
            let mut present = [false; 16];
            for &l in s.labels.as_slice() {
                present[l as usize] = true;
            }
            for (value, name) in anatomy::LABELS {
                assert!(
                    present[*value as usize],
                    "subject {index}: label {value} ({name}) missing"
                );
            }
            let jmin = min_jacobian(&spec, &s.transform);
            println!("subject {index}: min Jacobian determinant {jmin:.3}");
            assert!(
                jmin > 0.0,
                "subject {index}: folding, min Jacobian determinant {jmin}"
            );
        }
    }

    #[test]
    fn subjects_differ_enough_to_need_registration() {
        let spec = PhantomSpec {
            subjects: 2,
            ..PhantomSpec::default()
        };
        let a = generate_subject(&spec, 0);
        let b = generate_subject(&spec, 1);
        let r = dice(&a.labels, &b.labels).unwrap();
        println!(
            "unregistered mean Dice between sub01 and sub02: {:.3}",
            r.mean_dice
        );
        for l in &r.labels {
            println!("  label {:2}: {:.3}", l.label, l.dice);
        }
        assert!(
            r.mean_dice < 0.8,
            "subjects nearly identical: mean Dice {}",
            r.mean_dice
        );
        assert!(
            r.mean_dice > 0.2,
            "subjects unrelated: mean Dice {}",
            r.mean_dice
        );
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let s = PhantomSpec {
            shape: [4, 100, 80],
            ..PhantomSpec::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("shape"));
        let s = PhantomSpec {
            spacing: 0.0,
            ..PhantomSpec::default()
        };
        assert!(s.validate().unwrap_err().to_string().contains("spacing"));
    }
}
