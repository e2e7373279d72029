//! The diagnosis in words, following the paper's reasoning: which resource bound each stage,
//! how fusion compares with registration, and how many jobs fit on a node by measured peak
//! memory (the paper's Recommendation 1) — with the numbers behind every claim.

use std::fmt::Write as _;

use crate::run::{Attempt, RunData};
use crate::table::{bytes, duration, stage_label};

/// Node memory at or above this share of capacity counts as memory-bound.
pub const MEMORY_BOUND: f64 = 0.9;
/// CPU at or above this share of the allotted cores counts as CPU-bound.
pub const CPU_BOUND: f64 = 0.9;
/// Below this share of their own threads busy, with this much I/O, a stage's jobs count as
/// I/O-bound.
pub const IO_CPU_CEILING: f64 = 0.5;
/// Syscall I/O per job (read + written), bytes per second of its wall time, above which idle
/// CPU is blamed on I/O.
pub const IO_RATE_FLOOR: f64 = 5e6;
/// Jobs shorter than this on average are dominated by start-up, not by I/O; the I/O rule
/// ignores them.
pub const IO_MIN_WALL_S: f64 = 1.0;

/// What limited a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Node memory near capacity (or jobs OOM-killed).
    Memory,
    /// The allotted cores busy.
    Cpu,
    /// CPU idle while data moved.
    Io,
    /// Nothing saturated (too few jobs for the nodes, or waiting on something unmeasured).
    Unsaturated,
}

/// Per node, for one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeUse {
    /// Node name.
    pub node: String,
    /// Largest Σ RSS of the stage's jobs at one time / capacity.
    pub memory_share: f64,
    /// Σ CPU seconds / (cores × the stage's span on the node).
    pub cpu_share: f64,
    /// Syscall bytes (read + written) per second of the stage's span on the node.
    pub io_rate: f64,
    /// Most jobs of the stage running at once.
    pub max_concurrent: usize,
    /// Jobs of the stage that fit by measured peak memory: ⌊capacity / largest peak⌋.
    pub safe_concurrency: usize,
}

/// One stage's diagnosis.
#[derive(Debug, Clone, PartialEq)]
pub struct StageDiagnosis {
    /// Stage.
    pub stage: String,
    /// What limited it (most pressing first).
    pub bounds: Vec<Bound>,
    /// Per node.
    pub nodes: Vec<NodeUse>,
    /// OOM-killed attempts.
    pub oom_killed: usize,
    /// Largest peak of any attempt, bytes.
    pub peak: f64,
    /// Σ CPU / Σ (wall × threads) over the stage's attempts: how busy the jobs kept their own
    /// threads.
    pub job_cpu_share: f64,
    /// Σ syscall bytes / Σ wall over the stage's attempts, bytes/s.
    pub job_io_rate: f64,
    /// Mean wall time of an attempt, s.
    pub mean_wall_s: f64,
    /// What `peak` is, in words ("the largest measured peak").
    pub peak_basis: String,
}

impl StageDiagnosis {
    /// Judges how many jobs fit by `peak` instead of the run's own largest peak (over
    /// repetitions: the upper bound of its interval), described as `basis`.
    pub fn fit_by(&mut self, peak: f64, basis: String, run: &RunData) {
        self.peak = peak;
        self.peak_basis = basis;
        for n in &mut self.nodes {
            let capacity = run.node(&n.node).map_or(0.0, |i| i.memory as f64);
            n.safe_concurrency = if peak > 0.0 {
                (capacity / peak).floor() as usize
            } else {
                0
            };
        }
    }
}

fn node_use(
    run: &RunData,
    atts: &[&Attempt],
    node: &str,
    capacity: f64,
    cores: f64,
    peak: f64,
) -> NodeUse {
    let start = atts.iter().map(|a| a.start_s).fold(f64::INFINITY, f64::min);
    let end = atts
        .iter()
        .map(|a| a.end_s)
        .fold(f64::NEG_INFINITY, f64::max);
    let span = (end - start).max(1e-9);
    // The node's own totals (the store's `nodes` table) while the stage ran on it.
    let (mut max_mem, mut max_conc) = (0.0_f64, 0.0_f64);
    if let Some(n) = run.node_totals.get(node) {
        for i in n.within(start, end) {
            max_mem = max_mem.max(n.rss[i]);
            max_conc = max_conc.max(n.jobs_running[i]);
        }
    }
    let max_conc = max_conc as usize;
    let cpu: f64 = atts.iter().map(|a| a.cpu_s).sum();
    let io: f64 = atts.iter().map(|a| a.rchar + a.wchar).sum();
    NodeUse {
        node: node.to_string(),
        memory_share: if capacity > 0.0 {
            max_mem / capacity
        } else {
            0.0
        },
        cpu_share: cpu / (cores.max(1.0) * span),
        io_rate: io / span,
        max_concurrent: max_conc,
        safe_concurrency: if peak > 0.0 {
            (capacity / peak).floor() as usize
        } else {
            0
        },
    }
}

