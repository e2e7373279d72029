//! `atlasperf simulate SCENARIO --profiles RUN…`, `atlasperf simulate --validate REAL_RUN
//! --profiles RUN…` and `atlasperf export RUN --format swf|wfformat`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{ExportArgs, ExportFormat, SimulateArgs};
use crate::error::UsageError;
use crate::plan::{expand_graph, Plan};
use crate::scenario::{self, ExecutorKind, Scenario};
use crate::simulate::engine::MemoryRule;
use crate::simulate::output::Header;
use crate::simulate::{
    band, export, open_tables, simulate_once, write_store, Inputs, Sample, Setup,
};
use crate::store::{
    read_nodes_table, read_samples_table, AttemptStatus, Band, JobRecord, NodeInfo, RunStore,
    Simulation,
};

mod print;

use print::{print_bands, print_inputs};

/// What every sample is summarised by.
const QUANTITIES: [&str; 4] = ["makespan_s", "node_peak_rss", "oom_killed", "cpu_hours"];

fn quantities(s: &Sample) -> [f64; 4] {
    [
        s.makespan_s,
        s.node_peaks.iter().copied().max().unwrap_or(0) as f64,
        s.oom_killed as f64,
        s.cpu_hours,
    ]
}

/// Runs every sample of `plan`; the first is recorded for the run store.
fn run_samples(
    plan: &Plan,
    scenario: &Scenario,
    base: &Path,
    inputs: &Inputs,
    seed: u64,
    samples: u64,
) -> anyhow::Result<(Sample, Vec<[f64; 4]>)> {
    let rule = match scenario.cluster.executor {
        ExecutorKind::Slurm => MemoryRule::PerJob,
        ExecutorKind::Local => MemoryRule::Node,
    };
    let memory_models = crate::forecast::for_scenario(scenario, base)?;
    let bar = ProgressBar::new(samples);
    if let Ok(style) =
        ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} samples")
    {
        bar.set_style(style);
    }
    let mut first = None;
    let mut all = Vec::new();
    let setup = Setup {
        profiles: &inputs.profiles,
        models: &inputs.models,
        spread: &inputs.spread,
        rule,
        memory_models,
        seed,
        lead_in_s: inputs.lead_in.at(crate::simulate::input_voxels(plan)),
        corun: inputs.corun,
    };
    for k in 0..samples {
        let s = simulate_once(plan, &setup, k, k == 0)?;
        all.push(quantities(&s));
        if k == 0 {
            first = Some(s);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((first.unwrap_or_default(), all))
}

fn bands(all: &[[f64; 4]]) -> Vec<Band> {
    QUANTITIES
        .iter()
        .enumerate()
        .map(|(q, name)| {
            let [p10, p50, p90] = band(&all.iter().map(|v| v[q]).collect::<Vec<_>>());
            Band {
                quantity: (*name).into(),
                p10,
                p50,
                p90,
            }
        })
        .collect()
}

fn largest(plan: &Plan) -> [(u64, usize); 2] {
    let mut out = [(0, 0); 2];
    for j in &plan.jobs {
        let e = &mut out[j.stage.index()];
        e.0 = e.0.max(j.voxels);
        e.1 = e.1.max(j.deps.len().max(1));
    }
    out
}

pub(crate) fn run(a: &SimulateArgs) -> anyhow::Result<u8> {
    if let Some(real) = &a.validate {
        return validate(real, a);
    }
    let file = a
        .scenario
        .as_deref()
        .ok_or_else(|| UsageError("give a scenario file".into()))?;
    let loaded = scenario::load(file, &a.overrides).map_err(|e| UsageError(e.to_string()))?;
    let name = format!("{}-sim", loaded.scenario.name);
    let dir = super::out_or_default(a.out.as_deref(), &name);
    if dir.join("run.json").exists() {
        return Err(UsageError(format!(
            "{} already holds a run; choose another --out",
            dir.display()
        ))
        .into());
    }
    let plan = expand_graph(&loaded.scenario, &loaded.base, &dir)?;
    let inputs = Inputs::load(&a.profiles)?;
    print_inputs(&inputs, &plan);
    let started = std::time::Instant::now();
    let (first, all) = run_samples(
        &plan,
        &loaded.scenario,
        &loaded.base,
        &inputs,
        a.seed,
        a.samples,
    )?;
    let bands = bands(&all);
    eprintln!(
        "simulated {} jobs on {} nodes, {} sample(s) in {:.2} s:",
        plan.jobs.len(),
        plan.nodes.len(),
        a.samples,
        started.elapsed().as_secs_f64()
    );
    print_bands(&bands);
    let interval_ms = profile_interval(&a.profiles).unwrap_or(loaded.scenario.interval_ms);
    let info = write_store(
        &dir,
        Header {
            name: &loaded.scenario.name,
            scenario: serde_json::to_value(&loaded.scenario)?,
            nodes: plan
                .nodes
                .iter()
                .map(|n| NodeInfo {
                    name: n.name.clone(),
                    cores: n.cores,
                    memory: n.memory.0,
                    slots: n.slots,
                    pinned_cpus: None,
                })
                .collect(),
            interval_ms,
            simulation: Simulation {
                profiles: a
                    .profiles
                    .iter()
                    .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                    .collect(),
                profile_attempts: inputs.profiles.iter().fold(BTreeMap::new(), |mut m, p| {
                    *m.entry(p.stage.as_str().to_string()).or_insert(0) += 1;
                    m
                }),
                seed: a.seed,
                samples: a.samples as usize,
                models: inputs.models.notes(largest(&plan)),
                bands,
            },
        },
        &first,
    )?;
    eprintln!(
        "{}: sample 1 written as a run store ({} of {} jobs done, {} attempts OOM-killed, makespan {:.1} s): {}",
        info.status.as_str(),
        first.ok_jobs,
        plan.jobs.len(),
        first.oom_killed,
        first.makespan_s,
        dir.display()
    );
    let report_dir = dir.join("report");
    match super::report::report(&dir, &report_dir, atlasperf_reports::render::Formats::ALL) {
        Ok(r) => eprintln!(
            "report: {} ({} files)",
            report_dir.join("report.html").display(),
            r.files.len()
        ),
        Err(e) => eprintln!("warning: the report could not be rendered: {e:#}"),
    }
    Ok(0)
}

/// The sampling period of the first profile run.
fn profile_interval(runs: &[PathBuf]) -> Option<u64> {
    let store = RunStore::open(runs.first()?).ok()?;
    store.read_info().ok().map(|i| i.interval_ms)
}

/// What a measured run measured, in [`QUANTITIES`]' order.
fn measured(dir: &Path, jobs: &[JobRecord]) -> anyhow::Result<[f64; 4]> {
    let nodes = read_nodes_table(&dir.join("nodes.parquet"))
        .map_err(|e| UsageError(format!("--validate: {e}")))?;
    Ok([
        jobs.iter().map(|j| j.end_s).fold(0.0, f64::max),
        nodes.iter().map(|n| n.rss).max().unwrap_or(0) as f64,
        jobs.iter()
            .filter(|j| j.status == AttemptStatus::OomKilled)
            .count() as f64,
        jobs.iter().map(|j| j.totals.cpu_s()).sum::<f64>() / 3600.0,
    ])
}

/// The lowest and highest of a group's runs, as fractions of their median.
type RepeatSpread = (f64, f64);

/// What a group of repetitions measured: per quantity the median over its runs and the
/// runs' spread around it (lowest and highest as fractions of the median).
fn measured_group(members: &[PathBuf]) -> anyhow::Result<([f64; 4], [RepeatSpread; 4])> {
    let mut all = Vec::new();
    for m in members {
        let (_, _, jobs) = open_tables(m, "--validate", true)?;
        all.push(measured(m, &jobs)?);
    }
    let mut want = [0.0; 4];
    let mut spread = [(0.0, 0.0); 4];
    for q in 0..4 {
        let v: Vec<f64> = all.iter().map(|w| w[q]).collect();
        let med = crate::store::stats::median(&v).unwrap_or(0.0);
        want[q] = med;
        if med > 0.0 {
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            spread[q] = (lo / med - 1.0, hi / med - 1.0);
        }
    }
    Ok((want, spread))
}

fn validate(real: &Path, a: &SimulateArgs) -> anyhow::Result<u8> {
    // A group of repetitions is validated against the median of its runs, beside their spread.
    let members = crate::store::Group::members(real)
        .map_err(|e| UsageError(format!("--validate: {}", crate::store::describe(&e))))?;
    let first = &members[0];
    let (store, info, _) = open_tables(first, "--validate", true)?;
    let profile_abs: Vec<PathBuf> = a
        .profiles
        .iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .collect();
    if members
        .iter()
        .filter_map(|m| std::path::absolute(m).ok())
        .any(|m| profile_abs.contains(&m))
    {
        return Err(
            UsageError("--validate: the run validated cannot also be a profile".into()).into(),
        );
    }
    let (scenario, base) = crate::runner::recorded_scenario(&store, &info)?;
    let plan = expand_graph(&scenario, &base, first)?;
    let inputs = Inputs::load(&a.profiles)?;
    print_inputs(&inputs, &plan);
    let (_, all) = run_samples(&plan, &scenario, &base, &inputs, a.seed, a.samples)?;
    let (want, spread) = measured_group(&members)?;
    let group = members.len() > 1;
    let bands = bands(&all);
    println!(
        "{:<14} {:>14} {:>14} {:>9}  P10–P90 holds it{}",
        "quantity",
        "predicted P50",
        "measured",
        "error",
        if group {
            format!("  repeat spread over {} runs   inside it", members.len())
        } else {
            String::new()
        }
    );
    let mut worst: f64 = 0.0;
    let mut oom_exact = true;
    for (q, b) in bands.iter().enumerate() {
        let err = if want[q] == 0.0 {
            if b.p50 == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            b.p50 / want[q] - 1.0
        };
        if QUANTITIES[q] == "oom_killed" {
            oom_exact = b.p50 == want[q];
        } else {
            worst = worst.max(err.abs());
        }
        let (lo, hi) = spread[q];
        println!(
            "{:<14} {:>14.4} {:>14.4} {:>+8.1}%  {}{}",
            b.quantity,
            b.p50,
            want[q],
            err * 100.0,
            if b.p10 <= want[q] && want[q] <= b.p90 {
                "yes"
            } else {
                "no"
            },
            if group {
                format!(
                    "  {:>+6.1}% … {:>+5.1}%   {}",
                    100.0 * lo,
                    100.0 * hi,
                    if lo - 1e-9 <= err && err <= hi + 1e-9 {
                        "yes"
                    } else {
                        "no"
                    }
                )
            } else {
                String::new()
            }
        );
    }
    if let Some(max) = a.max_error {
        if worst > max || !oom_exact {
            eprintln!(
                "validation failed: largest error {:.1} % (limit {:.1} %){}",
                worst * 100.0,
                max * 100.0,
                if oom_exact {
                    ""
                } else {
                    "; OOM-killed attempts differ"
                }
            );
            return Ok(1);
        }
    }
    Ok(0)
}

pub(crate) fn export(a: &ExportArgs) -> anyhow::Result<()> {
    let (_, info, jobs) = open_tables(&a.run, "export", false)?;
    let text = match a.format {
        ExportFormat::Swf => export::swf(&info, &jobs),
        ExportFormat::Wfformat => {
            let samples = read_samples_table(&a.run.join("samples.parquet"))?;
            let mut s = serde_json::to_string_pretty(&export::wfformat(&info, &jobs, &samples))?;
            s.push('\n');
            s
        }
    };
    match &a.out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
