//! A mock executor on a virtual clock: each job takes a given time and holds a given memory.
//! Waiting jumps to the next job end, so thousands of jobs schedule in milliseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Executor, Finished, Usage};
use crate::plan::PlannedJob;
use crate::store::Totals;

/// Duration (s), peak memory (bytes) and exit code of a job.
pub type Profile = Box<dyn Fn(&PlannedJob, &str) -> (f64, u64, i32)>;

struct Running {
    node: usize,
    start: f64,
    end: f64,
    peak: u64,
    exit: i32,
}

/// The mock executor.
pub struct MockExecutor {
    clock: f64,
    profile: Profile,
    running: BTreeMap<String, Running>,
    killed: Vec<Finished>,
    /// Every launch: (attempt id, node, start).
    pub launches: Vec<(String, usize, f64)>,
}

impl MockExecutor {
    /// A mock whose jobs behave as `profile` says (given the job and its attempt id).
    pub fn new(profile: Profile) -> Self {
        Self {
            clock: 0.0,
            profile,
            running: BTreeMap::new(),
            killed: Vec::new(),
            launches: Vec::new(),
        }
    }

    fn totals(r: &Running, end: f64, exit: Option<i32>, signal: Option<i32>) -> Totals {
        Totals {
            exit_code: exit,
            signal,
            start_unix: r.start,
            end_unix: end,
            wall_s: end - r.start,
            cpu_user_s: end - r.start,
            peak_rss: r.peak,
            peak_rss_anon: r.peak,
            peak_hwm_sum: r.peak,
            samples: 1,
            ..Totals::default()
        }
    }
}

impl Executor for MockExecutor {
    fn launch(
        &mut self,
        job: &PlannedJob,
        node: usize,
        attempt_id: &str,
        _request: Option<u64>,
    ) -> Result<(), super::LaunchError> {
        let (duration, peak, exit) = (self.profile)(job, attempt_id);
        self.launches
            .push((attempt_id.to_string(), node, self.clock));
        self.running.insert(
            attempt_id.to_string(),
            Running {
                node,
                start: self.clock,
                end: self.clock + duration,
                peak,
                exit,
            },
        );
        Ok(())
    }

    fn wait(&mut self, _max: Duration) -> Vec<Finished> {
        if !self.killed.is_empty() {
            return std::mem::take(&mut self.killed);
        }
        let Some(next) = self.running.values().map(|r| r.end).min_by(f64::total_cmp) else {
            return Vec::new();
        };
        self.clock = self.clock.max(next);
        let done: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.end <= self.clock)
            .map(|(k, _)| k.clone())
            .collect();
        done.into_iter()
            .filter_map(|id| {
                let r = self.running.remove(&id)?;
                Some(Finished {
                    totals: Self::totals(&r, r.end, Some(r.exit), None),
                    attempt_id: id,
                    oom_killed: false,
                    launch_error: None,
                    executor_job_id: None,
                })
            })
            .collect()
    }

    fn usage(&mut self) -> Vec<Usage> {
        self.running
            .iter()
            .map(|(id, r)| Usage {
                attempt_id: id.clone(),
                node: r.node,
                rss: r.peak,
            })
            .collect()
    }

    fn kill_oom(&mut self, attempt_id: &str) {
        if let Some(r) = self.running.remove(attempt_id) {
            self.killed.push(Finished {
                totals: Self::totals(&r, self.clock, None, Some(9)),
                attempt_id: attempt_id.to_string(),
                oom_killed: true,
                launch_error: None,
                executor_job_id: None,
            });
        }
    }

    fn terminate_all(&mut self) {
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            if let Some(r) = self.running.remove(&id) {
                let mut totals = Self::totals(&r, self.clock, None, Some(15));
                totals.terminated = true;
                self.killed.push(Finished {
                    totals,
                    attempt_id: id,
                    oom_killed: false,
                    launch_error: None,
                    executor_job_id: None,
                });
            }
        }
    }

    fn now(&self) -> f64 {
        self.clock
    }

    fn running(&self) -> usize {
        self.running.len()
    }
}
