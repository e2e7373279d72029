//! The one run path: scenario → validated plan → run store (a [`Session`]) → executor →
//! [`Outcome`]. `atlasperf run` and `atlasperf run --resume` are both a [`Runner`]; the
//! command only parses, shows progress and prints.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use atlasperf_kernels::phantom::write_cohort;

use crate::cli::UsageError;
use crate::driver::{drive, Ending, Event};
use crate::executor::local::{cpusets, LocalExecutor};
use crate::executor::slurm::SlurmExecutor;
use crate::executor::Executor;
use crate::plan::{expand, DatasetPlan, Plan, Stage};
use crate::sampler::node::{host_facts, record_machine};
use crate::sampler::unix_now;
use crate::scenario::{ExecutorKind, Loaded, Scenario};
use crate::scheduler::Scheduler;
use crate::session::{Recovery, Session};
use crate::store::{
    AttemptStatus, ForecastNote, JobRecord, NodeInfo, Notes, RunInfo, RunStatus, RunStore,
    SCHEMA_VERSION,
};

/// How a run ended, for the command to print.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run folder.
    pub dir: PathBuf,
    /// The status written to `run.json`.
    pub status: RunStatus,
    /// Why it failed or stopped, when it did.
    pub failure: Option<String>,
    /// Planned jobs.
    pub jobs: usize,
    /// Jobs with a successful attempt.
    pub ok: usize,
    /// Attempts the OOM watchdog killed (this run and earlier segments).
    pub oom_killed: usize,
    /// Makespan on the run clock: active time, idle gaps before resumes left out, s.
    pub makespan_s: f64,
    /// Idle gaps between a killed or interrupted harness and its resume, s each.
    pub idle_gaps_s: Vec<f64>,
    /// Rows of the compacted `samples` table (none when compaction failed).
    pub samples: Option<usize>,
    /// Memory forecast against measured peaks, per stage.
    pub forecasts: BTreeMap<String, ForecastNote>,
}

/// A run ready to execute: the store is created (or reopened and repaired) and locked, the
/// plan validated, the scheduler primed with what earlier segments did.
pub struct Runner {
    session: Session,
    plan: Plan,
    sched: Scheduler,
    slurm: Option<SlurmExecutor>,
    sets: Vec<Option<Vec<usize>>>,
    exe: PathBuf,
    interval_ms: u64,
    done: Vec<bool>,
    recovery: Option<Recovery>,
}

