//! `atlasperf profile -- CMD …`: profile one command and write a one-job run store, through
//! the same [`Session`] as `run` (lock, journal, final status, compaction).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::agent::{supervise, AgentOptions};
use crate::cli::ProfileArgs;
use crate::error::UsageError;
use crate::runner::{folder_name, git_commit};
use crate::sampler::node::{host_facts, record_machine};
use crate::sampler::unix_now;
use crate::session::Session;
use crate::store::{
    attempt_id, AttemptStatus, JobRecord, NodeInfo, Notes, RunInfo, RunStatus, SCHEMA_VERSION,
};

use super::agent::{interval, job_exit_code, stop_flag};

pub(crate) fn run(a: &ProfileArgs) -> anyhow::Result<u8> {
    let stop = stop_flag()?;
    let period = interval(a.interval)?;
    let dir = super::out_or_default(a.out.as_deref(), "profile");
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let argv: Vec<String> = a
        .command
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let host = host_facts();
    let start_unix = unix_now();
    let info = RunInfo {
        schema_version: SCHEMA_VERSION,
        id: folder_name(&dir),
        scenario_name: "profile".into(),
        scenario: json!({ "profile": { "argv": argv, "interval_ms": a.interval } }),
        git_commit: git_commit(),
        atlasperf_version: env!("CARGO_PKG_VERSION").into(),
        tool_versions: BTreeMap::new(),
        nodes: vec![NodeInfo {
            name: "local".into(),
            cores: host.cpus,
            memory: host.memory_bytes,
            slots: 1,
            pinned_cpus: None,
        }],
        host,
        start_unix,
        end_unix: None,
        status: RunStatus::Running,
        interval_ms: a.interval,
        notes: Notes::default(),
        segments: Vec::new(),
        conditions: None,
    };
    let mut session = Session::create(&dir, info).map_err(|e| {
        if e.is_usage() {
            UsageError(e.to_string()).into()
        } else {
            anyhow::Error::new(e)
        }
    })?;
    let store = session.store().clone();
    let machine_stop = Arc::new(AtomicBool::new(false));
    let machine = record_machine(store.machine_csv(), period, Arc::clone(&machine_stop));
    let id = attempt_id("profile", 1);
    let mut record = JobRecord {
        attempt_id: id.clone(),
        job_id: "profile".into(),
        stage: "profile".into(),
        target: String::new(),
        atlas: None,
        node: "local".into(),
        attempt: 1,
        mem_request: None,
        voxels: None,
        threads: 0,
        status: AttemptStatus::Terminated,
        start_s: session.clock(),
        end_s: session.clock(),
        totals: Default::default(),
        executor_job_id: None,
        accounting: None,
    };
    session.launching(&record)?;
    let opts = AgentOptions {
        attempt_id: id.clone(),
        argv: a.command.clone(),
        interval: period,
        samples: Some(store.samples_path(&id)),
        grace: std::time::Duration::from_secs(5),
    };
    let result = supervise(&opts, &stop);
    machine_stop.store(true, Ordering::Relaxed);
    let _ = machine.join();
    let totals = match result {
        Ok(t) => t,
        Err(e) => {
            let e = anyhow::Error::new(e);
            session.fail(format!("{e:#}"))?;
            return Err(e);
        }
    };
    record.status = if totals.terminated {
        AttemptStatus::Terminated
    } else if totals.succeeded() {
        AttemptStatus::Ok
    } else {
        AttemptStatus::Failed
    };
    record.start_s = session.info().run_clock(totals.start_unix);
    record.end_s = session.info().run_clock(totals.end_unix);
    record.totals = totals.clone();
    session.record(&record)?;
    let (status, failure) = if stop.load(Ordering::Relaxed) {
        (
            RunStatus::Interrupted,
            Some("interrupted (Ctrl-C or SIGTERM)".to_string()),
        )
    } else if record.status == AttemptStatus::Ok {
        (RunStatus::Complete, None)
    } else {
        (
            RunStatus::Failed,
            Some("the profiled command did not succeed".to_string()),
        )
    };
    session.finish(status, failure)?;
    eprintln!(
        "{}: {} in {:.2} s; CPU {:.2} s (user {:.2}, sys {:.2}); peak Σ RSS {:.1} MiB (largest process {:.1} MiB); \
syscall I/O read {} / written {}; storage read {} / written {}; {} samples, agent CPU {:.3} s, tick lateness p50 {:.2} ms p99 {:.2} ms",
        argv.join(" "),
        record.status.as_str(),
        totals.wall_s,
        totals.cpu_s(),
        totals.cpu_user_s,
        totals.cpu_sys_s,
        totals.peak_rss as f64 / 1048576.0,
        totals.max_rss_largest_process as f64 / 1048576.0,
        bytesize::ByteSize(totals.rchar),
        bytesize::ByteSize(totals.wchar),
        bytesize::ByteSize(totals.read_bytes),
        bytesize::ByteSize(totals.write_bytes),
        totals.samples,
        totals.agent_cpu_s,
        totals.tick_late_p50_ms,
        totals.tick_late_p99_ms,
    );
    eprintln!("run store: {}", dir.display());
    Ok(job_exit_code(&totals))
}
