//! `atlasperf run SCENARIO` and `atlasperf run --resume RUN`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use atlasperf_kernels::phantom::write_cohort;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::cli::{RunArgs, UsageError};
use crate::driver::{drive, Ending, Event};
use crate::executor::local::{cpusets, LocalExecutor};
use crate::executor::slurm::SlurmExecutor;
use crate::executor::Executor;
use crate::plan::{expand, DatasetPlan, Plan, Stage};
use crate::sampler::{node::record_machine, unix_now};
use crate::scenario::{self, ExecutorKind, Scenario};
use crate::scheduler::{JobStatus, Scheduler};
use crate::store::{
    compact, AttemptStatus, HostFacts, JobRecord, RunInfo, RunStatus, RunStore, MACHINE_HEADER,
    SCHEMA_VERSION,
};

use super::agent::stop_flag;

/// Exit code of an interrupted run (as a shell reports Ctrl-C).
const INTERRUPTED: u8 = 130;

pub(crate) fn run(a: &RunArgs) -> anyhow::Result<u8> {
    let (scenario, base, store, mut info, resumed) = match &a.resume {
        Some(dir) => {
            let opened = open_for_resume(dir)?;
            preflight(&opened.0, &opened.1, &dir.join("run.json"))?;
            opened
        }
        None => {
            let file = a
                .scenario
                .as_deref()
                .ok_or_else(|| UsageError("give a scenario file".into()))?;
            let loaded =
                scenario::load(file, &a.overrides).map_err(|e| UsageError(e.to_string()))?;
            if a.dry_run {
                return dry_run(&loaded.scenario, &loaded.base);
            }
            preflight(&loaded.scenario, &loaded.base, &loaded.file)?;
            let dir = super::run_folder(a.out.as_deref(), &loaded.scenario.name)?;
            let store = RunStore::create(&dir)?;
            let dir = std::path::absolute(&dir).unwrap_or(dir);
            let store = RunStore::create(&dir).unwrap_or(store);
            let info = new_info(&loaded.scenario, &loaded.file, &loaded.base, &dir)?;
            store.write_info(&info)?;
            (loaded.scenario, loaded.base, store, info, Vec::new())
        }
    };
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
    let plan = expand(&scenario, &base, store.dir(), &exe).map_err(UsageError)?;
    let slurm = match scenario.cluster.executor {
        ExecutorKind::Local => None,
        ExecutorKind::Slurm => {
            match SlurmExecutor::connect(exe.clone(), store.clone(), scenario.interval_ms, &plan) {
                Ok(s) => Some(s),
                Err(e) => {
                    info.status = RunStatus::Failed;
                    info.end_unix = Some(unix_now());
                    store.write_info(&info)?;
                    return Err(anyhow::Error::new(e).context(format!(
                        "the Slurm cluster is not reachable for run {}",
                        store.dir().display()
                    )));
                }
            }
        }
    };
    prepare_inputs(&plan, &store)?;
    let models = crate::forecast::from_runs(
        &scenario
            .scheduling
            .forecast_from
            .iter()
            .map(|p| base.join(p))
            .collect::<Vec<_>>(),
    )?;
    let mut sched = Scheduler::new(&plan, models);
    let index: HashMap<&str, usize> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    let mut attempts: HashMap<usize, u32> = HashMap::new();
    let mut done = vec![false; plan.jobs.len()];
    for r in &resumed {
        if let Some(&i) = index.get(r.job_id.as_str()) {
            let a = attempts.entry(i).or_insert(0);
            *a = (*a).max(r.attempt);
            if r.status == AttemptStatus::Ok {
                done[i] = true;
            }
        }
    }
    for (i, &d) in done.iter().enumerate() {
        let n = attempts.get(&i).copied().unwrap_or(0);
        if d {
            sched.mark_done(i, n);
        } else {
            sched.set_attempts(i, n);
        }
    }
    // Attempts a killed harness never recorded still left logs: never reuse their ids.
    for (i, n) in logged_attempts(&store, &plan) {
        if !done[i] {
            let a = attempts.entry(i).or_insert(0);
            *a = (*a).max(n);
        }
    }
    let remaining = done.iter().filter(|d| !**d).count();
    if !resumed.is_empty() {
        eprintln!(
            "resuming {}: {} of {} jobs already done, {} to run",
            store.dir().display(),
            plan.jobs.len() - remaining,
            plan.jobs.len(),
            remaining
        );
    }

    let host = HostFacts::current();
    // Slurm places and confines jobs itself; emulated nodes are pinned to their own CPUs.
    let sets = if slurm.is_some() {
        vec![None; plan.nodes.len()]
    } else {
        cpusets(
            &plan.nodes.iter().map(|n| n.cores).collect::<Vec<_>>(),
            host.cpus,
        )
    };
    info.nodes = json!(plan
        .nodes
        .iter()
        .zip(&sets)
        .map(|(n, s)| json!({
            "name": n.name, "cores": n.cores, "memory": n.memory.0, "slots": n.slots,
            "pinned_cpus": s,
        }))
        .collect::<Vec<_>>());
    if slurm.is_some() {
        info.notes.insert("executor".into(), json!("slurm"));
    } else if sets.iter().any(Option::is_none) {
        info.notes.insert(
            "pinning".into(),
            json!(format!(
                "off: the nodes ask for {} cores, this machine has {}",
                plan.nodes.iter().map(|n| n.cores).sum::<usize>(),
                host.cpus
            )),
        );
    }
    info.status = RunStatus::Running;
    info.end_unix = None;
    store.write_info(&info)?;

    let stop = stop_flag()?;
    let machine_stop = Arc::new(AtomicBool::new(false));
    let machine = record_machine(
        store.machine_csv(),
        MACHINE_HEADER,
        Duration::from_millis(scenario.interval_ms),
        Arc::clone(&machine_stop),
    );
    let offset = unix_now() - info.start_unix;
    let mut exec: Box<dyn Executor> = match slurm {
        Some(s) => Box::new(s.with_offset(offset)),
        None => Box::new(
            LocalExecutor::new(exe, store.clone(), scenario.interval_ms, sets).with_offset(offset),
        ),
    };
    let mut progress = Progress::new(&plan, &done);
    let result = drive(
        &plan,
        &mut sched,
        exec.as_mut(),
        &stop,
        Duration::from_millis(200),
        &mut |e| progress.event(&plan, &store, e),
    );
    progress.bar.finish_and_clear();
    machine_stop.store(true, Ordering::Relaxed);
    let _ = machine.join();

    let ending = match result {
        Ok(e) => e,
        Err(e) => {
            info.status = RunStatus::Failed;
            info.end_unix = Some(unix_now());
            store.write_info(&info)?;
            let _ = compact(&store);
            return Err(e.context(format!(
                "run {} failed; what was measured is kept",
                store.dir().display()
            )));
        }
    };
    let records = store.read_jobs()?;
    info.notes.insert(
        "memory_forecast".into(),
        forecast_note(&sched, &plan, &records),
    );
    info.status = match ending {
        Ending::Complete => RunStatus::Complete,
        Ending::Interrupted => RunStatus::Interrupted,
    };
    info.end_unix = Some(unix_now());
    store.write_info(&info)?;
    let summary = compact(&store).context("compacting the run store")?;
    let failed = (0..plan.jobs.len())
        .filter(|&i| matches!(sched.status(i), JobStatus::Failed | JobStatus::Skipped))
        .count();
    let oom = records
        .iter()
        .filter(|r| r.status == AttemptStatus::OomKilled)
        .count();
    let makespan = records.iter().map(|r| r.end_s).fold(0.0, f64::max);
    eprintln!(
        "{}: {} jobs ({} done, {} failed or skipped), {} attempts OOM-killed, makespan {:.1} s; {} samples",
        match ending {
            Ending::Complete => "complete",
            Ending::Interrupted => "interrupted",
        },
        plan.jobs.len(),
        progress.ok_total(),
        failed,
        oom,
        makespan,
        summary.samples
    );
    for stage in [Stage::Registration, Stage::Fusion] {
        let f = &info.notes["memory_forecast"][stage.as_str()];
        if let (Some(forecast), Some(measured)) =
            (f["forecast_peak"].as_u64(), f["measured_max_peak"].as_u64())
        {
            eprintln!(
                "memory forecast for {} ({}): {} per job; measured peak {} ({:+.1} %)",
                stage.as_str(),
                f["source"].as_str().unwrap_or("?"),
                bytesize::ByteSize(forecast),
                bytesize::ByteSize(measured),
                100.0 * (forecast as f64 / measured.max(1) as f64 - 1.0)
            );
        }
    }
    eprintln!("run store: {}", store.dir().display());
    let report_dir = store.dir().join("report");
    match super::report::report(
        store.dir(),
        &report_dir,
        atlasperf_reports::render::Formats::ALL,
    ) {
        Ok(r) => eprintln!(
            "report: {} (figures, Table I, diagnosis: {} files)",
            report_dir.join("report.html").display(),
            r.files.len()
        ),
        Err(e) => {
            eprintln!("warning: the report could not be rendered: {e:#}; the run store is complete")
        }
    }
    if ending == Ending::Interrupted {
        eprintln!(
            "resume with: atlasperf run --resume {}",
            store.dir().display()
        );
        return Ok(INTERRUPTED);
    }
    Ok(u8::from(failed > 0))
}

