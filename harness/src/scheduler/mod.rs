//! Admission and placement, as pure bookkeeping (no processes, no clock): which ready job goes
//! to which node now, and what follows from a job's outcome. The driver feeds it outcomes; an
//! executor (local, Slurm or mock) carries out its decisions.
//!
//! Policies (docs/architecture.md): `slots` — at most `slots` running jobs per node (the paper's waves);
//! `memory` — a job is admitted only if its request fits the node's unreserved capacity;
//! `unlimited` — everything at once. A job retried after an OOM kill waits, under every
//! policy, until its node's committed memory plus the peak it was killed at fits.

use std::collections::VecDeque;

use crate::plan::{Plan, Stage};
use crate::scenario::{MemoryRequest, Placement, Policy};

mod state;
use state::{JobState, NodeState};
pub use state::{JobStatus, Launch, MemoryModel, Outcome};

/// The scheduler's state.
#[derive(Debug, Clone)]
pub struct Scheduler {
    policy: Policy,
    placement: Placement,
    retries: u32,
    margin: f64,
    jobs: Vec<JobState>,
    nodes: Vec<NodeState>,
    ready: VecDeque<usize>,
    models: [Option<MemoryModel>; 2],
    stage_peak: [u64; 2],
    calibrating: [bool; 2],
    running: usize,
}

impl Scheduler {
    /// A scheduler for `plan`, with memory models from earlier runs where there are any.
    pub fn new(plan: &Plan, models: [Option<MemoryModel>; 2]) -> Self {
        let mut jobs: Vec<JobState> = plan
            .jobs
            .iter()
            .map(|j| JobState {
                stage: j.stage,
                voxels: j.voxels,
                auto: j.memory == Some(MemoryRequest::Auto),
                fixed_request: match j.memory {
                    Some(MemoryRequest::Bytes(b)) => Some(b.0),
                    _ => None,
                },
                deps_left: j.deps.len(),
                dependents: Vec::new(),
                status: JobStatus::Waiting,
                attempts: 0,
                failures: 0,
                oom_peak: None,
                reserved: 0,
                calibrating: false,
            })
            .collect();
        for (i, j) in plan.jobs.iter().enumerate() {
            for &d in &j.deps {
                jobs[d].dependents.push(i);
            }
        }
        let mut ready = VecDeque::new();
        for (i, j) in jobs.iter_mut().enumerate() {
            if j.deps_left == 0 {
                j.status = JobStatus::Ready;
                ready.push_back(i);
            }
        }
        Self {
            policy: plan.policy,
            placement: plan.placement,
            retries: plan.retries,
            margin: plan.forecast_margin,
            jobs,
            nodes: plan
                .nodes
                .iter()
                .map(|n| NodeState {
                    capacity: n.memory.0,
                    slots: n.slots,
                    running: 0,
                    reserved: 0,
                })
                .collect(),
            ready,
            models,
            stage_peak: [0; 2],
            calibrating: [false; 2],
            running: 0,
        }
    }

    /// Marks jobs that already succeeded (on `--resume`), releasing their dependents.
    pub fn mark_done(&mut self, job: usize, attempts: u32) {
        if matches!(self.jobs[job].status, JobStatus::Ready) {
            self.ready.retain(|&j| j != job);
        }
        self.jobs[job].attempts = attempts;
        self.succeed(job);
    }

    /// Attempts already made for a job (on `--resume`): numbers continue after `attempts`,
    /// and `failures` of them count against the retry budget.
    pub fn set_attempts(&mut self, job: usize, attempts: u32, failures: u32) {
        self.jobs[job].attempts = attempts;
        self.jobs[job].failures = failures;
    }

    /// The memory model of a stage (given, fitted on earlier runs or calibrated).
    pub fn model(&self, stage: Stage) -> Option<MemoryModel> {
        self.models[stage.index()]
    }

    /// Status of a job.
    pub fn status(&self, job: usize) -> JobStatus {
        self.jobs[job].status
    }

    /// Jobs running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// True when nothing is running and nothing can ever start.
    pub fn finished(&self) -> bool {
        self.running == 0 && self.ready.is_empty()
    }

    /// The request a job would be admitted with under the memory policy (None when it is still
    /// waiting for its stage's calibration).
    fn request(&self, j: &JobState) -> Option<u64> {
        let forecast = |m: &MemoryModel| (m.predict(j.voxels) as f64 * (1.0 + self.margin)) as u64;
        let base = if j.auto {
            self.models[j.stage.index()].as_ref().map(forecast)?
        } else {
            j.fixed_request.unwrap_or(0)
        };
        Some(
            base.max(
                j.oom_peak
                    .map_or(0, |p| (p as f64 * (1.0 + self.margin)) as u64),
            ),
        )
    }

