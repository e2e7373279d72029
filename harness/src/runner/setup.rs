//! Setting a run up: the executor connected, inputs and output folders written, the
//! scheduler primed with what earlier segments did, `run.json`'s first contents, the
//! scenario's preflight, and the memory forecast notes at the end.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use atlasperf_kernels::dataset::write_phantom_cohort;

use crate::error::{Error, Result, UsageError};
use crate::executor::local::cpusets;
use crate::executor::slurm::SlurmExecutor;
use crate::plan::{DatasetPlan, Plan, Stage};
use crate::sampler::node::host_facts;
use crate::sampler::unix_now;
use crate::scenario::{ExecutorKind, Scenario};
use crate::scheduler::Scheduler;
use crate::session::Session;
use crate::store::{
    AttemptStatus, ForecastNote, JobRecord, NodeInfo, Notes, RunInfo, RunStatus, RunStore,
    SCHEMA_VERSION,
};

pub(super) type Prepared = (
    Scheduler,
    Option<SlurmExecutor>,
    Vec<Option<Vec<usize>>>,
    Vec<bool>,
);

/// Connects the executor, writes the inputs and output folders, primes the scheduler with
/// what earlier segments did (attempt numbers continue after the highest ever written), and
/// records the nodes in `run.json`.
pub(super) fn prepare(
    session: &mut Session,
    scenario: &Scenario,
    base: &Path,
    plan: &Plan,
    exe: &Path,
) -> Result<Prepared> {
    let store = session.store().clone();
    let slurm = match scenario.cluster.executor {
        ExecutorKind::Local => None,
        ExecutorKind::Slurm => Some(
            SlurmExecutor::connect(exe.to_path_buf(), store.clone(), scenario.interval_ms, plan)
                .map_err(|source| Error::SlurmUnreachable {
                    run: store.dir().to_path_buf(),
                    source,
                })?,
        ),
    };
    prepare_inputs(plan, &store)?;
    let models = crate::forecast::for_scenario(scenario, base)?;
    let mut sched = Scheduler::new(plan, models);
    let records = store.read_jobs()?;
    let ids: HashSet<&str> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
    let numbers = store.attempts_on_disk(&ids)?;
    let mut done = vec![false; plan.jobs.len()];
    for (i, job) in plan.jobs.iter().enumerate() {
        let mine = || records.iter().filter(|r| r.job_id == job.id);
        done[i] = mine().any(|r| r.status == AttemptStatus::Ok);
        let n = numbers.get(&job.id).copied().unwrap_or(0);
        if done[i] {
            sched.mark_done(i, n);
        } else {
            let failures = mine()
                .filter(|r| matches!(r.status, AttemptStatus::Failed | AttemptStatus::OomKilled))
                .count();
            sched.set_attempts(i, n, u32::try_from(failures).unwrap_or(u32::MAX));
        }
    }
    let host = host_facts();
    // Slurm places and confines jobs itself; emulated nodes are pinned to their own CPUs.
    let sets = if slurm.is_some() {
        vec![None; plan.nodes.len()]
    } else {
        cpusets(
            &plan.nodes.iter().map(|n| n.cores).collect::<Vec<_>>(),
            host.cpus,
        )
    };
    let nodes: Vec<NodeInfo> = plan
        .nodes
        .iter()
        .zip(&sets)
        .map(|(n, s)| NodeInfo {
            name: n.name.clone(),
            cores: n.cores,
            memory: n.memory.0,
            slots: n.slots,
            pinned_cpus: s.clone(),
        })
        .collect();
    let pinning = (slurm.is_none() && sets.iter().any(Option::is_none)).then(|| {
        format!(
            "off: the nodes ask for {} cores, this machine has {}",
            plan.nodes.iter().map(|n| n.cores).sum::<usize>(),
            host.cpus
        )
    });
    let executor = slurm.is_some().then(|| "slurm".to_string());
    session.update_info(|i| {
        i.nodes = nodes;
        i.notes.pinning = pinning;
        i.notes.executor = executor;
    })?;
    Ok((sched, slurm, sets, done))
}