/// Highest attempt number per job that has a log file in the store.
fn logged_attempts(store: &RunStore, plan: &Plan) -> HashMap<usize, u32> {
    let index: HashMap<&str, usize> = plan
        .jobs
        .iter()
        .enumerate()
        .map(|(i, j)| (j.id.as_str(), i))
        .collect();
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(store.dir().join("logs")) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".stderr") else {
            continue;
        };
        let Some((job, n)) = stem.rsplit_once('.') else {
            continue;
        };
        if let (Some(&i), Ok(n)) = (index.get(job), n.parse::<u32>()) {
            let a = out.entry(i).or_insert(0);
            *a = (*a).max(n);
        }
    }
    out
}

fn open_for_resume(
    dir: &Path,
) -> anyhow::Result<(Scenario, PathBuf, RunStore, RunInfo, Vec<JobRecord>)> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let store = RunStore::open(&dir).map_err(|e| UsageError(e.to_string()))?;
    let info = store.read_info()?;
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
        .get("scenario_dir")
        .and_then(|v| v.as_str())
        .map_or_else(|| dir.clone(), PathBuf::from);
    let records = store.read_jobs()?;
    Ok((scenario, base, store, info, records))
}

fn new_info(s: &Scenario, file: &Path, base: &Path, dir: &Path) -> anyhow::Result<RunInfo> {
    let mut notes = serde_json::Map::new();
    notes.insert("scenario_file".into(), json!(file));
    notes.insert(
        "scenario_dir".into(),
        json!(std::path::absolute(base).unwrap_or_else(|_| base.to_path_buf())),
    );
    let host = HostFacts::current();
    Ok(RunInfo {
        schema_version: SCHEMA_VERSION,
        id: super::folder_name(dir),
        scenario_name: s.name.clone(),
        scenario: serde_json::to_value(s)?,
        git_commit: super::git_commit(),
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: serde_json::Map::new(),
        nodes: json!([]),
        host,
        start_unix: unix_now(),
        end_unix: None,
        status: RunStatus::Running,
        interval_ms: s.interval_ms,
        notes,
    })
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

fn dry_run(s: &Scenario, base: &Path) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
    let plan = expand(s, base, Path::new("<run>"), &exe).map_err(UsageError)?;
    let count = |st: Stage| plan.jobs.iter().filter(|j| j.stage == st).count();
    println!(
        "scenario {}: {} registration jobs, {} fusion jobs on {} node(s), policy {:?}, placement {:?}, {} retries",
        s.name,
        count(Stage::Registration),
        count(Stage::Fusion),
        plan.nodes.len(),
        plan.policy,
        plan.placement,
        plan.retries
    );
    for n in &plan.nodes {
        println!(
            "  node {}: {} cores, {}, {} slots",
            n.name, n.cores, n.memory, n.slots
        );
    }
    if !s.preflight.is_empty() {
        let argv = crate::plan::preflight_argv(s, base, &exe).map_err(UsageError)?;
        println!("  preflight (not run by --dry-run): {}", argv.join(" "));
    }
    for j in &plan.jobs {
        println!(
            "  {} [{}] after {:?}: {}",
            j.id,
            j.stage.as_str(),
            j.deps.iter().map(|&d| &plan.jobs[d].id).collect::<Vec<_>>(),
            j.argv.join(" ")
        );
    }
    Ok(0)
}

