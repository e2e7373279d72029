//! The report's header: which run, by what, how it ended, what a group adds, and where an
//! imported or simulated run's numbers come from.

use std::fmt::Write as _;

use crate::run::RunData;
use crate::table::bytes;

/// The report's header: the run, its failure and resumes, what a group adds, the conditions.
pub(super) fn full_header(run: &RunData, group_header: &str) -> String {
    let info = &run.info;
    let mut header = header(run);
    if let Some(f) = &info.notes.failure {
        let _ = write!(header, ". {}: {f}", info.status.as_str());
    }
    let gaps = info.idle_gaps();
    if !gaps.is_empty() {
        let _ = write!(
            header,
            ". Times are active time: {:.1} s idle before {} resume(s) left out",
            gaps.iter().sum::<f64>(),
            gaps.len()
        );
    }
    header.push_str(group_header);
    let conditions_line = crate::conditions::headline(info);
    if !conditions_line.is_empty() {
        let _ = write!(header, "\n\n{conditions_line}");
    }
    header
}

fn header(run: &RunData) -> String {
    let info = &run.info;
    let (name, id) = (info.scenario_name.clone(), info.id.clone());
    let status = info.status.as_str();
    let host = &info.host;
    let built = format!(
        "atlasperf {}{}",
        info.atlasperf_version,
        info.git_commit
            .as_deref()
            .map(|c| format!(" ({})", &c[..c.len().min(10)]))
            .unwrap_or_default()
    );
    match &info.notes.simulation {
        Some(sim) => format!(
            "**Simulated** run `{id}` (scenario `{name}`, status **{status}**) by {built} from {} measured attempts of {} run(s), seed {}: the tables show sample 1 of {}; over all samples (P10 / P50 / P90) {}",
            sim.profile_attempts.values().sum::<usize>(),
            sim.profiles.len(),
            sim.seed,
            sim.samples,
            sim.bands
                .iter()
                .map(|b| {
                    let f = |v: f64| match b.quantity.as_str() {
                        "node_peak_rss" => bytes(v),
                        "makespan_s" => format!("{v:.1} s"),
                        "cpu_hours" => format!("{v:.3}"),
                        _ => format!("{v:.0}"),
                    };
                    format!("{} {} / {} / {}", b.quantity, f(b.p10), f(b.p50), f(b.p90))
                })
                .collect::<Vec<_>>()
                .join("; ")
        ),
        None if info.notes.import.is_some() => import_header(info),
        None => format!(
            "Run `{id}` (scenario `{name}`, status **{status}**) on {} ({} CPUs, {}), {built}",
            host.cpu_model,
            host.cpus,
            bytes(host.memory_bytes as f64),
        ),
    }
}

/// An imported run's header: what it was read from and how good each quantity is.
fn import_header(info: &atlasperf_store::RunInfo) -> String {
    let Some(imp) = &info.notes.import else {
        return String::new();
    };
    let sources: Vec<String> = imp
        .sources
        .iter()
        .take(3)
        .map(|p| format!("`{}`", p.display()))
        .collect();
    let more = imp.sources.len().saturating_sub(3);
    let mut s = format!(
        "**Imported** run `{}` from {} ({}{}), not measured by atlasperf: the numbers are the source's, as good as its columns (below)",
        info.id,
        imp.format,
        sources.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    );
    for (k, v) in &imp.columns {
        let _ = write!(s, "\n- {k}: {v}");
    }
    for n in &imp.notes {
        let _ = write!(s, "\n- {n}");
    }
    s
}
