//! Random subject transforms: a small affine composed with a smooth displacement that is a
//! diffeomorphism by construction.
//!
//! A subject point `x` (world mm) maps to the anatomy point `T(x) = A·(x + u(x)) + t`, with
//! `u` a sum of plane waves `a_w · sin(k_w·x + φ_w)`. The Lipschitz constant of `u` is at most
//! `L = Σ |a_w|·|k_w|`; when `L < 1`, `x ↦ x + u(x)` is injective and `det(I + ∇u) > 0`
//! everywhere (a contraction perturbation of the identity), so with `det A > 0` the whole map
//! is a diffeomorphism. Amplitudes are scaled so that `L ≤ 0.6`.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::volume::geometry::det3;

/// One plane-wave component of the displacement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    /// Displacement direction and size, mm.
    pub amplitude: [f64; 3],
    /// Wave vector, radians per mm.
    pub k: [f64; 3],
    /// Phase, radians.
    pub phase: f64,
}

/// The map from a subject's world coordinates to the anatomy's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubjectTransform {
    /// Linear part `A` (rotation × scaling), rows.
    pub linear: [[f64; 3]; 3],
    /// Translation `t`, mm.
    pub translation: [f64; 3],
    /// Displacement components.
    pub waves: Vec<Wave>,
}

/// Largest allowed Lipschitz bound of the displacement (see the module docs).
pub const MAX_LIPSCHITZ: f64 = 0.6;

impl SubjectTransform {
    /// The identity map.
    pub fn identity() -> Self {
        SubjectTransform {
            linear: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
            waves: Vec::new(),
        }
    }

    /// Draws a random transform: rotations up to `rotation_deg` about each axis, scalings
    /// within `1 ± scale`, shifts up to `shift_mm`, and 8 displacement waves with wavelengths
    /// of 0.5–1 field of view and an RMS displacement near `amplitude_mm`.
    pub fn random(
        rng: &mut impl Rng,
        fov_mm: [f64; 3],
        amplitude_mm: f64,
        rotation_deg: f64,
        scale: f64,
        shift_mm: f64,
    ) -> Self {
        let angles: [f64; 3] =
            std::array::from_fn(|_| rng.random_range(-1.0..=1.0) * rotation_deg.to_radians());
        let scales: [f64; 3] = std::array::from_fn(|_| 1.0 + rng.random_range(-1.0..=1.0) * scale);
        let translation = std::array::from_fn(|_| rng.random_range(-1.0..=1.0) * shift_mm);
        let rot = rotation(angles);
        let linear = std::array::from_fn(|r| std::array::from_fn(|c| rot[r][c] * scales[c]));
        let mean_fov = fov_mm.iter().sum::<f64>() / 3.0;
        let n = 8;
        let mut waves: Vec<Wave> = (0..n)
            .map(|_| {
                let dir = unit(rng);
                let wavelength = mean_fov * rng.random_range(0.5..1.0);
                let k = dir.map(|d| d * std::f64::consts::TAU / wavelength);
                // sin has RMS 1/√2; n waves add in quadrature.
                let size = amplitude_mm * (2.0 / n as f64).sqrt() * rng.random_range(0.7..1.3);
                let adir = unit(rng);
                Wave {
                    amplitude: adir.map(|a| a * size),
                    k,
                    phase: rng.random_range(0.0..std::f64::consts::TAU),
                }
            })
            .collect();
        let l: f64 = waves.iter().map(|w| norm(w.amplitude) * norm(w.k)).sum();
        if l > MAX_LIPSCHITZ {
            let f = MAX_LIPSCHITZ / l;
            for w in &mut waves {
                w.amplitude = w.amplitude.map(|a| a * f);
            }
        }
        SubjectTransform {
            linear,
            translation,
            waves,
        }
    }

    /// Upper bound of the displacement's Lipschitz constant, `Σ |a|·|k|`.
    pub fn lipschitz_bound(&self) -> f64 {
        self.waves
            .iter()
            .map(|w| norm(w.amplitude) * norm(w.k))
            .sum()
    }

    /// Displacement `u(x)`, mm.
    pub fn displacement(&self, x: [f64; 3]) -> [f64; 3] {
        let mut u = [0.0; 3];
        for w in &self.waves {
            let s = (dot(w.k, x) + w.phase).sin();
            for a in 0..3 {
                u[a] += w.amplitude[a] * s;
            }
        }
        u
    }

    /// `T(x) = A·(x + u(x)) + t`.
    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        let u = self.displacement(x);
        let y: [f64; 3] = std::array::from_fn(|a| x[a] + u[a]);
        std::array::from_fn(|r| dot(self.linear[r], y) + self.translation[r])
    }

    /// Determinant of the Jacobian of `T` at `x` (analytic).
    pub fn jacobian_det(&self, x: [f64; 3]) -> f64 {
        let mut j = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        for w in &self.waves {
            let c = (dot(w.k, x) + w.phase).cos();
            for (r, row) in j.iter_mut().enumerate() {
                for (col, v) in row.iter_mut().enumerate() {
                    *v += w.amplitude[r] * w.k[col] * c;
                }
            }
        }
        det3(self.linear) * det3(j)
    }
}

fn rotation(a: [f64; 3]) -> [[f64; 3]; 3] {
    let (sx, cx) = a[0].sin_cos();
    let (sy, cy) = a[1].sin_cos();
    let (sz, cz) = a[2].sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]];
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rz = [[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]];
    matmul(rz, matmul(ry, rx))
}

fn matmul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    std::array::from_fn(|r| std::array::from_fn(|c| (0..3).map(|k| a[r][k] * b[k][c]).sum()))
}

fn unit(rng: &mut impl Rng) -> [f64; 3] {
    loop {
        let v: [f64; 3] = std::array::from_fn(|_| rng.random_range(-1.0..=1.0));
        let n = norm(v);
        if n > 0.1 && n <= 1.0 {
            return v.map(|x| x / n);
        }
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn analytic_jacobian_matches_finite_differences() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let t = SubjectTransform::random(&mut rng, [160.0, 200.0, 160.0], 4.0, 5.0, 0.05, 4.0);
        let x = [12.0, -7.0, 30.0];
        let h = 1e-4;
        let j: [[f64; 3]; 3] = std::array::from_fn(|r| {
            std::array::from_fn(|c| {
                let mut p = x;
                let mut m = x;
                p[c] += h;
                m[c] -= h;
                (t.apply(p)[r] - t.apply(m)[r]) / (2.0 * h)
            })
        });
        assert!((det3(j) - t.jacobian_det(x)).abs() < 1e-6);
        assert!(t.lipschitz_bound() <= MAX_LIPSCHITZ + 1e-12);
    }
}
