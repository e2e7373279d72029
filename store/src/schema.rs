//! `run.json`: what was run, where, with what, and how it ended.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Status of a run as recorded in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The harness is running it (or was killed while it did).
    Running,
    /// Every job succeeded.
    Complete,
    /// Stopped by Ctrl-C or SIGTERM; `--resume` runs what is missing.
    Interrupted,
    /// Some job failed for good, or the harness itself failed (`notes.failure` says why);
    /// `--resume` runs the jobs without a successful attempt.
    Failed,
}

impl RunStatus {
    /// Name as written in `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Interrupted => "interrupted",
            Self::Failed => "failed",
        }
    }
}

/// Facts about the machine a run ran on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// CPU model.
    #[serde(default)]
    pub cpu_model: String,
    /// Logical CPUs.
    #[serde(default)]
    pub cpus: usize,
    /// Physical memory, bytes.
    #[serde(default)]
    pub memory_bytes: u64,
    /// Kernel version.
    #[serde(default)]
    pub kernel: String,
    /// OS name and version.
    #[serde(default)]
    pub os: String,
}

/// One emulated or real node of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Cores.
    pub cores: usize,
    /// Memory capacity, bytes.
    pub memory: u64,
    /// Job slots.
    #[serde(default = "one")]
    pub slots: usize,
    /// CPUs its jobs are pinned to (none: not pinned).
    #[serde(default)]
    pub pinned_cpus: Option<Vec<usize>>,
}

fn one() -> usize {
    1
}

/// Memory forecast of one stage against what was measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForecastNote {
    /// `calibration`, `earlier runs (k jobs)` or `none`.
    pub source: String,
    /// Bytes per voxel of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_voxel: Option<f64>,
    /// Intercept of the model, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept_bytes: Option<f64>,
    /// The forecast for this run's images, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_peak: Option<u64>,
    /// Voxels of this run's images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voxels: Option<u64>,
    /// Largest measured peak of a successful attempt, bytes.
    #[serde(default)]
    pub measured_max_peak: Option<u64>,
    /// Mean measured peak of the successful attempts, bytes.
    #[serde(default)]
    pub measured_mean_peak: Option<u64>,
    /// forecast / measured max − 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_error: Option<f64>,
}

/// Extra facts a run records as it goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    /// The scenario file the run was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_file: Option<PathBuf>,
    /// The folder the scenario's relative paths are resolved against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_dir: Option<PathBuf>,
    /// Why CPUs were not pinned, when they were not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinning: Option<String>,
    /// `slurm` when jobs ran on a Slurm cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// Why the run failed or stopped, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Memory forecast against measured peaks, per stage.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub memory_forecast: BTreeMap<String, ForecastNote>,
    /// Set when the run was simulated from measured profiles (`atlasperf simulate`), not
    /// measured: what it was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulation: Option<Simulation>,
    /// Set when the run was imported from another tool's records (`atlasperf import`), not
    /// measured by atlasperf: what it was read from and how good each column is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<Import>,
}

/// Where an imported run's numbers come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Import {
    /// The source format (`sacct`, `snakemake`, `psrecord`, `prmon`).
    pub format: String,
    /// The files read, as given.
    pub sources: Vec<PathBuf>,
    /// Per quantity (`cpu`, `peak_rss`, `io`, `times`, `series`, …): `exact`, `sampled` or
    /// `missing`, then what in the source it came from.
    pub columns: BTreeMap<String, String>,
    /// What else a reader should know (node capacities inferred, rows left out and why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What a simulated run was made from, and the spread of its Monte Carlo samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Simulation {
    /// The run stores whose attempts were the profiles.
    pub profiles: Vec<PathBuf>,
    /// Successful attempts used as profiles, per stage.
    pub profile_attempts: BTreeMap<String, usize>,
    /// Seed of the random draws.
    pub seed: u64,
    /// Monte Carlo samples; the tables hold the first.
    pub samples: usize,
    /// Scaling models the jobs were predicted with.
    pub models: Vec<ScalingModel>,
    /// P10, P50 and P90 over the samples, per quantity.
    pub bands: Vec<Band>,
}

