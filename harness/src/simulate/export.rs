//! Any run store (measured or simulated) in the formats other simulators read: SWF, the
//! Standard Workload Format of the Parallel Workloads Archive (Alea, AccaSim, CQSim), one line
//! per attempt; and WfCommons' WfFormat 1.5 JSON (WRENCH, WfChef), one task per job with its
//! dependencies, the attempt that ended it, and its memory series in extra fields.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::store::{AttemptStatus, JobRecord, RunInfo, SampleRow};

/// SWF status: 1 completed, 0 failed (OOM kills included), 5 cancelled.
fn swf_status(s: AttemptStatus) -> i32 {
    match s {
        AttemptStatus::Ok => 1,
        AttemptStatus::Terminated => 5,
        _ => 0,
    }
}

/// The registrations each fusion job waited for, by job id: jobs `[repK-]reg-TARGET-ATLAS` of
/// `[repK-]fuse-TARGET` (distinct, sorted), in one pass over the attempts.
pub fn fusion_parents(jobs: &[JobRecord]) -> BTreeMap<&str, Vec<&str>> {
    // (repetition prefix, target) → registration job ids.
    let mut regs: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for j in jobs.iter().filter(|j| j.stage == "registration") {
        if let Some(pos) = j.job_id.find("reg-") {
            regs.entry((&j.job_id[..pos], j.target.as_str()))
                .or_default()
                .push(&j.job_id);
        }
    }
    let mut out = BTreeMap::new();
    for j in jobs.iter().filter(|j| j.stage == "fusion") {
        if let Some(pos) = j.job_id.find("fuse-") {
            let mut ps = regs
                .get(&(&j.job_id[..pos], j.target.as_str()))
                .cloned()
                .unwrap_or_default();
            ps.sort_unstable();
            ps.dedup();
            out.insert(j.job_id.as_str(), ps);
        }
    }
    out
}

/// Attempts that ran (skipped jobs have none), by start.
fn ran(jobs: &[JobRecord]) -> Vec<&JobRecord> {
    let mut v: Vec<&JobRecord> = jobs
        .iter()
        .filter(|j| j.status != AttemptStatus::Skipped)
        .collect();
    v.sort_by(|a, b| {
        a.start_s
            .total_cmp(&b.start_s)
            .then(a.attempt_id.cmp(&b.attempt_id))
    });
    v
}

/// The run as SWF: every attempt submitted at time 0 (the whole study is queued at once);
/// a fusion attempt's preceding job is the registration it waited for last, with the think
/// time from that job's end. Partition = node (1-based, in `run.json`'s order); executable 1
/// registration, 2 fusion.
pub fn swf(info: &RunInfo, jobs: &[JobRecord]) -> String {
    let attempts = ran(jobs);
    let number: BTreeMap<&str, usize> = attempts
        .iter()
        .enumerate()
        .map(|(k, j)| (j.attempt_id.as_str(), k + 1))
        .collect();
    let mut out = String::new();
    let cores: usize = info.nodes.iter().map(|n| n.cores).sum();
    let _ = writeln!(out, "; Version: 2.2");
    let _ = writeln!(out, "; Computer: atlasperf run {}", info.id);
    let _ = writeln!(
        out,
        "; Note: {}",
        if info.notes.simulation.is_some() {
            "simulated by atlasperf simulate from measured profiles"
        } else {
            "measured by atlasperf"
        }
    );
    let _ = writeln!(out, "; UnixStartTime: {}", info.start_unix as i64);
    let _ = writeln!(out, "; MaxNodes: {}", info.nodes.len());
    let _ = writeln!(out, "; MaxProcs: {cores}");
    for (k, n) in info.nodes.iter().enumerate() {
        let _ = writeln!(
            out,
            "; Partition: {} {} ({} cores, {} bytes)",
            k + 1,
            n.name,
            n.cores,
            n.memory
        );
    }
    let parents = fusion_parents(jobs);
    // Each job's successful attempt that ended last.
    let mut last_ok: HashMap<&str, &JobRecord> = HashMap::new();
    for r in jobs.iter().filter(|r| r.status == AttemptStatus::Ok) {
        let e = last_ok.entry(r.job_id.as_str()).or_insert(r);
        if r.end_s > e.end_s {
            *e = r;
        }
    }
    for j in &attempts {
        let procs = j.threads.max(1);
        let wall = (j.end_s - j.start_s).max(0.0);
        let (pred, think) = if j.stage == "fusion" {
            let last = parents
                .get(j.job_id.as_str())
                .into_iter()
                .flatten()
                .filter_map(|p| last_ok.get(p))
                .max_by(|a, b| a.end_s.total_cmp(&b.end_s));
            last.map_or((-1, -1), |r| {
                (
                    number.get(r.attempt_id.as_str()).map_or(-1, |&n| n as i64),
                    (j.start_s - r.end_s).max(0.0).round() as i64,
                )
            })
        } else {
            (-1, -1)
        };
        let partition = info
            .nodes
            .iter()
            .position(|n| n.name == j.node)
            .map_or(-1, |p| p as i64 + 1);
        let _ = writeln!(
            out,
            "{} 0 {} {} {} {:.2} {} {} -1 {} {} -1 -1 {} -1 {} {} {}",
            number[j.attempt_id.as_str()],
            j.start_s.round() as i64,
            wall.round().max(if wall > 0.0 { 1.0 } else { 0.0 }) as i64,
            procs,
            j.totals.cpu_s() / procs as f64,
            j.totals.peak_rss / 1024 / procs as u64,
            procs,
            j.mem_request
                .map_or(-1, |m| (m / 1024 / procs as u64) as i64),
            swf_status(j.status),
            if j.stage == "fusion" { 2 } else { 1 },
            partition,
            pred,
            think,
        );
    }
    out
}