/// Generates the phantom cohort (unless a previous attempt did) and the output folders.
fn prepare_inputs(plan: &Plan, store: &RunStore) -> anyhow::Result<()> {
    if let DatasetPlan::Phantom { spec, dir } = &plan.dataset {
        if !dir.join("manifest.toml").is_file() {
            let bar = ProgressBar::new(spec.subjects as u64);
            bar.set_style(ProgressStyle::with_template(
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
        std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
    }
    Ok(())
}

/// Forecast vs measured peak per stage, for `run.json` and the report.
fn forecast_note(sched: &Scheduler, plan: &Plan, records: &[JobRecord]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
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
        let entry = match sched.model(stage) {
            Some(m) => json!({
                "source": m.source, "bytes_per_voxel": m.slope, "intercept_bytes": m.intercept,
                "forecast_peak": m.predict(voxels), "voxels": voxels,
                "measured_max_peak": measured_max, "measured_mean_peak": measured_mean,
                "forecast_error": measured_max.map(|x| m.predict(voxels) as f64 / x.max(1) as f64 - 1.0),
            }),
            None => {
                json!({ "source": "none", "measured_max_peak": measured_max, "measured_mean_peak": measured_mean })
            }
        };
        out.insert(stage.as_str().into(), entry);
    }
    serde_json::Value::Object(out)
}

/// Progress bar and per-stage counts.
struct Progress {
    bar: ProgressBar,
    counts: [[usize; 4]; 2],
    totals: [usize; 2],
}

impl Progress {
    fn new(plan: &Plan, done: &[bool]) -> Self {
        let mut totals = [0; 2];
        let mut counts = [[0; 4]; 2];
        for (j, &d) in plan.jobs.iter().zip(done) {
            totals[j.stage.index()] += 1;
            if d {
                counts[j.stage.index()][2] += 1;
            }
        }
        let bar = ProgressBar::with_draw_target(
            Some(plan.jobs.len() as u64),
            ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = ProgressStyle::with_template(
            "[{elapsed_precise}] {bar:30} {pos}/{len} jobs, ETA {eta} | {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_position(done.iter().filter(|d| **d).count() as u64);
        let p = Self {
            bar,
            counts,
            totals,
        };
        p.bar.set_message(p.message());
        p
    }

    fn ok_total(&self) -> usize {
        self.counts[0][2] + self.counts[1][2]
    }

    fn message(&self) -> String {
        let part = |s: usize, name: &str| {
            let c = self.counts[s];
            let queued = self.totals[s].saturating_sub(c[1] + c[2] + c[3]);
            format!(
                "{name}: {queued} queued, {} running, {} done, {} failed",
                c[1], c[2], c[3]
            )
        };
        format!("{} | {}", part(0, "registration"), part(1, "fusion"))
    }

    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn event(&mut self, plan: &Plan, store: &RunStore, e: Event<'_>) -> anyhow::Result<()> {
        match e {
            Event::Launched {
                job,
                attempt_id,
                node,
            } => {
                self.counts[plan.jobs[job].stage.index()][1] += 1;
                self.say(format!("start  {attempt_id} on {}", plan.nodes[node].name));
            }
            Event::Recorded { job, record } => {
                store.append_job(record)?;
                let s = plan.jobs[job].stage.index();
                if record.status != AttemptStatus::Skipped
                    && record.status != AttemptStatus::LaunchError
                {
                    self.counts[s][1] = self.counts[s][1].saturating_sub(1);
                }
                match record.status {
                    AttemptStatus::Ok => {
                        self.counts[s][2] += 1;
                        self.bar.inc(1);
                    }
                    AttemptStatus::Terminated => {}
                    _ => self.counts[s][3] += 1,
                }
                self.say(format!(
                    "{:<6} {} in {:.1} s, peak {} ",
                    record.status.as_str(),
                    record.attempt_id,
                    record.totals.wall_s,
                    bytesize::ByteSize(record.totals.peak_rss)
                ));
            }
            Event::OomKill {
                attempt_id,
                node,
                node_rss,
            } => {
                self.say(format!(
                    "OOM    node {} holds {} > capacity {}: killing its largest job {attempt_id}",
                    plan.nodes[node].name,
                    bytesize::ByteSize(node_rss),
                    plan.nodes[node].memory
                ));
            }
        }
        self.bar.set_message(self.message());
        Ok(())
    }
}