    /// What a running job is expected to hold, for OOM-retry admission under any policy.
    fn estimate(&self, j: &JobState) -> u64 {
        if j.reserved > 0 {
            return j.reserved;
        }
        // A stage that has not finished a job yet is assumed as large as the largest job
        // seen, so an OOM retry does not start beside it on a node it would overfill.
        let stage = match self.stage_peak[j.stage.index()] {
            0 => self.stage_peak.iter().copied().max().unwrap_or(0),
            p => p,
        };
        j.oom_peak.unwrap_or(0).max(stage)
    }

    /// Per node, Σ of the running jobs' expected memory.
    fn committed(&self) -> Vec<u64> {
        let mut c = vec![0; self.nodes.len()];
        for j in &self.jobs {
            if let JobStatus::Running { node } = j.status {
                c[node] += self.estimate(j);
            }
        }
        c
    }

    /// Decides every launch that is possible now, in FIFO order of readiness (a job that fits
    /// nowhere does not block smaller ones behind it).
    pub fn next_launches(&mut self) -> Vec<Launch> {
        let mut out = Vec::new();
        let mut pos = 0;
        // Under the memory policy, a request that fitted nowhere means no larger one will.
        let mut smallest_unfit = u64::MAX;
        // Likewise for the room an OOM retry needs; the nodes' committed memory is computed
        // once, when the first retry is considered, and kept current as jobs launch.
        let mut smallest_unfit_retry = u64::MAX;
        let mut committed: Option<Vec<u64>> = None;
        while pos < self.ready.len() {
            if self.policy == Policy::Slots && self.nodes.iter().all(|n| n.running >= n.slots) {
                break;
            }
            if self.policy == Policy::Memory
                && smallest_unfit < u64::MAX
                && self
                    .nodes
                    .iter()
                    .all(|n| n.capacity.saturating_sub(n.reserved) < smallest_unfit)
            {
                break;
            }
            let job = self.ready[pos];
            let j = &self.jobs[job];
            let stage = j.stage.index();
            let memory_policy = self.policy == Policy::Memory;
            let calibrate = memory_policy && j.auto && self.models[stage].is_none();
            if calibrate && self.calibrating[stage] {
                pos += 1;
                continue;
            }
            let request = if memory_policy && !calibrate {
                self.request(j)
            } else {
                None
            };
            if request.is_some_and(|r| r >= smallest_unfit) {
                pos += 1;
                continue;
            }
            // Killed early, a job's own peak understates what it needs: take the largest
            // peak its stage has shown.
            let retry_need = j.oom_peak.map(|p| p.max(self.stage_peak[stage]));
            if retry_need.is_some_and(|r| r >= smallest_unfit_retry) {
                pos += 1;
                continue;
            }
            if retry_need.is_some() && committed.is_none() {
                committed = Some(self.committed());
            }
            let room = committed.as_deref().unwrap_or(&[]);
            let fits = |(i, n): &(usize, &NodeState)| -> bool {
                let by_policy = match self.policy {
                    Policy::Slots => n.running < n.slots,
                    Policy::Memory => {
                        if calibrate {
                            n.running == 0
                        } else {
                            n.reserved + request.unwrap_or(0) <= n.capacity
                        }
                    }
                    Policy::Unlimited => true,
                };
                by_policy && retry_need.is_none_or(|p| room[*i] + p <= n.capacity)
            };
            let candidates = self.nodes.iter().enumerate().filter(fits);
            let chosen = match self.placement {
                Placement::Packed => candidates.map(|(i, _)| i).next(),
                Placement::Balanced => candidates
                    .min_by_key(|(i, n)| (n.running, *i))
                    .map(|(i, _)| i),
            };
            let Some(node) = chosen else {
                if let Some(r) = request {
                    smallest_unfit = smallest_unfit.min(r);
                }
                if let Some(r) = retry_need {
                    smallest_unfit_retry = smallest_unfit_retry.min(r);
                }
                pos += 1;
                continue;
            };
            self.ready.remove(pos);
            let reserved = request.unwrap_or(0);
            let j = &mut self.jobs[job];
            j.attempts += 1;
            j.status = JobStatus::Running { node };
            j.reserved = reserved;
            j.calibrating = calibrate;
            if calibrate {
                self.calibrating[stage] = true;
            }
            let attempt = j.attempts;
            if let Some(c) = committed.as_mut() {
                c[node] += self.estimate(&self.jobs[job]).max(retry_need.unwrap_or(0));
            }
            let n = &mut self.nodes[node];
            n.running += 1;
            n.reserved += reserved;
            self.running += 1;
            out.push(Launch {
                job,
                node,
                attempt,
                request: (reserved > 0).then_some(reserved).or(retry_need),
            });
        }
        out
    }

