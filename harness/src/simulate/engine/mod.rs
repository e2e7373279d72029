//! The simulator's executor: each launched job replays its predicted curve on a virtual
//! clock. Jobs on a node share its cores (processor sharing: when the cores the running jobs
//! ask for exceed the node's, each runs at cores / asked of its speed, and burns more CPU for
//! the same work as its [`CoRunLaw`](super::model::CoRunLaw) has it). A node's memory is
//! the sum of its jobs' curves as their samples saw them (a peak shorter than the sampling
//! interval is in the job's own peak, not in its node's series); past its capacity the
//! emulated nodes' OOM rule applies (the largest jobs are killed until the rest fits; the
//! scheduler retries them) at the watchdog's next look, every [`WATCHDOG_POLL`] as the driver
//! looks, so a node holds more than its capacity meanwhile as measured nodes do — or, as
//! Slurm's cgroups do, a job above its own `--mem` request (judged on every page, the peaks
//! the samples missed included) is killed at once. Time jumps from one bin boundary or job
//! end to the next, so a node costs work only when something on it changes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use super::profiles::BINS;
pub use super::shape::JobShape;
use crate::driver::WATCHDOG_POLL;
use crate::executor::{Executor, Finished, Usage};
use crate::plan::PlannedJob;
use crate::scenario::Node;
use crate::store::Totals;

mod memory;

pub use memory::MemoryRule;

/// Predicts a launched job's shape (called once per attempt).
pub type Shaper<'a> = Box<dyn FnMut(&PlannedJob) -> JobShape + 'a>;

/// One point of an attempt's replayed series: from `t` (s since its start) on, it holds
/// `rss` and uses `cores`; `cpu_s` is its CPU time at `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the attempt started.
    pub t: f64,
    /// Σ RSS, bytes.
    pub rss: u64,
    /// Cores in use.
    pub cores: f64,
    /// CPU seconds so far.
    pub cpu_s: f64,
}

struct Live {
    id: String,
    node: usize,
    start: f64,
    shape: JobShape,
    limit: Option<u64>,
    /// Fraction of the work done.
    tau: f64,
    bin: usize,
    /// Fraction of its asked cores it gets now.
    share: f64,
    cpu_s: f64,
    peak: u64,
    series: Vec<Point>,
}

struct SimNode {
    cores: f64,
    capacity: u64,
    jobs: Vec<usize>,
    last: f64,
    version: u64,
    peak: u64,
    /// When the watchdog next looks at this node, which holds more than its capacity
    /// (infinite: it does not).
    check_at: f64,
}

/// The simulated executor.
pub struct SimExecutor<'a> {
    clock: f64,
    rule: MemoryRule,
    shaper: Shaper<'a>,
    nodes: Vec<SimNode>,
    slab: Vec<Option<Live>>,
    free: Vec<usize>,
    heap: BinaryHeap<Reverse<(u64, usize, u64)>>,
    done: Vec<Finished>,
    running: usize,
    record: bool,
    /// Replayed series of every ended attempt (when recording).
    pub series: Vec<(String, Vec<Point>)>,
}

impl<'a> SimExecutor<'a> {
    /// A simulator of `nodes`; `record` keeps every attempt's series for the run store.
    pub fn new(nodes: &[Node], rule: MemoryRule, shaper: Shaper<'a>, record: bool) -> Self {
        Self {
            clock: 0.0,
            rule,
            shaper,
            nodes: nodes
                .iter()
                .map(|n| SimNode {
                    cores: n.cores.max(1) as f64,
                    capacity: n.memory.0,
                    jobs: Vec::new(),
                    last: 0.0,
                    version: 0,
                    peak: 0,
                    check_at: f64::INFINITY,
                })
                .collect(),
            slab: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            done: Vec::new(),
            running: 0,
            record,
            series: Vec::new(),
        }
    }