/// `quantity = coefficient · predictor^exponent`, fitted on the profiles (or assumed when they
/// hold a single size).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScalingModel {
    /// `registration` or `fusion`.
    pub stage: String,
    /// `cpu_s` (a job's wall time scales with it) or `peak_rss`.
    pub quantity: String,
    /// `voxels` or `atlases`.
    pub predictor: String,
    /// Coefficient of the power law.
    pub coefficient: f64,
    /// Exponent of the power law.
    pub exponent: f64,
    /// R² of the fit in log–log space; none when the exponent was assumed.
    pub r2: Option<f64>,
    /// Distinct predictor values the fit saw.
    pub points: usize,
    /// The largest predictor value simulated over the largest profiled (1 or less: no
    /// extrapolation).
    pub extrapolation: f64,
}

/// One quantity's spread over the Monte Carlo samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// `makespan_s`, `node_peak_rss`, `oom_killed`, `cpu_hours`.
    pub quantity: String,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// One stretch of time a harness worked on the run (a run and each `--resume` add one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// When it started, seconds since the Unix epoch.
    pub start_unix: f64,
    /// When it ended (for a harness that was killed: the last write it made, found on resume).
    pub end_unix: Option<f64>,
    /// Active seconds of the run before this segment: where it starts on the run clock.
    pub offset_s: f64,
}

/// `run.json`: what was run, where, with what, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Layout version ([`crate::SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Run identifier (the folder name).
    pub id: String,
    /// Scenario name.
    pub scenario_name: String,
    /// The resolved scenario (after `--set` overrides), as JSON: enough to rerun it.
    pub scenario: serde_json::Value,
    /// Git commit of the atlasperf source, when known.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// atlasperf version.
    pub atlasperf_version: String,
    /// Versions of external tools the stages call, when they report one.
    #[serde(default)]
    pub tool_versions: BTreeMap<String, String>,
    /// The machine.
    #[serde(default)]
    pub host: HostFacts,
    /// Start, seconds since the Unix epoch.
    pub start_unix: f64,
    /// End, seconds since the Unix epoch (absent while running).
    pub end_unix: Option<f64>,
    /// How the run ended.
    pub status: RunStatus,
    /// Sampling period, milliseconds.
    pub interval_ms: u64,
    /// The emulated or real nodes.
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
    /// Extra facts the run adds as it goes.
    #[serde(default)]
    pub notes: Notes,
    /// The stretches of time harnesses worked on the run: one per run or `--resume`.
    #[serde(default)]
    pub segments: Vec<Segment>,
    /// How quiet the machine was while the run measured (absent for simulated and imported
    /// stores, and for runs written before schema 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<crate::Conditions>,
}

impl RunInfo {
    /// Seconds on the run clock — active time since the run started, idle gaps between a
    /// killed or interrupted harness and its `--resume` left out — of a Unix time.
    pub fn run_clock(&self, unix: f64) -> f64 {
        match self.segments.iter().rev().find(|s| s.start_unix <= unix) {
            Some(s) => s.offset_s + (unix - s.start_unix),
            None => unix - self.start_unix,
        }
    }

    /// Active seconds so far: the sum of the segments' lengths (ended segments only).
    pub fn active_s(&self) -> f64 {
        self.segments
            .iter()
            .filter_map(|s| s.end_unix.map(|e| (e - s.start_unix).max(0.0)))
            .sum()
    }

    /// Idle gaps between segments, seconds each (a killed or interrupted run and its resume).
    pub fn idle_gaps(&self) -> Vec<f64> {
        self.segments
            .windows(2)
            .filter_map(|w| w[0].end_unix.map(|e| (w[1].start_unix - e).max(0.0)))
            .collect()
    }

    /// Opens a new segment starting now (`now_unix`), after the active time recorded so far.
    pub fn begin_segment(&mut self, now_unix: f64) {
        let offset_s = self.active_s();
        self.segments.push(Segment {
            start_unix: now_unix,
            end_unix: None,
            offset_s,
        });
    }

