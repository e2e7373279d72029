//! `atlasperf compare RUN_A RUN_B`: both Table I side by side with per-stage ratios, and an
//! optional regression gate.

use anyhow::Context;
use atlasperf_reports::compare::{compare, markdown, regressions, Gate, Options};

use super::report::require_store;
use crate::cli::CompareArgs;
use crate::error::UsageError;

pub(crate) fn run(a: &CompareArgs) -> anyhow::Result<u8> {
    if let Some(r) = a.max_ratio {
        if !(r.is_finite() && r > 0.0) {
            return Err(
                UsageError(format!("--max-ratio must be a positive number, got {r}")).into(),
            );
        }
    }
    if !(a.noise_threshold.is_finite() && (0.0..1.0).contains(&a.noise_threshold)) {
        return Err(UsageError(format!(
            "--noise-threshold must be a fraction in [0, 1), got {}",
            a.noise_threshold
        ))
        .into());
    }
    require_store(&a.run_a)?;
    require_store(&a.run_b)?;
    let load = |dir: &std::path::Path| {
        atlasperf_reports::group::load(dir)
            .with_context(|| format!("reading the run store {}", dir.display()))
    };
    let opts = Options {
        noise: a.noise_threshold,
        matched: a.side_by_side || crate::store::Group::ran_side_by_side(&a.run_a, &a.run_b),
        ..Options::default()
    };
    let (runs_a, runs_b) = (load(&a.run_a)?, load(&a.run_b)?);
    if a.side_by_side && (runs_a.len() != runs_b.len() || runs_a.len() < 2) {
        return Err(UsageError(format!(
            "--side-by-side pairs the k-th runs of two groups of the same size (at least 2); {} holds {} and {} holds {}",
            a.run_a.display(),
            runs_a.len(),
            a.run_b.display(),
            runs_b.len()
        ))
        .into());
    }
    let c = compare(&runs_a, &runs_b, &opts);
    let text = markdown(
        &c,
        &a.run_a.display().to_string(),
        &a.run_b.display().to_string(),
    );
    print!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("compare: wrote {}", out.display());
    }
    if let Some(max) = a.max_ratio {
        let found = regressions(
            &c,
            Gate {
                max_ratio: max,
                with_time: a.gate_time,
            },
        );
        if !found.is_empty() {
            eprintln!(
                "compare: {} regression(s) whose whole 95 % interval is above {max:.2}×:",
                found.len()
            );
            for f in &found {
                eprintln!("  {f}");
            }
            return Ok(1);
        }
        eprintln!(
            "compare: no {} grew above {max:.2}× beyond the noise",
            if a.gate_time {
                "quantity"
            } else {
                "CPU, memory or I/O quantity"
            }
        );
    }
    Ok(0)
}