/// Diagnoses every stage of a run.
pub fn diagnose(run: &RunData) -> Vec<StageDiagnosis> {
    run.stages()
        .iter()
        .map(|stage| {
            let atts: Vec<&Attempt> = run
                .attempts
                .iter()
                .filter(|a| &a.stage == stage && a.status != "skipped")
                .collect();
            let peak = atts.iter().map(|a| a.peak_rss).fold(0.0, f64::max);
            let oom_killed = atts.iter().filter(|a| a.status == "oom_killed").count();
            let nodes: Vec<NodeUse> = run
                .nodes
                .iter()
                .filter_map(|n| {
                    let on: Vec<&Attempt> =
                        atts.iter().copied().filter(|a| a.node == n.name).collect();
                    (!on.is_empty())
                        .then(|| node_use(run, &on, &n.name, n.memory as f64, n.cores as f64, peak))
                })
                .collect();
            let mem = nodes.iter().map(|n| n.memory_share).fold(0.0, f64::max);
            let cpu = nodes.iter().map(|n| n.cpu_share).fold(0.0, f64::max);
            let wall: f64 = atts.iter().map(|a| a.wall_s).sum();
            let thread_s: f64 = atts.iter().map(|a| a.wall_s * a.threads.max(1.0)).sum();
            let job_cpu_share = atts.iter().map(|a| a.cpu_s).sum::<f64>() / thread_s.max(1e-9);
            let job_io_rate = atts.iter().map(|a| a.rchar + a.wchar).sum::<f64>() / wall.max(1e-9);
            let mean_wall_s = wall / atts.len().max(1) as f64;
            let mut bounds = Vec::new();
            if mem >= MEMORY_BOUND || oom_killed > 0 {
                bounds.push(Bound::Memory);
            }
            if cpu >= CPU_BOUND {
                bounds.push(Bound::Cpu);
            }
            if job_cpu_share < IO_CPU_CEILING
                && job_io_rate >= IO_RATE_FLOOR
                && mean_wall_s >= IO_MIN_WALL_S
            {
                bounds.push(Bound::Io);
            }
            if bounds.is_empty() {
                bounds.push(Bound::Unsaturated);
            }
            StageDiagnosis {
                stage: stage.clone(),
                bounds,
                nodes,
                oom_killed,
                peak,
                job_cpu_share,
                job_io_rate,
                mean_wall_s,
                peak_basis: "the largest measured peak".into(),
            }
        })
        .collect()
}

/// "1 job", "3 jobs".
fn jobs(n: usize) -> String {
    if n == 1 {
        "1 job".to_string()
    } else {
        format!("{n} jobs")
    }
}

/// The diagnosis as Markdown paragraphs.
pub fn markdown(run: &RunData, diags: &[StageDiagnosis]) -> String {
    let mut s = String::new();
    for d in diags {
        let label = stage_label(&d.stage);
        let mem = d.nodes.iter().map(|n| n.memory_share).fold(0.0, f64::max);
        let cpu = d.nodes.iter().map(|n| n.cpu_share).fold(0.0, f64::max);
        let io = d.nodes.iter().map(|n| n.io_rate).fold(0.0, f64::max);
        let words: Vec<String> = d
            .bounds
            .iter()
            .map(|b| match b {
                Bound::Memory => format!(
                    "**memory-bound**: its jobs together reached {:.0} % of a node's capacity{}",
                    100.0 * mem,
                    if d.oom_killed > 0 {
                        format!(" and {} attempt(s) were OOM-killed", d.oom_killed)
                    } else {
                        String::new()
                    }
                ),
                Bound::Cpu => format!(
                    "**CPU-bound**: the allotted cores were {:.0} % busy (≥ {:.0} %)",
                    100.0 * cpu,
                    100.0 * CPU_BOUND
                ),
                Bound::Io => format!(
                    "**I/O-bound**: its jobs kept their threads only {:.0} % busy while {}/s per job moved through read/write calls",
                    100.0 * d.job_cpu_share,
                    bytes(d.job_io_rate)
                ),
                Bound::Unsaturated => format!(
                    "**not saturated**: cores {:.0} % busy, memory at most {:.0} % of capacity, {}/s of I/O",
                    100.0 * cpu,
                    100.0 * mem,
                    bytes(io)
                ),
            })
            .collect();
        let _ = writeln!(s, "- {label} was {}.", words.join("; "));
        for n in &d.nodes {
            let _ = writeln!(
                s,
                "  - {}: peak Σ RSS {:.0} % of capacity, CPU {:.0} % of its cores, {}/s I/O, up to {} at once; by {} ({}) **{} fit** (Recommendation 1){}.",
                n.node,
                100.0 * n.memory_share,
                100.0 * n.cpu_share,
                bytes(n.io_rate),
                jobs(n.max_concurrent),
                d.peak_basis,
                bytes(d.peak),
                jobs(n.safe_concurrency),
                if n.max_concurrent > n.safe_concurrency && n.safe_concurrency > 0 {
                    " — more than that ran at once"
                } else {
                    ""
                }
            );
        }
    }
    let mean = |stage: &str| {
        let v: Vec<f64> = run
            .attempts
            .iter()
            .filter(|a| a.stage == stage && a.status == "ok")
            .map(|a| a.wall_s)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let cpu = |stage: &str| {
        run.attempts
            .iter()
            .filter(|a| a.stage == stage)
            .map(|a| a.cpu_s)
            .sum::<f64>()
    };
    if let (Some(r), Some(f)) = (mean("registration"), mean("fusion")) {
        let _ = writeln!(
            s,
            "- Fusion vs registration: a fusion job took {} against {} for a registration job ({:.2}×); the fusion stage used {:.2}× the registration stage's CPU time (the paper: 0.2 h vs 2.68 h per job, registration > 10× fusion).",
            duration(f),
            duration(r),
            f / r.max(1e-9),
            cpu("fusion") / cpu("registration").max(1e-9)
        );
    }
    s
}
