//! `atlasperf compare RUN_A RUN_B`: both Table I side by side with per-stage ratios, and an
//! optional regression gate.

use anyhow::Context;
use atlasperf_reports::compare::{compare, markdown, regressions};
use atlasperf_reports::run::RunData;

use super::report::require_store;
use crate::cli::{CompareArgs, UsageError};

pub(crate) fn run(a: &CompareArgs) -> anyhow::Result<u8> {
    if let Some(r) = a.max_ratio {
        if !(r.is_finite() && r > 0.0) {
            return Err(
                UsageError(format!("--max-ratio must be a positive number, got {r}")).into(),
            );
        }
    }
    require_store(&a.run_a)?;
    require_store(&a.run_b)?;
    let load = |dir: &std::path::Path| {
        RunData::load(dir).with_context(|| format!("reading the run store {}", dir.display()))
    };
    let c = compare(&load(&a.run_a)?, &load(&a.run_b)?);
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
        let found = regressions(&c, max);
        if !found.is_empty() {
            eprintln!("compare: {} regression(s) above {max:.2}×:", found.len());
            for f in &found {
                eprintln!("  {f}");
            }
            return Ok(1);
        }
        eprintln!("compare: no quantity grew above {max:.2}×");
    }
    Ok(0)
}
