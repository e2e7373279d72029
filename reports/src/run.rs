//! A run store read through the store crate's readers (`docs/run-store.md`): `run.json`,
//! `jobs`, `samples` and `nodes`, as the views the figures and tables draw.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use atlasperf_store::{
    read_jobs_table, read_nodes_table, read_samples_table, JobRecord, RunInfo, RunStore,
};

use crate::{ReportError, Result};

/// One job attempt (a row of `jobs`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempt {
    /// `<job>.<attempt>`.
    pub attempt_id: String,
    /// Job id.
    pub job_id: String,
    /// `registration`, `fusion`, …
    pub stage: String,
    /// Node name.
    pub node: String,
    /// `ok`, `failed`, `oom_killed`, `terminated`, `launch_error`, `skipped`.
    pub status: String,
    /// Seconds since the run started.
    pub start_s: f64,
    /// Seconds since the run started.
    pub end_s: f64,
    /// Wall time, s.
    pub wall_s: f64,
    /// CPU seconds (rusage).
    pub cpu_s: f64,
    /// Kernel threads.
    pub threads: f64,
    /// Peak Σ RSS, bytes.
    pub peak_rss: f64,
    /// Syscall bytes read.
    pub rchar: f64,
    /// Syscall bytes written.
    pub wchar: f64,
    /// Storage bytes read.
    pub read_bytes: f64,
    /// Storage bytes written.
    pub write_bytes: f64,
    /// The agent's own CPU, s.
    pub agent_cpu_s: f64,
    /// Samples taken.
    pub samples: f64,
    /// Tick lateness p50, ms.
    pub late_p50_ms: f64,
    /// Tick lateness p99, ms.
    pub late_p99_ms: f64,
    /// What the scheduler's accounting recorded (Slurm's sacct), when it was asked.
    pub accounting: Option<atlasperf_store::Accounting>,
}

/// One attempt's samples, on the run's clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Seconds since the run started.
    pub t: Vec<f64>,
    /// CPU, % of one core.
    pub cpu_core_pct: Vec<f64>,
    /// Σ RSS, bytes.
    pub rss: Vec<f64>,
    /// Cumulative syscall bytes read (`rchar`).
    pub rchar: Vec<f64>,
    /// Cumulative syscall bytes written (`wchar`).
    pub wchar: Vec<f64>,
}

impl Series {
    /// Appends the attempt's exit as a last point: the process is gone (no memory), and the CPU
    /// and I/O between the last tick and the exit come from the exact totals the agent recorded
    /// when it reaped the job, so a final write burst shows in the figures.
    fn close(&mut self, a: &Attempt, last_cpu_s: f64) {
        let (Some(&t0), Some(&r0), Some(&w0)) =
            (self.t.last(), self.rchar.last(), self.wchar.last())
        else {
            return;
        };
        let dt = a.end_s - t0;
        if dt <= 0.0 {
            return;
        }
        self.t.push(a.end_s);
        self.cpu_core_pct
            .push((100.0 * (a.cpu_s - last_cpu_s) / dt).max(0.0));
        self.rss.push(0.0);
        self.rchar.push(a.rchar.max(r0));
        self.wchar.push(a.wchar.max(w0));
    }
}

pub use atlasperf_store::NodeInfo;

/// A node's totals over time, from the store's `nodes` table (the one node aggregation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSeries {
    /// Seconds on the run clock.
    pub t: Vec<f64>,
    /// Σ RSS of its running attempts, bytes.
    pub rss: Vec<f64>,
    /// CPU, % of the node's cores.
    pub cpu_node_pct: Vec<f64>,
    /// Syscall bytes read per second (rchar).
    pub rchar_per_s: Vec<f64>,
    /// Syscall bytes written per second (wchar).
    pub wchar_per_s: Vec<f64>,
    /// Attempts running.
    pub jobs_running: Vec<f64>,
}

impl NodeSeries {
    /// Indices of the rows with `t` in `[t0, t1]`.
    pub fn within(&self, t0: f64, t1: f64) -> std::ops::Range<usize> {
        let a = self.t.partition_point(|&t| t < t0 - 1e-9);
        let b = self.t.partition_point(|&t| t <= t1 + 1e-9);
        a..b.max(a)
    }
}

