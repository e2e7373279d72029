use super::*;
use crate::eval::dice;
use crate::phantom::{generate_subject, PhantomSpec};
use crate::registration::interp::nearest;
use crate::registration::{converged, Schedule};
use crate::volume::LabelVolume;

fn warp_labels(labels: &LabelVolume, forward: &Field) -> LabelVolume {
    let dims = labels.dims();
    let [nx, ny, _] = dims;
    let mut out = labels.same_grid(0u16);
    for (n, o) in out.as_mut_slice().iter_mut().enumerate() {
        let d = forward.at(n);
        let p = [
            (n % nx) as f32 + d[0],
            ((n / nx) % ny) as f32 + d[1],
            (n / (nx * ny)) as f32 + d[2],
        ];
        *o = nearest(labels.as_slice(), dims, p).unwrap_or(0);
    }
    out
}

/// Two subjects that differ by a smooth nonlinear warp only (no affine part), so SyN alone
/// must do the work.
fn nonlinear_spec(shape: [usize; 3], spacing: f64, seed: u64, deformation_mm: f64) -> PhantomSpec {
    PhantomSpec {
        subjects: 2,
        shape,
        spacing,
        seed,
        rotation_deg: 0.0,
        scale: 0.0,
        shift_mm: 0.0,
        deformation_mm,
        ..PhantomSpec::default()
    }
}

