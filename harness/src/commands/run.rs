//! `atlasperf run SCENARIO` and `atlasperf run --resume RUN`: parse, hand the run to a
//! [`Runner`], show progress, print the outcome.

use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::RunArgs;
use crate::driver::Event;
use crate::error::UsageError;
use crate::plan::{expand, Plan, Stage};
use crate::runner::{Outcome, Runner};
use crate::scenario::{self, Scenario};
use crate::store::{AttemptStatus, RunStatus};

use super::agent::stop_flag;

use super::child::INTERRUPTED;

pub(crate) fn run(a: &RunArgs) -> anyhow::Result<u8> {
    if let (Some(k), false) = (a.repeat, a.dry_run) {
        return super::repeat::run(a, usize::try_from(k).unwrap_or(1));
    }
    // First of all, so a Ctrl-C at any moment ends the run through its store.
    let stop = stop_flag()?;
    let runner = match &a.resume {
        Some(dir) => {
            let r = Runner::resume(dir)?;
            if let Some(rec) = r.recovery() {
                let done = r.done().iter().filter(|d| **d).count();
                eprintln!(
                    "resuming {}: {} of {} jobs already done, {} to run{}{}",
                    r.dir().display(),
                    done,
                    r.plan().jobs.len(),
                    r.plan().jobs.len() - done,
                    if rec.adopted.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; recorded {} attempt(s) the previous harness left running",
                            rec.adopted.len()
                        )
                    },
                    if rec.torn_bytes == 0 {
                        String::new()
                    } else {
                        format!(
                            "; a torn journal line ({} bytes) moved to jobs.jsonl.torn",
                            rec.torn_bytes
                        )
                    },
                );
            }
            r
        }
        None => {
            let file = a
                .scenario
                .as_deref()
                .ok_or_else(|| UsageError("give a scenario file".into()))?;
            let loaded =
                scenario::load(file, &a.overrides).map_err(|e| UsageError(e.to_string()))?;
            for note in scenario::oversubscription(&loaded.scenario) {
                eprintln!("note: {note}");
            }
            if a.dry_run {
                return dry_run(&loaded.scenario, &loaded.base);
            }
            let dir = super::out_or_default(a.out.as_deref(), &loaded.scenario.name);
            Runner::start(&loaded, &dir)?
        }
    };
    let mut progress = Progress::new(runner.plan(), runner.done());
    let outcome = runner.execute(&stop, &mut |plan, e| progress.event(plan, e));
    progress.bar.finish_and_clear();
    let outcome = outcome?;
    print_outcome(&outcome);
    let report_dir = outcome.dir.join("report");
    match super::report::report(
        &outcome.dir,
        &report_dir,
        atlasperf_reports::render::Formats::ALL,
    ) {
        Ok(r) => eprintln!(
            "report: {} (figures, Table I, diagnosis: {} files)",
            report_dir.join("report.html").display(),
            r.files.len()
        ),
        Err(e) => {
            eprintln!("warning: the report could not be rendered: {e:#}; the run store is kept")
        }
    }
    Ok(match outcome.status {
        RunStatus::Complete => 0,
        RunStatus::Interrupted => {
            eprintln!(
                "resume with: atlasperf run --resume {}",
                outcome.dir.display()
            );
            INTERRUPTED
        }
        _ => {
            eprintln!(
                "to run the jobs without a successful attempt again: atlasperf run --resume {}",
                outcome.dir.display()
            );
            1
        }
    })
}

fn print_outcome(o: &Outcome) {
    let idle: f64 = o.idle_gaps_s.iter().sum();
    eprintln!(
        "{}: {} of {} jobs done, {} attempts OOM-killed, makespan {:.1} s of active time{}; {}",
        o.status.as_str(),
        o.ok,
        o.jobs,
        o.oom_killed,
        o.makespan_s,
        if o.idle_gaps_s.is_empty() {
            String::new()
        } else {
            format!(
                " (plus {:.1} s idle across {} resume(s), not counted)",
                idle,
                o.idle_gaps_s.len()
            )
        },
        o.samples.map_or_else(
            || "tables not compacted".to_string(),
            |n| format!("{n} samples")
        ),
    );
    if let Some(f) = &o.failure {
        eprintln!("{}: {f}", o.status.as_str());
    }
    for stage in [Stage::Registration, Stage::Fusion] {
        let Some(f) = o.forecasts.get(stage.as_str()) else {
            continue;
        };
        if let (Some(forecast), Some(measured)) = (f.forecast_peak, f.measured_max_peak) {
            eprintln!(
                "memory forecast for {} ({}): {} per job; measured peak {} ({:+.1} %)",
                stage.as_str(),
                f.source,
                bytesize::ByteSize(forecast),
                bytesize::ByteSize(measured),
                100.0 * (forecast as f64 / measured.max(1) as f64 - 1.0)
            );
        }
    }
    eprintln!("run store: {}", o.dir.display());
}