/// Everything a report needs from one run store.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run folder.
    pub dir: PathBuf,
    /// `run.json`.
    pub info: RunInfo,
    /// Nodes.
    pub nodes: Vec<NodeInfo>,
    /// Job attempts.
    pub attempts: Vec<Attempt>,
    /// Samples per attempt id, on the run clock.
    pub series: BTreeMap<String, Series>,
    /// Node totals per node name.
    pub node_totals: BTreeMap<String, NodeSeries>,
}

impl Attempt {
    fn of(r: &JobRecord) -> Self {
        let t = &r.totals;
        Self {
            attempt_id: r.attempt_id.clone(),
            job_id: r.job_id.clone(),
            stage: r.stage.clone(),
            node: r.node.clone(),
            status: r.status.as_str().to_string(),
            start_s: r.start_s,
            end_s: r.end_s,
            wall_s: t.wall_s,
            cpu_s: t.cpu_s(),
            threads: r.threads as f64,
            peak_rss: t.peak_rss as f64,
            rchar: t.rchar as f64,
            wchar: t.wchar as f64,
            read_bytes: t.read_bytes as f64,
            write_bytes: t.write_bytes as f64,
            agent_cpu_s: t.agent_cpu_s,
            samples: t.samples as f64,
            late_p50_ms: t.tick_late_p50_ms,
            late_p99_ms: t.tick_late_p99_ms,
            accounting: r.accounting,
        }
    }
}

impl RunData {
    /// Reads a run store through the store's readers.
    ///
    /// # Errors
    /// A missing or malformed file, named; a store whose tables were never written says what
    /// to run.
    pub fn load(dir: &Path) -> Result<Self> {
        let store = RunStore::open(dir)?;
        let info = store.read_info()?;
        let jp = dir.join("jobs.parquet");
        if !jp.exists() {
            return Err(ReportError::Input(format!(
                "{}: the run's tables were never written (its harness was killed before the end); `atlasperf report {}` compacts them, `atlasperf run --resume {}` finishes the run",
                jp.display(),
                dir.display(),
                dir.display()
            )));
        }
        let attempts: Vec<Attempt> = read_jobs_table(&jp)?.iter().map(Attempt::of).collect();
        let mut series: BTreeMap<String, Series> = BTreeMap::new();
        let mut last_cpu_s: BTreeMap<String, f64> = BTreeMap::new();
        for r in read_samples_table(&dir.join("samples.parquet"))? {
            let s = series.entry(r.attempt_id.clone()).or_default();
            s.t.push(info.run_clock(r.unix));
            s.cpu_core_pct.push(r.cpu_core_pct);
            s.rss.push(r.rss as f64);
            s.rchar.push(r.rchar as f64);
            s.wchar.push(r.wchar as f64);
            last_cpu_s.insert(r.attempt_id, r.cpu_s);
        }
        for a in &attempts {
            if let (Some(s), Some(&c)) = (
                series.get_mut(&a.attempt_id),
                last_cpu_s.get(a.attempt_id.as_str()),
            ) {
                s.close(a, c);
            }
        }
        let mut node_totals: BTreeMap<String, NodeSeries> = BTreeMap::new();
        for r in read_nodes_table(&dir.join("nodes.parquet"))? {
            let n = node_totals.entry(r.node).or_default();
            n.t.push(r.t);
            n.rss.push(r.rss as f64);
            n.cpu_node_pct.push(r.cpu_node_pct);
            n.rchar_per_s.push(r.rates[0]);
            n.wchar_per_s.push(r.rates[1]);
            n.jobs_running.push(r.jobs_running as f64);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            nodes: info.nodes.clone(),
            info,
            attempts,
            series,
            node_totals,
        })
    }

    /// Sampling period of the run, s.
    pub fn interval_s(&self) -> f64 {
        self.info.interval_ms.max(1) as f64 / 1e3
    }

    /// Stages present, registration first.
    pub fn stages(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for a in &self.attempts {
            if !out.contains(&a.stage) {
                out.push(a.stage.clone());
            }
        }
        out.sort_by_key(|s| match s.as_str() {
            "registration" => 0,
            "fusion" => 1,
            _ => 2,
        });
        out
    }

    /// A node's facts by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }
}