    /// Closes the open segment, if any.
    pub fn end_segment(&mut self, end_unix: f64) {
        if let Some(s) = self.segments.last_mut() {
            if s.end_unix.is_none() {
                s.end_unix = Some(end_unix.max(s.start_unix));
            }
        }
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// One row of the machine-context series (`samples/machine.node.csv` while running, the
/// `machine` table after compaction).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MachineRow {
    /// Seconds since the Unix epoch.
    pub unix: f64,
    /// % of all CPUs.
    pub cpu_machine_pct: f64,
    /// MemTotal − MemAvailable, bytes.
    pub mem_used: u64,
    /// MemTotal, bytes.
    pub mem_total: u64,
    /// Whole-disk bytes read since boot.
    pub disk_read_bytes: u64,
    /// Whole-disk bytes written since boot.
    pub disk_write_bytes: u64,
    /// The noise sensors' cumulative counters.
    pub sensors: crate::Sensors,
}

impl MachineRow {
    /// The CSV line (with its newline).
    pub fn to_csv_line(&self) -> String {
        let s = &self.sensors;
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
        let u = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
        let psi: Vec<String> = s.psi_us.iter().map(|v| u(*v)).collect();
        format!(
            "{:.4},{:.2},{},{},{},{},{},{},{},{},{},{}\n",
            self.unix,
            self.cpu_machine_pct,
            self.mem_used,
            self.mem_total,
            self.disk_read_bytes,
            self.disk_write_bytes,
            f(s.cpu_busy_s),
            f(s.cpu_steal_s),
            f(s.own_cpu_s),
            psi.join(","),
            u(s.swap_in_pages),
            u(s.swap_out_pages)
        )
    }

    /// Parses one CSV line; `None` for a torn or foreign line.
    pub fn parse(line: &[u8]) -> Option<Self> {
        let line = std::str::from_utf8(line).ok()?;
        let f: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
        // Schema 2 wrote the first six columns only (no sensors).
        if f.len() != crate::columns::machine_csv().len() && f.len() != 6 {
            return None;
        }
        // An empty cell is a sensor the machine lacks; anything else must parse.
        fn opt<T: std::str::FromStr>(f: &[&str], i: usize) -> Option<Option<T>> {
            match f.get(i) {
                None | Some(&"") => Some(None),
                Some(v) => v.parse().ok().map(Some),
            }
        }
        let mut psi_us = [None; 6];
        for (k, p) in psi_us.iter_mut().enumerate() {
            *p = opt(&f, 9 + k)?;
        }
        Some(Self {
            unix: f[0].parse().ok()?,
            cpu_machine_pct: f[1].parse().ok()?,
            mem_used: f[2].parse().ok()?,
            mem_total: f[3].parse().ok()?,
            disk_read_bytes: f[4].parse().ok()?,
            disk_write_bytes: f[5].parse().ok()?,
            sensors: crate::Sensors {
                cpu_busy_s: opt(&f, 6)?,
                cpu_steal_s: opt(&f, 7)?,
                own_cpu_s: opt(&f, 8)?,
                psi_us,
                swap_in_pages: opt(&f, 15)?,
                swap_out_pages: opt(&f, 16)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            schema_version: 1,
            id: "r".into(),
            scenario_name: "s".into(),
            scenario: serde_json::Value::Null,
            git_commit: None,
            atlasperf_version: "0".into(),
            tool_versions: BTreeMap::new(),
            host: HostFacts::default(),
            start_unix: 100.0,
            end_unix: None,
            status: RunStatus::Running,
            interval_ms: 100,
            nodes: Vec::new(),
            notes: Notes::default(),
            segments: Vec::new(),
            conditions: None,
        }
    }

    #[test]
    fn the_run_clock_leaves_out_the_gap_before_a_resume() {
        let mut i = info();
        i.begin_segment(100.0);
        i.end_segment(110.0);
        i.begin_segment(500.0);
        assert_eq!(i.run_clock(105.0), 5.0);
        assert_eq!(i.run_clock(500.0), 10.0);
        assert_eq!(i.run_clock(502.5), 12.5);
        i.end_segment(520.0);
        assert_eq!(i.active_s(), 30.0);
        assert_eq!(i.idle_gaps(), vec![390.0]);
    }

    #[test]
    fn run_json_of_schema_1_without_segments_still_reads() {
        let text = r#"{"schema_version":1,"id":"a","scenario_name":"q","scenario":{},
            "atlasperf_version":"0.1.0","start_unix":1.0,"end_unix":null,"status":"running",
            "interval_ms":100,"nodes":[{"name":"n","cores":2,"memory":1024,"slots":2,"pinned_cpus":null}],
            "notes":{"scenario_dir":"/x"}}"#;
        let i: RunInfo = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(i.nodes[0].slots, 2);
        assert_eq!(i.run_clock(3.0), 2.0);
    }
}