impl Runner {
    /// Starts a new run of `loaded` in `dir`. Everything that can be checked is checked
    /// before the store is created; anything that fails after leaves the store `failed` with
    /// the reason.
    ///
    /// # Errors
    /// Usage errors (an invalid plan, a failing preflight, a folder that holds a run) and
    /// failures to set the run up.
    pub fn start(loaded: &Loaded, dir: &Path) -> anyhow::Result<Self> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let exe = std::env::current_exe().context("locating the atlasperf binary")?;
        if dir.join("run.json").exists() {
            return Err(UsageError(format!(
                "{} already holds a run; choose another --out or use --resume",
                dir.display()
            ))
            .into());
        }
        let plan = expand(&loaded.scenario, &loaded.base, &dir, &exe).map_err(UsageError)?;
        preflight(&loaded.scenario, &loaded.base, &loaded.file)?;
        let info = new_info(&loaded.scenario, &loaded.file, &loaded.base, &dir)?;
        let session = Session::create(&dir, info).map_err(store_usage)?;
        Self::set_up(session, &loaded.scenario, &loaded.base, plan, exe, None)
    }

    /// Reopens the interrupted, failed or killed run in `dir` to run what is missing.
    ///
    /// # Errors
    /// Usage errors (not a store, already complete, in use by another process) and failures
    /// to repair or set the run up.
    pub fn resume(dir: &Path) -> anyhow::Result<Self> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let exe = std::env::current_exe().context("locating the atlasperf binary")?;
        let store = RunStore::open(&dir).map_err(store_usage)?;
        let info = store.read_info().map_err(store_usage)?;
        if info.status == RunStatus::Complete {
            return Err(UsageError(format!(
                "{} is already complete; nothing to resume",
                dir.display()
            ))
            .into());
        }
        let scenario: Scenario = serde_json::from_value(info.scenario.clone()).map_err(|e| {
            UsageError(format!(
                "{}: the scenario in run.json cannot be read: {e}",
                store.info_path().display()
            ))
        })?;
        let base = info
            .notes
            .scenario_dir
            .clone()
            .unwrap_or_else(|| dir.clone());
        let plan = expand(&scenario, &base, &dir, &exe).map_err(UsageError)?;
        preflight(&scenario, &base, &store.info_path())?;
        let slurm = scenario.cluster.executor == ExecutorKind::Slurm;
        let (session, recovery) = Session::resume(&dir, |orphans| {
            if slurm {
                crate::executor::slurm::cancel_attempts(orphans);
            }
        })
        .map_err(store_usage)?;
        Self::set_up(session, &scenario, &base, plan, exe, Some(recovery))
    }

    fn set_up(
        mut session: Session,
        scenario: &Scenario,
        base: &Path,
        plan: Plan,
        exe: PathBuf,
        recovery: Option<Recovery>,
    ) -> anyhow::Result<Self> {
        match prepare(&mut session, scenario, base, &plan, &exe) {
            Ok((sched, slurm, sets, done)) => Ok(Self {
                session,
                plan,
                sched,
                slurm,
                sets,
                exe,
                interval_ms: scenario.interval_ms,
                done,
                recovery,
            }),
            Err(e) => {
                let _ = session.fail(format!("{e:#}"));
                Err(e)
            }
        }
    }

    /// The validated plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Which jobs already have a successful attempt (from earlier segments).
    pub fn done(&self) -> &[bool] {
        &self.done
    }

    /// What a resume found and repaired.
    pub fn recovery(&self) -> Option<&Recovery> {
        self.recovery.as_ref()
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        self.session.store().dir()
    }

    /// Runs the plan until every job has ended or `stop` is raised. `observe` sees every
    /// event after the store has recorded it.
    ///
    /// # Errors
    /// When the store cannot be written (the run is then marked `failed` with the reason).
    pub fn execute(
        mut self,
        stop: &Arc<AtomicBool>,
        observe: &mut dyn FnMut(&Plan, Event<'_>),
    ) -> anyhow::Result<Outcome> {
        let machine_stop = Arc::new(AtomicBool::new(false));
        let machine = record_machine(
            self.session.store().machine_csv(),
            Duration::from_millis(self.interval_ms),
            Arc::clone(&machine_stop),
        );
        let offset = self.session.clock();
        let store = self.session.store().clone();
        let mut exec: Box<dyn Executor> = match self.slurm.take() {
            Some(s) => Box::new(s.with_offset(offset)),
            None => Box::new(
                LocalExecutor::new(
                    self.exe.clone(),
                    store.clone(),
                    self.interval_ms,
                    self.sets.clone(),
                )
                .with_offset(offset),
            ),
        };
        let plan = &self.plan;
        let session = &mut self.session;
        let result = drive(
            plan,
            &mut self.sched,
            exec.as_mut(),
            stop,
            Duration::from_millis(200),
            &mut |e| {
                match &e {
                    Event::Launching { record, .. } => session.launching(record)?,
                    Event::Recorded { record, .. } => session.record(record)?,
                    _ => {}
                }
                if let Some(f) = session.fault() {
                    if !stop.swap(true, Ordering::Relaxed) {
                        eprintln!("stopping: {f}");
                    }
                }
                observe(plan, e);
                Ok(())
            },
        );
        machine_stop.store(true, Ordering::Relaxed);
        let _ = machine.join();

        let records = store.read_jobs().unwrap_or_default();
        let forecasts = forecast_notes(&self.sched, &self.plan, &records);
        let ok_jobs: HashSet<&str> = records
            .iter()
            .filter(|r| r.status == AttemptStatus::Ok)
            .map(|r| r.job_id.as_str())
            .collect();
        let ok = self
            .plan
            .jobs
            .iter()
            .filter(|j| ok_jobs.contains(j.id.as_str()))
            .count();
        let (status, failure) = match &result {
            Err(e) => (RunStatus::Failed, Some(format!("{e:#}"))),
            Ok(Ending::Interrupted) => (
                RunStatus::Interrupted,
                Some("interrupted (Ctrl-C or SIGTERM)".to_string()),
            ),
            Ok(Ending::Complete) if ok == self.plan.jobs.len() => (RunStatus::Complete, None),
            Ok(Ending::Complete) => (
                RunStatus::Failed,
                Some(format!(
                    "{} of {} jobs did not succeed (failed, or skipped after a dependency failed or fitting on no node); see jobs.csv",
                    self.plan.jobs.len() - ok,
                    self.plan.jobs.len()
                )),
            ),
        };
        self.session
            .update_info(|i| i.notes.memory_forecast = forecasts.clone())?;
        let info_before = self.session.info().clone();
        let summary = self.session.finish(status, failure)?;
        let info = store.read_info().unwrap_or(info_before);
        result?;
        Ok(Outcome {
            dir: store.dir().to_path_buf(),
            status: info.status,
            failure: info.notes.failure.clone(),
            jobs: self.plan.jobs.len(),
            ok,
            oom_killed: records
                .iter()
                .filter(|r| r.status == AttemptStatus::OomKilled)
                .count(),
            makespan_s: records.iter().map(|r| r.end_s).fold(0.0, f64::max),
            idle_gaps_s: info.idle_gaps(),
            samples: summary.map(|s| s.samples),
            forecasts,
        })
    }
}