#[test]
fn recovers_phantom_deformation() {
    let spec = nonlinear_spec([48, 56, 48], 3.0, 21, 4.0);
    let fixed = generate_subject(&spec, 0);
    let moving = generate_subject(&spec, 1);
    let dims = spec.shape;
    let p = SynParams {
        schedule: Schedule::with_iterations(vec![40, 20, 10]),
        step: 0.25,
        metric: SynMetric::Cc { radius: 2 },
        ..SynParams::default()
    };
    let r = syn(fixed.image.as_slice(), moving.image.as_slice(), dims, &p);
    let before = dice(&fixed.labels, &moving.labels).unwrap().mean_dice;
    let warped = warp_labels(&moving.labels, &r.forward);
    let after = dice(&fixed.labels, &warped).unwrap().mean_dice;
    println!("mean Dice before {before:.3}, after {after:.3}");
    for l in &r.levels {
        println!("{l:?}");
        assert!(
            l.final_metric > l.initial_metric,
            "level {l:?} did not improve the metric"
        );
    }
    assert!(after > before + 0.1, "Dice {before:.3} -> {after:.3}");
    let jmin = r.forward.min_jacobian();
    println!("min Jacobian {jmin:.3}, inversion {:?}", r.inversion);
    assert!(jmin > 0.0, "folded: min Jacobian {jmin}");
    // Inverse consistency: forward ∘ inverse ≈ identity (interior).
    let mut id = Field::zeros(dims);
    r.forward.compose_into(&r.inverse, &mut id);
    let [nx, ny, nz] = dims;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for k in 4..nz - 4 {
        for j in 4..ny - 4 {
            for i in 4..nx - 4 {
                let d = id.at(i + nx * (j + ny * k));
                sum += f64::from((d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt());
                count += 1;
            }
        }
    }
    let mean = sum / count as f64;
    println!("inverse consistency: mean error {mean:.4} voxels");
    assert!(mean < 0.5, "forward∘inverse mean error {mean} voxels");
}

#[test]
fn an_update_lands_where_its_force_was_measured() {
    // The warping field `u` maps the middle to the image. A force measured at the middle's
    // point `x0` must change `u` at `x0`, wherever `u` sends it. Composed after `u` instead
    // (`u(x) + δ(x + u(x))`, the previous order), it landed where `x + u(x) = x0`: 3 voxels
    // before `x0` here.
    let dims = [48, 24, 24];
    let [nx, ny, _] = dims;
    let centre = [24.0f32, 12.0, 12.0];
    let bump = |i: usize, j: usize, k: usize, sigma: f32| {
        let d2: f32 = [i, j, k]
            .iter()
            .zip(centre)
            .map(|(&x, c)| (x as f32 - c).powi(2))
            .sum();
        (-d2 / (2.0 * sigma * sigma)).exp()
    };
    // A broad shift of up to 3 voxels along i, and its inverse.
    let mut u = Field::zeros(dims);
    u.fill_with(|i, j, k| [3.0 * bump(i, j, k, 8.0), 0.0, 0.0]);
    u.zero_boundary();
    let (mut v, mut work) = (Field::zeros(dims), Field::zeros(dims));
    u.invert_damped(&mut v, &mut work, 200, 1e-4, 1e-6);
    let before = u.clone();
    // A narrow force along i at the centre.
    let mut force = Field::zeros(dims);
    force.fill_with(|i, j, k| [bump(i, j, k, 1.5), 0.0, 0.0]);
    let p = SynParams {
        step: 0.5,
        update_variance: 0.0,
        total_variance: 0.0,
        ..SynParams::default()
    };
    apply_update(&mut u, &mut v, &mut force, &p);
    let row = nx * (centre[1] as usize + ny * centre[2] as usize);
    let change: Vec<f32> = (0..nx)
        .map(|i| u.c[0][row + i] - before.c[0][row + i])
        .collect();
    let peak = (0..nx)
        .max_by(|&a, &b| change[a].total_cmp(&change[b]))
        .unwrap_or(0);
    println!("change of u along i through the centre: {change:?}");
    assert!(
        (peak as f32 - centre[0]).abs() <= 1.0,
        "u changed most at i = {peak}, the force was at {}",
        centre[0]
    );
    assert!(change[peak] > 0.2, "{change:?}");
}

#[test]
fn the_fast_preset_raises_cc_on_every_level() {
    // Both half fields take the preset's step towards the middle, so the pair moves by up to
    // twice the step per iteration. With a step of 1 voxel (and variances 1.5 and 0.25) the
    // updates overshot: here the finest level's CC fell from 0.410 to 0.333, and on the
    // 80x100x80 phantom the middle level's from 0.575 to 0.521.
    let spec = nonlinear_spec([48, 56, 48], 3.0, 23, 5.0);
    let (f, m) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let preset =
        crate::registration::pipeline::RegistrationParams::preset(crate::params::Preset::Fast);
    let p = SynParams {
        schedule: Schedule::with_iterations(vec![40, 20, 5]),
        ..preset.syn.expect("the fast preset runs SyN")
    };
    let r = syn(f.image.as_slice(), m.image.as_slice(), spec.shape, &p);
    for l in &r.levels {
        println!("{l:?}");
        assert!(l.final_metric > l.initial_metric, "level {l:?} lowered CC");
    }
    assert!(r.forward.min_jacobian() > 0.0);
}

#[test]
fn mattes_syn_improves_overlap_and_stays_diffeomorphic() {
    let spec = nonlinear_spec([40, 48, 40], 3.5, 22, 4.0);
    let (f, m) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let p = SynParams {
        schedule: Schedule::with_iterations(vec![30, 15, 8]),
        step: 0.25,
        metric: SynMetric::Mattes { bins: 32 },
        ..SynParams::default()
    };
    let r = syn(f.image.as_slice(), m.image.as_slice(), spec.shape, &p);
    let before = dice(&f.labels, &m.labels).unwrap().mean_dice;
    let after = dice(&f.labels, &warp_labels(&m.labels, &r.forward))
        .unwrap()
        .mean_dice;
    println!("Mattes SyN: mean Dice before {before:.3}, after {after:.3}");
    for l in &r.levels {
        assert!(
            l.final_metric > l.initial_metric,
            "level {l:?} did not improve MI"
        );
    }
    assert!(after > before + 0.1, "Dice {before:.3} -> {after:.3}");
    let jmin = r.forward.min_jacobian();
    println!("min Jacobian {jmin:.3}, inversion {:?}", r.inversion);
    assert!(jmin > 0.0, "folded: min Jacobian {jmin}");
    assert!(r.inversion.max_error < 0.1, "{:?}", r.inversion);
}

#[test]
fn converged_detects_flat_history() {
    let flat = vec![0.5; 12];
    assert!(converged(&flat, 10, 1e-6));
    let rising: Vec<f64> = (0..12).map(|i| 0.5 + 0.01 * i as f64).collect();
    assert!(!converged(&rising, 10, 1e-6));
    assert!(!converged(&flat[..5], 10, 1e-6));
}