    /// Records how a running job ended. Returns the jobs that will now never run (dependents
    /// of a job that failed for good).
    pub fn on_finish(&mut self, job: usize, outcome: Outcome) -> Vec<usize> {
        let JobStatus::Running { node } = self.jobs[job].status else {
            return Vec::new();
        };
        let j = &mut self.jobs[job];
        let stage = j.stage.index();
        let n = &mut self.nodes[node];
        n.running -= 1;
        n.reserved -= j.reserved;
        j.reserved = 0;
        self.running -= 1;
        let was_calibrating = std::mem::take(&mut j.calibrating);
        if was_calibrating {
            self.calibrating[stage] = false;
        }
        let peak = match outcome {
            Outcome::Ok { peak } | Outcome::Failed { peak } | Outcome::OomKilled { peak } => peak,
            _ => 0,
        };
        self.stage_peak[stage] = self.stage_peak[stage].max(peak);
        if was_calibrating && peak > 0 && !matches!(outcome, Outcome::OomKilled { .. }) {
            let v = self.jobs[job].voxels.max(1) as f64;
            self.models[stage] = Some(MemoryModel {
                intercept: 0.0,
                slope: peak as f64 / v,
                source: "calibration",
            });
        }
        if matches!(outcome, Outcome::Failed { .. } | Outcome::OomKilled { .. }) {
            self.jobs[job].failures += 1;
        }
        let retries_left = self.jobs[job].failures <= self.retries;
        match outcome {
            Outcome::Ok { .. } => {
                self.succeed(job);
                Vec::new()
            }
            Outcome::OomKilled { peak } if retries_left => {
                let j = &mut self.jobs[job];
                j.oom_peak = Some(j.oom_peak.unwrap_or(0).max(peak));
                j.status = JobStatus::Ready;
                self.ready.push_front(job);
                Vec::new()
            }
            Outcome::Failed { .. } if retries_left => {
                self.jobs[job].status = JobStatus::Ready;
                self.ready.push_front(job);
                Vec::new()
            }
            Outcome::Terminated => {
                self.jobs[job].status = JobStatus::Interrupted;
                Vec::new()
            }
            _ => {
                self.jobs[job].status = JobStatus::Failed;
                self.skip_dependents(job)
            }
        }
    }

    /// When nothing runs and nothing can start, the ready jobs fit on no node: they are
    /// skipped (with their dependents). Returns them.
    pub fn skip_unschedulable(&mut self) -> Vec<usize> {
        if self.running > 0 {
            return Vec::new();
        }
        let stuck: Vec<usize> = self.ready.drain(..).collect();
        let mut out = Vec::new();
        for job in stuck {
            self.jobs[job].status = JobStatus::Skipped;
            out.push(job);
            out.extend(self.skip_dependents(job));
        }
        out
    }

    /// Stops everything that has not started (the run is being interrupted).
    pub fn drain_ready(&mut self) {
        self.ready.clear();
    }

    fn succeed(&mut self, job: usize) {
        self.jobs[job].status = JobStatus::Done;
        for k in 0..self.jobs[job].dependents.len() {
            let d = self.jobs[job].dependents[k];
            let dj = &mut self.jobs[d];
            dj.deps_left -= 1;
            if dj.deps_left == 0 && dj.status == JobStatus::Waiting {
                dj.status = JobStatus::Ready;
                self.ready.push_back(d);
            }
        }
    }

    fn skip_dependents(&mut self, job: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut stack = self.jobs[job].dependents.clone();
        while let Some(d) = stack.pop() {
            if matches!(self.jobs[d].status, JobStatus::Waiting | JobStatus::Ready) {
                self.jobs[d].status = JobStatus::Skipped;
                self.ready.retain(|&r| r != d);
                out.push(d);
                stack.extend(self.jobs[d].dependents.iter().copied());
            }
        }
        out
    }
}