pub(super) fn new_info(s: &Scenario, file: &Path, base: &Path, dir: &Path) -> Result<RunInfo> {
    Ok(RunInfo {
        schema_version: SCHEMA_VERSION,
        id: folder_name(dir),
        scenario_name: s.name.clone(),
        scenario: serde_json::to_value(s)?,
        git_commit: git_commit(),
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: BTreeMap::new(),
        nodes: Vec::new(),
        host: host_facts(),
        start_unix: unix_now(),
        end_unix: None,
        status: RunStatus::Running,
        interval_ms: s.interval_ms,
        notes: Notes {
            scenario_file: Some(file.to_path_buf()),
            scenario_dir: Some(std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf())),
            ..Notes::default()
        },
        segments: Vec::new(),
        conditions: None,
    })
}

/// The last path component, as the run id.
pub fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The git commit this binary was built from, when it was built from a clone.
pub fn git_commit() -> Option<String> {
    Some(env!("ATLASPERF_GIT_COMMIT"))
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// Runs the scenario's preflight command, if any; a failure is a usage error carrying its
/// output, before anything is created or launched.
pub(super) fn preflight(s: &Scenario, base: &Path, file: &Path) -> Result<()> {
    if s.preflight.is_empty() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating the atlasperf binary", e))?;
    let argv = crate::plan::preflight_argv(s, base, &exe)
        .map_err(|m| UsageError(format!("{}: {m}", file.display())))?;
    let shown = argv.join(" ");
    let out = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            UsageError(format!(
                "{}: preflight `{shown}` could not start: {e}",
                file.display()
            ))
        })?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        return Err(UsageError(format!(
            "{}: preflight `{shown}` failed ({}):\n{}",
            file.display(),
            out.status,
            text.trim_end()
        ))
        .into());
    }
    Ok(())
}

/// Generates the phantom cohort (unless a previous segment did) and the output folders.
fn prepare_inputs(plan: &Plan, store: &RunStore) -> Result<()> {
    if let DatasetPlan::Phantom { spec, dir } = &plan.dataset {
        if !dir.join("manifest.toml").is_file() {
            let bar = indicatif::ProgressBar::new(spec.subjects as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "generating phantom cohort [{bar:30}] {pos}/{len}",
            ) {
                bar.set_style(style);
            }
            // The kernel's errors name the file they could not write.
            write_phantom_cohort(spec, dir, &|n, _| bar.set_position(n as u64))?;
            bar.finish_and_clear();
        }
    }
    for j in &plan.jobs {
        let sub = match j.stage {
            Stage::Registration => Path::new("registration").join(&j.target),
            Stage::Fusion => PathBuf::from("fusion"),
        };
        let rep =
            j.id.split_once("-reg-")
                .or_else(|| j.id.split_once("-fuse-"))
                .map(|(r, _)| r);
        let d = match rep {
            Some(r) if r.starts_with("rep") => store.outputs().join(r).join(sub),
            _ => store.outputs().join(sub),
        };
        crate::store::fsio::ensure_dir(&d)?;
    }
    Ok(())
}

/// Forecast vs measured peak per stage, for `run.json` and the report.
pub(super) fn forecast_notes(
    sched: &Scheduler,
    plan: &Plan,
    records: &[JobRecord],
) -> BTreeMap<String, ForecastNote> {
    let mut out = BTreeMap::new();
    for stage in [Stage::Registration, Stage::Fusion] {
        let peaks: Vec<u64> = records
            .iter()
            .filter(|r| r.stage == stage.as_str() && r.status == AttemptStatus::Ok)
            .map(|r| r.totals.peak_rss)
            .collect();
        let voxels = plan
            .jobs
            .iter()
            .find(|j| j.stage == stage)
            .map_or(0, |j| j.voxels);
        let measured_max = peaks.iter().copied().max();
        let measured_mean =
            (!peaks.is_empty()).then(|| peaks.iter().sum::<u64>() / peaks.len() as u64);
        let note = match sched.model(stage) {
            Some(m) => ForecastNote {
                source: m.source.to_string(),
                bytes_per_voxel: Some(m.slope),
                intercept_bytes: Some(m.intercept),
                forecast_peak: Some(m.predict(voxels)),
                voxels: Some(voxels),
                measured_max_peak: measured_max,
                measured_mean_peak: measured_mean,
                forecast_error: measured_max
                    .map(|x| m.predict(voxels) as f64 / x.max(1) as f64 - 1.0),
            },
            None => ForecastNote {
                source: "none".into(),
                measured_max_peak: measured_max,
                measured_mean_peak: measured_mean,
                ..ForecastNote::default()
            },
        };
        out.insert(stage.as_str().to_string(), note);
    }
    out
}
