//! The run loop: asks the scheduler what to launch, has the executor launch it, watches node
//! memory (the OOM watchdog), turns ended attempts into job records, and stops cleanly when
//! asked to.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::executor::{Executor, Finished};
use crate::plan::Plan;
use crate::scheduler::{Outcome, Scheduler};
use crate::store::Totals;
use crate::store::{AttemptStatus, JobRecord};

/// How long a measured run's driver waits for an attempt to end before it looks at node
/// memory again (the OOM watchdog's period; the simulator's watchdog looks as often).
pub const WATCHDOG_POLL: Duration = Duration::from_millis(200);

/// What happened, for progress display and recording.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// An attempt is about to start: its record so far (status `terminated` until it ends),
    /// written down first so a harness killed from here on leaves what a resume needs.
    Launching {
        /// Job index.
        job: usize,
        /// The record so far.
        record: &'a JobRecord,
    },
    /// An attempt started.
    Launched {
        /// Job index.
        job: usize,
        /// Attempt identifier.
        attempt_id: &'a str,
        /// Node index.
        node: usize,
    },
    /// An attempt ended (or a job was skipped): its row of the jobs table.
    Recorded {
        /// Job index.
        job: usize,
        /// The row.
        record: &'a JobRecord,
    },
    /// The watchdog killed an attempt: node index, the node's Σ RSS and its capacity.
    OomKill {
        /// Attempt identifier.
        attempt_id: &'a str,
        /// Node index.
        node: usize,
        /// Σ RSS of the node's jobs when the kill was decided, bytes.
        node_rss: u64,
    },
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every job finished, failed or was skipped.
    Complete,
    /// Stopped by the stop flag; running jobs were terminated.
    Interrupted,
}

struct Live {
    job: usize,
    node: usize,
    attempt: u32,
    request: Option<u64>,
    start_s: f64,
}

/// Runs the plan to the end. `on_event` sees every launch, record and kill; returning an
/// error from it (a store that cannot be written) stops the run as interrupted.
///
/// # Errors
/// Whatever `on_event` returns.
pub fn drive<E: Executor + ?Sized>(
    plan: &Plan,
    sched: &mut Scheduler,
    exec: &mut E,
    stop: &AtomicBool,
    poll: Duration,
    on_event: &mut dyn FnMut(Event<'_>) -> crate::Result<()>,
) -> crate::Result<Ending> {
    let mut live: HashMap<String, Live> = HashMap::new();
    // Attempts the watchdog has killed that have not been reaped yet: neither counted nor
    // killed again.
    let mut killed: HashSet<String> = HashSet::new();
    let mut stopping = false;
    loop {
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
            sched.drain_ready();
            exec.terminate_all();
        }
        if !stopping {
            for l in sched.next_launches() {
                let job = &plan.jobs[l.job];
                let attempt_id = crate::store::attempt_id(&job.id, l.attempt);
                let start_s = exec.now();
                let launching = record_of(
                    plan,
                    &attempt_id,
                    l.job,
                    l.node,
                    l.attempt,
                    l.request,
                    start_s,
                    start_s,
                    AttemptStatus::Terminated,
                    Totals::default(),
                );
                on_event(Event::Launching {
                    job: l.job,
                    record: &launching,
                })?;
                match exec.launch(job, l.node, &attempt_id, l.request) {
                    Ok(()) => {
                        on_event(Event::Launched {
                            job: l.job,
                            attempt_id: &attempt_id,
                            node: l.node,
                        })?;
                        live.insert(
                            attempt_id,
                            Live {
                                job: l.job,
                                node: l.node,
                                attempt: l.attempt,
                                request: l.request,
                                start_s,
                            },
                        );
                    }
                    Err(message) => {
                        let record = JobRecord {
                            status: AttemptStatus::LaunchError,
                            ..launching
                        };
                        eprintln!(
                            "{attempt_id}: cannot start: {}",
                            crate::store::describe(&message)
                        );
                        on_event(Event::Recorded {
                            job: l.job,
                            record: &record,
                        })?;
                        for s in sched.on_finish(l.job, Outcome::LaunchError) {
                            skipped(plan, s, exec.now(), on_event)?;
                        }
                    }
                }
            }
            watchdog(plan, exec, &live, &mut killed, on_event)?;
            if sched.running() == 0 && !sched.finished() {
                for s in sched.skip_unschedulable() {
                    skipped(plan, s, exec.now(), on_event)?;
                }
            }
        }
        if exec.running() == 0 && (stopping || sched.finished()) {
            break;
        }
        for f in exec.wait(poll) {
            let Some(l) = live.remove(&f.attempt_id) else {
                continue;
            };
            let status = classify(&f, stopping);
            let peak = f.totals.peak_rss;
            let outcome = match status {
                AttemptStatus::Ok => Outcome::Ok { peak },
                AttemptStatus::OomKilled => Outcome::OomKilled { peak },
                AttemptStatus::Terminated => Outcome::Terminated,
                AttemptStatus::LaunchError | AttemptStatus::Skipped => Outcome::LaunchError,
                AttemptStatus::Failed => Outcome::Failed { peak },
            };
            if let Some(m) = &f.launch_error {
                eprintln!("{}: {m}", f.attempt_id);
            }
            let end_s = exec.now().max(l.start_s + f.totals.wall_s);
            let mut record = record_of(
                plan,
                &f.attempt_id,
                l.job,
                l.node,
                l.attempt,
                l.request,
                l.start_s,
                end_s,
                status,
                f.totals,
            );
            record.executor_job_id = f.executor_job_id;
            on_event(Event::Recorded {
                job: l.job,
                record: &record,
            })?;
            for s in sched.on_finish(l.job, outcome) {
                skipped(plan, s, exec.now(), on_event)?;
            }
        }
        if !stopping {
            watchdog(plan, exec, &live, &mut killed, on_event)?;
        }
    }
    Ok(if stopping {
        Ending::Interrupted
    } else {
        Ending::Complete
    })
}

