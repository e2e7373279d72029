//! Process-tree sampling from `/proc` (through `procfs`).
//!
//! A job is a process tree rooted at one pid. Each [`TreeSampler::sample`] walks the tree through
//! every task's `children` file and sums, over the live processes:
//! - CPU: `utime + stime + cutime + cstime` (the `c` terms hold children the tree already reaped,
//!   so work does not vanish when a child exits), in clock ticks;
//! - memory: Σ VmRSS, Σ RssAnon and Σ VmHWM from `status` (Σ VmHWM overstates the
//!   simultaneous peak; sampled Σ VmRSS can miss a short spike — both are kept);
//! - I/O: `rchar`/`wchar` (syscall bytes) and `read_bytes`/`write_bytes` (storage bytes), which
//!   likewise include reaped children;
//! - threads.
//!
//! Cumulative counters are made monotone (a child that exited but is not yet reaped briefly
//! drops out of every sum); the rates are deltas over the monotonic clock.

pub mod node;

use std::time::Instant;

use procfs::process::Process;

/// Cumulative counters of one process tree at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeCounters {
    /// CPU time of the tree, clock ticks (user + system, reaped children included).
    pub cpu_ticks: u64,
    /// Σ VmRSS over the tree's processes, bytes.
    pub rss: u64,
    /// Σ RssAnon over the tree's processes, bytes.
    pub rss_anon: u64,
    /// Σ VmHWM (each live process's own peak RSS) — overstates the simultaneous peak.
    pub hwm_sum: u64,
    /// Syscall bytes read (`rchar`).
    pub rchar: u64,
    /// Syscall bytes written (`wchar`).
    pub wchar: u64,
    /// Bytes fetched from storage (`read_bytes`).
    pub read_bytes: u64,
    /// Bytes sent to storage (`write_bytes`).
    pub write_bytes: u64,
    /// Threads over the tree.
    pub threads: u64,
    /// Processes in the tree.
    pub processes: u64,
}

/// One sample of a job: cumulative counters plus the CPU rate since the previous sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the sampler started (monotonic clock).
    pub t: f64,
    /// Seconds since the Unix epoch when the sample was taken (wall clock, for merging jobs).
    pub unix: f64,
    /// CPU utilisation since the previous sample, percent of one core.
    pub cpu_pct: f64,
    /// Cumulative CPU seconds of the tree.
    pub cpu_s: f64,
    /// The tree's counters (I/O cumulative and monotone).
    pub counters: TreeCounters,
}

/// Samples one process tree. Keeps the previous counters to compute rates and to keep the
/// cumulative series monotone.
#[derive(Debug)]
pub struct TreeSampler {
    root: i32,
    ticks_per_second: f64,
    start: Instant,
    last: Option<(f64, TreeCounters)>,
}

impl TreeSampler {
    /// A sampler for the tree rooted at `root`, with its clock starting now.
    pub fn new(root: i32) -> Self {
        Self::with_start(root, Instant::now())
    }

    /// A sampler whose clock started at `start`.
    pub fn with_start(root: i32, start: Instant) -> Self {
        Self {
            root,
            ticks_per_second: procfs::ticks_per_second() as f64,
            start,
            last: None,
        }
    }

    /// Reads the tree now. Returns `None` once the root process is gone.
    pub fn sample(&mut self) -> Option<Sample> {
        let now = self.start.elapsed().as_secs_f64();
        let unix = unix_now();
        let mut c = read_tree(self.root)?;
        let cpu_pct = match self.last {
            Some((t0, prev)) => {
                // Monotone cumulative counters: a child between exit and reap drops out.
                c.cpu_ticks = c.cpu_ticks.max(prev.cpu_ticks);
                c.rchar = c.rchar.max(prev.rchar);
                c.wchar = c.wchar.max(prev.wchar);
                c.read_bytes = c.read_bytes.max(prev.read_bytes);
                c.write_bytes = c.write_bytes.max(prev.write_bytes);
                let dt = now - t0;
                if dt > 0.0 {
                    100.0 * (c.cpu_ticks - prev.cpu_ticks) as f64 / self.ticks_per_second / dt
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, c));
        Some(Sample {
            t: now,
            unix,
            cpu_pct,
            cpu_s: c.cpu_ticks as f64 / self.ticks_per_second,
            counters: c,
        })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Pids of `root` and all its descendants (breadth first), through every task's `children`.
pub fn tree_pids(root: i32) -> Vec<i32> {
    let mut pids = vec![root];
    let mut i = 0;
    while i < pids.len() {
        if let Ok(p) = Process::new(pids[i]) {
            if let Ok(tasks) = p.tasks() {
                for task in tasks.flatten() {
                    if let Ok(children) = task.children() {
                        pids.extend(children.into_iter().filter_map(|c| i32::try_from(c).ok()));
                    }
                }
            }
        }
        i += 1;
    }
    pids
}

/// Sums the counters of the tree rooted at `root`; `None` if the root is gone.
fn read_tree(root: i32) -> Option<TreeCounters> {
    let mut c = TreeCounters::default();
    let mut root_seen = false;
    for pid in tree_pids(root) {
        let Ok(p) = Process::new(pid) else { continue };
        let Ok(stat) = p.stat() else { continue };
        if pid == root {
            // A zombie root has finished: its counters are final in the parent's rusage.
            if stat.state == 'Z' {
                return None;
            }
            root_seen = true;
        }
        c.processes += 1;
        c.cpu_ticks += stat.utime + stat.stime;
        c.cpu_ticks += u64::try_from(stat.cutime + stat.cstime).unwrap_or(0);
        c.threads += u64::try_from(stat.num_threads).unwrap_or(0);
        if let Ok(s) = p.status() {
            c.rss += s.vmrss.unwrap_or(0) * 1024;
            c.rss_anon += s.rssanon.unwrap_or(0) * 1024;
            c.hwm_sum += s.vmhwm.unwrap_or(0) * 1024;
        }
        if let Ok(io) = p.io() {
            c.rchar += io.rchar;
            c.wchar += io.wchar;
            c.read_bytes += io.read_bytes;
            c.write_bytes += io.write_bytes;
        }
    }
    root_seen.then_some(c)
}

/// Current Σ VmRSS of the tree rooted at `root`, bytes (0 when it is gone). Used by the OOM
/// watchdog, which needs memory only.
pub fn tree_rss(root: i32) -> u64 {
    pids_rss(tree_pids(root))
}

/// Current Σ VmRSS of `root`'s descendants, without `root` itself (a supervising agent's job
/// tree), bytes.
pub fn descendants_rss(root: i32) -> u64 {
    pids_rss(tree_pids(root).into_iter().skip(1).collect())
}

fn pids_rss(pids: Vec<i32>) -> u64 {
    let page = procfs::page_size();
    pids.into_iter()
        .filter_map(|pid| Process::new(pid).ok()?.statm().ok())
        .map(|m| m.resident * page)
        .sum()
}
