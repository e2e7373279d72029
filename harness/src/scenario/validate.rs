//! What serde cannot check: ranges, uniqueness, consistency, parameter bounds and command
//! templates. Every error names the key path it is about.

use crate::error::UsageError;
use std::collections::BTreeSet;

use atlasperf_kernels::dataset::check_id;
use atlasperf_kernels::params::FusionMethod;
use bytesize::ByteSize;

use super::{phantom_spec, ExecutorKind, MemoryRequest, Policy, Scenario};

/// Most jobs one scenario may plan.
pub const MAX_JOBS: usize = 1_000_000;

/// Checks what serde cannot: ranges, uniqueness and consistency. Returns the offending key
/// path (`cluster.nodes[1].memory`) and what is wrong with it.
///
/// # Errors
/// The first problem found.
pub fn validate(s: &Scenario) -> Result<(), (String, String)> {
    let bad = |k: &str, m: String| Err((k.to_string(), m));
    if let Err(why) = check_id(&s.name) {
        return bad("name", format!("{:?} {why}", s.name));
    }
    if s.interval_ms == 0 {
        return bad("interval_ms", "must be at least 1".into());
    }
    if s.repetitions == 0 {
        return bad("repetitions", "must be at least 1".into());
    }
    if s.cluster.nodes.is_empty() {
        return bad("cluster.nodes", "at least one node is needed".into());
    }
    let mut names = BTreeSet::new();
    for (i, n) in s.cluster.nodes.iter().enumerate() {
        if !names.insert(n.name.as_str()) {
            return bad(
                &format!("cluster.nodes[{i}].name"),
                format!("node `{}` appears twice", n.name),
            );
        }
        if let Err(why) = check_id(&n.name) {
            return bad(
                &format!("cluster.nodes[{i}].name"),
                format!("{:?} {why}", n.name),
            );
        }
        if n.cores == 0 {
            return bad(
                &format!("cluster.nodes[{i}].cores"),
                "must be at least 1".into(),
            );
        }
        if n.slots == 0 {
            return bad(
                &format!("cluster.nodes[{i}].slots"),
                "must be at least 1".into(),
            );
        }
        if n.memory.0 == 0 {
            return bad(
                &format!("cluster.nodes[{i}].memory"),
                "must be more than 0 bytes".into(),
            );
        }
    }
    match (&s.dataset.phantom, &s.dataset.manifest) {
        (Some(_), Some(_)) => {
            return bad(
                "dataset",
                "give either `phantom` or `manifest`, not both".into(),
            )
        }
        (None, None) => return bad("dataset", "give `phantom` or `manifest`".into()),
        _ => {}
    }
    if let Some(p) = &s.dataset.phantom {
        let spec = phantom_spec(p, s);
        if let Err(e) = spec.validate() {
            return bad("dataset.phantom", e.to_string());
        }
        if spec.subjects < s.workload.targets + s.workload.atlases
            && s.workload.atlas_ids.is_empty()
        {
            return bad(
                "dataset.phantom.subjects",
                format!(
                    "{} subjects cannot give {} targets and {} distinct atlases",
                    spec.subjects, s.workload.targets, s.workload.atlases
                ),
            );
        }
    }
    let w = &s.workload;
    if w.targets == 0 {
        return bad("workload.targets", "must be at least 1".into());
    }
    if w.atlases == 0 {
        return bad("workload.atlases", "must be at least 1".into());
    }
    // (n + 1) jobs per target per repetition; a plan is held in memory and run, not simulated.
    let jobs = w
        .atlases
        .checked_add(1)
        .and_then(|per| per.checked_mul(w.targets))
        .and_then(|j| j.checked_mul(s.repetitions as usize));
    if jobs.is_none_or(|j| j > MAX_JOBS) {
        return bad(
            "workload",
            format!(
                "{} targets × ({} atlases + 1) × {} repetitions is more than {MAX_JOBS} jobs",
                w.targets, w.atlases, s.repetitions
            ),
        );
    }
    if !w.target_ids.is_empty() && w.target_ids.len() != w.targets {
        return bad(
            "workload.target_ids",
            format!(
                "lists {} ids but targets = {}",
                w.target_ids.len(),
                w.targets
            ),
        );
    }
    if !w.atlas_ids.is_empty() && w.atlas_ids.len() != w.atlases {
        return bad(
            "workload.atlas_ids",
            format!(
                "lists {} ids but atlases = {}",
                w.atlas_ids.len(),
                w.atlases
            ),
        );
    }
    for (key, ids) in [
        ("workload.target_ids", &w.target_ids),
        ("workload.atlas_ids", &w.atlas_ids),
    ] {
        let mut seen = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            if let Err(why) = check_id(id) {
                return bad(&format!("{key}[{i}]"), format!("{id:?} {why}"));
            }
            if !seen.insert(id) {
                return bad(&format!("{key}[{i}]"), format!("`{id}` is listed twice"));
            }
        }
    }
    if !w.leave_one_out {
        if let Some((i, id)) = w
            .atlas_ids
            .iter()
            .enumerate()
            .find(|(_, a)| w.target_ids.contains(a))
        {
            return bad(
                &format!("workload.atlas_ids[{i}]"),
                format!(
                    "`{id}` is also a target: its own labels would be fused into its result; set workload.leave_one_out = true if that is the study"
                ),
            );
        }
    }
    let r = &s.stages.registration;
    let f = &s.stages.fusion;
    let most_cores = s.cluster.nodes.iter().map(|n| n.cores).max().unwrap_or(0);
    for (key, threads) in [
        ("stages.registration.threads", r.threads),
        ("stages.fusion.threads", f.threads),
    ] {
        if threads == 0 {
            return bad(key, "must be at least 1".into());
        }
        if threads > most_cores {
            return bad(
                key,
                format!(
                    "{threads} threads per job, but the largest node has {most_cores} core{}: no node could give a job its threads (on Slurm it would wait forever)",
                    if most_cores == 1 { "" } else { "s" }
                ),
            );
        }
    }
    if r.command.is_empty() {
        if let Err(e) = r.params().validate() {
            return bad(&format!("stages.registration.{}", e.key), e.message);
        }
    } else {
        check_template(&r.command, REGISTRATION_PLACEHOLDERS)
            .or_else(|m| bad("stages.registration.command", m.0))?;
    }
    if f.command.is_empty() && f.method == FusionMethod::Jlf {
        if let Err(e) = f.jlf().validate() {
            return bad(&format!("stages.fusion.{}", e.key), e.message);
        }
    } else {
        check_template(&f.command, FUSION_PLACEHOLDERS)
            .or_else(|m| bad("stages.fusion.command", m.0))?;
    }
    check_template(&s.preflight, PREFLIGHT_PLACEHOLDERS).or_else(|m| bad("preflight", m.0))?;
    let sc = &s.scheduling;
    if !(sc.forecast_margin.is_finite() && (0.0..=10.0).contains(&sc.forecast_margin)) {
        return bad(
            "scheduling.forecast_margin",
            "must be between 0 and 10".into(),
        );
    }
    if sc.policy == Policy::Memory {
        let largest = s
            .cluster
            .nodes
            .iter()
            .map(|n| n.memory.0)
            .max()
            .unwrap_or(0);
        for (key, req) in [
            ("stages.registration.memory", r.memory),
            ("stages.fusion.memory", f.memory),
        ] {
            match req {
                None => {
                    return bad(
                        "scheduling.policy",
                        format!(
                            "the memory policy needs `{key}` (bytes, e.g. \"2 GiB\", or \"auto\")"
                        ),
                    )
                }
                Some(MemoryRequest::Bytes(b)) if b.0 > largest => {
                    return bad(
                        key,
                        format!(
                            "{b} does not fit on any node (largest has {})",
                            ByteSize(largest)
                        ),
                    )
                }
                _ => {}
            }
        }
    }
    if s.cluster.executor == ExecutorKind::Slurm && sc.policy == Policy::Unlimited {
        return bad(
            "scheduling.policy",
            "Slurm always admits by its own limits; use slots or memory".into(),
        );
    }
    Ok(())
}