    /// The clock starts at `t` (s): nothing runs before it (the run's inputs are prepared).
    pub fn starting_at(mut self, t: f64) -> Self {
        self.clock = t.max(0.0);
        for n in &mut self.nodes {
            n.last = self.clock;
        }
        self
    }

    /// Largest Σ RSS each node held.
    pub fn node_peaks(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.peak).collect()
    }

    /// The running attempts of node `n`.
    fn on_node(&self, n: usize) -> impl Iterator<Item = (usize, &Live)> {
        self.nodes[n]
            .jobs
            .iter()
            .filter_map(|&i| self.slab[i].as_ref().map(|l| (i, l)))
    }

    /// Moves every job of node `n` forward to `t` at its current share.
    fn advance(&mut self, n: usize, t: f64) {
        let dt = t - self.nodes[n].last;
        if dt > 0.0 {
            for &i in &self.nodes[n].jobs {
                let Some(l) = self.slab[i].as_mut() else {
                    continue;
                };
                // Sharing its cores, a job also burns more CPU for the same work.
                let slow = l.shape.inflation(l.share);
                l.tau += l.share * dt / (l.shape.wall_s * slow).max(1e-12);
                l.cpu_s += l.shape.cores(l.bin) * l.share * dt;
            }
        }
        self.nodes[n].last = self.nodes[n].last.max(t);
    }

    /// After node `n` changed at the clock: bins crossed, jobs ended, memory rules applied,
    /// shares and the node's next event recomputed.
    fn settle(&mut self, n: usize) {
        let now = self.clock;
        let mut ended = Vec::new();
        let slab = &mut self.slab;
        for &i in &self.nodes[n].jobs {
            let Some(l) = slab[i].as_mut() else {
                continue;
            };
            while l.bin < BINS && l.tau >= (l.bin + 1) as f64 / BINS as f64 - 1e-12 {
                l.bin += 1;
            }
            if l.bin >= BINS {
                ended.push(i);
            } else {
                l.peak = l.peak.max(l.shape.rss_full(l.bin));
            }
        }
        for i in ended {
            self.end(i, false);
        }
        let mut load = self.load(n);
        // The node's rule waits for the watchdog's next look; a per-job limit kills at once.
        let due = if load.rss > self.nodes[n].capacity {
            let p = WATCHDOG_POLL.as_secs_f64();
            let node = &mut self.nodes[n];
            if !node.check_at.is_finite() {
                node.check_at = ((now - 1e-9) / p).ceil() * p;
            }
            now >= node.check_at - 1e-9
        } else {
            false
        };
        if load.over_limit || due {
            self.apply_memory_rule(n, due);
            load = self.load(n);
        }
        if load.rss <= self.nodes[n].capacity {
            self.nodes[n].check_at = f64::INFINITY;
        }
        let (total, asked) = (load.rss, load.cores);
        let node = &mut self.nodes[n];
        node.peak = node.peak.max(total);
        let share = if asked > node.cores {
            node.cores / asked
        } else {
            1.0
        };
        let mut next = node.check_at;
        for &i in &node.jobs {
            let Some(l) = self.slab[i].as_mut() else {
                continue;
            };
            l.share = share;
            let left = (l.bin + 1) as f64 / BINS as f64 - l.tau;
            let slow = l.shape.inflation(share);
            next = next.min(now + left.max(0.0) * l.shape.wall_s * slow / share);
            if self.record {
                let p = Point {
                    t: now - l.start,
                    rss: l.shape.rss(l.bin),
                    cores: l.shape.cores(l.bin) * share,
                    cpu_s: l.cpu_s,
                };
                match l.series.last_mut() {
                    Some(q) if q.t == p.t => *q = p,
                    Some(q) if q.rss == p.rss && q.cores == p.cores => {}
                    _ => l.series.push(p),
                }
            }
        }
        node.version += 1;
        if next.is_finite() {
            self.heap
                .push(Reverse((next.max(now).to_bits(), n, node.version)));
        }
    }

    /// Ends attempt `i` at the clock: done, or killed by a memory rule.
    fn end(&mut self, i: usize, killed: bool) {
        let Some(l) = self.slab[i].take() else {
            return;
        };
        self.free.push(i);
        self.running -= 1;
        self.nodes[l.node].jobs.retain(|&j| j != i);
        let wall = self.clock - l.start;
        let frac = if killed { l.tau.clamp(0.0, 1.0) } else { 1.0 };
        let io = l.shape.io.map(|v| (v as f64 * frac) as u64);
        let totals = Totals {
            exit_code: (!killed).then_some(0),
            signal: killed.then_some(9),
            start_unix: l.start,
            end_unix: self.clock,
            wall_s: wall,
            // What it burnt: its CPU time alone, more where it shared its cores.
            cpu_user_s: l.cpu_s,
            peak_rss: l.peak,
            peak_rss_anon: l.peak,
            peak_hwm_sum: l.peak,
            max_rss_largest_process: l.peak,
            rchar: io[0],
            wchar: io[1],
            read_bytes: io[2],
            write_bytes: io[3],
            samples: l.series.len() as u64,
            ..Totals::default()
        };
        if self.record {
            let mut series = l.series;
            series.push(Point {
                t: wall,
                rss: 0,
                cores: 0.0,
                cpu_s: totals.cpu_user_s,
            });
            self.series.push((l.id.clone(), series));
        }
        self.done.push(Finished {
            attempt_id: l.id,
            totals,
            oom_killed: killed,
            launch_error: None,
            executor_job_id: None,
        });
    }
}