fn dry_run(s: &Scenario, base: &Path) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("locating the atlasperf binary")?;
    let plan = expand(s, base, Path::new("<run>"), &exe)?;
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
        let argv = crate::plan::preflight_argv(s, base, &exe)?;
        println!("  preflight (not run by --dry-run): {}", argv.join(" "));
    }
    for j in &plan.jobs {
        println!(
            "  {} [{}] after {:?}: {}",
            j.id,
            j.stage.as_str(),
            j.deps.iter().map(|&d| &plan.jobs[d].id).collect::<Vec<_>>(),
            j.argv().join(" ")
        );
    }
    Ok(0)
}

/// Progress bar and per-stage counts: on a terminal one live line (jobs done, running and
/// queued per stage, elapsed, an ETA from the walls measured so far); otherwise plain lines.
struct Progress {
    bar: ProgressBar,
    counts: [[usize; 4]; 2],
    totals: [usize; 2],
    /// Σ wall seconds and count of the successful attempts, per stage.
    walls: [(f64, usize); 2],
    /// Jobs that can run at once (Σ slots over the nodes).
    slots: usize,
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
        if let Ok(style) =
            ProgressStyle::with_template("[{elapsed_precise}] {bar:30} {pos}/{len} jobs | {msg}")
        {
            bar.set_style(style);
        }
        bar.set_position(done.iter().filter(|d| **d).count() as u64);
        let p = Self {
            bar,
            counts,
            totals,
            walls: [(0.0, 0); 2],
            slots: plan.nodes.iter().map(|n| n.slots).sum::<usize>().max(1),
        };
        p.bar.set_message(p.message());
        p
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
        format!(
            "{} | {} | {}",
            part(0, "registration"),
            part(1, "fusion"),
            self.eta()
        )
    }

    /// Jobs left per stage × the stage's mean measured wall, spread over the slots; unknown
    /// until each stage with jobs left has a measured job (fusion borrows registration's).
    fn eta(&self) -> String {
        match eta_seconds(&self.totals, &self.counts, &self.walls, self.slots) {
            Some(left) => format!(
                "ETA ~{}",
                humantime::format_duration(std::time::Duration::from_secs(left.round() as u64))
            ),
            None => "ETA: after the first job".into(),
        }
    }

    fn say(&self, line: String) {
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    fn event(&mut self, plan: &Plan, e: Event<'_>) {
        match e {
            Event::Launching { .. } => {}
            Event::Launched {
                job,
                attempt_id,
                node,
            } => {
                self.counts[plan.jobs[job].stage.index()][1] += 1;
                self.say(format!("start  {attempt_id} on {}", plan.nodes[node].name));
            }
            Event::Recorded { job, record } => {
                let s = plan.jobs[job].stage.index();
                if record.status != AttemptStatus::Skipped
                    && record.status != AttemptStatus::LaunchError
                {
                    self.counts[s][1] = self.counts[s][1].saturating_sub(1);
                }
                match record.status {
                    AttemptStatus::Ok => {
                        self.counts[s][2] += 1;
                        self.walls[s].0 += record.totals.wall_s;
                        self.walls[s].1 += 1;
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
    }
}

/// Seconds left: per stage, the jobs neither done nor failed for good × the stage's mean
/// measured wall (fusion borrows registration's until one fusion has finished), over the
/// slots. `None` until a job has been measured.
fn eta_seconds(
    totals: &[usize; 2],
    counts: &[[usize; 4]; 2],
    walls: &[(f64, usize); 2],
    slots: usize,
) -> Option<f64> {
    let mean = |s: usize| {
        let (sum, n) = walls[s];
        (n > 0).then(|| sum / n as f64)
    };
    let mut left_s = 0.0;
    for s in 0..2 {
        let left = totals[s].saturating_sub(counts[s][2] + counts[s][3]);
        if left > 0 {
            left_s += left as f64 * mean(s).or_else(|| mean(0))?;
        }
    }
    Some(left_s / slots.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::eta_seconds;

    #[test]
    fn the_eta_comes_from_measured_walls_spread_over_the_slots() {
        // 12 registrations and 4 fusions on 6 slots; nothing measured yet.
        let totals = [12, 4];
        assert_eq!(eta_seconds(&totals, &[[0; 4]; 2], &[(0.0, 0); 2], 6), None);
        // 6 registrations done in 20 s each: 6 × 20 + 4 × 20 (fusion borrows) over 6 slots.
        let counts = [[6, 6, 6, 0], [4, 0, 0, 0]];
        let eta = eta_seconds(&totals, &counts, &[(120.0, 6), (0.0, 0)], 6);
        assert_eq!(eta, Some((6.0 * 20.0 + 4.0 * 20.0) / 6.0));
        // Registrations all done, one fusion measured at 10 s, one failed for good: 2 left.
        let counts = [[0, 0, 12, 0], [0, 1, 1, 1]];
        let eta = eta_seconds(&totals, &counts, &[(240.0, 12), (10.0, 1)], 6);
        assert_eq!(eta, Some(2.0 * 10.0 / 6.0));
    }
}
