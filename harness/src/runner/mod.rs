//! The one run path: scenario → validated plan → run store (a [`Session`]) → executor →
//! [`Outcome`]. `atlasperf run` and `atlasperf run --resume` are both a [`Runner`]; the
//! command only parses, shows progress and prints.

mod setup;

pub use setup::{folder_name, git_commit};
use setup::{forecast_notes, new_info, preflight, prepare};

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::driver::{drive, Ending, Event};
use crate::error::{Error, Result, UsageError};
use crate::executor::local::LocalExecutor;
use crate::executor::slurm::SlurmExecutor;
use crate::executor::Executor;
use crate::plan::{expand, Plan};
use crate::sampler::node::record_machine;
use crate::scenario::{ExecutorKind, Loaded, Scenario};
use crate::scheduler::Scheduler;
use crate::session::{Recovery, Session};
use crate::store::{AttemptStatus, ForecastNote, RunInfo, RunStatus, RunStore};

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
    pub fn start(loaded: &Loaded, dir: &Path) -> Result<Self> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let exe =
            std::env::current_exe().map_err(|e| Error::io("locating the atlasperf binary", e))?;
        if dir.join("run.json").exists() {
            return Err(UsageError(format!(
                "{} already holds a run; choose another --out or use --resume",
                dir.display()
            ))
            .into());
        }
        let plan = expand(&loaded.scenario, &loaded.base, &dir, &exe)?;
        preflight(&loaded.scenario, &loaded.base, &loaded.file)?;
        let info = new_info(&loaded.scenario, &loaded.file, &loaded.base, &dir)?;
        let session = Session::create(&dir, info)?;
        Self::set_up(session, &loaded.scenario, &loaded.base, plan, exe, None)
    }

    /// Reopens the interrupted, failed or killed run in `dir` to run what is missing.
    ///
    /// # Errors
    /// Usage errors (not a store, already complete, in use by another process) and failures
    /// to repair or set the run up.
    pub fn resume(dir: &Path) -> Result<Self> {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let exe =
            std::env::current_exe().map_err(|e| Error::io("locating the atlasperf binary", e))?;
        let store = RunStore::open(&dir)?;
        let info = store.read_info()?;
        if info.status == RunStatus::Complete {
            return Err(UsageError(format!(
                "{} is already complete; nothing to resume",
                dir.display()
            ))
            .into());
        }
        let (scenario, base) = recorded_scenario(&store, &info)?;
        let plan = expand(&scenario, &base, &dir, &exe)?;
        preflight(&scenario, &base, &store.info_path())?;
        let slurm = scenario.cluster.executor == ExecutorKind::Slurm;
        let (session, recovery) = Session::resume(&dir, |orphans| {
            if slurm {
                crate::executor::slurm::cancel_attempts(orphans);
            }
        })?;
        Self::set_up(session, &scenario, &base, plan, exe, Some(recovery))
    }

    fn set_up(
        mut session: Session,
        scenario: &Scenario,
        base: &Path,
        plan: Plan,
        exe: PathBuf,
        recovery: Option<Recovery>,
    ) -> Result<Self> {
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
                let _ = session.fail(crate::store::describe(&e));
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
    ) -> Result<Outcome> {
        let machine_stop = Arc::new(AtomicBool::new(false));
        let machine = record_machine(
            self.session.store().machine_csv(),
            Duration::from_millis(self.interval_ms),
            Arc::clone(&machine_stop),
        );
        let offset = self.session.clock();
        let store = self.session.store().clone();
        let on_slurm = self.slurm.is_some();
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
            crate::driver::WATCHDOG_POLL,
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
        if on_slurm && matches!(result, Ok(Ending::Complete)) {
            use crate::executor::slurm::accounting::{record, Accounted};
            match record(&store, &records, Duration::from_secs(15)) {
                Ok(Accounted::Recorded(n)) => eprintln!(
                    "accounting: sacct's figures for {n} attempt(s) are beside atlasperf's in the jobs table (acct_*)"
                ),
                Ok(Accounted::Unavailable(why)) => eprintln!("accounting: not recorded: {why}"),
                Err(e) => eprintln!("accounting: not recorded: {e}"),
            }
        }
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
            Err(e) => (RunStatus::Failed, Some(crate::store::describe(e))),
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
        let (summary, info) = self.session.finish(status, failure)?;
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

/// The scenario a run recorded in `run.json`, and the folder its relative paths are resolved
/// against (the scenario's own, or the run's when it was not recorded).
///
/// # Errors
/// A usage error when `run.json`'s scenario cannot be read as one.
pub fn recorded_scenario(store: &RunStore, info: &RunInfo) -> Result<(Scenario, PathBuf)> {
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
        .unwrap_or_else(|| store.dir().to_path_buf());
    Ok((scenario, base))
}