/// The run as WfFormat 1.5: one task per job (its last attempt's measurements; the attempts
/// in `atlasperfAttempts`), the memory series of that attempt in `atlasperfMemorySeries`
/// (`t` s since the task started, `rssBytes`).
pub fn wfformat(info: &RunInfo, jobs: &[JobRecord], samples: &[SampleRow]) -> Value {
    let iso = |unix: f64| {
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(unix.max(0.0)),
        )
        .to_string()
    };
    let mut by_job: BTreeMap<&str, Vec<&JobRecord>> = BTreeMap::new();
    for j in jobs {
        by_job.entry(j.job_id.as_str()).or_default().push(j);
    }
    let mut series: BTreeMap<&str, (Vec<f64>, Vec<u64>)> = BTreeMap::new();
    for s in samples {
        let e = series.entry(s.attempt_id.as_str()).or_default();
        e.0.push(s.t);
        e.1.push(s.rss);
    }
    let parents = fusion_parents(jobs);
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (fuse, ps) in &parents {
        for p in ps {
            children.entry(p).or_default().push(fuse);
        }
    }
    let mut spec = Vec::new();
    let mut exec = Vec::new();
    for (id, attempts) in &by_job {
        let Some(last) = attempts.iter().max_by_key(|a| a.attempt) else {
            continue;
        };
        spec.push(json!({
            "name": last.stage,
            "id": id,
            "parents": parents.get(id).cloned().unwrap_or_default(),
            "children": children.get(id).cloned().unwrap_or_default(),
        }));
        if last.status == AttemptStatus::Skipped {
            continue;
        }
        let wall = (last.end_s - last.start_s).max(0.0);
        let (t, rss) = series
            .get(last.attempt_id.as_str())
            .cloned()
            .unwrap_or_default();
        exec.push(json!({
            "id": id,
            "runtimeInSeconds": wall,
            "executedAt": iso(info.start_unix + last.start_s),
            "coreCount": last.threads.max(1),
            "avgCPU": if wall > 0.0 { last.totals.cpu_s() / wall * 100.0 } else { 0.0 },
            "readBytes": last.totals.rchar,
            "writtenBytes": last.totals.wchar,
            "memoryInBytes": last.totals.peak_rss,
            "machines": [last.node],
            "atlasperfStatus": last.status.as_str(),
            "atlasperfAttempts": attempts.iter().map(|a| json!({
                "attempt": a.attempt,
                "status": a.status.as_str(),
                "node": a.node,
                "startInSeconds": a.start_s,
                "endInSeconds": a.end_s,
                "memoryInBytes": a.totals.peak_rss,
            })).collect::<Vec<_>>(),
            "atlasperfMemorySeries": {"t": t, "rssBytes": rss},
        }));
    }
    let makespan = jobs.iter().map(|j| j.end_s).fold(0.0, f64::max);
    json!({
        "name": info.id,
        "description": format!(
            "atlasperf {} run of scenario {}",
            if info.notes.simulation.is_some() { "simulated" } else { "measured" },
            info.scenario_name
        ),
        "createdAt": iso(info.end_unix.unwrap_or(info.start_unix)),
        "schemaVersion": "1.5",
        "runtimeSystem": {
            "name": "atlasperf",
            "version": info.atlasperf_version,
        },
        "workflow": {
            "specification": { "tasks": spec, "files": [] },
            "execution": {
                "makespanInSeconds": makespan,
                "executedAt": iso(info.start_unix),
                "tasks": exec,
                "machines": info.nodes.iter().map(|n| json!({
                    "nodeName": n.name,
                    "memoryInBytes": n.memory,
                    "cpu": { "coreCount": n.cores.max(1) },
                })).collect::<Vec<_>>(),
            },
        },
    })
}