/// Nodes whose slots can run more threads at once than they have cores (slots × threads >
/// cores under the slots policy), one sentence each. Not an error: the paper's waves
/// oversubscribe on purpose, and the figures then show the jobs sharing cores.
pub fn oversubscription(s: &Scenario) -> Vec<String> {
    if s.scheduling.policy != Policy::Slots {
        return Vec::new();
    }
    let threads = s.stages.registration.threads.max(s.stages.fusion.threads);
    s.cluster
        .nodes
        .iter()
        .filter(|n| n.slots.saturating_mul(threads) > n.cores)
        .map(|n| {
            let many =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            format!(
                "node {}: {} × {} per job = {} on {} ({:.1}× oversubscribed: jobs share cores)",
                n.name,
                many(n.slots, "slot"),
                many(threads, "thread"),
                many(n.slots * threads, "thread"),
                many(n.cores, "core"),
                (n.slots * threads) as f64 / n.cores as f64
            )
        })
        .collect()
}

/// Placeholders a registration command may use.
pub const REGISTRATION_PLACEHOLDERS: &[&str] = &[
    "fixed",
    "moving",
    "moving_labels",
    "fixed_labels",
    "out",
    "warped",
    "warped_labels",
    "threads",
    "atlasperf",
    "scenario_dir",
];
/// Placeholders a fusion command may use.
pub const FUSION_PLACEHOLDERS: &[&str] = &[
    "target",
    "target_labels",
    "atlas_images",
    "atlas_labels",
    "out",
    "threads",
    "atlasperf",
    "scenario_dir",
];
/// Placeholders the preflight command may use.
pub const PREFLIGHT_PLACEHOLDERS: &[&str] = &["scenario_dir", "atlasperf"];

/// Every `{name}` in the template must be known; braces must balance.
fn check_template(argv: &[String], known: &[&str]) -> Result<(), UsageError> {
    for arg in argv {
        for name in placeholders(arg)? {
            if !known.contains(&name) {
                return Err(UsageError(format!(
                    "unknown placeholder `{{{name}}}` in `{arg}` (known: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
        }
    }
    Ok(())
}

/// The placeholder names in one argument.
///
/// # Errors
/// An unclosed `{`.
pub fn placeholders(arg: &str) -> Result<Vec<&str>, UsageError> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(UsageError(format!("unclosed `{{` in `{arg}`")));
        };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    Ok(out)
}
