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
