//! What `simulate` prints on standard error: the profiles and the models fitted on them,
//! the spread drawn per sample, and the bands of the samples.

use std::collections::BTreeMap;

use super::largest;
use crate::plan::{Plan, Stage};
use crate::simulate::model::ALONE;
use crate::simulate::{Inputs, Spread};
use crate::store::Band;

pub(super) fn print_inputs(inputs: &Inputs, plan: &Plan) {
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for p in &inputs.profiles {
        let e = counts.entry(p.stage.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(p.share < ALONE);
    }
    for (stage, (n, over)) in &counts {
        eprintln!(
            "profiles: {n} {stage} attempt(s){}",
            if *over > 0 {
                format!("; {over} shared their cores with more threads than their node had: taken back to their time alone")
            } else {
                String::new()
            }
        );
    }
    let lead = &inputs.lead_in;
    eprintln!(
        "model: lead-in before the first launch = {:.3} s + {:.3} s per million input voxels (over {} run(s)): {:.2} s here",
        lead.intercept,
        lead.slope * 1e6,
        lead.runs,
        lead.at(crate::simulate::input_voxels(plan))
    );
    let co = &inputs.corun;
    if co.profiles.iter().sum::<usize>() == 0 {
        eprintln!("model: co-running: no profile shared its cores, so jobs that share them slow each other by processor sharing only");
    } else {
        for stage in [Stage::Registration, Stage::Fusion] {
            let i = stage.index();
            eprintln!(
                "model: co-running {}: {:+.1} % CPU at half its cores' share lost to other jobs ({})",
                stage.as_str(),
                100.0 * (co.inflation(stage, 0.5) - 1.0),
                match co.profiles[i] {
                    0 => "no such profile of its own: both stages' fit".to_string(),
                    n => format!("fitted on {n} profile(s) that shared their cores"),
                }
            );
        }
    }
    for m in inputs.models.notes(largest(plan)) {
        eprintln!(
            "model: {} {} = {:.4e} · {}^{:.3} ({}){}",
            m.stage,
            m.quantity,
            m.coefficient,
            m.predictor,
            m.exponent,
            m.r2.map_or_else(
                || format!("exponent assumed: {} profiled value(s)", m.points),
                |r2| format!("R² {r2:.3} over {} values", m.points)
            ),
            if m.extrapolation > 1.0 + 1e-9 {
                format!(", extrapolated {:.2}× beyond the profiles", m.extrapolation)
            } else {
                String::new()
            }
        );
    }
    print_spread(&inputs.spread, inputs.runs.len());
}

fn print_spread(s: &Spread, runs: usize) {
    let f = &s.run_factors;
    let lo = f.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = f.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "spread: {runs} profile run(s), each run's CPU time {:.2}–{:.2}× the laws (drawn once per sample); per job within a run, {} registration and {} fusion residual(s)",
        lo,
        hi,
        s.residuals[0].len(),
        s.residuals[1].len()
    );
}

pub(super) fn print_bands(b: &[Band]) {
    for x in b {
        let f = |v: f64| match x.quantity.as_str() {
            "node_peak_rss" => format!("{:.2} GiB", v / (1u64 << 30) as f64),
            "makespan_s" => format!("{v:.1} s"),
            "oom_killed" => format!("{v:.0}"),
            _ => format!("{v:.3}"),
        };
        eprintln!(
            "  {:<14} P10 {:>12}  P50 {:>12}  P90 {:>12}",
            x.quantity,
            f(x.p10),
            f(x.p50),
            f(x.p90)
        );
    }
}