fn classify(f: &Finished, stopping: bool) -> AttemptStatus {
    if f.launch_error.is_some() {
        AttemptStatus::LaunchError
    } else if f.oom_killed {
        AttemptStatus::OomKilled
    } else if f.totals.terminated || (stopping && f.totals.signal.is_some()) {
        AttemptStatus::Terminated
    } else if f.totals.succeeded() {
        AttemptStatus::Ok
    } else {
        AttemptStatus::Failed
    }
}

/// Kills the largest job on every node whose jobs together hold more than its capacity.
fn watchdog<E: Executor + ?Sized>(
    plan: &Plan,
    exec: &mut E,
    live: &HashMap<String, Live>,
    killed: &mut HashSet<String>,
    on_event: &mut dyn FnMut(Event<'_>) -> crate::Result<()>,
) -> crate::Result<()> {
    let usage = exec.usage();
    if usage.is_empty() {
        return Ok(());
    }
    for (n, node) in plan.nodes.iter().enumerate() {
        let on_node: Vec<_> = usage
            .iter()
            .filter(|u| {
                u.node == n && live.contains_key(&u.attempt_id) && !killed.contains(&u.attempt_id)
            })
            .collect();
        let total: u64 = on_node.iter().map(|u| u.rss).sum();
        if total <= node.memory.0 {
            continue;
        }
        let sizes: Vec<(&str, u64)> = on_node
            .iter()
            .map(|u| (u.attempt_id.as_str(), u.rss))
            .collect();
        let mut left = total;
        for k in oom_victims(&sizes, node.memory.0) {
            let victim = on_node[k];
            on_event(Event::OomKill {
                attempt_id: &victim.attempt_id,
                node: n,
                node_rss: left,
            })?;
            exec.kill_oom(&victim.attempt_id);
            killed.insert(victim.attempt_id.clone());
            left -= victim.rss;
        }
    }
    Ok(())
}

/// The emulated nodes' OOM rule: which of a node's jobs (attempt id, Σ RSS) are killed when
/// together they hold more than `capacity` — the largest first (ties by id), until the rest
/// fits, as repeated OOM-killer passes would. Indices into `jobs`.
pub fn oom_victims(jobs: &[(&str, u64)], capacity: u64) -> Vec<usize> {
    let mut left: u64 = jobs.iter().map(|j| j.1).sum();
    if left <= capacity {
        return Vec::new();
    }
    let mut by_size: Vec<usize> = (0..jobs.len()).collect();
    by_size.sort_by(|&a, &b| {
        jobs[b]
            .1
            .cmp(&jobs[a].1)
            .then_with(|| jobs[a].0.cmp(jobs[b].0))
    });
    let mut out = Vec::new();
    for k in by_size {
        if left <= capacity {
            break;
        }
        out.push(k);
        left -= jobs[k].1;
    }
    out
}

fn skipped(
    plan: &Plan,
    job: usize,
    now: f64,
    on_event: &mut dyn FnMut(Event<'_>) -> crate::Result<()>,
) -> crate::Result<()> {
    let j = &plan.jobs[job];
    let record = record_of(
        plan,
        &format!("{}.0", j.id),
        job,
        usize::MAX,
        0,
        None,
        now,
        now,
        AttemptStatus::Skipped,
        Totals::default(),
    );
    on_event(Event::Recorded {
        job,
        record: &record,
    })
}

#[allow(clippy::too_many_arguments)]
fn record_of(
    plan: &Plan,
    attempt_id: &str,
    job: usize,
    node: usize,
    attempt: u32,
    request: Option<u64>,
    start_s: f64,
    end_s: f64,
    status: AttemptStatus,
    totals: Totals,
) -> JobRecord {
    let j = &plan.jobs[job];
    JobRecord {
        attempt_id: attempt_id.to_string(),
        job_id: j.id.clone(),
        stage: j.stage.as_str().to_string(),
        target: j.target.clone(),
        atlas: j.atlas.clone(),
        node: plan
            .nodes
            .get(node)
            .map_or_else(String::new, |n| n.name.clone()),
        attempt,
        mem_request: request,
        voxels: Some(j.voxels),
        threads: j.threads,
        status,
        start_s,
        end_s,
        totals,
        executor_job_id: None,
        accounting: None,
    }
}
