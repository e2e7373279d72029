use super::*;
use crate::phantom::{generate_subject, PhantomSpec};
use crate::registration::Schedule;

#[test]
fn recovers_a_known_affine_within_half_a_millimetre() {
    // Affine-only subjects without bias fields: the true fixed→moving map is T1⁻¹ ∘ T0.
    let spec = PhantomSpec {
        subjects: 2,
        shape: [64, 80, 64],
        spacing: 2.5,
        seed: 5,
        deformation_mm: 0.0,
        noise: 0.01,
        bias: 0.0,
        ..PhantomSpec::default()
    };
    let (f, m) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let (t, levels) = register_affine(&f.image, &m.image, &AffineParams::default());
    for l in &levels {
        println!("{l:?}");
    }
    let inv = invert3(m.transform.linear).unwrap();
    let truth = |x: [f64; 3]| {
        let a = f.transform.apply(x);
        let d: [f64; 3] = std::array::from_fn(|r| a[r] - m.transform.translation[r]);
        std::array::from_fn::<f64, 3, _>(|r| inv[r][0] * d[0] + inv[r][1] * d[1] + inv[r][2] * d[2])
    };
    let g = f.image.geometry();
    let mut worst = 0.0f64;
    for c in 0..8 {
        let idx = [0, 1, 2].map(|a| {
            if c >> a & 1 == 1 {
                (spec.shape[a] - 1) as f64
            } else {
                0.0
            }
        });
        let x = g.index_to_world(idx);
        let (got, want) = (t.apply(x), truth(x));
        let err = (0..3)
            .map(|a| (got[a] - want[a]).powi(2))
            .sum::<f64>()
            .sqrt();
        worst = worst.max(err);
    }
    println!("largest corner error {worst:.3} mm");
    assert!(worst < 0.5, "corner error {worst:.3} mm");
    assert!(levels.iter().all(|l| l.final_metric >= l.initial_metric));
}

#[test]
fn same_input_same_result_for_any_thread_count() {
    let spec = PhantomSpec {
        subjects: 2,
        shape: [32, 40, 32],
        spacing: 5.0,
        seed: 8,
        ..PhantomSpec::default()
    };
    let (f, m) = (generate_subject(&spec, 0), generate_subject(&spec, 1));
    let p = AffineParams {
        schedule: Schedule {
            iterations: vec![20, 10],
            shrink: vec![2, 1],
            smooth: vec![1.0, 0.0],
            ..Schedule::default()
        },
        ..AffineParams::default()
    };
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| register_affine(&f.image, &m.image, &p).0)
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(2));
}
