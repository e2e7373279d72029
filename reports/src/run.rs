//! A run store read through its documented schema (`docs/run-store.md`): `run.json`,
//! `jobs.parquet`, `samples.parquet`, with polars.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::*;

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
}

/// One attempt's samples, on the run's clock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Seconds since the run started.
    pub t: Vec<f64>,
    /// CPU, % of one core.
    pub cpu_pct: Vec<f64>,
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
        self.cpu_pct
            .push((100.0 * (a.cpu_s - last_cpu_s) / dt).max(0.0));
        self.rss.push(0.0);
        self.rchar.push(a.rchar.max(r0));
        self.wchar.push(a.wchar.max(w0));
    }
}

/// A node as `run.json` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Cores.
    pub cores: f64,
    /// Memory capacity, bytes.
    pub memory: f64,
    /// Job slots.
    pub slots: f64,
}

/// Everything a report needs from one run store.
#[derive(Debug, Clone)]
pub struct RunData {
    /// The run folder.
    pub dir: PathBuf,
    /// `run.json`.
    pub info: serde_json::Value,
    /// Nodes.
    pub nodes: Vec<NodeInfo>,
    /// Job attempts.
    pub attempts: Vec<Attempt>,
    /// Samples per attempt id.
    pub series: BTreeMap<String, Series>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn table(path: &Path) -> impl Fn(PolarsError) -> ReportError + '_ {
    move |e| ReportError::Input(format!("{}: {e}", path.display()))
}

fn read_parquet(path: &Path) -> Result<DataFrame> {
    let f = File::open(path).map_err(io(path))?;
    ParquetReader::new(f).finish().map_err(table(path))
}

fn f64s(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<f64>> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(table(path))?;
    Ok(c.f64()
        .map_err(table(path))?
        .iter()
        .map(|v| v.unwrap_or(f64::NAN))
        .collect())
}

fn strs(df: &DataFrame, name: &str, path: &Path) -> Result<Vec<String>> {
    let c = df
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(table(path))?;
    Ok(c.str()
        .map_err(table(path))?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

impl RunData {
    /// Reads a run store.
    ///
    /// # Errors
    /// A missing or malformed file, named.
    pub fn load(dir: &Path) -> Result<Self> {
        let info_path = dir.join("run.json");
        let text = std::fs::read_to_string(&info_path).map_err(io(&info_path))?;
        let info: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ReportError::Input(format!("{}: {e}", info_path.display())))?;
        match info["schema_version"].as_u64() {
            Some(1) => {}
            v => {
                return Err(ReportError::Input(format!(
                    "{}: schema_version {v:?}, this report reads version 1",
                    info_path.display()
                )))
            }
        }
        let nodes = info["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| NodeInfo {
                name: n["name"].as_str().unwrap_or("").to_string(),
                cores: n["cores"].as_f64().unwrap_or(1.0),
                memory: n["memory"].as_f64().unwrap_or(0.0),
                slots: n["slots"].as_f64().unwrap_or(1.0),
            })
            .collect();
        let jp = dir.join("jobs.parquet");
        let jobs = read_parquet(&jp)?;
        let col = |n: &str| f64s(&jobs, n, &jp);
        let s = |n: &str| strs(&jobs, n, &jp);
        let (ids, job_ids, stages, node_names, status) = (
            s("attempt_id")?,
            s("job_id")?,
            s("stage")?,
            s("node")?,
            s("status")?,
        );
        let (start, end, wall, cpu, threads, peak) = (
            col("start_s")?,
            col("end_s")?,
            col("wall_s")?,
            col("cpu_s")?,
            col("threads")?,
            col("peak_rss")?,
        );
        let (rchar, wchar, rb, wb) = (
            col("rchar")?,
            col("wchar")?,
            col("read_bytes")?,
            col("write_bytes")?,
        );
        let (agent, samples, p50, p99) = (
            col("agent_cpu_s")?,
            col("samples")?,
            col("tick_late_p50_ms")?,
            col("tick_late_p99_ms")?,
        );
        let attempts: Vec<Attempt> = (0..jobs.height())
            .map(|i| Attempt {
                attempt_id: ids[i].clone(),
                job_id: job_ids[i].clone(),
                stage: stages[i].clone(),
                node: node_names[i].clone(),
                status: status[i].clone(),
                start_s: start[i],
                end_s: end[i],
                wall_s: wall[i],
                cpu_s: cpu[i],
                threads: threads[i],
                peak_rss: peak[i],
                rchar: rchar[i],
                wchar: wchar[i],
                read_bytes: rb[i],
                write_bytes: wb[i],
                agent_cpu_s: agent[i],
                samples: samples[i],
                late_p50_ms: p50[i],
                late_p99_ms: p99[i],
            })
            .collect();
        let sp = dir.join("samples.parquet");
        let samples = read_parquet(&sp)?;
        let start_unix = info["start_unix"].as_f64().unwrap_or(0.0);
        let sid = strs(&samples, "attempt_id", &sp)?;
        let unix = f64s(&samples, "unix", &sp)?;
        let cpu_pct = f64s(&samples, "cpu_pct", &sp)?;
        let rss = f64s(&samples, "rss", &sp)?;
        let rc = f64s(&samples, "rchar", &sp)?;
        let wc = f64s(&samples, "wchar", &sp)?;
        let cpu_s = f64s(&samples, "cpu_s", &sp)?;
        let mut series: BTreeMap<String, Series> = BTreeMap::new();
        let mut last_cpu_s: BTreeMap<&str, f64> = BTreeMap::new();
        for i in 0..samples.height() {
            last_cpu_s.insert(&sid[i], cpu_s[i]);
            let s = series.entry(sid[i].clone()).or_default();
            s.t.push(unix[i] - start_unix);
            s.cpu_pct.push(cpu_pct[i]);
            s.rss.push(rss[i]);
            s.rchar.push(rc[i]);
            s.wchar.push(wc[i]);
        }
        for a in &attempts {
            if let (Some(s), Some(&c)) = (
                series.get_mut(&a.attempt_id),
                last_cpu_s.get(a.attempt_id.as_str()),
            ) {
                s.close(a, c);
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            info,
            nodes,
            attempts,
            series,
        })
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