/// A store error that is the caller's to fix is a usage error (exit code 2).
fn store_usage(e: crate::store::StoreError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(crate::store::describe(&e)).into()
    } else {
        e.into()
    }
}

type Prepared = (
    Scheduler,
    Option<SlurmExecutor>,
    Vec<Option<Vec<usize>>>,
    Vec<bool>,
);

/// Connects the executor, writes the inputs and output folders, primes the scheduler with
/// what earlier segments did (attempt numbers continue after the highest ever written), and
/// records the nodes in `run.json`.
fn prepare(
    session: &mut Session,
    scenario: &Scenario,
    base: &Path,
    plan: &Plan,
    exe: &Path,
) -> anyhow::Result<Prepared> {
    let store = session.store().clone();
    let slurm = match scenario.cluster.executor {
        ExecutorKind::Local => None,
        ExecutorKind::Slurm => Some(
            SlurmExecutor::connect(exe.to_path_buf(), store.clone(), scenario.interval_ms, plan)
                .with_context(|| {
                    format!(
                        "the Slurm cluster is not reachable for run {}",
                        store.dir().display()
                    )
                })?,
        ),
    };
    prepare_inputs(plan, &store)?;
    let models = crate::forecast::from_runs(
        &scenario
            .scheduling
            .forecast_from
            .iter()
            .map(|p| base.join(p))
            .collect::<Vec<_>>(),
    )?;
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

fn new_info(s: &Scenario, file: &Path, base: &Path, dir: &Path) -> anyhow::Result<RunInfo> {
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
fn preflight(s: &Scenario, base: &Path, file: &Path) -> anyhow::Result<()> {
    if s.preflight.is_empty() {
        return Ok(());
    }
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
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
fn prepare_inputs(plan: &Plan, store: &RunStore) -> anyhow::Result<()> {
    if let DatasetPlan::Phantom { spec, dir } = &plan.dataset {
        if !dir.join("manifest.toml").is_file() {
            let bar = indicatif::ProgressBar::new(spec.subjects as u64);
            bar.set_style(indicatif::ProgressStyle::with_template(
                "generating phantom cohort [{bar:30}] {pos}/{len}",
            )?);
            write_cohort(spec, dir, &|n, _| bar.set_position(n as u64))
                .with_context(|| format!("writing the phantom cohort to {}", dir.display()))?;
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
fn forecast_notes(
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
