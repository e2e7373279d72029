//! The phantom's anatomy: an analytic, brain-like label function on normalised head
//! coordinates, and T1-like tissue intensities.
//!
//! Coordinates `q` are world millimetres divided by the head's semi-axes, so the head is the
//! unit ball. From outside in: scalp, skull, extra-cerebral CSF, then the brain (radius 0.83),
//! whose cortex is folded: a fixed pattern `g(u)` of plane waves over the direction `u` opens
//! narrow sulci (CSF clefts up to 20 % of the brain radius deep) where `g` peaks, and the
//! cortex is a band of constant thickness under that folded surface, so the grey–white
//! boundary is folded too. A midline fissure splits the hemispheres above the corpus
//! callosum. Deep structures are ellipsoids: lateral ventricles (bent), caudate, thalamus and
//! putamen. Everything inside the brain is split
//! into left (x < 0) and right hemispheres.

/// Label values and names of the phantom anatomy (0 is background).
pub const LABELS: &[(u16, &str)] = &[
    (1, "scalp"),
    (2, "skull"),
    (3, "csf"),
    (4, "left-cortex"),
    (5, "right-cortex"),
    (6, "left-white-matter"),
    (7, "right-white-matter"),
    (8, "left-lateral-ventricle"),
    (9, "right-lateral-ventricle"),
    (10, "left-thalamus"),
    (11, "right-thalamus"),
    (12, "left-caudate"),
    (13, "right-caudate"),
    (14, "left-putamen"),
    (15, "right-putamen"),
];

/// Head semi-axes as fractions of the field of view along each axis.
pub const HEAD_FRACTION: f64 = 0.42;

/// Plane waves of the folding pattern: (wave vector over the unit direction, phase). Their
/// magnitudes (14–20 radians per unit direction) give a gyral period of about 20 mm on an
/// adult-sized brain.
const FOLDS: [([f64; 3], f64); 8] = [
    ([15.0, 4.0, 2.0], 0.3),
    ([-3.0, 16.0, 5.0], 1.7),
    ([2.0, -6.0, 17.0], 2.9),
    ([11.0, 10.0, -7.0], 4.1),
    ([-9.0, 7.0, 12.0], 5.3),
    ([7.0, -13.0, 9.0], 0.9),
    ([-12.0, -9.0, -8.0], 3.6),
    ([5.0, 14.0, -11.0], 2.2),
];

/// Folding pattern in [-1, 1] over the unit direction `u`.
fn folding(u: [f64; 3]) -> f64 {
    let s: f64 = FOLDS
        .iter()
        .map(|(k, phase)| (k[0] * u[0] + k[1] * u[1] + k[2] * u[2] + phase).sin())
        .sum();
    (s / (FOLDS.len() as f64).sqrt() / 1.2).clamp(-1.0, 1.0)
}

/// Sulcal depth profile in [0, 1]: narrow clefts where the folding pattern peaks.
fn sulcus(u: [f64; 3]) -> f64 {
    ((folding(u) - 0.35) / 0.35).clamp(0.0, 1.0)
}

/// Radial depth of the deepest sulci, as a fraction of the brain radius.
const SULCAL_DEPTH: f64 = 0.2;
/// Cortical thickness, as a fraction of the brain radius (≈ 4 mm on the default grid).
const CORTEX: f64 = 0.075;

fn in_ellipsoid(p: [f64; 3], centre: [f64; 3], radii: [f64; 3]) -> bool {
    (0..3)
        .map(|a| ((p[a] - centre[a]) / radii[a]).powi(2))
        .sum::<f64>()
        <= 1.0
}

/// Label at normalised head coordinates `q`.
pub fn label_at(q: [f64; 3]) -> u16 {
    let rho_h = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2]).sqrt();
    if rho_h > 1.0 {
        return 0;
    }
    if rho_h > 0.93 {
        return 1;
    }
    if rho_h > 0.87 {
        return 2;
    }
    if rho_h > 0.83 {
        return 3;
    }
    let r = q.map(|v| v / 0.83);
    let rho = rho_h / 0.83;
    let u = if rho > 1e-9 {
        r.map(|v| v / rho)
    } else {
        [0.0, 0.0, 1.0]
    };
    let depth = SULCAL_DEPTH * sulcus(u);
    if rho > 1.0 - depth {
        return 3;
    }
    if r[0].abs() < 0.025 && r[2] > -0.05 && rho > 0.42 {
        return 3;
    }
    let right = u16::from(r[0] >= 0.0);
    let side = if r[0] >= 0.0 { 1.0 } else { -1.0 };
    let ventricle_centre = [side * 0.12, 0.0, 0.18 - 0.5 * r[1] * r[1]];
    if in_ellipsoid(r, ventricle_centre, [0.07, 0.40, 0.10]) {
        return 8 + right;
    }
    if in_ellipsoid(r, [side * 0.22, 0.18, 0.14], [0.07, 0.16, 0.10]) {
        return 12 + right;
    }
    if in_ellipsoid(r, [side * 0.13, -0.18, -0.02], [0.10, 0.16, 0.12]) {
        return 10 + right;
    }
    if in_ellipsoid(r, [side * 0.40, 0.05, 0.0], [0.08, 0.22, 0.14]) {
        return 14 + right;
    }
    if rho <= 1.0 - depth - CORTEX {
        return 6 + right;
    }
    4 + right
}

/// Mean T1-weighted intensity of each label (white matter bright, CSF dark, fat bright).
pub fn t1_intensity(label: u16) -> f32 {
    match label {
        1 => 90.0,
        2 => 12.0,
        3 | 8 | 9 => 26.0,
        4 | 5 => 66.0,
        6 | 7 => 108.0,
        10 | 11 => 92.0,
        12 | 13 => 72.0,
        14 | 15 => 80.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_from_outside_in() {
        assert_eq!(label_at([0.0, 0.0, 1.01]), 0);
        assert_eq!(label_at([0.0, 0.0, 0.96]), 1);
        assert_eq!(label_at([0.0, 0.0, 0.90]), 2);
        assert_eq!(label_at([0.0, 0.0, 0.85]), 3);
        assert_eq!(label_at([-0.3, -0.4, 0.3]), 6);
        assert_eq!(label_at([0.3, -0.4, 0.3]), 7);
        assert_eq!(label_at([0.33, 0.04, 0.0]), 15);
    }

    #[test]
    fn folding_varies_over_directions() {
        let samples: Vec<f64> = (0..200)
            .map(|n| {
                let t = n as f64 * 0.1;
                folding([t.sin() * t.cos(), t.sin() * t.sin(), t.cos()])
            })
            .collect();
        let max = samples.iter().cloned().fold(f64::MIN, f64::max);
        let min = samples.iter().cloned().fold(f64::MAX, f64::min);
        assert!(max > 0.6 && min < -0.6, "folding range [{min}, {max}]");
    }
}