impl Executor for SimExecutor<'_> {
    fn launch(
        &mut self,
        job: &PlannedJob,
        node: usize,
        attempt_id: &str,
        request: Option<u64>,
    ) -> Result<(), crate::executor::LaunchError> {
        let shape = (self.shaper)(job);
        if !(shape.wall_s.is_finite() && shape.wall_s > 0.0) {
            return Err(crate::executor::LaunchError::Unrunnable(format!(
                "no usable profile for {}",
                job.id
            )));
        }
        let now = self.clock;
        self.advance(node, now);
        let live = Live {
            id: attempt_id.to_string(),
            node,
            start: now,
            limit: request,
            tau: 0.0,
            bin: 0,
            share: 1.0,
            cpu_s: 0.0,
            peak: shape.rss_full(0),
            shape,
            series: Vec::new(),
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i] = Some(live);
                i
            }
            None => {
                self.slab.push(Some(live));
                self.slab.len() - 1
            }
        };
        self.nodes[node].jobs.push(i);
        self.running += 1;
        self.settle(node);
        Ok(())
    }

    fn wait(&mut self, _max: Duration) -> Vec<Finished> {
        while self.done.is_empty() {
            let Some(Reverse((bits, n, version))) = self.heap.pop() else {
                break;
            };
            if version != self.nodes[n].version {
                continue;
            }
            self.clock = self.clock.max(f64::from_bits(bits));
            let now = self.clock;
            self.advance(n, now);
            self.settle(n);
        }
        std::mem::take(&mut self.done)
    }

    fn usage(&mut self) -> Vec<Usage> {
        // Memory rules are applied by the clock itself (see `settle`).
        Vec::new()
    }

    fn kill_oom(&mut self, _attempt_id: &str) {}

    fn terminate_all(&mut self) {
        let all: Vec<usize> = (0..self.slab.len())
            .filter(|&i| self.slab[i].is_some())
            .collect();
        for i in all {
            let Some(n) = self.slab[i].as_ref().map(|l| l.node) else {
                continue;
            };
            let now = self.clock;
            self.advance(n, now);
            self.end(i, false);
            if let Some(f) = self.done.last_mut() {
                f.totals.exit_code = None;
                f.totals.signal = Some(15);
                f.totals.terminated = true;
            }
        }
    }

    fn now(&self) -> f64 {
        self.clock
    }

    fn running(&self) -> usize {
        self.running
    }
}

#[cfg(test)]
mod tests;
