//! Process-tree sampling from `/proc` (through `procfs`).
//!
//! A job is a process tree rooted at one pid. Each [`TreeSampler::sample`] walks the tree through
//! every task's `children` file and sums, over the live processes:
//! - CPU: `utime + stime + cutime + cstime` (the `c` terms hold children the tree already reaped,
//!   so work does not vanish when a child exits), in clock ticks;
//! - memory: Σ resident and Σ anonymous resident pages from `statm` (= VmRSS and RssAnon, at
//!   a fraction of the cost of parsing `status`), and Σ VmHWM from `status`, read every
//!   [`HWM_EVERY`]-th sample (Σ VmHWM overstates the simultaneous peak; sampled Σ VmRSS can
//!   miss a short spike — both are kept);
//! - I/O: `rchar`/`wchar` (syscall bytes) and `read_bytes`/`write_bytes` (storage bytes), which
//!   likewise include reaped children;
//! - threads.
//!
//! Cumulative counters are made monotone (a child that exited but is not yet reaped briefly
//! drops out of every sum); the rates are deltas over the monotonic clock.

pub mod node;
pub mod sensors;

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
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

/// Σ VmHWM is refreshed every this many samples (it is monotone per process, and reading
/// `status` costs more than the rest of a sample together).
pub const HWM_EVERY: u64 = 10;

/// One sample of a job: cumulative counters plus the CPU rate since the previous sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the sampler started (monotonic clock).
    pub t: f64,
    /// Seconds since the Unix epoch when the sample was taken (wall clock, for merging jobs).
    pub unix: f64,
    /// CPU utilisation since the previous sample, percent of one core.
    pub cpu_core_pct: f64,
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
    taken: u64,
    open: HashMap<i32, ProcFiles>,
    buf: Vec<u8>,
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
            taken: 0,
            open: HashMap::new(),
            buf: Vec::with_capacity(4096),
        }
    }

    /// Reads the tree now. Returns `None` once the root process is gone.
    pub fn sample(&mut self) -> Option<Sample> {
        let now = self.start.elapsed().as_secs_f64();
        let unix = unix_now();
        let full = self.taken % HWM_EVERY == 0;
        let mut c = self.read_tree(full)?;
        self.taken += 1;
        if !full {
            c.hwm_sum = self.last.map_or(0, |(_, p)| p.hwm_sum);
        }
        let cpu_core_pct = match self.last {
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
            cpu_core_pct,
            cpu_s: c.cpu_ticks as f64 / self.ticks_per_second,
            counters: c,
        })
    }
}

/// A process's `/proc` files, kept open between samples and re-read from offset 0: one
/// `pread` per file per tick instead of open + read + close (and an fd bound to a process that
/// exited fails rather than reading a newcomer that reused the pid).
#[derive(Debug)]
struct ProcFiles {
    stat: File,
    statm: File,
    io: Option<File>,
    /// The main thread's `children`.
    children: File,
}

impl ProcFiles {
    fn open(pid: i32) -> Option<Self> {
        let f = |name: &str| File::open(format!("/proc/{pid}/{name}")).ok();
        Some(Self {
            stat: f("stat")?,
            statm: f("statm")?,
            io: f("io"),
            children: f(&format!("task/{pid}/children"))?,
        })
    }
}

/// Reads a whole small `/proc` file from offset 0 into `buf`.
fn pread_all(f: &File, buf: &mut Vec<u8>) -> Option<()> {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = f.read_at(&mut chunk, buf.len() as u64).ok()?;
        if n == 0 {
            return Some(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_pids(buf: &[u8], out: &mut Vec<i32>) {
    out.extend(
        std::str::from_utf8(buf)
            .unwrap_or("")
            .split_ascii_whitespace()
            .filter_map(|p| p.parse::<i32>().ok()),
    );
}

impl TreeSampler {
    /// Sums the counters of the tree; `None` once the root is gone. The tree is walked through
    /// each process's main-thread `children`, and on `full` samples through every thread's
    /// (children started from other threads are picked up then; their CPU and I/O are never
    /// lost, since reaped children fold into the parent's counters).
    fn read_tree(&mut self, full: bool) -> Option<TreeCounters> {
        use procfs::FromRead;
        let page = procfs::page_size();
        let mut c = TreeCounters::default();
        let mut pids = vec![self.root];
        let mut seen = std::collections::HashSet::new();
        let mut i = 0;
        while i < pids.len() {
            let pid = pids[i];
            i += 1;
            if !seen.insert(pid) {
                continue;
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = self.open.entry(pid) {
                match ProcFiles::open(pid) {
                    Some(files) => {
                        slot.insert(files);
                    }
                    None if pid == self.root => return None,
                    None => continue,
                }
            }
            let files = self.open.get(&pid)?;
            let stat = pread_all(&files.stat, &mut self.buf)
                .and_then(|()| procfs::process::Stat::from_read(self.buf.as_slice()).ok());
            let Some(stat) = stat else {
                self.open.remove(&pid);
                if pid == self.root {
                    return None;
                }
                continue;
            };
            if pid == self.root && stat.state == 'Z' {
                // A zombie root has finished: its counters are final in the parent's rusage.
                return None;
            }
            c.processes += 1;
            c.cpu_ticks += stat.utime + stat.stime;
            c.cpu_ticks += u64::try_from(stat.cutime + stat.cstime).unwrap_or(0);
            c.threads += u64::try_from(stat.num_threads).unwrap_or(0);
            if pread_all(&files.statm, &mut self.buf).is_some() {
                if let Ok(m) = procfs::process::StatM::from_read(self.buf.as_slice()) {
                    // statm's `shared` is RssFile + RssShmem, so resident − shared is RssAnon.
                    c.rss += m.resident * page;
                    c.rss_anon += m.resident.saturating_sub(m.shared) * page;
                }
            }
            if let Some(io) = &files.io {
                if pread_all(io, &mut self.buf).is_some() {
                    if let Ok(io) = procfs::process::Io::from_read(self.buf.as_slice()) {
                        c.rchar += io.rchar;
                        c.wchar += io.wchar;
                        c.read_bytes += io.read_bytes;
                        c.write_bytes += io.write_bytes;
                    }
                }
            }
            if full {
                if let Ok(p) = Process::new(pid) {
                    if let Ok(s) = p.status() {
                        c.hwm_sum += s.vmhwm.unwrap_or(0) * 1024;
                    }
                    if let Ok(tasks) = p.tasks() {
                        for task in tasks.flatten() {
                            if let Ok(children) = task.children() {
                                pids.extend(
                                    children.into_iter().filter_map(|c| i32::try_from(c).ok()),
                                );
                            }
                        }
                    }
                }
            } else if let Some(files) = self.open.get(&pid) {
                if pread_all(&files.children, &mut self.buf).is_some() {
                    parse_pids(&self.buf, &mut pids);
                }
            }
        }
        self.open.retain(|pid, _| seen.contains(pid));
        Some(c)
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
