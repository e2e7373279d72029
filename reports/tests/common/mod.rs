//! A synthetic run store written with the documented schema (docs/run-store.md): `run.json`,
//! `jobs.parquet` and `samples.parquet`, with known per-job totals and constant-rate samples.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use polars::prelude::*;

/// One emulated node.
pub struct Node {
    pub name: &'static str,
    pub cores: f64,
    pub memory: f64,
}

/// One attempt with known totals; its samples run at constant rates from start to end.
#[derive(Clone)]
pub struct Job {
    pub attempt_id: String,
    pub job_id: String,
    pub stage: &'static str,
    pub node: &'static str,
    pub status: &'static str,
    pub start: f64,
    pub end: f64,
    pub cpu_s: f64,
    pub peak: f64,
    pub rchar: f64,
    pub wchar: f64,
    pub read_bytes: f64,
    pub write_bytes: f64,
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
        }
    }

    pub fn wall(&self) -> f64 {
        self.end - self.start
    }
}

pub const START_UNIX: f64 = 1_800_000_000.0;

/// Writes the store into `dir`; samples every `interval` seconds.
pub fn write_store(dir: &Path, nodes: &[Node], jobs: &[Job], interval: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let end = jobs.iter().map(|j| j.end).fold(0.0, f64::max);
    let info = serde_json::json!({
        "schema_version": 1,
        "id": "synthetic",
        "scenario_name": "synthetic",
        "status": "complete",
        "start_unix": START_UNIX,
        "end_unix": START_UNIX + end,
        "interval_ms": interval * 1e3,
        "host": {"cpu_model": "test", "cpus": 2, "memory_bytes": 8e9},
        "atlasperf_version": "0.0.0",
        "nodes": nodes.iter().map(|n| serde_json::json!({
            "name": n.name, "cores": n.cores, "memory": n.memory, "slots": 4
        })).collect::<Vec<_>>(),
        "notes": {},
    });
    std::fs::write(
        dir.join("run.json"),
        serde_json::to_string_pretty(&info).unwrap(),
    )
    .unwrap();

    let (mut sid, mut unix, mut cpu_pct, mut cpu_s, mut rss, mut rchar, mut wchar) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut counts = vec![];
    for j in jobs {
        let n = (j.wall() / interval).floor() as usize;
        counts.push(n as f64 + 1.0);
        for k in 0..=n {
            let t = k as f64 * interval;
            let f = t / j.wall();
            sid.push(j.attempt_id.clone());
            unix.push(START_UNIX + j.start + t);
            cpu_pct.push(100.0 * j.cpu_s / j.wall());
            cpu_s.push(j.cpu_s * f);
            rss.push(j.peak);
            rchar.push(j.rchar * f);
            wchar.push(j.wchar * f);
        }
    }
    let mut samples = df!(
        "attempt_id" => sid,
        "unix" => unix,
        "cpu_pct" => cpu_pct,
        "cpu_s" => cpu_s,
        "rss" => rss,
        "rchar" => rchar,
        "wchar" => wchar,
    )
    .unwrap();
    write_parquet(&dir.join("samples.parquet"), &mut samples);

    let s = |f: &dyn Fn(&Job) -> String| jobs.iter().map(f).collect::<Vec<String>>();
    let x = |f: &dyn Fn(&Job) -> f64| jobs.iter().map(f).collect::<Vec<f64>>();
    let mut table = df!(
        "attempt_id" => s(&|j| j.attempt_id.clone()),
        "job_id" => s(&|j| j.job_id.clone()),
        "stage" => s(&|j| j.stage.to_string()),
        "node" => s(&|j| j.node.to_string()),
        "status" => s(&|j| j.status.to_string()),
        "start_s" => x(&|j| j.start),
        "end_s" => x(&|j| j.end),
        "wall_s" => x(&|j| j.wall()),
        "cpu_s" => x(&|j| j.cpu_s),
        "threads" => x(&|_| 1.0),
        "peak_rss" => x(&|j| j.peak),
        "rchar" => x(&|j| j.rchar),
        "wchar" => x(&|j| j.wchar),
        "read_bytes" => x(&|j| j.read_bytes),
        "write_bytes" => x(&|j| j.write_bytes),
        "agent_cpu_s" => x(&|j| j.wall() * 1e-3),
        "samples" => counts,
        "tick_late_p50_ms" => x(&|_| 0.0),
        "tick_late_p99_ms" => x(&|_| 1.0),
    )
    .unwrap();
    write_parquet(&dir.join("jobs.parquet"), &mut table);
}

fn write_parquet(path: &Path, df: &mut DataFrame) {
    let f = std::fs::File::create(path).unwrap();
    ParquetWriter::new(f).finish(df).unwrap();
}
