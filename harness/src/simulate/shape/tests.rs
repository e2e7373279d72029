//! The spread separates a run's machine from the jobs.

use std::path::PathBuf;
use std::sync::Arc;

use super::Spread;
use crate::plan::Stage;
use crate::simulate::model::Models;
use crate::simulate::profiles::{Curve, Profile};

fn profile(run: &str, stage: Stage, cpu_s: f64) -> Profile {
    Profile {
        run: PathBuf::from(run),
        attempt_id: format!("{run}-{cpu_s}"),
        stage,
        threads: 1,
        voxels: 1000,
        atlases: 1,
        wall_s: cpu_s,
        measured_wall_s: cpu_s,
        cpu_s,
        peak: 1 << 20,
        io: [0; 4],
        curve: Arc::new(Curve::flat(1.0)),
        share: 1.0,
        overhead_s: 0.0,
    }
}

#[test]
fn a_slower_run_is_its_factor_and_its_jobs_keep_their_residuals() {
    // Run b did the same jobs 20 % slower.
    let mut ps = Vec::new();
    for (run, f) in [("a", 1.0), ("b", 1.2)] {
        for (stage, cpu) in [
            (Stage::Registration, 10.0),
            (Stage::Registration, 14.0),
            (Stage::Fusion, 5.0),
        ] {
            ps.push(profile(run, stage, cpu * f));
        }
    }
    let spread = Spread::of(&ps, &Models::fit(&ps));
    let [a, b] = [spread.run_factors[0], spread.run_factors[1]];
    assert!((b / a - 1.2).abs() < 1e-9, "run factors {a} {b}");
    let reg = &spread.residuals[0];
    assert_eq!(reg.len(), 4);
    // Within each run the residuals are the same, and 14/10 apart.
    assert!(
        (reg[0] - reg[2]).abs() < 1e-9 && (reg[1] - reg[3]).abs() < 1e-9,
        "{reg:?}"
    );
    assert!((reg[1] / reg[0] - 1.4).abs() < 1e-9);
}

#[test]
fn sharing_profiles_give_the_co_run_law_and_go_back_to_their_time_alone() {
    use crate::simulate::model::CoRunLaw;
    // Alone: registrations of 10 s and fusions of 5 s; at half their cores, registrations
    // burnt 4 % more (8 % per share lost) and one at a third 5.33 % more.
    let mut ps = vec![
        profile("a", Stage::Registration, 10.0),
        profile("a", Stage::Registration, 10.0),
        profile("a", Stage::Fusion, 5.0),
    ];
    for (share, cpu) in [
        (0.5, 10.4),
        (0.5, 10.4),
        (1.0 / 3.0, 10.0 + 0.8 * 2.0 / 3.0),
    ] {
        ps.push(Profile {
            share,
            ..profile("b", Stage::Registration, cpu)
        });
    }
    let law = CoRunLaw::fit(&ps);
    assert!((law.per_share_lost[0] - 0.08).abs() < 1e-9, "{law:?}");
    assert_eq!(law.profiles, [3, 0]);
    // No fusion shared its cores: fusions take both stages' fit.
    assert!((law.per_share_lost[1] - 0.08).abs() < 1e-9);
    assert!((law.inflation(Stage::Fusion, 0.5) - 1.04).abs() < 1e-9);
    assert_eq!(law.inflation(Stage::Registration, 1.0), 1.0);
    law.deflate(&mut ps);
    assert!(ps
        .iter()
        .all(|p| p.stage != Stage::Registration || (p.cpu_s - 10.0).abs() < 1e-9));
    // Nothing shared: no law.
    assert_eq!(CoRunLaw::fit(&ps[..3]), CoRunLaw::default());
    // A launch overlapping a neighbour's by milliseconds is no sharing: its CPU time's noise
    // (here 5 %) gives no law, and the profile keeps its time.
    let mut grazed = ps[..3].to_vec();
    grazed.push(Profile {
        share: 0.9995,
        ..profile("c", Stage::Registration, 10.5)
    });
    let law = CoRunLaw::fit(&grazed);
    assert_eq!(law, CoRunLaw::default());
    law.deflate(&mut grazed);
    assert_eq!(grazed[3].cpu_s, 10.5);
}

#[test]
fn filled_cores_burn_the_cpu_time_within_the_threads_and_keep_the_shape() {
    use super::fill_cores;
    use crate::simulate::profiles::BINS;
    let total = |c: &[f64; BINS], wall: f64| c.iter().sum::<f64>() * wall / BINS as f64;
    // A jittery one-thread curve: half its bins sampled above one core.
    let shape: Vec<f64> = (0..BINS)
        .map(|b| if b % 2 == 0 { 1.3 } else { 0.7 })
        .collect();
    let c = fill_cores(&shape, 9.5, 10.0, 1.0);
    assert!((total(&c, 10.0) - 9.5).abs() < 1e-9, "{c:?}");
    assert!(c.iter().all(|v| *v <= 1.0 + 1e-12));
    // The high bins are held at the thread; the low ones raised to carry the rest.
    assert_eq!(c[0], 1.0);
    assert!((c[1] - 0.9).abs() < 1e-9, "{}", c[1]);
    // Clipping alone would have lost 0.25 s of every 1 s (the 1.3 bins' excess).
    let clipped: f64 = shape.iter().map(|v| v.min(1.0)).sum::<f64>() * 10.0 / BINS as f64;
    assert!(clipped < 8.6);
    // Nothing above the threads: a plain scale.
    let c = fill_cores(&[0.5; BINS], 6.0, 10.0, 2.0);
    assert!(c.iter().all(|v| (v - 0.6).abs() < 1e-9));
    // More CPU than the threads can burn in the wall time: every bin at the threads.
    assert_eq!(fill_cores(&[1.0; BINS], 30.0, 10.0, 2.0), [2.0; BINS]);
}
