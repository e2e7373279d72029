//! Synthetic run stores written through this crate's own writers, with known per-job totals
//! and constant-rate samples: the fixtures of the reports' and harness's tests, and the input
//! of the report's performance check (`scripts/bench-report.sh`).

use std::path::Path;

use crate::{
    compact, split_attempt_id, AttemptStatus, HostFacts, JobRecord, NodeInfo, Notes, RunInfo,
    RunStatus, RunStore, SampleRow, SampleWriter, StoreError, Totals, SCHEMA_VERSION,
};

/// One emulated node.
pub struct Node {
    /// Its name.
    pub name: &'static str,
    /// Its cores.
    pub cores: f64,
    /// Its memory capacity in bytes.
    pub memory: f64,
}

/// One attempt with known totals; its samples run at constant rates from start to end.
#[derive(Clone)]
pub struct Job {
    /// Attempt id, `<job>.<n>`.
    pub attempt_id: String,
    /// Job id.
    pub job_id: String,
    /// Stage name.
    pub stage: &'static str,
    /// Node name.
    pub node: &'static str,
    /// Attempt status as the store spells it (`ok`, `failed`, `oom_killed`, …).
    pub status: &'static str,
    /// Start, seconds from the run's start.
    pub start: f64,
    /// End, seconds from the run's start.
    pub end: f64,
    /// CPU seconds.
    pub cpu_s: f64,
    /// Peak RSS in bytes.
    pub peak: f64,
    /// Bytes read through syscalls.
    pub rchar: f64,
    /// Bytes written through syscalls.
    pub wchar: f64,
    /// Bytes read from storage.
    pub read_bytes: f64,
    /// Bytes written to storage.
    pub write_bytes: f64,
    /// Voxels of its target image (none: unknown).
    pub voxels: Option<u64>,
    /// Target and atlas subjects.
    pub target: String,
    /// Atlas subject (registrations only).
    pub atlas: Option<String>,
}

impl Job {
    /// A successful attempt `<job>.1` with no storage I/O.
    pub fn ok(
        job: &str,
        stage: &'static str,
        node: &'static str,
        start: f64,
        end: f64,
        cpu_s: f64,
        peak: f64,
    ) -> Self {
        Self {
            attempt_id: format!("{job}.1"),
            job_id: job.to_string(),
            stage,
            node,
            status: "ok",
            start,
            end,
            cpu_s,
            peak,
            rchar: 0.0,
            wchar: 0.0,
            read_bytes: 0.0,
            write_bytes: 0.0,
            voxels: None,
            target: String::new(),
            atlas: None,
        }
    }

    /// Wall seconds.
    pub fn wall(&self) -> f64 {
        self.end - self.start
    }
}

/// The synthetic run's start, Unix seconds.
pub const START_UNIX: f64 = 1_800_000_000.0;

/// Writes the store into `dir` through the store crate's writers (run.json, journal, one
/// samples file per attempt, then compaction); samples every `interval` seconds. A status the store does not know, or an attempt id without
/// its `.<n>`, is a [`StoreError::Format`].
pub fn write_store(
    dir: &Path,
    nodes: &[Node],
    jobs: &[Job],
    interval: f64,
) -> Result<(), StoreError> {
    let end = jobs.iter().map(|j| j.end).fold(0.0, f64::max);
    let store = RunStore::create(dir)?;
    let info = RunInfo {
        schema_version: SCHEMA_VERSION,
        id: "synthetic".into(),
        scenario_name: "synthetic".into(),
        scenario: serde_json::json!({}),
        git_commit: None,
        atlasperf_version: "0.0.0".into(),
        tool_versions: Default::default(),
        host: HostFacts {
            cpu_model: "test".into(),
            cpus: 2,
            memory_bytes: 8_000_000_000,
            ..HostFacts::default()
        },
        start_unix: START_UNIX,
        end_unix: Some(START_UNIX + end),
        status: RunStatus::Complete,
        interval_ms: (interval * 1e3).round() as u64,
        nodes: nodes
            .iter()
            .map(|n| NodeInfo {
                name: n.name.into(),
                cores: n.cores as usize,
                memory: n.memory as u64,
                slots: 4,
                pinned_cpus: None,
            })
            .collect(),
        notes: Notes::default(),
        segments: Vec::new(),
        conditions: None,
    };
    store.write_info(&info)?;
    for j in jobs {
        let n = (j.wall() / interval).floor() as usize;
        let mut w = SampleWriter::open(&store.samples_path(&j.attempt_id))?;
        for k in 0..=n {
            let t = k as f64 * interval;
            let f = t / j.wall();
            w.write(&SampleRow {
                attempt_id: j.attempt_id.clone(),
                t,
                unix: START_UNIX + j.start + t,
                cpu_core_pct: 100.0 * j.cpu_s / j.wall(),
                cpu_s: j.cpu_s * f,
                rss: j.peak as u64,
                rchar: (j.rchar * f) as u64,
                wchar: (j.wchar * f) as u64,
                ..SampleRow::default()
            })?;
        }
        let bad = |message: String| StoreError::Format {
            path: dir.to_path_buf(),
            message,
        };
        let (job_id, attempt) = split_attempt_id(&j.attempt_id)
            .ok_or_else(|| bad(format!("attempt id {:?} has no .<n>", j.attempt_id)))?;
        let status = AttemptStatus::parse(j.status)
            .ok_or_else(|| bad(format!("unknown status {:?}", j.status)))?;
        store.append_job(&JobRecord {
            attempt_id: j.attempt_id.clone(),
            job_id: job_id.to_string(),
            stage: j.stage.into(),
            target: j.target.clone(),
            atlas: j.atlas.clone(),
            node: j.node.into(),
            attempt,
            mem_request: None,
            voxels: j.voxels,
            threads: 1,
            status,
            start_s: j.start,
            end_s: j.end,
            totals: Totals {
                exit_code: Some(i32::from(j.status != "ok")),
                wall_s: j.wall(),
                cpu_user_s: j.cpu_s,
                peak_rss: j.peak as u64,
                rchar: j.rchar as u64,
                wchar: j.wchar as u64,
                read_bytes: j.read_bytes as u64,
                write_bytes: j.write_bytes as u64,
                samples: n as u64 + 1,
                agent_cpu_s: j.wall() * 1e-3,
                tick_late_p99_ms: 1.0,
                ..Totals::default()
            },
            executor_job_id: None,
            accounting: None,
        })?;
    }
    compact(&store)?;
    Ok(())
}
